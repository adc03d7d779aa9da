import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Each timeout firing at 300ms, seen from the client (connection closed) and
/// in the tcplog termination state. `timeout queue` is in QueueScenarioTests.
@Suite("Timeouts")
struct TimeoutScenarioTests {
    /// Waits for the proxy to close `client`; returns how long it took.
    private func expectClosed(_ client: Client, sourceLocation: SourceLocation = #_sourceLocation) -> Double {
        let started = monotonicNow()
        let (_, end) = client.readToEnd()
        #expect(end.isClosed, "ended with \(end)", sourceLocation: sourceLocation)
        return monotonicNow() - started
    }

    @Test("timeout client closes an idle client: cD")
    func clientTimeout() throws {
        let backend = try Backend(.holdForever)
        let config = tcpConfig(backend: "    server s1 \(backend.address)",
                               frontend: "    timeout client 300ms")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("x")
        #expect(expectClosed(client) < 9)
        let line = try scenario.log(of: client)
        #expect(line.termination == "cD", "\(line)")
        #expect(line.totalTime >= 250, "\(line)")
    }

    @Test("timeout server closes when the server stays silent: sD")
    func serverTimeout() throws {
        let backend = try Backend(.silent)
        let config = tcpConfig(backend: "    timeout server 300ms\n    server s1 \(backend.address)")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("ping")
        #expect(expectClosed(client) < 9)
        let line = try scenario.log(of: client)
        #expect(line.termination == "sD", "\(line)")
        #expect(line.bytes == 0)
    }

    /// A loopback listener whose accept queue is full: further SYNs are
    /// dropped, so a connect to it hangs until the connector gives up. Never
    /// leaves the machine. Returns the listener, the sockets filling it, and its port.
    private func fullListener() throws -> (listener: Int32, fillers: [Int32], port: UInt16) {
        let listener = try Sock.listener(backlog: 0)
        let port = Sock.localPort(listener)
        var fillers: [Int32] = []
        for _ in 0..<8 {
            let fd = try Sock.tcp()
            Sock.setNonBlocking(fd)
            _ = Sock.connect(fd, host: "127.0.0.1", port: port)
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, 300)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if ready == 1 && error == 0 {
                fillers.append(fd) // completed: it sits in the accept queue
                continue
            }
            close(fd) // hung: the queue is full
            return (listener, fillers, port)
        }
        for fd in fillers { close(fd) }
        close(listener)
        throw Sock.Failure(call: "could not fill a loopback accept queue", code: EAGAIN)
    }

    @Test("timeout connect gives up on a server that never answers the handshake: sC")
    func connectTimeout() throws {
        let full = try fullListener()
        defer {
            for fd in full.fillers { close(fd) }
            close(full.listener)
        }
        let config = tcpConfig(backend: """
                retries 0
                timeout connect 300ms
                server s1 127.0.0.1:\(full.port)
            """)
        let scenario = try Scenario(config: config, backends: [])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("hello")
        #expect(expectClosed(client) < 9)
        let line = try scenario.log(of: client)
        #expect(line.termination == "sC", "\(line)")
        #expect(line.connectTime == -1, "\(line)")
    }

    @Test("timeout client-fin closes a client that half-closed and went quiet: cD")
    func clientFinTimeout() throws {
        let backend = try Backend(.holdForever)
        let config = tcpConfig(backend: "    server s1 \(backend.address)",
                               frontend: "    timeout client 10s\n    timeout client-fin 300ms")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("bye")
        #expect(backend.waitFor { $0.bytesReceived == 3 })
        client.shutdownWrite()
        // Well before the 10s client timeout.
        #expect(expectClosed(client) < 5)
        let line = try scenario.log(of: client)
        #expect(line.termination == "cD", "\(line)")
    }

    @Test("timeout server-fin closes a server that half-closed and went quiet: sD")
    func serverFinTimeout() throws {
        // The server shuts its write side when the client's bytes arrive: a bare FIN.
        let backend = try Backend(.init(greeting: nil, then: .shutWriteOnData))
        let config = tcpConfig(backend: "    timeout server 10s\n    timeout server-fin 300ms\n    server s1 \(backend.address)")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let started = monotonicNow()
        try client.send("x")
        // The server's half-close reaches the client as EOF.
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty)
        #expect(end == .eof, "ended with \(end)")
        // The client keeps its side open; server-fin ends the session well before 10s.
        let line = try scenario.log(of: client, timeout: 10)
        #expect(monotonicNow() - started < 5)
        #expect(line.termination == "sD", "\(line)")
        #expect(backend.waitFor { $0.open == 0 }, "the server side was closed")
    }

    @Test("timeout tunnel overrides client and server timeouts once connected")
    func tunnelTimeout() throws {
        let backend = try Backend(.echo)
        let config = tcpConfig(backend: "    timeout tunnel 300ms\n    server s1 \(backend.address)",
                               frontend: "    timeout client 10s")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("ping\n")
        #expect(try client.readLine() == "ping")
        #expect(expectClosed(client) < 5)
        let line = try scenario.log(of: client)
        #expect(["cD", "sD"].contains(line.termination), "\(line)")
        #expect(line.bytes == 5)
    }

    @Test("idle timeouts are reset by traffic (not a limit on the session's life)")
    func activityResetsIdleTimeout() throws {
        let backend = try Backend(.echo)
        let config = tcpConfig(backend: "    timeout server 2s\n    server s1 \(backend.address)",
                               frontend: "    timeout client 2s")
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let started = monotonicNow()
        var exchanges = 0
        // Keep talking for 3s, well past the 2s idle timeouts.
        while monotonicNow() - started < 3, exchanges < 100 {
            try client.send("tick\n")
            #expect(try client.readLine() == "tick")
            exchanges += 1
            usleep(200_000)
        }
        try client.send("last\n")
        #expect(try client.readLine() == "last")
        client.close()
        let line = try scenario.log(of: client)
        #expect(line.termination == "--" || line.termination == "CD", "\(line)")
        #expect(line.totalTime >= 2500, "\(line)")
    }
}
