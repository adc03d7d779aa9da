import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mode http` forwarding seen from both ends: what the client sends reaches
/// the server as HTTP/1.1 with end-to-end headers intact, and back.
@Suite("HTTP forwarding")
struct HTTPForwardingTests {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "x-foo",
                                        "transfer-encoding", "trailer", "proxy-authenticate", "proxy-authorization"]

    @Test("a GET reaches the server unchanged but for hop-by-hop headers, and the response comes back")
    func getForwarding() throws {
        let backend = try HTTPBackend { request in
            .text(200, "s1 \(request.method) \(request.target)\n",
                  headers: [HTTPHeaderField(name: "x-served-by", value: "s1"),
                            HTTPHeaderField(name: "X-Backend-Header", value: "Some Value"),
                            HTTPHeaderField(name: "set-cookie", value: "a=1"),
                            HTTPHeaderField(name: "set-cookie", value: "b=2")])
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let endToEnd = [
            "Host: weir.test",
            "User-Agent: weir-tests/1.0",
            "Accept: */*",
            "X-Custom: first",
            "X-Custom: second, third",
            "Cookie: a=1; b=2",
        ]
        let hop = [
            "Connection: keep-alive, X-Foo",
            "Keep-Alive: timeout=5",
            "Proxy-Connection: keep-alive",
            "TE: trailers",
            "Upgrade: h2c",
            "X-Foo: private to this hop",
        ]
        let c = try scenario.connect()
        var head = "GET /some/path?q=1&r=%20x HTTP/1.1\r\n"
        for (i, h) in endToEnd.enumerated() {
            head += h + "\r\n"
            if i < hop.count { head += hop[i] + "\r\n" }
        }
        try c.send(head + "\r\n")
        let response = try c.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "s1 GET /some/path?q=1&r=%20x\n")
        #expect(response.headers.value("x-served-by") == "s1")
        #expect(response.headers.value("x-backend-header") == "Some Value")
        #expect(response.headers.values("set-cookie") == ["a=1", "b=2"])

        let seen = try #require(backend.requests.first)
        #expect(seen.method == "GET")
        #expect(seen.target == "/some/path?q=1&r=%20x")
        #expect(seen.version == "HTTP/1.1")
        let forwarded = seen.headers.filter { !["x-forwarded-for"].contains($0.name.lowercased()) }
            .map { "\($0.name.lowercased()): \($0.value)" }
        let expected = endToEnd.map { line -> String in
            let colon = line.firstIndex(of: ":")!
            return line[..<colon].lowercased() + ":" + line[line.index(after: colon)...]
        }
        let leaked = forwarded.filter { Self.hopByHop.contains(String($0.prefix(while: { $0 != ":" }))) }
        #expect(leaked.isEmpty, "hop-by-hop headers forwarded to the server: \(leaked)")
        #expect(forwarded.filter { !Self.hopByHop.contains(String($0.prefix(while: { $0 != ":" }))) } == expected,
                "the server saw \(seen.headers)")
    }

    @Test("hop-by-hop headers of the response do not reach the client")
    func responseHopByHop() throws {
        let backend = try HTTPBackend { _ in
            .text(200, "ok\n", headers: [HTTPHeaderField(name: "Connection", value: "keep-alive, X-Private"),
                                         HTTPHeaderField(name: "Keep-Alive", value: "timeout=99"),
                                         HTTPHeaderField(name: "X-Private", value: "server only"),
                                         HTTPHeaderField(name: "X-Public", value: "for the client")])
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/")
        let response = try c.readResponse()
        #expect(response.status == 200)
        #expect(response.headers.value("x-public") == "for the client")
        #expect(!response.headers.has("x-private"), "\(response.headers)")
        #expect(!response.headers.has("keep-alive"), "\(response.headers)")
        #expect(!response.headers.tokens("connection").contains("x-private"), "\(response.headers)")
    }

    @Test("the request line reaches the server in HTTP/1.1: as received, or rewritten after a rule or from HTTP/1.0")
    func requestLineForwarding() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: "    http-request set-path /rewritten if { path /c }")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("GET /a?x=1 HTTP/1.1\r\nHost: weir.test\r\nX-A: 1\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        try c.send("GET /b HTTP/1.0\r\nHost: weir.test\r\nConnection: keep-alive\r\nX-B: 2\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        try c.send("POST /c?y=2 HTTP/1.1\r\nHost: weir.test\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        let seen = backend.requests
        try #require(seen.count == 3)
        #expect(seen.map { "\($0.method) \($0.target) \($0.version)" }
                == ["GET /a?x=1 HTTP/1.1", "GET /b HTTP/1.1", "POST /rewritten?y=2 HTTP/1.1"])
        #expect(seen[0].headers.value("x-a") == "1", "\(seen[0].headers)")
        #expect(seen[0].headers.value("host") == "weir.test", "\(seen[0].headers)")
        #expect(seen[1].headers.value("x-b") == "2", "\(seen[1].headers)")
    }

    @Test("a response no rule reads: its end-to-end lines in order, hop-by-hop ones left out wherever they are")
    func parsedResponseLines() throws {
        let head = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nX-A: 1\r\nKeep-Alive: timeout=5\r\n"
            + "X-B: two words\r\nX-C: 3\r\nConnection: x-drop\r\nX-Empty: \r\ncontent-length: 3\r\nX-Drop: secret\r\n\r\nok\n"
        let backend = try HTTPBackend { _ in .raw(Array(head.utf8), close: false) }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        let expected = "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: two words\r\nX-C: 3\r\nX-Empty: \r\ncontent-length: 3\r\n\r\nok\n"
        for _ in 1...2 {
            try c.request("GET", "/")
            #expect(String(decoding: try c.readRaw(expected.utf8.count), as: UTF8.self) == expected)
        }
    }

    @Test("a response's status line reaches the client in HTTP/1.1: as received, or rewritten",
          arguments: [("HTTP/1.1 404 Not Found", "HTTP/1.1 404 Not Found"), ("HTTP/1.0 200 OK", "HTTP/1.1 200 OK"),
                      ("HTTP/1.1 200", "HTTP/1.1 200 "), ("HTTP/1.1 200 ", "HTTP/1.1 200 ")])
    func parsedResponseStatusLine(received: String, sent: String) throws {
        let backend = try HTTPBackend { _ in
            .raw(Array("\(received)\r\ncontent-length: 3\r\nX-A: 1\r\n\r\nok\n".utf8), close: false)
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/")
        let expected = "\(sent)\r\ncontent-length: 3\r\nX-A: 1\r\n\r\nok\n"
        #expect(String(decoding: try c.readRaw(expected.utf8.count), as: UTF8.self) == expected)
    }

    @Test("a response no rule reads, with lines written loosely: each forwarded as name: value")
    func parsedIrregularResponseLines() throws {
        let head = "HTTP/1.1 200 OK\r\nX-A:1\r\nConnection: keep-alive\r\nX-B:   spaced out  \r\n"
            + "X-C: 3\ncontent-length: 3\r\n\r\nok\n"
        let backend = try HTTPBackend { _ in .raw(Array(head.utf8), close: false) }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/")
        let expected = "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: spaced out\r\nX-C: 3\r\ncontent-length: 3\r\n\r\nok\n"
        #expect(String(decoding: try c.readRaw(expected.utf8.count), as: UTF8.self) == expected)
    }

    @Test("20 requests on one client connection reuse one server connection")
    func keepAliveReusesServerConnection() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        for i in 1...20 {
            try c.request("GET", "/k\(i)")
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.text == "s1 GET /k\(i)\n")
            #expect(!r.closes, "response \(i) closes the connection: \(r.headers)")
        }
        #expect(backend.requests.count == 20)
        #expect(backend.accepted == 1, "the server saw \(backend.accepted) connections")
        #expect(Set(backend.requests.map(\.connection)).count == 1)
    }

    @Test("option http-server-close: one server connection per request, the client stays connected")
    func httpServerClose() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], backend: "    option http-server-close")
        defer { scenario.close() }
        let c = try scenario.connect()
        for i in 1...20 {
            try c.request("GET", "/k\(i)")
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.text == "s1 GET /k\(i)\n")
        }
        #expect(backend.requests.count == 20)
        #expect(backend.accepted == 20, "the server saw \(backend.accepted) connections")
    }

    @Test("option httpclose: the response says connection: close and the client connection is closed",
          arguments: ["frontend", "backend"])
    func httpClose(section: String) throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], backend: section == "backend" ? "    option httpclose" : "",
                                        frontend: section == "frontend" ? "    option httpclose" : "")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/once")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text == "s1 GET /once\n")
        #expect(r.headers.tokens("connection").contains("close"), "\(r.headers)")
        #expect(c.isClosedByPeer(within: 5), "the proxy kept the client connection open after httpclose")
    }

    @Test("three pipelined requests get three responses in order")
    func pipelining() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send((["/a", "/b", "/c"].map { "GET \($0) HTTP/1.1\r\nhost: weir.test\r\n\r\n" }).joined())
        for path in ["/a", "/b", "/c"] {
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.text == "s1 GET \(path)\n")
        }
    }

    @Test("round robin balances each request of a keep-alive client")
    func roundRobinPerRequest() throws {
        let s1 = try HTTPBackend(name: "s1")
        let s2 = try HTTPBackend(name: "s2")
        let scenario = try HTTPScenario(backends: [s1, s2], backend: "    balance roundrobin")
        defer { scenario.close() }
        let c = try scenario.connect()
        var served: [String] = []
        for i in 1...10 {
            try c.request("GET", "/rr\(i)")
            let r = try c.readResponse()
            #expect(r.status == 200)
            served.append(r.headers.value("x-served-by") ?? "?")
        }
        #expect(served.filter { $0 == "s1" }.count == 5 && served.filter { $0 == "s2" }.count == 5, "\(served)")
        #expect(zip(served, served.dropFirst()).allSatisfy { $0 != $1 }, "not alternating: \(served)")
    }

    @Test("HTTP/1.0 without keep-alive: the connection closes after the response")
    func http10Closes() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("GET /old HTTP/1.0\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text == "s1 GET /old\n")
        #expect(c.isClosedByPeer(within: 5), "the proxy kept an HTTP/1.0 connection open")
    }

    @Test("HTTP/1.0 with Connection: keep-alive stays open and says so")
    func http10KeepAlive() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        for path in ["/one", "/two"] {
            try c.send("GET \(path) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.text == "s1 GET \(path)\n")
            #expect(r.headers.tokens("connection").contains("keep-alive"), "\(r.headers)")
            #expect(!r.body.chunked, "a chunked body sent to an HTTP/1.0 client")
        }
    }

    @Test("a WebSocket upgrade: 101, then bytes echoed through the tunnel both ways")
    func webSocketUpgrade() throws {
        let backend = try HTTPBackend { request in
            if request.target == "/ws" {
                return .switchAndEcho(headers: [HTTPHeaderField(name: "Connection", value: "Upgrade"),
                                                HTTPHeaderField(name: "Upgrade", value: "websocket"),
                                                HTTPHeaderField(name: "Sec-WebSocket-Accept", value: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")])
            }
            return HTTPBackend.defaultHandler("s1")(request)
        }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("GET /ws HTTP/1.1\r\nHost: weir.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 101)
        #expect(r.headers.value("upgrade")?.lowercased() == "websocket")
        #expect(r.headers.tokens("connection").contains("upgrade"), "\(r.headers)")
        let seen = try #require(backend.requests.first)
        #expect(seen.headers.value("upgrade") == "websocket", "the server saw \(seen.headers)")
        #expect(seen.headers.tokens("connection").contains("upgrade"), "the server saw \(seen.headers)")
        #expect(seen.headers.value("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==")
        guard r.status == 101 else { return }
        try c.send("hello through the tunnel")
        #expect(String(decoding: try c.readRaw(24), as: UTF8.self) == "hello through the tunnel")
        let big = HTTPPattern.bytes(300_000)
        try c.send(big)
        #expect(HTTPChecksum.of(try c.readRaw(big.count)) == HTTPChecksum.of(big))
        c.shutdownWrite()
        #expect(c.isClosedByPeer(within: 5), "the tunnel did not close after both sides ended")
    }

    @Test("option forwardfor adds x-forwarded-for with the client address")
    func forwardFor() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: "    option forwardfor")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/xff")
        #expect(try c.readResponse().status == 200)
        let seen = try #require(backend.requests.first)
        #expect(seen.headers.values("x-forwarded-for") == ["127.0.0.1"], "\(seen.headers)")
    }

    @Test("option forwardfor if-none keeps a client's x-forwarded-for and adds none")
    func forwardForIfNone() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: "    option forwardfor if-none")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/xff", headers: ["X-Forwarded-For: 192.0.2.7"])
        #expect(try c.readResponse().status == 200)
        try c.request("GET", "/xff2")
        #expect(try c.readResponse().status == 200)
        let seen = backend.requests
        try #require(seen.count == 2)
        #expect(seen[0].headers.values("x-forwarded-for") == ["192.0.2.7"], "\(seen[0].headers)")
        #expect(seen[1].headers.values("x-forwarded-for") == ["127.0.0.1"], "\(seen[1].headers)")
    }

    @Test("option forwardfor header NAME: the backend's option wins over the frontend's")
    func forwardForBackendHeader() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], backend: "    option forwardfor header X-Client",
                                        frontend: "    option forwardfor")
        defer { scenario.close() }
        let c = try scenario.connect()
        for path in ["/a", "/b"] {
            try c.request("GET", path)
            #expect(try c.readResponse().status == 200)
        }
        try #require(backend.requests.count == 2)
        for seen in backend.requests {
            #expect(seen.headers.values("x-client") == ["127.0.0.1"], "\(seen.headers)")
            #expect(!seen.headers.has("x-forwarded-for"), "\(seen.headers)")
        }
    }

    @Test("option forwardfor except 127.0.0.0/8 adds nothing for a loopback client")
    func forwardForExcept() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: "    option forwardfor except 127.0.0.0/8")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/xff")
        #expect(try c.readResponse().status == 200)
        let seen = try #require(backend.requests.first)
        #expect(!seen.headers.has("x-forwarded-for"), "\(seen.headers)")
    }
}

@Suite("HTTP: option originalto", .serialized)
struct HTTPOriginalToTests {
    @Test("option originalto adds x-original-to with the address the client reached; header NAME and except NET")
    func originalTo() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], backend: "    option originalto header X-Dst except 10.0.0.0/8",
                                        frontend: "    option originalto")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/dst")
        #expect(try c.readResponse().status == 200)
        let seen = try #require(backend.requests.first)
        #expect(seen.headers.value("x-dst") == "127.0.0.1", "the backend's option wins: \(seen.headers)")
        #expect(!seen.headers.has("x-original-to"), "\(seen.headers)")

        let excepted = try HTTPBackend()
        let second = try HTTPScenario(backends: [excepted], frontend: "    option originalto except 127.0.0.0/8")
        defer { second.close() }
        let d = try second.connect()
        try d.request("GET", "/dst")
        #expect(try d.readResponse().status == 200)
        let plain = try #require(excepted.requests.first)
        #expect(!plain.headers.has("x-original-to"), "127.0.0.1 is excepted: \(plain.headers)")
    }
}
