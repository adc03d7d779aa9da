import Foundation
import Testing

/// Server `maxconn` and the backend queue.
@Suite("Queueing")
struct QueueScenarioTests {
    @Test("with server maxconn 1 a second client waits for the first, then is served")
    func secondClientWaits() throws {
        let backend = try Backend(.nameThenHold("s1"))
        let config = tcpConfig(backend: """
                timeout queue 10s
                server s1 \(backend.address) maxconn 1
            """)
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let first = try Client(port: scenario.port)
        #expect(try first.readLine() == "s1")
        let second = try Client(port: scenario.port)
        // While the first holds the only slot, the second gets nothing and the server sees one connection.
        #expect(second.receivesNothing(within: 0.3))
        #expect(backend.snapshot.accepted == 1)
        first.close()
        #expect(try second.readLine() == "s1")
        #expect(backend.snapshot.maxOpen == 1)
        second.close()
        let firstLine = try scenario.log(of: first)
        let secondLine = try scenario.log(of: second)
        #expect(firstLine.queueTime == 0, "\(firstLine)")
        #expect(secondLine.queueTime > 0, "queued while the first was held: \(secondLine)")
        #expect(secondLine.termination == "--", "\(secondLine)")
        #expect(secondLine.server == "s1")
    }

    @Test("several queued clients are served in arrival order")
    func queueOrder() throws {
        let backend = try Backend(.nameThenHold("s1"))
        let config = tcpConfig(backend: "    timeout queue 10s\n    server s1 \(backend.address) maxconn 1")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let holder = try Client(port: scenario.port)
        #expect(try holder.readLine() == "s1")
        var waiting: [Client] = []
        for _ in 0..<4 {
            // Sequential connects enter the kernel's accept queue, and so the proxy, in this order.
            waiting.append(try Client(port: scenario.port))
        }
        holder.close()
        for (i, client) in waiting.enumerated() {
            #expect(try client.readLine() == "s1", "client \(i)")
            // The next one must still be waiting while this one holds the slot.
            if i + 1 < waiting.count { #expect(waiting[i + 1].receivesNothing(within: 0.05)) }
            client.close()
        }
        #expect(backend.snapshot.maxOpen == 1)
        #expect(backend.snapshot.accepted == 5)
    }

    @Test("timeout queue ends a connection that waited too long: sQ")
    func queueTimeout() throws {
        let backend = try Backend(.nameThenHold("s1"))
        let config = tcpConfig(backend: """
                timeout queue 300ms
                server s1 \(backend.address) maxconn 1
            """)
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let first = try Client(port: scenario.port)
        #expect(try first.readLine() == "s1")
        let second = try Client(port: scenario.port)
        let started = monotonicNow()
        let (bytes, end) = second.readToEnd()
        #expect(bytes.isEmpty)
        #expect(end.isClosed, "ended with \(end)")
        #expect(monotonicNow() - started < 9)
        let line = try scenario.log(of: second)
        #expect(line.termination == "sQ", "\(line)")
        #expect(line.queueTime == -1 || line.queueTime >= 250, "\(line)")
        #expect(backend.snapshot.accepted == 1)
        // The first connection is untouched.
        try first.send("still here")
        #expect(first.receivesNothing(within: 0.05))
        #expect(backend.snapshot.open == 1)
    }

    @Test("frontend maxconn stops accepting at the limit and resumes below it")
    func frontendMaxconn() throws {
        let backend = try Backend(.nameThenHold("s1"))
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)",
                                                      frontend: "    maxconn 2"),
                                    backends: [backend])
        defer { scenario.close() }
        let a = try Client(port: scenario.port)
        let b = try Client(port: scenario.port)
        #expect(try a.readLine() == "s1")
        #expect(try b.readLine() == "s1")
        // The kernel completes the third handshake, but the proxy does not take it.
        let c = try Client(port: scenario.port)
        #expect(c.receivesNothing(within: 0.3))
        #expect(backend.snapshot.accepted == 2)
        a.close()
        #expect(try c.readLine() == "s1")
        #expect(backend.snapshot.maxOpen == 2)
        b.close()
        c.close()
    }
}
