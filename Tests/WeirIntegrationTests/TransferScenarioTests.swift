import Foundation
import Synchronization
import Testing

/// Bytes through the proxy: half-close, a large transfer, many connections.
@Suite("Transfer")
struct TransferScenarioTests {
    /// FNV-1a, 64 bits: enough to tell a corrupted or reordered stream.
    static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// Deterministic pseudo-random bytes (xorshift), so a shifted or
    /// repeated block cannot look right by accident.
    static func pattern(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var v = state
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
                i += 1
            }
        }
        return out
    }

    @Test("half-close: the client shuts its write side and still reads the server's answer")
    func halfClose() throws {
        let backend = try Backend(.init(greeting: nil, then: .countAfterEOF))
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send([UInt8](repeating: 0x61, count: 1000))
        #expect(backend.waitFor { $0.bytesReceived == 1000 })
        client.shutdownWrite()
        // The server only answers once the FIN has been propagated to it.
        let (bytes, end) = client.readToEnd()
        #expect(String(decoding: bytes, as: UTF8.self) == "received 1000\n")
        #expect(end == .eof, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.termination == "--", "\(line)")
        #expect(line.bytes == 14)
    }

    @Test("half-close: data and FIN sent in one burst both reach the server", arguments: [false, true])
    func halfCloseInOneBurst(waitForServer: Bool) throws {
        let backend = try Backend(.init(greeting: nil, then: .countAfterEOF))
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)",
                                                      frontend: "    timeout client 5s"),
                                    backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        // Either while the proxy is still connecting to the server, or once connected.
        if waitForServer { #expect(backend.waitFor { $0.accepted == 1 }) }
        try client.send([UInt8](repeating: 0x62, count: 1000))
        client.shutdownWrite()
        let (bytes, end) = client.readToEnd()
        #expect(String(decoding: bytes, as: UTF8.self) == "received 1000\n")
        #expect(end == .eof, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.termination == "--", "\(line)")
    }

    @Test("half-close from the server side: its data and FIN in one burst reach the client, which still sends")
    func serverHalfClose() throws {
        let backend = try Backend(.init(greeting: "hello\n", then: .shutWriteThenDiscard))
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let (bytes, end) = client.readToEnd()
        #expect(String(decoding: bytes, as: UTF8.self) == "hello\n")
        #expect(end == .eof)
        try client.send("after fin")
        #expect(backend.waitFor { $0.bytesReceived == 9 }, "bytes reached the server after its FIN")
    }

    @Test("10 MiB in each direction arrive intact (checksum)")
    func largeTransfer() throws {
        let size = 10 << 20
        let backend = try Backend(.echo)
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port, ioTimeout: 20)
        let payload = Self.pattern(count: size)
        let sent = SharedState() // 0 running, 1 done, 2 failed
        let writer = Thread { [client, sent, backend] in
            do {
                var offset = 0
                while offset < payload.count {
                    let end = min(offset + 256 * 1024, payload.count)
                    try client.send(Array(payload[offset..<end]))
                    offset = end
                }
                // FIN only once everything arrived: a FIN queued right behind data is
                // covered by halfCloseInOneBurst.
                _ = backend.waitFor(timeout: 60) { $0.bytesReceived == payload.count }
                client.shutdownWrite()
                sent.store(1)
            } catch {
                sent.store(2)
            }
        }
        writer.start()
        let echoed = try client.read(count: size)
        #expect(waitUntil(timeout: 30) { sent.load() != 0 })
        #expect(sent.load() == 1, "the writer failed")
        #expect(echoed.count == size)
        #expect(Self.checksum(echoed) == Self.checksum(payload))
        #expect(echoed == payload)
        // Then the server's close reaches the client, and nothing more came.
        let (extra, end) = client.readToEnd()
        #expect(extra.isEmpty)
        #expect(end == .eof, "ended with \(end)")
        #expect(backend.snapshot.bytesReceived == size, "client to server")
        let line = try scenario.log(of: client)
        #expect(line.bytes == size, "\(line)")
        #expect(line.termination == "--", "\(line)")
    }

    @Test("500 concurrent connections are all served")
    func manyConcurrentConnections() throws {
        let count = 500
        let backend = try Backend(.echo)
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let started = monotonicNow()
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<count { clients.append(try Client(port: scenario.port)) }
        for (i, c) in clients.enumerated() { try c.send("hello \(i)\n") }
        for (i, c) in clients.enumerated() { #expect(try c.readLine() == "hello \(i)") }
        // All of them were open at the same time, end to end.
        #expect(backend.waitFor(timeout: 20) { $0.open == count }, "server sees \(backend.snapshot)")
        #expect(backend.snapshot.maxOpen == count)
        for c in clients { c.close() }
        #expect(waitUntil(timeout: 30) { scenario.weir.logLines.count == count },
                "\(scenario.weir.logLines.count) log lines")
        #expect(scenario.weir.logLines.allSatisfy { $0.termination == "--" })
        #expect(backend.waitFor(timeout: 20) { $0.open == 0 })
        #expect(monotonicNow() - started < 60)
    }
}
