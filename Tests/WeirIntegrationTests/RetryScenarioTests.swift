import Foundation
import Testing

/// Refused connects, retries and redispatch.
@Suite("Retries")
struct RetryScenarioTests {
    @Test("a refused server is skipped through retries + redispatch")
    func refusedServerRedispatched() throws {
        let dead = try Sock.refusedPort()
        let live = try Backend(.name("s2"))
        let config = tcpConfig(backend: """
                balance roundrobin
                retries 1
                option redispatch
                timeout connect 200ms
                server s1 127.0.0.1:\(dead)
                server s2 \(live.address)
            """)
        let scenario = try Scenario(config: config, backends: [live])
        defer { scenario.close() }
        var clients: [UInt16] = []
        for _ in 0..<6 {
            let client = try Client(port: scenario.port)
            #expect(try client.readLine() == "s2")
            client.close()
            clients.append(client.localPort)
        }
        let lines = try clients.map { try scenario.log(clientPort: $0) }
        for line in lines {
            #expect(line.backend == "be" && line.server == "s2", "\(line)")
            #expect(line.termination == "--", "\(line)")
        }
        // Those sent to s1 first were refused, retried once, and redispatched to s2.
        let all = lines.map(\.raw).joined(separator: "\n")
        #expect(lines.contains { $0.retries == "+1" }, "lines:\n\(all)")
        #expect(lines.allSatisfy { $0.retries == "+1" || $0.retries == "0" }, "lines:\n\(all)")
        // As in HAProxy, the delay of min(timeout connect, 1s) applies only to a retry on the
        // same server: a redispatch is immediate, so no assertion on Tt here.
    }

    @Test("with no live server the client is closed and the log says SC")
    func noLiveServer() throws {
        let dead1 = try Sock.refusedPort()
        let dead2 = try Sock.refusedPort()
        let config = tcpConfig(backend: """
                balance roundrobin
                retries 2
                option redispatch
                timeout connect 200ms
                server s1 127.0.0.1:\(dead1)
                server s2 127.0.0.1:\(dead2)
            """)
        let scenario = try Scenario(config: config, backends: [])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        // On a loaded machine weir may have given up and closed before the
        // bytes leave: the send failing then is part of the same outcome.
        _ = try? client.send("hello")
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty)
        #expect(end.isClosed, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.termination == "SC", "\(line)")
        #expect(line.retries.hasSuffix("2"), "\(line)")
        #expect(line.connectTime == -1, "\(line)")
        #expect(line.bytes == 0)
    }

    @Test("without redispatch every retry stays on the refused server")
    func retriesWithoutRedispatch() throws {
        let dead = try Sock.refusedPort()
        let config = tcpConfig(backend: """
                retries 2
                timeout connect 100ms
                server s1 127.0.0.1:\(dead)
            """)
        let scenario = try Scenario(config: config, backends: [])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let started = monotonicNow()
        let (_, end) = client.readToEnd()
        #expect(end.isClosed, "ended with \(end)")
        // Two retries, each after min(timeout connect, 1s) = 100ms.
        #expect(monotonicNow() - started >= 0.15)
        let line = try scenario.log(of: client)
        #expect(line.server == "s1")
        #expect(line.termination == "SC")
        #expect(line.retries == "2", "\(line)")
    }

    @Test("a backend whose only server is disabled closes the client with SC")
    func noServerAtAll() throws {
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address) disabled"),
                                    backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty)
        #expect(end.isClosed, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.termination == "SC", "\(line)")
        #expect(line.server == "<NOSRV>", "\(line)")
        #expect(backend.snapshot.accepted == 0)
    }
}
