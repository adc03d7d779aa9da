import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Stats rates", .serialized)
struct StatsRateTests {
    @Test("the master samples rate, conn_rate and their maxima once a second; clear counters restarts the maxima")
    func ratesAndMaxima() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        defer { s1.stop() }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: """
            global
                nbthread 2
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server s1 \(s1.address)

            """)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        for _ in 0..<3 {
            let client = try Client(port: port)
            #expect(try client.readLine() == "s1")
            client.close()
        }
        var (ok, table) = waitForStat(socket) { t in
            t.int("fe/FRONTEND", "rate_max") >= 1 && t.int("fe/FRONTEND", "conn_rate_max") >= 1
                && t.int("be/s1", "rate_max") >= 1 && t.int("be/BACKEND", "rate_max") >= 1
        }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        let info = try statsCommand(socket, "show info")
        #expect(!info.contains("\nMaxConnRate: 0\n") && !info.contains("\nMaxSessRate: 0\n"), "\(info)")
        // No more traffic: the rates fall to 0, the maxima stay until cleared.
        (ok, table) = waitForStat(socket) { t in
            t.int("fe/FRONTEND", "rate") == 0 && t.int("be/s1", "rate") == 0 && t.int("fe/FRONTEND", "rate_max") >= 1
        }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        #expect(try statsCommand(socket, "clear counters") == "\n")
        let cleared = try showStat(socket)
        #expect(cleared.int("fe/FRONTEND", "rate_max") == 0 && cleared.int("be/s1", "rate_max") == 0, "\(cleared)")
        #expect(cleared.int("fe/FRONTEND", "stot") == 3, "the totals stay: \(cleared)")
        h.expectNoWorkerCrash()
    }
}
