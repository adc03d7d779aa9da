import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the proxy answers when the client or the server gets HTTP wrong or
/// goes quiet, and what the httplog line blames (`%ST` and `%tsc`).
@Suite("HTTP errors")
struct HTTPErrorTests {
    /// Sends `request`, expects a `status` response then the connection
    /// closed, and a log line with `status` and `termination`.
    private func expectRejected(_ request: String, status: Int, termination: String,
                                scenario: HTTPScenario, readTimeout: Double = 10,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let c = try scenario.connect(ioTimeout: readTimeout)
        try c.send(request)
        let r = try c.readResponse()
        #expect(r.status == status, "answered \(r)", sourceLocation: sourceLocation)
        #expect(c.isClosedByPeer(within: 5), "connection left open after a \(r.status)", sourceLocation: sourceLocation)
        let line = try scenario.log(of: c, sourceLocation: sourceLocation)
        #expect(line.status == status, "\(line)", sourceLocation: sourceLocation)
        #expect(line.termination == termination, "\(line)", sourceLocation: sourceLocation)
    }

    private func clientErrorScenario() throws -> (HTTPScenario, HTTPBackend) {
        let backend = try HTTPBackend()
        return (try HTTPScenario(backends: [backend]), backend)
    }

    @Test("a malformed request line: 400, PR--")
    func malformedRequestLine() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        try expectRejected("HELLO\r\n\r\n", status: 400, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("Content-Length with Transfer-Encoding: 400, PR--")
    func contentLengthAndTransferEncoding() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        try expectRejected("POST / HTTP/1.1\r\nHost: weir.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                           status: 400, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("two different Content-Length: 400, PR--")
    func conflictingContentLengths() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        try expectRejected("POST / HTTP/1.1\r\nHost: weir.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                           status: 400, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("a 20 KiB header: 431, PR--")
    func headerTooLarge() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        let big = String(repeating: "a", count: 20 << 10)
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\nX-Big: \(big)\r\n\r\n",
                           status: 431, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("a 20 KiB URI: 414, PR--")
    func uriTooLong() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        let path = "/" + String(repeating: "p", count: 20 << 10)
        try expectRejected("GET \(path) HTTP/1.1\r\nHost: weir.test\r\n\r\n", status: 414, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("CONNECT is refused: 405, PR--")
    func connectRefused() throws {
        let (scenario, backend) = try clientErrorScenario()
        defer { scenario.close() }
        try expectRejected("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                           status: 405, termination: "PR--", scenario: scenario)
        #expect(backend.requests.isEmpty)
    }

    @Test("the server refuses the connection (retries 0): 503, SC--")
    func serverRefuses() throws {
        let port = try Sock.refusedPort()
        let config = httpConfig(backend: "    retries 0\n    server s1 127.0.0.1:\(port)")
        let scenario = try HTTPScenario(config: config, backends: [])
        defer { scenario.close() }
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\n\r\n", status: 503, termination: "SC--", scenario: scenario)
    }

    @Test("errorfiles NAME: a backend's 503 is the page of its http-errors section")
    func httpErrorsSection() throws {
        let port = try Sock.refusedPort()
        let page = try rulesFile("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nsite is down\n",
                                 name: "503.http")
        defer { page.remove() }
        let config = httpConfig(backend: "    retries 0\n    errorfiles site\n    server s1 127.0.0.1:\(port)")
            + "\nhttp-errors site\n    errorfile 503 \(page.path)\n"
        let scenario = try HTTPScenario(config: config, backends: [])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/")
        let response = try c.readResponse()
        #expect(response.status == 503 && response.text == "site is down\n", "\(response)")
    }

    @Test("the server closes without answering: 502, SH--")
    func serverClosesSilently() throws {
        let backend = try HTTPBackend { _ in .closeWithoutAnswer }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\n\r\n", status: 502, termination: "SH--", scenario: scenario)
    }

    @Test("the server answers garbage: 502, PH--")
    func serverGarbage() throws {
        let backend = try HTTPBackend { _ in .raw(Array("HELLO\r\n\r\n".utf8), close: false) }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\n\r\n", status: 502, termination: "PH--", scenario: scenario)
    }

    @Test("the server never answers, timeout server 1s: 504, sH--")
    func serverTimeout() throws {
        let backend = try HTTPBackend { _ in .neverAnswer }
        let scenario = try HTTPScenario(backends: [backend], backend: "    timeout server 1s")
        defer { scenario.close() }
        let started = monotonicNow()
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\n\r\n", status: 504, termination: "sH--", scenario: scenario)
        #expect(monotonicNow() - started >= 0.9)
    }

    @Test("a slow client (partial head, then nothing), timeout http-request 1s: 408, cR--")
    func slowloris() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], defaults: "    timeout http-request 1s")
        defer { scenario.close() }
        let started = monotonicNow()
        try expectRejected("GET / HTTP/1.1\r\nHost: weir.test\r\nX-Slow: ", status: 408, termination: "cR--", scenario: scenario)
        let elapsed = monotonicNow() - started
        #expect(elapsed >= 0.9 && elapsed < 8, "408 after \(elapsed) s")
        #expect(backend.requests.isEmpty)
    }

    @Test("the server sends half its content-length then closes: the client is cut short, SD--")
    func truncatedResponse() throws {
        let total = 200_000
        let backend = try HTTPBackend { _ in .halfBodyThenClose(total: total) }
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/half")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(!r.complete, "the client got a complete body: \(r)")
        #expect(r.body.count < total)
        #expect(r.end?.isClosed == true, "the connection ended with \(r.end.map { "\($0)" } ?? "nothing")")
        let line = try scenario.log(of: c)
        #expect(line.termination == "SD--", "\(line)")
        #expect(line.status == 200, "\(line)")
    }
}
