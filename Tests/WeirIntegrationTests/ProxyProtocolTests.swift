import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The PROXY protocol end to end: `accept-proxy` and `expect-proxy` on the
/// client side, `send-proxy`, `send-proxy-v2` and `check-send-proxy` on the
/// server side, with python clients and servers speaking it on loopback.
@Suite(.serialized, .enabled(if: pythonPath != nil))
struct ProxyProtocolTests {
    /// A frontend `fe` whose first bind has `bindOptions`, logging
    /// `%ci:%cp %fi:%fp` first on stdout.
    func config(mode: String, bindOptions: String, frontend: String = "", backend: String, defaults: String = "") -> String {
        """
        global
            log stdout format raw local0
        defaults
            mode \(mode)
            log global
            timeout connect 2s
            timeout client 10s
            timeout server 10s
        \(defaults)
        frontend fe
            bind 127.0.0.1:0 \(bindOptions)
            log-format "%ci:%cp %fi:%fp %ST %b/%s"
        \(frontend)
            default_backend be
        backend be
        \(backend)
        """
    }

    @Test func httpClientAddressComesFromV1AndV2Headers() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "http", bindOptions: "accept-proxy",
            frontend: "    option forwardfor\n    http-request deny if { src 203.0.113.9 }",
            backend: "    server s1 \(backend.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")

        let v1 = try pythonProxyClient(port: port, header: proxyV1("TCP4", "192.0.2.10", "198.51.100.20", 4444, 8443), mode: "http")
        #expect(v1.hasPrefix("HTTP/1.1 200"), "\(v1)")
        #expect(weir.stdout.waitForLine { $0.hasPrefix("192.0.2.10:4444 198.51.100.20:8443 200 be/s1") } != nil,
                "\(weir.stdout.text)")

        let client6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [5]
        let server6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [6]
        let v2 = try pythonProxyClient(port: port, header: proxyV2(source: client6, destination: server6, sourcePort: 40000,
                                                                   destinationPort: 443, tlvs: [0x01, 0x00, 0x02, 0x68, 0x32]),
                                       mode: "http")
        #expect(v2.hasPrefix("HTTP/1.1 200"), "\(v2)")
        #expect(weir.stdout.waitForLine { $0.hasPrefix("2001:db8::5:40000 2001:db8::6:443 200 be/s1") } != nil,
                "\(weir.stdout.text)")
        #expect(backend.requests.map { $0.headers.value("x-forwarded-for") ?? "-" } == ["192.0.2.10", "2001:db8::5"])

        // An ACL on `src` sees the carried address.
        let denied = try pythonProxyClient(port: port, header: proxyV1("TCP4", "203.0.113.9", "198.51.100.20", 1, 80), mode: "http")
        #expect(denied.hasPrefix("HTTP/1.1 403"), "\(denied)")
        #expect(backend.requests.count == 2)
    }

    @Test("fc_pp_unique_id: the unique id TLV of a v2 header, none without it")
    func uniqueIDTLV() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(mode: "http", bindOptions: "accept-proxy",
                                                        frontend: "    http-request set-header X-PP-ID %[fc_pp_unique_id]",
                                                        backend: "    server s1 \(backend.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let id = Array("req-7f3a".utf8)
        let tlvs: [UInt8] = [0x05, 0x00, UInt8(id.count)] + id
        for header in [proxyV2(source: [192, 0, 2, 1], destination: [192, 0, 2, 2], sourcePort: 1000, destinationPort: 80,
                               tlvs: tlvs),
                       proxyV2(source: [192, 0, 2, 1], destination: [192, 0, 2, 2], sourcePort: 1001, destinationPort: 80)] {
            let response = try pythonProxyClient(port: port, header: header, mode: "http")
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        }
        #expect(backend.requests.map { $0.headers.value("x-pp-id") ?? "-" } == ["req-7f3a", ""])
    }

    @Test func unknownAndLocalKeepTheRealAddresses() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(mode: "http", bindOptions: "accept-proxy",
                                                        frontend: "    option forwardfor",
                                                        backend: "    server s1 \(backend.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        for header in [Array("PROXY UNKNOWN\r\n".utf8), proxyV2Local] {
            let response = try pythonProxyClient(port: port, header: header, mode: "http")
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        }
        #expect(backend.requests.map { $0.headers.value("x-forwarded-for") ?? "-" } == ["127.0.0.1", "127.0.0.1"])
        let lines = weir.stdout.lines.filter { $0.hasSuffix("200 be/s1") }
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix("127.0.0.1:") && $0.contains(" 127.0.0.1:\(port) ") }, "\(lines)")
    }

    /// Each bad start is closed with the reason HAProxy logs, and the worker
    /// serves the next connection.
    @Test func badHeadersAreClosedWithTheirReason() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(mode: "tcp", bindOptions: "accept-proxy",
                                                        backend: "    server s1 \(backend.address)",
                                                        defaults: "    timeout client-hs 300ms"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")

        func expectClosed(_ bytes: [UInt8], shutWrite: Bool = false, reason: String,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
            let client = try Client(port: port)
            defer { client.close() }
            try client.send(bytes)
            if shutWrite { client.shutdownWrite() }
            let (answer, _) = client.readToEnd()
            #expect(answer.isEmpty, sourceLocation: sourceLocation)
            let line = weir.stdout.waitForLine { $0.hasPrefix("127.0.0.1:\(client.localPort) [") }
            #expect(line?.hasSuffix("] fe/1: \(reason)") == true, "\(line ?? weir.stdout.text)", sourceLocation: sourceLocation)
        }

        try expectClosed(Array("GET / HTTP/1.0\r\n\r\n".utf8),
                         reason: "Received something which does not look like a PROXY protocol header")
        try expectClosed(proxyV1("TCP4", "192.0.2.1", "192.0.2.2", 99999, 80),
                         reason: "Received an invalid PROXY protocol header")
        try expectClosed(proxyV1("UDP4", "192.0.2.1", "192.0.2.2", 1, 80),
                         reason: "Received an unhandled protocol in the PROXY protocol header")
        try expectClosed(Array(("PROXY UNKNOWN " + String(repeating: "x", count: 120)).utf8),
                         reason: "Received an invalid PROXY protocol header")
        try expectClosed(proxyV2Signature + [0x21, 0x11, 0x00, 0x0C, 1, 2], shutWrite: true,
                         reason: "Truncated PROXY protocol header received")
        try expectClosed([], shutWrite: true, reason: "Connection closed while waiting for PROXY protocol header")
        // A header that stops half way is waited for until `timeout client-hs`.
        try expectClosed(Array("PROXY TCP4 192.0.2.1 ".utf8), reason: "Timeout while waiting for PROXY protocol header")

        // Still serving; a header split over two writes is put together.
        let client = try Client(port: port)
        defer { client.close() }
        try client.send(Array("PROXY TCP4 192.0.2.77 ".utf8))
        #expect(client.receivesNothing(within: 0.1))
        try client.send(Array("192.0.2.2 5000 80\r\n".utf8))
        #expect(try client.readLine() == "s1")
        // The session, and its log line, ends with the client.
        client.close()
        #expect(weir.stdout.waitForLine { $0.hasPrefix("192.0.2.77:5000 192.0.2.2:80") } != nil, "\(weir.stdout.text)")
    }

    @Test func expectProxyAppliesOnlyWhereItsConditionHolds() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "tcp", bindOptions: "",
            frontend: "    tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }",
            backend: "    server s1 \(backend.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")

        let proxied = try Client(port: port, source: "127.0.0.2")
        defer { proxied.close() }
        try proxied.send(proxyV1("TCP4", "192.0.2.50", "192.0.2.60", 1234, 80))
        #expect(try proxied.readLine() == "s1")
        proxied.close()
        #expect(weir.stdout.waitForLine { $0.hasPrefix("192.0.2.50:1234 192.0.2.60:80") } != nil, "\(weir.stdout.text)")

        // Any other source needs no header.
        let direct = try Client(port: port)
        defer { direct.close() }
        #expect(try direct.readLine() == "s1")
        direct.close()
        #expect(weir.stdout.waitForLine { $0.hasPrefix("127.0.0.1:\(direct.localPort) ") } != nil,
                "\(weir.stdout.text)")
    }

    @Test func sendProxyWritesTheExactHeaderInTCPMode() throws {
        let recorder = try ProxyHeaderRecorder(mode: "tcp")
        defer { recorder.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "tcp", bindOptions: "", backend: "    server s1 \(recorder.address) send-proxy"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let client = try Client(port: port)
        defer { client.close() }
        let expected = proxyV1("TCP4", "127.0.0.1", "127.0.0.1", Int(client.localPort), Int(port))
        #expect(try client.readLine() == "hdr=" + hex(expected))

        let v2 = try WeirProcess.start(config: config(mode: "tcp", bindOptions: "",
                                                      backend: "    server s1 \(recorder.address) send-proxy-v2"))
        defer { v2.stop() }
        let v2Port = try v2.port(of: "fe")
        let client2 = try Client(port: v2Port)
        defer { client2.close() }
        let expected2 = proxyV2(source: [127, 0, 0, 1], destination: [127, 0, 0, 1], sourcePort: client2.localPort,
                                destinationPort: v2Port)
        #expect(try client2.readLine() == "hdr=" + hex(expected2))
    }

    @Test func sendProxyV2CarriesTheReceivedAddressesInHTTPMode() throws {
        let recorder = try ProxyHeaderRecorder(mode: "http")
        defer { recorder.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "http", bindOptions: "accept-proxy",
            backend: "    default-server send-proxy-v2\n    server s1 \(recorder.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let response = try pythonProxyClient(port: port, header: proxyV1("TCP4", "192.0.2.10", "198.51.100.20", 4444, 8443),
                                             mode: "http")
        let expected = proxyV2(source: [192, 0, 2, 10], destination: [198, 51, 100, 20], sourcePort: 4444, destinationPort: 8443)
        #expect(response.hasSuffix("conn=1 hdr=" + hex(expected)), "\(response)")
    }

    /// With `http-reuse always`, a pooled server connection that started
    /// with one client's header never serves another client; the same
    /// client's next requests keep it.
    @Test func serverConnectionsAreReusedOnlyForTheSameHeader() throws {
        let recorder = try ProxyHeaderRecorder(mode: "http")
        defer { recorder.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "http", bindOptions: "",
            backend: "    http-reuse always\n    server s1 \(recorder.address) send-proxy"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")

        func exchange(_ client: Client) throws -> String {
            try client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            var head = ""
            while true {
                let line = try client.readLine()
                if line == "\r" || line.isEmpty { break }
                head += line
            }
            let length = head.components(separatedBy: "\r").compactMap { field -> Int? in
                let parts = field.split(separator: ":", maxSplits: 1)
                return parts.count == 2 && parts[0].lowercased() == "content-length"
                    ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
            }.first ?? 0
            return String(decoding: try client.read(count: length), as: UTF8.self)
        }

        let first = try Client(port: port)
        let firstHeader = hex(proxyV1("TCP4", "127.0.0.1", "127.0.0.1", Int(first.localPort), Int(port)))
        #expect(try exchange(first) == "conn=1 hdr=" + firstHeader)
        #expect(try exchange(first) == "conn=1 hdr=" + firstHeader)
        first.close()
        // `-d` reports the session's end: its server connection is pooled by then.
        #expect(weir.stderr.waitForLine { $0.contains(".close(") && $0.hasSuffix("127.0.0.1:\(first.localPort)") } != nil,
                "\(weir.stderr.text)")

        let second = try Client(port: port)
        defer { second.close() }
        let secondHeader = hex(proxyV1("TCP4", "127.0.0.1", "127.0.0.1", Int(second.localPort), Int(port)))
        #expect(try exchange(second) == "conn=2 hdr=" + secondHeader)
        // The recorder prints a connection's header before answering on it.
        #expect(recorder.output.waitForLine { $0.hasPrefix("header 2 ") } != nil)
        #expect(recorder.headers.count == 2)
    }

    /// weir → weir: the first sends v2, the second accepts it, and the
    /// backend sees the original client, not the first weir.
    @Test func chainedWeirsKeepTheOriginalClient() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let inner = try WeirProcess.start(config: config(mode: "http", bindOptions: "accept-proxy",
                                                         frontend: "    option forwardfor",
                                                         backend: "    server s1 \(backend.address)"))
        defer { inner.stop() }
        let innerPort = try inner.port(of: "fe")
        let outer = try WeirProcess.start(config: config(mode: "tcp", bindOptions: "",
                                                         backend: "    server inner 127.0.0.1:\(innerPort) send-proxy-v2"))
        defer { outer.stop() }
        let outerPort = try outer.port(of: "fe")

        let client = try Client(port: outerPort, source: "127.0.0.2")
        defer { client.close() }
        try client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (answer, _) = client.readToEnd()
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(backend.requests.first?.headers.value("x-forwarded-for") == "127.0.0.2")
        #expect(inner.stdout.waitForLine { $0.hasPrefix("127.0.0.2:\(client.localPort) 127.0.0.1:\(outerPort) 200 be/s1") } != nil,
                "\(inner.stdout.text)")
    }

    @Test(.enabled(if: hasOpenSSL)) func tlsBindReadsTheHeaderBeforeTheClientHello() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let certificate = try pki.aTest()
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: config(mode: "http", bindOptions: "ssl crt \(certificate.pem) accept-proxy",
                                                        frontend: "    option forwardfor",
                                                        backend: "    server s1 \(backend.address)"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let response = try pythonProxyClient(port: port, header: proxyV2(source: [192, 0, 2, 33], destination: [192, 0, 2, 44],
                                                                         sourcePort: 3333, destinationPort: 443),
                                             mode: "tls")
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        #expect(backend.requests.first?.headers.value("x-forwarded-for") == "192.0.2.33")
        #expect(weir.stdout.waitForLine { $0.hasPrefix("192.0.2.33:3333 192.0.2.44:443 200") } != nil, "\(weir.stdout.text)")

        // A ClientHello where the header should be.
        let bare = try pythonProxyClient(port: port, header: [], mode: "tls")
        #expect(!bare.contains("HTTP/1.1"))
        #expect(weir.stdout.waitForLine {
            $0.hasSuffix("fe/1: Received something which does not look like a PROXY protocol header")
        } != nil, "\(weir.stdout.text)")
    }

    /// `check-send-proxy` sends v1 with the check connection's own
    /// addresses; a `send-proxy-v2` server's checks send LOCAL.
    @Test func healthChecksSendTheHeader() throws {
        let v1 = try ProxyHeaderRecorder(mode: "tcp")
        defer { v1.stop() }
        let v2 = try ProxyHeaderRecorder(mode: "tcp")
        defer { v2.stop() }
        let weir = try WeirProcess.start(config: config(
            mode: "tcp", bindOptions: "",
            backend: """
                server s1 \(v1.address) check inter 200ms check-send-proxy
                server s2 \(v2.address) check inter 200ms send-proxy-v2
            """))
        defer { weir.stop() }
        #expect(v1.output.waitForLine { $0.hasPrefix("header ") } != nil)
        #expect(v2.output.waitForLine { $0.hasPrefix("header ") } != nil)
        let recorded = try #require(v1.headers[1])
        let bytes = try #require(Data(hexString: recorded))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\r\n"))
        let fields = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        #expect(fields.count == 6 && fields[0...3] == ["PROXY", "TCP4", "127.0.0.1", "127.0.0.1"], "\(text)")
        #expect(fields.last.map(String.init) == String(v1.port))
        #expect(v2.headers[1] == hex(proxyV2Local))
    }

    @Test func configurationErrorsNameTheirPlace() throws {
        let check = try checkConfiguration(config(mode: "tcp", bindOptions: "",
                                                  frontend: "    tcp-request content expect-proxy layer4",
                                                  backend: "    server s1 127.0.0.1:1 send-proxy-v2-ssl"))
        #expect(check.status == 1)
        #expect(check.stderr.contains("\(check.path):13:25: error: 'tcp-request content expect-proxy' is not allowed"), "\(check.stderr)")
        #expect(check.stderr.contains("\(check.path):16:27: error: server option 'send-proxy-v2-ssl' is not supported by Weir yet"),
                "\(check.stderr)")
    }
}

extension Data {
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2, limitedBy: hexString.endIndex) ?? hexString.endIndex
            guard let byte = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
