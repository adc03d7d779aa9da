import Foundation
import Testing

/// Text that compresses well: HTML-like lines with small variations.
private func page(_ count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 100)
    var i = 0
    while bytes.count < count {
        bytes += Array("<tr><td class=\"n\">\(i)</td><td>row \(i * 7 % 13) of the table</td></tr>\n".utf8)
        i += 1
    }
    return Array(bytes.prefix(count))
}

/// Decodes a compressed body with python3's zlib (`gzip`, `deflate` or `raw-deflate`).
private func decompress(_ body: [UInt8], _ coding: String) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory
    let url = directory.appendingPathComponent("weir-compressed-\(UUID().uuidString)")
    let outURL = url.appendingPathExtension("out")
    defer {
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.removeItem(at: outURL)
    }
    try Data(body).write(to: url)
    let wbits = coding == "gzip" ? 31 : coding == "deflate" ? 15 : -15
    let script = """
        import sys, zlib
        d = zlib.decompressobj(\(wbits))
        out = d.decompress(open(sys.argv[1], 'rb').read())
        assert d.eof and not d.unused_data
        open(sys.argv[2], 'wb').write(out)
        """
    let run = try runTool("/usr/bin/python3", ["-c", script, url.path, outURL.path])
    try #require(run.status == 0, "python3 could not decode the \(coding) body: \(run.stderr)")
    return [UInt8](try Data(contentsOf: outURL))
}

@Suite("HTTP compression", .serialized)
struct HTTPCompressionTests {
    static let html = page(40_000)

    /// A backend answering `/html` with `html` (text/html), `/chunked` the
    /// same in chunks, and other paths as `replies` says.
    static func backend(_ replies: @escaping @Sendable (RecordedRequest) -> BackendReply? = { _ in nil }) throws -> HTTPBackend {
        try HTTPBackend { request in
            if let reply = replies(request) { return reply }
            let type = HTTPHeaderField(name: "content-type", value: "text/html; charset=utf-8")
            if request.target == "/chunked" {
                return .response(status: 200, headers: [type], body: .bytes(html),
                                 framing: .chunked(chunkSize: 3_000, trailers: []))
            }
            return .response(status: 200, headers: [type], body: .bytes(html), framing: .contentLength)
        }
    }

