import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Opens `count` connections at once (they complete in the kernel's accept
/// queue whether or not weir accepts them) and expects every client to be
/// served, none refused.
private func burst(_ count: Int, port: UInt16, backend: Backend, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var clients: [Client] = []
    defer { for c in clients { c.close() } }
    for _ in 0..<count { clients.append(try Client(port: port)) }
    for (i, client) in clients.enumerated() {
        #expect(try client.readLine() == "s1", "client \(i)", sourceLocation: sourceLocation)
    }
    #expect(backend.snapshot.accepted == count, sourceLocation: sourceLocation)
}

/// The most sessions `fe` started in a second, as the master sampled them,
/// once a sample after the burst has seen the rate fall back to 0.
private func highestSessionRate(_ socket: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    let (ok, table) = waitForStat(socket) { t in t.int("fe/FRONTEND", "rate") == 0 && t.int("fe/FRONTEND", "rate_max") >= 1 }
    #expect(ok, "\(table.map(\.raw) ?? "no answer")", sourceLocation: sourceLocation)
    return table?.int("fe/FRONTEND", "rate_max") ?? 0
}

/// Two workers, a stats socket, frontend `fe` in mode tcp to `s1`.
private func twoWorkers(_ socket: String, global: String = "", frontend: String = "", backend: Backend) -> String {
    """
    global
        nbthread 2
        stats socket \(socket) level admin
    \(global)
    defaults
        mode tcp
        timeout connect 2s
        timeout client 60s
        timeout server 60s
    frontend fe
        bind 127.0.0.1:0
    \(frontend)
        default_backend be
    backend be
        server s1 \(backend.address)

    """
}

// A sliding second lets through up to twice its limit in the second that
// straddles a burst started late in a period (as HAProxy's `freq_ctr`
// does): the sampled highest rate is checked against that, where no limit
// serves the whole burst in one second.
@Suite("Rate limits: rate-limit sessions, maxconnrate, maxsessrate, set rate-limit", .serialized)
struct RateLimitTests {
    @Test("rate-limit sessions 5 over two workers: 20 clients at once are all served, at 5 sessions a second")
    func frontendSessionRate() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        defer { s1.stop() }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: twoWorkers(socket, frontend: "    rate-limit sessions 5", backend: s1))
        defer { h.close() }
        try burst(20, port: try h.master.port(of: "fe"), backend: s1)
        // The two workers share one count: 5 between them, not 5 each.
        let highest = highestSessionRate(socket)
        #expect(highest >= 1 && highest <= 10, "rate_max \(highest)")
        let table = try showStat(socket)
        #expect(table.int("fe/FRONTEND", "rate_lim") == 5 && table.int("fe/FRONTEND", "stot") == 20, "\(table.raw)")
        h.expectNoWorkerCrash()
    }

    @Test("maxconnrate 5 over two workers: 20 clients at once are all served, at 5 connections a second; show info says the limit")
    func globalConnectionRate() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        defer { s1.stop() }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: twoWorkers(socket, global: "    maxconnrate 5", backend: s1))
        defer { h.close() }
        try burst(20, port: try h.master.port(of: "fe"), backend: s1)
        let highest = highestSessionRate(socket)
        #expect(highest >= 1 && highest <= 10, "rate_max \(highest)")
        let info = try statsCommand(socket, "show info")
        #expect(info.contains("\nConnRateLimit: 5\n") && info.contains("\nSessRateLimit: 0\n")
                    && info.contains("\nSslRateLimit: 0\n"), "\(info)")
        h.expectNoWorkerCrash()
    }

    @Test("maxsessrate: connections that tcp-request connection rules reject are closed, the sessions after them served")
    func rejectedConnectionsAreNoSessions() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        let scenario = try Scenario(config: tcpConfig(backend: serverLines([s1]),
                                                      frontend: "    tcp-request connection reject if { src 127.0.0.2 }",
                                                      global: "    maxsessrate 3"),
                                    backends: [s1])
        defer { scenario.close() }
        // Under maxconnrate these ten would fill the second; as no sessions, they take nothing.
        for _ in 0..<10 {
            let rejected = try Client(port: scenario.port, source: "127.0.0.2")
            #expect(rejected.readToEnd().bytes.isEmpty)
            rejected.close()
        }
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<3 { clients.append(try Client(port: scenario.port)) }
        for client in clients { #expect(try client.readLine() == "s1") }
    }

    @Test("set rate-limit connections|sessions global: show info follows, the limit applies at once, 0 lifts it")
    func setAtRunTime() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        defer { s1.stop() }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: twoWorkers(socket, backend: s1))
        defer { h.close() }
        #expect(try statsCommand(socket, "set rate-limit sessions global 7") == "\n")
        #expect(try statsCommand(socket, "set rate-limit connections global 4") == "\n")
        var info = try statsCommand(socket, "show info")
        #expect(info.contains("\nConnRateLimit: 4\n") && info.contains("\nSessRateLimit: 7\n"), "\(info)")
        try burst(16, port: try h.master.port(of: "fe"), backend: s1)
        let highest = highestSessionRate(socket)
        #expect(highest >= 1 && highest <= 8, "rate_max \(highest)")
        #expect(try statsCommand(socket, "set rate-limit connections global 0") == "\n")
        #expect(try statsCommand(socket, "set rate-limit sessions global 0") == "\n")
        info = try statsCommand(socket, "show info")
        #expect(info.contains("\nConnRateLimit: 0\n") && info.contains("\nSessRateLimit: 0\n"), "\(info)")
        #expect(try statsCommand(socket, "set rate-limit connections global lots").hasPrefix("Expects an integer value."))
        #expect(try statsCommand(socket, "set rate-limit ssl-sessions global -1").hasPrefix("Value out of range."))
        #expect(try statsCommand(socket, "set rate-limit sessions frontend fe 3")
                    .hasPrefix("'set rate-limit sessions' only supports 'global'."))
        h.expectNoWorkerCrash()
    }
}
