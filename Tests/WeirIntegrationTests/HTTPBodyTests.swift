import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Message bodies in both directions, every framing, checked by size and
/// checksum at the far end.
@Suite("HTTP bodies")
struct HTTPBodyTests {
    /// Answers `<count> <checksum>` of the request body it received.
    static let bodyReceipt: HTTPBackend.Handler = { request in
        .text(200, "\(request.body.count) \(String(request.body.checksum.value, radix: 16))\n")
    }

    static func receipt(_ count: Int) -> String {
        "\(count) \(String(HTTPPattern.checksum(count).value, radix: 16))\n"
    }

    @Test("a 1 MiB POST with content-length reaches the server intact")
    func postContentLength() throws {
        let backend = try HTTPBackend(handler: Self.bodyReceipt)
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        let body = HTTPPattern.bytes(1 << 20)
        try c.request("POST", "/upload", headers: ["Content-Type: application/octet-stream"], body: body)
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text == Self.receipt(1 << 20))
        let seen = try #require(backend.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.body.count == 1 << 20)
        #expect(seen.body.checksum == HTTPPattern.checksum(1 << 20))
        // The connection is still usable.
        try c.request("GET", "/after")
        #expect(try c.readResponse().status == 200)
    }

    @Test("a chunked POST with extensions and a trailer reaches the server intact")
    func postChunked() throws {
        let backend = try HTTPBackend(handler: Self.bodyReceipt)
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        let sizes = [1, 10, 4096, 16384, 16385, 70000, 3, 200_000]
        let total = sizes.reduce(0, +)
        let body = HTTPPattern.bytes(total)
        try c.send("POST /chunked HTTP/1.1\r\nHost: weir.test\r\nTransfer-Encoding: chunked\r\nTrailer: x-check\r\n\r\n")
        var offset = 0
        for (i, size) in sizes.enumerated() {
            try c.send(String(size, radix: 16) + (i == 2 ? ";name=value" : "") + "\r\n")
            try c.send(body[offset..<offset + size])
            try c.send("\r\n")
            offset += size
        }
        try c.send("0\r\nx-check: done\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text == Self.receipt(total))
        let seen = try #require(backend.requests.first)
        #expect(seen.body.count == total)
        #expect(seen.body.checksum == HTTPPattern.checksum(total))
        #expect(seen.body.trailers.value("x-check") == "done", "trailers seen by the server: \(seen.body.trailers)")
        try c.request("GET", "/after")
        #expect(try c.readResponse().status == 200)
    }

    @Test("an 8 MiB chunked response reaches the client intact")
    func chunkedResponse() throws {
        let size = 8 << 20
        let backend = try HTTPBackend { _ in
            .response(status: 200, headers: [], body: .pattern(size),
                      framing: .chunked(chunkSize: 10_000, trailers: [HTTPHeaderField(name: "x-trailer", value: "t")]))
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/eight")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.complete, "\(r)")
        #expect(r.body.count == size)
        #expect(r.body.checksum == HTTPPattern.checksum(size))
        try c.request("GET", "/again")
        let again = try c.readResponse()
        #expect(again.status == 200 && again.body.count == size)
    }

    @Test("a close-delimited response reaches the client intact")
    func closeDelimitedResponse() throws {
        let size = 300_000
        let backend = try HTTPBackend { _ in
            .response(status: 200, headers: [], body: .pattern(size), framing: .close)
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/until-close")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.complete, "\(r)")
        #expect(r.body.count == size)
        #expect(r.body.checksum == HTTPPattern.checksum(size))
        // Whatever framing the proxy chose, it must have been unambiguous.
        if !r.body.chunked && !r.headers.has("content-length") {
            #expect(c.isClosedByPeer(within: 5))
        }
    }

    @Test("a body the server sends in two parts reaches the client part by part")
    func bodyInTwoParts() throws {
        // The first part fills the proxy's buffer exactly: it sends those
        // bytes as if more were ready (MSG_MORE), finds none, and must push
        // them out rather than hold them for the rest.
        let total = 100_000, firstWrite = 16384
        let release = DispatchSemaphore(value: 0)
        let backend = try HTTPBackend { request in
            request.target == "/in-parts" ? .partThenRest(total: total, firstWrite: firstWrite, release: release) : .text(200, "after\n")
        }
        let scenario = try HTTPScenario(config: httpConfig(backend: httpServerLines([backend]), global: "    tune.bufsize 16384\n"),
                                        backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/in-parts")
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) { head += try c.readRaw(1) }
        #expect(String(decoding: head, as: UTF8.self).lowercased().contains("content-length: \(total)\r\n"))
        let body = HTTPPattern.bytes(total)
        // The proxy may rewrite the head: read only body bytes certainly
        // in the first part.
        let first = firstWrite - 200
        // All of it arrives while the server holds the rest back.
        #expect(try c.readRaw(first) == Array(body[..<first]))
        release.signal()
        #expect(try c.readRaw(total - first) == Array(body[first...]))
        try c.request("GET", "/after")
        #expect(try c.readResponse().status == 200)
    }

    @Test("HEAD: headers with content-length and no body; the connection stays usable")
    func head() throws {
        let backend = try HTTPBackend { request in
            .response(status: 200, headers: [HTTPHeaderField(name: "x-served-by", value: "s1")],
                      body: .pattern(1234), framing: .contentLength)
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("HEAD", "/h")
        let r = try c.readResponse(method: "HEAD")
        #expect(r.status == 200)
        #expect(r.headers.value("content-length") == "1234")
        #expect(r.headers.value("x-served-by") == "s1")
        #expect(backend.requests.first?.method == "HEAD")
        try c.request("GET", "/g")
        let g = try c.readResponse()
        #expect(g.status == 200, "after HEAD: \(g)")
        #expect(g.body.count == 1234)
    }

    @Test("204 and 304 responses carry no body and keep the connection usable")
    func noBodyStatuses() throws {
        let backend = try HTTPBackend { request in
            switch request.target {
            case "/204": return .response(status: 204, headers: [], body: .bytes([]), framing: .none)
            case "/304": return .response(status: 304, headers: [HTTPHeaderField(name: "content-length", value: "5000"),
                                                                 HTTPHeaderField(name: "etag", value: "\"v1\"")],
                                          body: .bytes([]), framing: .none)
            default: return HTTPBackend.defaultHandler("s1")(request)
            }
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/204")
        let r204 = try c.readResponse()
        #expect(r204.status == 204)
        #expect(!r204.headers.tokens("transfer-encoding").contains("chunked"))
        try c.request("GET", "/304", headers: ["If-None-Match: \"v1\""])
        let r304 = try c.readResponse()
        #expect(r304.status == 304)
        #expect(r304.headers.value("etag") == "\"v1\"")
        try c.request("GET", "/after")
        let after = try c.readResponse()
        #expect(after.status == 200, "after 204/304: \(after)")
        #expect(after.text == "s1 GET /after\n")
    }

    @Test("Expect: 100-continue: the client gets 100 Continue before sending, then the response")
    func expectContinue() throws {
        let backend = try HTTPBackend(handler: Self.bodyReceipt)
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect(ioTimeout: 5)
        let size = 100_000
        try c.send("POST /continue HTTP/1.1\r\nHost: weir.test\r\nExpect: 100-continue\r\nContent-Length: \(size)\r\n\r\n")
        let interim = try c.readResponse(method: "POST")
        #expect(interim.status == 100, "expected 100 Continue before the body, got \(interim)")
        try c.send(HTTPPattern.bytes(size))
        let final = interim.status == 100 ? try c.readResponse(method: "POST") : interim
        #expect(final.status == 200)
        #expect(final.text == Self.receipt(size))
        #expect(backend.requests.first?.sentContinue == true)
    }

    @Test("curl -d @file with Expect: 100-continue gets 100 Continue then the response",
          .enabled(if: hasCurl, "curl is not installed"))
    func curlExpectContinue() throws {
        let backend = try HTTPBackend(handler: Self.bodyReceipt)
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let size = 2 << 20
        let file = try TempFile("", name: "upload.bin")
        defer { file.remove() }
        try Data(HTTPPattern.bytes(size)).write(to: URL(fileURLWithPath: file.path))
        let result = try runTool(curlPath, ["-sS", "-v", "--max-time", "30", "--expect100-timeout", "10",
                                            "-H", "Expect: 100-continue", "-H", "Content-Type: application/octet-stream",
                                            "--data-binary", "@" + file.path, "http://127.0.0.1:\(scenario.port)/curl"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        #expect(result.stderr.contains("< HTTP/1.1 100 Continue"), "curl saw: \(result.stderr)")
        #expect(result.stdout == Self.receipt(size))
    }

    @Test("100 MiB up and 100 MiB down with the worker's memory flat", .timeLimit(.minutes(2)))
    func hundredMegabytes() throws {
        let size = 100 << 20
        let backend = try HTTPBackend { request in
            request.method == "GET"
                ? .response(status: 200, headers: [], body: .pattern(size), framing: .contentLength)
                : Self.bodyReceipt(request)
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let expected = HTTPPattern.checksum(size)
        let c = try scenario.connect(ioTimeout: 20)
        try c.request("GET", "/warm")
        let warm = try c.readResponse()
        #expect(warm.status == 200)
        let before = try #require(scenario.memory())
        let started = monotonicNow()

        try c.send("POST /up HTTP/1.1\r\nHost: weir.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        var chunkPrefix = Array((String(HTTPPattern.block.count, radix: 16) + "\r\n").utf8)
        var fullChunk = chunkPrefix + HTTPPattern.block + Array("\r\n".utf8)
        var sent = 0
        while sent < size {
            let n = min(HTTPPattern.block.count, size - sent)
            if n < HTTPPattern.block.count {
                chunkPrefix = Array((String(n, radix: 16) + "\r\n").utf8)
                fullChunk = chunkPrefix + HTTPPattern.block[0..<n] + Array("\r\n".utf8)
            }
            try c.send(fullChunk)
            sent += n
            try #require(monotonicNow() - started < 60, "upload still running after 60 s (\(sent) bytes sent)")
        }
        try c.send("0\r\n\r\n")
        let up = try c.readResponse(method: "POST")
        #expect(up.status == 200)
        #expect(up.text == "\(size) \(String(expected.value, radix: 16))\n")

        try c.request("GET", "/down")
        let down = try c.readResponse()
        #expect(down.status == 200)
        #expect(down.complete)
        #expect(down.body.count == size)
        #expect(down.body.checksum == expected)
        let elapsed = monotonicNow() - started
        #expect(elapsed < 60, "200 MiB took \(elapsed) s")

        let after = try #require(scenario.memory())
        let growthMiB = Double(after.peak - before.rss) / 1024
        #expect(growthMiB < 64, "weir grew from \(before.rss) KiB to a peak of \(after.peak) KiB (now \(after.rss) KiB)")
    }
}