    @Test("gzip, deflate and raw-deflate bodies decode to the server's bytes", arguments: [
        ("gzip", "gzip"), ("deflate", "deflate"), ("raw-deflate", "deflate"),
    ])
    func algorithms(algorithm: String, token: String) throws {
        let scenario = try HTTPScenario(backends: [try Self.backend()], frontend: "    compression algo \(algorithm)")
        defer { scenario.close() }
        let c = try scenario.connect()
        for path in ["/html", "/chunked"] {
            try c.request("GET", path, headers: ["Accept-Encoding: \(token)"])
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.complete)
            #expect(r.headers.value("content-encoding") == token)
            #expect(r.headers.tokens("vary") == ["accept-encoding"])
            #expect(r.headers.tokens("transfer-encoding") == ["chunked"])
            #expect(!r.headers.has("content-length"))
            #expect(r.body.count < Self.html.count / 3, "\(path): \(r.body.count) bytes")
            #expect(try decompress(r.body.bytes, algorithm == "raw-deflate" ? "raw" : token) == Self.html, "\(path)")
        }
    }

    @Test("curl --compressed gets the page back, and without Accept-Encoding it comes as it is",
          .enabled(if: hasCurl, "curl is not installed"))
    func curlCompressed() throws {
        let scenario = try HTTPScenario(backends: [try Self.backend()], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let url = "http://127.0.0.1:\(scenario.port)/html"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("weir-curl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try runTool(curlPath, ["-s", "--compressed", "-D", "-", "-o", file.path, url])
        #expect(run.status == 0)
        #expect(run.stdout.lowercased().contains("content-encoding: gzip"))
        #expect([UInt8](try Data(contentsOf: file)) == Self.html)

        let c = try scenario.connect()
        try c.request("GET", "/html")
        let plain = try c.readResponse()
        #expect(!plain.headers.has("content-encoding"))
        #expect(plain.headers.value("content-length") == "\(Self.html.count)")
        #expect(plain.body.bytes == Self.html)
    }

    @Test("Python's http.client on one kept-alive connection: gzip, deflate and identity bodies decode to the page")
    func pythonClient() throws {
        let scenario = try HTTPScenario(backends: [try Self.backend()], frontend: "    compression algo gzip deflate")
        defer { scenario.close() }
        let expected = FileManager.default.temporaryDirectory.appendingPathComponent("weir-page-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: expected) }
        try Data(Self.html).write(to: expected)
        let script = """
            import http.client, sys, zlib, gzip
            port, expected = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
            sockets = set()
            for i, (path, accept) in enumerate([('/html', 'gzip'), ('/chunked', 'deflate'), ('/html', None),
                                                ('/chunked', 'gzip'), ('/html', 'deflate')]):
                headers = {'Accept-Encoding': accept} if accept else {}
                conn.request('GET', path, headers=headers)
                sockets.add(conn.sock.getsockname()[1])
                r = conn.getresponse()
                body = r.read()
                coding = r.getheader('Content-Encoding')
                assert coding == accept, (i, coding, accept)
                if coding == 'gzip': body = gzip.decompress(body)
                elif coding == 'deflate': body = zlib.decompress(body)
                assert body == expected, (i, len(body))
            assert len(sockets) == 1, 'the connection was not kept alive'
            print('ok')
            """
        let run = try runTool("/usr/bin/python3", ["-c", script, String(scenario.port), expected.path])
        #expect(run.status == 0 && run.stdout == "ok\n", "\(run.stdout)\(run.stderr)")
    }

    @Test("Accept-Encoding q-values and * pick the algorithm; q=0 refuses it")
    func negotiation() throws {
        let scenario = try HTTPScenario(backends: [try Self.backend()], frontend: "    compression algo gzip deflate")
        defer { scenario.close() }
        let c = try scenario.connect()
        let cases: [(String, String?)] = [
            ("gzip;q=0.5, deflate;q=0.8", "deflate"),
            ("deflate;q=0.1, br, gzip", "gzip"),
            ("gzip;q=0", nil),
            ("br", nil),
            // `*`: the algorithm configured last.
            ("*", "deflate"),
            ("identity", nil),
        ]
        for (accept, expected) in cases {
            try c.request("GET", "/html", headers: ["Accept-Encoding: \(accept)"])
            let r = try c.readResponse()
            #expect(r.headers.value("content-encoding") == expected, "Accept-Encoding: \(accept)")
            #expect(r.complete)
        }
    }

    @Test("compression type compresses matching types only, with or without parameters")
    func types() throws {
        let backend = try Self.backend { request in
            switch request.target {
            case "/png": .response(status: 200, headers: [HTTPHeaderField(name: "content-type", value: "image/png")],
                                   body: .bytes(Self.html), framing: .contentLength)
            case "/json": .response(status: 200, headers: [HTTPHeaderField(name: "Content-Type", value: "Application/JSON")],
                                    body: .bytes(Self.html), framing: .contentLength)
            case "/untyped": .response(status: 200, headers: [], body: .bytes(Self.html), framing: .contentLength)
            default: nil
            }
        }
        let scenario = try HTTPScenario(backends: [backend], backend: "    compression type text/html application/json",
                                        frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        for (path, compressed) in [("/html", true), ("/png", false), ("/json", true), ("/untyped", false)] {
            try c.request("GET", path, headers: ["Accept-Encoding: gzip"])
            let r = try c.readResponse()
            #expect((r.headers.value("content-encoding") == "gzip") == compressed, "\(path)")
            #expect(r.headers.has("content-length") != compressed, "\(path)")
        }
    }

    @Test("offload: the server never sees Accept-Encoding, the client gets gzip")
    func offload() throws {
        let backend = try Self.backend()
        let scenario = try HTTPScenario(backends: [backend], backend: "    compression offload",
                                        frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/html", headers: ["Accept-Encoding: gzip, deflate", "accept-encoding: br"])
        let r = try c.readResponse()
        #expect(r.headers.value("content-encoding") == "gzip")
        let seen = try #require(backend.requests.last)
        #expect(!seen.headers.has("accept-encoding"), "\(seen)")

        // Without offload the server sees what the client sent.
        let plainBackend = try Self.backend()
        let plain = try HTTPScenario(backends: [plainBackend], frontend: "    compression algo gzip")
        defer { plain.close() }
        let d = try plain.connect()
        try d.request("GET", "/html", headers: ["Accept-Encoding: gzip"])
        _ = try d.readResponse()
        #expect(plainBackend.requests.last?.headers.value("accept-encoding") == "gzip")
    }

    @Test("Responses HAProxy leaves alone go as they are")
    func untouched() throws {
        let typed = HTTPHeaderField(name: "content-type", value: "text/html")
        let backend = try Self.backend { request in
            switch request.target {
            case "/encoded":
                .response(status: 200, headers: [typed, HTTPHeaderField(name: "content-encoding", value: "br")],
                          body: .bytes(Self.html), framing: .contentLength)
            case "/no-transform":
                .response(status: 200, headers: [typed, HTTPHeaderField(name: "cache-control", value: "public, no-transform")],
                          body: .bytes(Self.html), framing: .contentLength)
            case "/204": .response(status: 204, headers: [typed], body: .bytes([]), framing: .none)
            case "/304": .response(status: 304, headers: [typed], body: .bytes([]), framing: .none)
            case "/404": .response(status: 404, headers: [typed], body: .bytes(Self.html), framing: .contentLength)
            case "/multipart":
                .response(status: 200, headers: [HTTPHeaderField(name: "content-type", value: "multipart/mixed; boundary=x")],
                          body: .bytes(Self.html), framing: .contentLength)
            case "/two-etags":
                .response(status: 200, headers: [typed, HTTPHeaderField(name: "etag", value: "\"a\""),
                                                 HTTPHeaderField(name: "etag", value: "\"b\"")],
                          body: .bytes(Self.html), framing: .contentLength)
            case "/bad-etag":
                .response(status: 200, headers: [typed, HTTPHeaderField(name: "etag", value: "abc")],
                          body: .bytes(Self.html), framing: .contentLength)
            case "/close": .response(status: 200, headers: [typed], body: .bytes(Self.html), framing: .close)
            default: nil
            }
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: "    compression algo gzip")
        defer { scenario.close() }
        for path in ["/encoded", "/no-transform", "/204", "/304", "/404", "/multipart", "/two-etags", "/bad-etag", "/close"] {
            let c = try scenario.connect()
            try c.request("GET", path, headers: ["Accept-Encoding: gzip"])
            let r = try c.readResponse()
            #expect(r.headers.value("content-encoding") == (path == "/encoded" ? "br" : nil), "\(path)")
            #expect(!r.headers.has("vary"), "\(path)")
            if r.status != 204 && r.status != 304 { #expect(r.body.bytes == Self.html, "\(path)") }
            c.close()
        }
        let c = try scenario.connect()
        try c.request("HEAD", "/html", headers: ["Accept-Encoding: gzip"])
        let head = try c.readResponse(method: "HEAD")
        #expect(head.status == 200)
        #expect(!head.headers.has("content-encoding"))
        // An HTTP/1.0 client gets the response as it is, as from HAProxy.
        try c.request("GET", "/html", version: "HTTP/1.0", headers: ["Accept-Encoding: gzip", "Connection: keep-alive"])
        let old = try c.readResponse()
        #expect(!old.headers.has("content-encoding"))
        #expect(old.body.count == Self.html.count)
    }

    @Test("The decision reads the response as the http-response rules left it")
    func responseRules() throws {
        // A rule that does not fire changes nothing.
        let scenario = try HTTPScenario(backends: [try Self.backend()],
                                        backend: "    http-response set-header Cache-Control no-transform if { res.hdr(x-never) -m found }",
                                        frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/html", headers: ["Accept-Encoding: gzip"])
        #expect(try c.readResponse().headers.value("content-encoding") == "gzip")
        let blocked = try HTTPScenario(backends: [try Self.backend()],
                                       backend: "    http-response set-header Cache-Control no-transform",
                                       frontend: "    compression algo gzip")
        defer { blocked.close() }
        let d = try blocked.connect()
        try d.request("GET", "/html", headers: ["Accept-Encoding: gzip"])
        let r = try d.readResponse()
        #expect(r.headers.value("cache-control") == "no-transform")
        #expect(!r.headers.has("content-encoding"))
        #expect(r.body.bytes == Self.html)
    }

    @Test("A strong ETag becomes weak; an existing Vary gets no second Accept-Encoding")
    func validators() throws {
        let backend = try Self.backend { request in
            request.target == "/etag"
                ? .response(status: 200, headers: [HTTPHeaderField(name: "content-type", value: "text/html"),
                                                   HTTPHeaderField(name: "etag", value: "\"v1\""),
                                                   HTTPHeaderField(name: "vary", value: "Origin, accept-encoding")],
                            body: .bytes(Self.html), framing: .contentLength)
                : nil
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/etag", headers: ["Accept-Encoding: gzip"])
        let r = try c.readResponse()
        #expect(r.headers.value("content-encoding") == "gzip")
        #expect(r.headers.value("etag") == "W/\"v1\"")
        #expect(r.headers.tokens("vary") == ["origin", "accept-encoding"])
    }

    @Test("The trailers of a chunked response follow the compressed body")
    func trailers() throws {
        let backend = try Self.backend { request in
            .response(status: 200, headers: [HTTPHeaderField(name: "content-type", value: "text/html")],
                      body: .bytes(Self.html),
                      framing: .chunked(chunkSize: 7_000, trailers: [HTTPHeaderField(name: "x-checksum", value: "abc123"),
                                                                     HTTPHeaderField(name: "x-rows", value: "9")]))
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        for _ in 0..<2 {
            try c.request("GET", "/trailers", headers: ["Accept-Encoding: gzip"])
            let r = try c.readResponse()
            #expect(r.complete && r.headers.value("content-encoding") == "gzip")
            #expect(r.body.trailers == [HTTPHeaderField(name: "x-checksum", value: "abc123"),
                                        HTTPHeaderField(name: "x-rows", value: "9")])
            #expect(try decompress(r.body.bytes, "gzip") == Self.html)
        }
    }

    @Test("A body cut short or badly chunked never ends the compressed response as complete, logged SD")
    func brokenBodies() throws {
        let backend = try Self.backend { request in
            switch request.target {
            case "/cut": .halfBodyThenClose(total: 100_000)
            case "/bad-chunk":
                .raw(Array("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n".utf8),
                     close: true)
            default: nil
            }
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/cut", headers: ["Accept-Encoding: gzip"])
        let r = try c.readResponse()
        #expect(r.headers.value("content-encoding") == "gzip")
        #expect(!r.complete, "the client must see the body cut")
        #expect(try scenario.log(of: c).termination == "SD--")
        c.close()
        // A framing error right after the head: the session ends before
        // anything reaches the client, as without compression.
        let d = try scenario.connect()
        try d.request("GET", "/bad-chunk", headers: ["Accept-Encoding: gzip"])
        if let cut = try? d.readResponse() { #expect(!cut.complete) }
        #expect(try scenario.log(of: d).termination == "SD--")
        d.close()
    }

    @Test("Several compressed responses on one keep-alive connection, each logged with the bytes sent")
    func keepAliveAndLogs() throws {
        let scenario = try HTTPScenario(backends: [try Self.backend()], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let c = try scenario.connect()
        var sizes: [Int] = []
        for i in 0..<6 {
            try c.request("GET", i % 2 == 0 ? "/html" : "/chunked", headers: ["Accept-Encoding: gzip"])
            let r = try c.readResponse()
            #expect(r.complete && !r.closes)
            #expect(try decompress(r.body.bytes, "gzip") == Self.html)
            sizes.append(r.wireBytes)
        }
        let logs = try scenario.logs(clientPort: c.localPort, count: 6)
        #expect(logs.map(\.bytes) == sizes)
    }

    @Test("Multi-MiB responses, chunked and with a length, stream through with the memory flat",
          .enabled(if: hasCurl, "curl is not installed"), .timeLimit(.minutes(2)))
    func large() throws {
        let size = 24 << 20
        let big = page(size)
        let backend = try HTTPBackend { request in
            let type = HTTPHeaderField(name: "content-type", value: "text/plain")
            return request.target == "/big-chunked"
                ? .response(status: 200, headers: [type], body: .bytes(big), framing: .chunked(chunkSize: 50_000, trailers: []))
                : .response(status: 200, headers: [type], body: .bytes(big), framing: .contentLength)
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: "    compression algo gzip")
        defer { scenario.close() }
        let warm = try scenario.connect()
        try warm.request("GET", "/warm", headers: ["Accept-Encoding: gzip"])
        _ = try warm.readResponse()
        let before = try #require(scenario.memory())
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("weir-big-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        for path in ["/big-chunked", "/big"] {
            let run = try runTool(curlPath, ["-s", "--compressed", "-o", file.path, "-w", "%{size_download}",
                                             "http://127.0.0.1:\(scenario.port)\(path)"])
            #expect(run.status == 0)
            let downloaded = Int(run.stdout) ?? 0
            #expect(downloaded > 0 && downloaded < size / 3, "\(path): \(run.stdout) bytes on the wire")
            #expect([UInt8](try Data(contentsOf: file)) == big, "\(path)")
        }
        let after = try #require(scenario.memory())
        let growthMiB = Double(after.peak - before.rss) / 1024
        #expect(growthMiB < 16, "weir grew from \(before.rss) KiB to a peak of \(after.peak) KiB")
    }

    @Test("show stat counts comp_in, comp_out and comp_rsp")
    func counters() throws {
        let backend = try Self.backend()
        let socket = statsSocketPath()
        let scenario = try HTTPScenario(
            config: httpConfig(backend: httpServerLines([backend]), frontend: "    compression algo gzip",
                               global: "    stats socket \(socket) level operator"),
            backends: [backend])
        defer {
            scenario.close()
            unlink(socket)
        }
        let c = try scenario.connect()
        var compressedBytes = 0
        for path in ["/html", "/chunked", "/html"] {
            try c.request("GET", path, headers: ["Accept-Encoding: gzip"])
            let r = try c.readResponse()
            #expect(r.headers.value("content-encoding") == "gzip")
            compressedBytes += r.body.count
        }
        try c.request("GET", "/html")
        #expect(try c.readResponse().headers.value("content-encoding") == nil)
        let (ok, table) = waitForStat(socket) { $0.int("fe/FRONTEND", "req_tot") == 4 }
        try #require(ok, "\(table.map(\.raw) ?? "no answer")")
        for row in ["fe/FRONTEND", "be/BACKEND"] {
            #expect(table?.int(row, "comp_rsp") == 3, "\(row)")
            #expect(table?.int(row, "comp_in") == 3 * Self.html.count, "\(row)")
            #expect(table?.int(row, "comp_out") == compressedBytes, "\(row)")
            #expect(table?.text(row, "comp_byp") == "0", "\(row)")
        }
    }
}
