import Foundation
import Testing

/// `http-after-response`: rules that edit every response the client gets,
/// the server's and the proxy's own answers alike.
@Suite("http-after-response", .serialized)
struct HTTPAfterResponseTests {
    private func scenario(frontend: String, backend: String = "", extra: String = "", global: String = "") throws -> HTTPScenario {
        let server = try HTTPBackend(name: "app") { request in
            .text(200, "app \(request.method) \(request.target)\n", headers: [HTTPHeaderField(name: "x-app", value: "1")])
        }
        let sections = "backend app\n\(backend)\n    server app \(server.address)\n\n\(extra)"
        return try HTTPScenario(config: rulesConfig(frontend: frontend + "\n    default_backend app", sections: sections,
                                                    global: global),
                                backends: [server])
    }

    private func get(_ s: HTTPScenario, _ target: String, method: String = "GET") throws -> (HTTPResponse, HTTPLogLine) {
        let c = try s.connect()
        defer { c.close() }
        try c.request(method, target)
        let response = try c.readResponse(method: method)
        return (response, try s.log(of: c))
    }

    @Test("server responses: after the http-response rules, backend's then frontend's rules")
    func serverResponses() throws {
        let s = try scenario(frontend: """
                http-response set-header X-Stage response
                http-after-response add-header X-Order frontend
                http-after-response set-header X-Saw %[res.hdr(x-stage)]
                http-after-response del-header x-app
            """, backend: """
                http-after-response add-header X-Order backend
            """)
        defer { s.close() }
        let (r, line) = try get(s, "/page")
        #expect(r.status == 200 && r.text == "app GET /page\n", "\(r)")
        #expect(r.headers.values("x-order") == ["backend", "frontend"], "\(r)")
        #expect(r.headers.value("x-saw") == "response", "the response rules ran first: \(r)")
        #expect(r.headers.value("x-app") == nil, "\(r)")
        #expect(line.status == 200 && line.termination == "----", "\(line)")
    }

    @Test("the proxy's own answers: deny, return, redirect, the 503 page, auth; HEAD keeps no body")
    func ownAnswers() throws {
        let s = try scenario(frontend: """
                http-request deny if { path_beg /deny }
                http-request return status 200 content-type text/plain string "ok\\n" if { path_beg /return }
                http-request redirect location /elsewhere if { path_beg /old }
                http-request auth realm Private if { path_beg /private }
                use_backend empty if { path_beg /down }
                http-after-response set-header Strict-Transport-Security "max-age=31536000"
                http-after-response set-header X-Status %[status]
            """, extra: "backend empty\n")
        defer { s.close() }
        let expected: [(String, Int)] = [("/deny", 403), ("/return", 200), ("/old", 302), ("/private", 401),
                                         ("/down", 503), ("/app", 200)]
        for (target, status) in expected {
            let (r, line) = try get(s, target)
            #expect(r.status == status && line.status == status, "\(target): \(r) / \(line)")
            #expect(r.headers.value("strict-transport-security") == "max-age=31536000", "\(target): \(r)")
            #expect(r.headers.value("x-status") == String(status), "\(target): \(r)")
            #expect(r.complete, "\(target): \(r)")
        }
        let (deny, _) = try get(s, "/deny")
        #expect(deny.text.contains("403 Forbidden"), "the page's body is intact: \(deny)")
        #expect(deny.headers.value("content-length") == String(deny.text.utf8.count), "\(deny)")
        let (head, _) = try get(s, "/return", method: "HEAD")
        #expect(head.status == 200 && head.text.isEmpty && head.headers.value("x-status") == "200", "\(head)")
    }

    @Test("set-status on an answer changes what the client sees and the log says; keep-alive survives an edited answer")
    func setStatusAndKeepAlive() throws {
        let s = try scenario(frontend: """
                http-request return status 200 content-type text/plain string "ok\\n" if { path_beg /return }
                http-request deny if { path_beg /hidden }
                http-after-response set-status 404 if { status 403 }
                http-after-response set-header X-Edited yes
            """)
        defer { s.close() }
        let (hidden, line) = try get(s, "/hidden")
        #expect(hidden.status == 404 && line.status == 404, "\(hidden) / \(line)")
        let c = try s.connect()
        defer { c.close() }
        for target in ["/return", "/app", "/return"] {
            try c.request("GET", target)
            let r = try c.readResponse()
            #expect(r.status == 200 && r.headers.value("x-edited") == "yes", "\(target): \(r)")
        }
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("an answer longer than a buffer (the statistics page, tune.bufsize 2k) arrives whole")
    func longAnswer() throws {
        let s = try scenario(frontend: """
                stats enable
                stats uri /stats
                http-after-response set-header X-Edited yes
            """, global: "    tune.bufsize 2048")
        defer { s.close() }
        let (r, _) = try get(s, "/stats")
        #expect(r.status == 200 && r.headers.value("x-edited") == "yes", "\(r.status) \(r.headers)")
        let length = try #require(r.headers.value("content-length").flatMap { Int($0) })
        #expect(length > 2048 && r.text.utf8.count == length && r.complete, "\(length) \(r.text.utf8.count)")
        #expect(r.text.hasSuffix("</html>\n") || r.text.hasSuffix("</html>"), "\(r.text.suffix(40))")
    }

    @Test("an edit that does not fit gives the built-in 500 page; the worker goes on serving")
    func editThatDoesNotFit() throws {
        let big = String(repeating: "x", count: 6000)
        let s = try scenario(frontend: """
                http-request deny if { path_beg /deny }
                http-after-response set-header X-Big \(big) if { status 403 }
            """, global: "    tune.bufsize 4096")
        defer { s.close() }
        let (r, line) = try get(s, "/deny")
        #expect(r.status == 500 && r.headers.value("x-big") == nil && line.status == 500, "\(r) / \(line)")
        let (ok, _) = try get(s, "/app")
        #expect(ok.status == 200, "\(ok)")
    }
}
