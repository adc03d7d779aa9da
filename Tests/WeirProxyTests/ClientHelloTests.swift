import Testing
@testable import WeirProxy

/// Builds TLS records byte by byte, as a client would send them.
enum HelloBytes {
    static func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
    static func u24(_ n: Int) -> [UInt8] { [UInt8(n >> 16 & 0xff)] + u16(n) }

    /// A handshake record holding one ClientHello with these extensions
    /// (nil: no extension block at all).
    static func clientHello(version: [UInt8] = [3, 3], sessionID: Int = 32, suites: [UInt8] = [0x13, 0x01, 0x13, 0x02],
                            extensions: [(type: Int, body: [UInt8])]? = []) -> [UInt8] {
        var body = version + [UInt8](repeating: 0xab, count: 32)
        body += [UInt8(sessionID)] + [UInt8](repeating: 0x11, count: sessionID)
        body += u16(suites.count) + suites
        body += [1, 0]
        if let extensions {
            var block: [UInt8] = []
            for e in extensions { block += u16(e.type) + u16(e.body.count) + e.body }
            body += u16(block.count) + block
        }
        let handshake = [1] + u24(body.count) + body
        return [0x16, 3, 1] + u16(handshake.count) + handshake
    }

    static func serverName(_ names: [String], type: UInt8 = 0) -> (type: Int, body: [UInt8]) {
        var list: [UInt8] = []
        for name in names { list += [type] + u16(name.utf8.count) + Array(name.utf8) }
        return (0, u16(list.count) + list)
    }

    static func alpn(_ protocols: [String]) -> (type: Int, body: [UInt8]) {
        var list: [UInt8] = []
        for p in protocols { list += [UInt8(p.utf8.count)] + Array(p.utf8) }
        return (16, u16(list.count) + list)
    }

    static let supportedGroups: (type: Int, body: [UInt8]) = (10, u16(4) + [0, 0x1d, 0, 0x17])
    static let supportedVersions: (type: Int, body: [UInt8]) = (43, [4, 3, 4, 3, 3])

    /// An SSLv2-compatible ClientHello (2-byte header), announcing TLS 1.0.
    static func sslv2Hello() -> [UInt8] {
        let ciphers: [UInt8] = [0, 0, 0x35, 0, 0, 0x2f]
        let challenge = [UInt8](repeating: 0x42, count: 16)
        let body: [UInt8] = [1, 3, 1] + u16(ciphers.count) + u16(0) + u16(challenge.count) + ciphers + challenge
        return [0x80 | UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }
}

@Suite struct ClientHelloTests {
    typealias B = HelloBytes

    func parse(_ bytes: [UInt8]) -> ClientHelloPeek<ClientHelloInfo> {
        bytes.withUnsafeBytes { TLSClientHello.parse($0) }
    }

    func serverName(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { data -> String? in
            guard case .found(let info) = TLSClientHello.parse(data), let range = info.serverName else { return nil }
            return String(decoding: data[range], as: UTF8.self)
        }
    }

    func handshakeType(_ bytes: [UInt8]) -> ClientHelloPeek<Int> { bytes.withUnsafeBytes { TLSClientHello.handshakeType($0) } }
    func version(_ bytes: [UInt8]) -> ClientHelloPeek<Int> { bytes.withUnsafeBytes { TLSClientHello.version($0) } }

    func isNeedMore<T>(_ peek: ClientHelloPeek<T>) -> Bool { if case .needMore = peek { true } else { false } }
    func isAbsent<T>(_ peek: ClientHelloPeek<T>) -> Bool { if case .absent = peek { true } else { false } }
    func found(_ peek: ClientHelloPeek<Int>) -> Int? { if case .found(let n) = peek { n } else { nil } }

    @Test("a ClientHello with SNI: type 1, version 3.3, the name")
    func complete() {
        let hello = B.clientHello(extensions: [B.serverName(["a.test"]), B.supportedVersions])
        #expect(found(handshakeType(hello)) == 1)
        #expect(found(version(hello)) == 0x0003_0003)
        #expect(serverName(hello) == "a.test")
    }

    @Test("every truncation of a ClientHello waits for more; none is read past its end")
    func truncated() {
        let hello = B.clientHello(extensions: [B.serverName(["www.example.com"]), B.alpn(["h2"]), B.supportedGroups])
        for cut in 0..<hello.count {
            let prefix = Array(hello[0..<cut])
            #expect(isNeedMore(parse(prefix)), "cut at \(cut)")
            #expect(isNeedMore(handshakeType(prefix)), "cut at \(cut)")
            #expect(isNeedMore(version(prefix)), "cut at \(cut)")
        }
        // Bytes after the record (the next flight) change nothing.
        #expect(serverName(hello + [0x14, 3, 3, 0, 1, 1]) == "www.example.com")
    }

    @Test("a ClientHello without SNI, or without any extension")
    func noServerName() {
        let hello = B.clientHello(extensions: [B.supportedGroups, B.alpn(["http/1.1"])])
        guard case .found(let info) = parse(hello) else {
            Issue.record("not parsed")
            return
        }
        #expect(info.serverName == nil)
        #expect(info.ellipticCurves)
        let bare = B.clientHello(extensions: nil)
        #expect(isAbsent(parse(bare)))
        #expect(found(handshakeType(bare)) == 1)
        // Names of another type than host_name, or empty, are not a server name.
        #expect(serverName(B.clientHello(extensions: [B.serverName(["x"], type: 7)])) == nil)
        #expect(serverName(B.clientHello(extensions: [B.serverName([""])])) == nil)
    }

