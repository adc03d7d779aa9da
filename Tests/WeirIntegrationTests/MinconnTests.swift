import Foundation
import Testing

/// Server `minconn` with the backend's `fullconn`: the server's connection
/// limit follows the backend's load.
@Suite("Server minconn")
struct MinconnTests {
    @Test("minconn 2 maxconn 4 fullconn 8: two connections at low load, four at full load, back to two")
    func limitFollowsTheLoad() throws {
        let s1 = try Backend(.nameThenHold("s1"))
        let socket = statsSocketPath()
        let config = tcpConfig(backend: """
                timeout queue 20s
                fullconn 8
                server s1 \(s1.address) minconn 2 maxconn 4
            """, global: "    stats socket \(socket) level admin")
        let scenario = try Scenario(config: config, backends: [s1])
        defer { scenario.close() }
        var clients: [Client] = []
        defer { for c in clients { c.close() } }

        // Load 1 to 4: the limit is max(2, load * 4 / 8) = 2.
        for _ in 0..<4 { clients.append(try Client(port: scenario.port)) }
        let low = waitForStat(socket) { $0.int("be/BACKEND", "qcur") == 2 && $0.int("be/s1", "scur") == 2 }
        #expect(low.ok, "\(low.table.map(\.description) ?? "no table")")
        #expect(s1.snapshot.accepted == 2)

        // Load 8 (fullconn): the limit is maxconn, 4.
        for _ in 0..<4 { clients.append(try Client(port: scenario.port)) }
        #expect(s1.waitFor { $0.accepted == 4 }, "accepted \(s1.snapshot.accepted)")
        let full = waitForStat(socket) { $0.int("be/BACKEND", "qcur") == 4 }
        #expect(full.ok, "\(full.table.map(\.description) ?? "no table")")
        #expect(s1.snapshot.maxOpen == 4)

        // The four served (their greeting arrived) leave: load 4 again, so
        // only two of the four waiting are served.
        let served = clients.filter { !$0.receivesNothing(within: 0.5) }
        #expect(served.count == 4)
        for c in served { c.close() }
        let after = waitForStat(socket) { $0.int("be/BACKEND", "qcur") == 2 && $0.int("be/s1", "scur") == 2 }
        #expect(after.ok, "\(after.table.map(\.description) ?? "no table")")
        #expect(s1.snapshot.accepted == 6)
    }
}
