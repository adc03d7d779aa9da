import Foundation
import Testing

/// Server `maxqueue`: how many sessions bound to a full server (here by
/// `use-server`) may wait for it.
@Suite("Server maxqueue")
struct MaxQueueTests {
    private func config(socket: String, s1: Backend, s2: Backend, redispatch: Bool) -> String {
        tcpConfig(backend: """
                timeout queue 10s
                \(redispatch ? "option redispatch" : "")
                use-server s1 if { src 127.0.0.1 }
                server s1 \(s1.address) maxconn 1 maxqueue 1
                server s2 \(s2.address)
            """, global: "    stats socket \(socket) level admin")
    }

    @Test("maxconn 1 maxqueue 1: one client waits for the server, the next fails at once (SQ)")
    func beyondTheQueueLimitFails() throws {
        let s1 = try Backend(.nameThenHold("s1")), s2 = try Backend(.nameThenHold("s2"))
        let socket = statsSocketPath()
        let scenario = try Scenario(config: config(socket: socket, s1: s1, s2: s2, redispatch: false), backends: [s1, s2])
        defer { scenario.close() }
        let holder = try Client(port: scenario.port)
        defer { holder.close() }
        #expect(try holder.readLine() == "s1")
        let waiting = try Client(port: scenario.port)
        defer { waiting.close() }
        let queued = waitForStat(socket) { $0.int("be/s1", "qcur") == 1 }
        #expect(queued.ok, "\(queued.table.map(\.description) ?? "no table")")
        #expect(queued.table?.text("be/s1", "qlimit") == "1")
        #expect(queued.table?.text("be/s2", "qlimit") == "")

        let refused = try Client(port: scenario.port)
        defer { refused.close() }
        let (bytes, end) = refused.readToEnd()
        #expect(bytes.isEmpty)
        #expect(end.isClosed, "ended with \(end)")
        let line = try scenario.log(of: refused)
        #expect(line.termination == "SQ", "\(line)")
        #expect(s2.snapshot.accepted == 0)
        #expect(try showStat(socket).int("be/s1", "econ") == 1)

        // The waiting one still gets the server once it is free.
        holder.close()
        #expect(try waiting.readLine() == "s1")
        #expect(s1.snapshot.maxOpen == 1)
    }

    @Test("with option redispatch, a client beyond the queue limit goes to another server")
    func beyondTheQueueLimitRedispatches() throws {
        let s1 = try Backend(.nameThenHold("s1")), s2 = try Backend(.nameThenHold("s2"))
        let socket = statsSocketPath()
        let scenario = try Scenario(config: config(socket: socket, s1: s1, s2: s2, redispatch: true), backends: [s1, s2])
        defer { scenario.close() }
        let holder = try Client(port: scenario.port)
        defer { holder.close() }
        #expect(try holder.readLine() == "s1")
        let waiting = try Client(port: scenario.port)
        defer { waiting.close() }
        #expect(waitForStat(socket) { $0.int("be/s1", "qcur") == 1 }.ok)
        var others: [Client] = []
        defer { for c in others { c.close() } }
        for _ in 0..<3 {
            let client = try Client(port: scenario.port)
            others.append(client)
            #expect(try client.readLine() == "s2")
        }
        #expect(waiting.receivesNothing(within: 0.1), "still queued for s1")
        holder.close()
        #expect(try waiting.readLine() == "s1")
    }
}