    @Test("several extensions: SNI among them, ALPN's protocols, a session ticket, supported groups")
    func severalExtensions() {
        let ticket = (type: 35, body: [UInt8](repeating: 7, count: 40))
        let hello = B.clientHello(extensions: [(0xff01, [0]), B.supportedGroups, ticket, B.alpn(["h2", "http/1.1"]),
                                               (0x1a1a, []), B.serverName(["x.w.test"]), B.supportedVersions])
        hello.withUnsafeBytes { data in
            guard case .found(let info) = TLSClientHello.parse(data) else {
                Issue.record("not parsed")
                return
            }
            #expect(info.serverName.map { String(decoding: data[$0], as: UTF8.self) } == "x.w.test")
            #expect(info.sessionTicket == 2)
            #expect(info.ellipticCurves)
            guard let list = info.alpn else {
                Issue.record("no ALPN")
                return
            }
            let names = (0..<3).map { i in
                TLSClientHello.alpnProtocol(data, list: list, index: i).map { String(decoding: data[$0], as: UTF8.self) }
            }
            #expect(names == ["h2", "http/1.1", nil])
        }
        guard case .found(let empty) = parse(B.clientHello(extensions: [(35, [])])) else {
            Issue.record("not parsed")
            return
        }
        #expect(empty.sessionTicket == 1)
        #expect(!empty.ellipticCurves)
        #expect(empty.alpn == nil)
    }

    @Test("lengths larger than what holds them are refused, not trusted")
    func oversizedLengths() {
        let hello = B.clientHello(extensions: [B.serverName(["a.test"]), B.alpn(["h2"])])
        func patched(_ at: Int, _ bytes: [UInt8]) -> [UInt8] {
            var copy = hello
            copy.replaceSubrange(at..<(at + bytes.count), with: bytes)
            return copy
        }
        let body = 9
        let sessionIDAt = body + 34
        let suitesAt = sessionIDAt + 1 + 32
        let extensionsAt = suitesAt + 2 + 4 + 2
        // A record longer than TLS allows.
        #expect(isAbsent(parse(patched(3, B.u16(20000)))))
        // A handshake longer than its record.
        #expect(isAbsent(parse(patched(6, B.u24(hello.count)))))
        // A session id over 32 bytes, cipher suites past the hello, no compression method.
        #expect(isAbsent(parse(patched(sessionIDAt, [33]))))
        #expect(isAbsent(parse(patched(suitesAt, B.u16(4000)))))
        #expect(isAbsent(parse(patched(suitesAt + 6, [0]))))
        // Extensions past the hello; an extension past the block; a name past its list.
        #expect(isAbsent(parse(patched(extensionsAt, B.u16(4000)))))
        #expect(isAbsent(parse(patched(extensionsAt + 4, B.u16(300)))))
        #expect(isAbsent(parse(patched(extensionsAt + 2 + 4 + 3, B.u16(200)))))
        // The same extension twice.
        #expect(isAbsent(parse(B.clientHello(extensions: [B.serverName(["a"]), B.serverName(["b"])]))))
        // An empty ALPN protocol name.
        #expect(isAbsent(parse(B.clientHello(extensions: [B.alpn(["h2", ""])]))))
        // Every byte changed in turn: whatever it reads, it stays within the bytes.
        for at in 0..<hello.count {
            for value: UInt8 in [0, 0x7f, 0xff] {
                let mutated = patched(at, [value])
                _ = parse(mutated)
                _ = handshakeType(mutated)
                _ = version(mutated)
            }
        }
    }

    @Test("an SSLv2-compatible hello: no handshake type 1, no SNI, but a version")
    func sslv2Compatible() {
        let hello = B.sslv2Hello()
        #expect(isAbsent(handshakeType(hello)))
        #expect(isAbsent(parse(hello)))
        #expect(found(version(hello)) == 0x0003_0001)
        #expect(isNeedMore(version(Array(hello.prefix(10)))))
    }

    @Test("bytes that are not TLS are decided at once")
    func notTLS() {
        let get = Array("GET / HTTP/1.1\r\nhost: a\r\n\r\n".utf8)
        #expect(isAbsent(handshakeType(get)))
        #expect(isAbsent(version(get)))
        #expect(isAbsent(parse(get)))
        #expect(isAbsent(parse([0x16, 2, 0])))
        #expect(isNeedMore(parse([])))
        // A record of another handshake type: a type, but no ClientHello.
        let finished: [UInt8] = [0x16, 3, 3, 0, 8, 20, 0, 0, 4, 1, 2, 3, 4]
        #expect(found(handshakeType(finished)) == 20)
        #expect(isAbsent(parse(finished)))
        // A hello announcing SSL 3.0 is below what the SNI reader accepts.
        #expect(isAbsent(parse(B.clientHello(version: [3, 0], extensions: [B.serverName(["a"])]))))
    }
}
