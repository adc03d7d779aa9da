import Foundation
import Testing

/// `option http-buffer-request` and the body samples (`req.body`,
/// `req.body_len`, `req.body_size`, `req.body_param`). The client sends a
/// head that expects `100 Continue`, waits for the proxy's, and only then
/// sends the body: rules that act on the body prove the proxy waited for it.
@Suite("option http-buffer-request", .serialized)
struct HTTPBufferRequestTests {
    private func scenario(frontend: String, backend: String = "", global: String = "",
                          defaults: String = "") throws -> HTTPScenario {
        let server = try HTTPBackend(name: "app")
        let sections = "backend app\n\(backend)\n    server app \(server.address)\n"
        return try HTTPScenario(config: rulesConfig(frontend: frontend + "\n    default_backend app", sections: sections,
                                                    defaults: defaults, global: global),
                                backends: [server])
    }

    /// Sends a POST head expecting 100 Continue, reads the proxy's 100, then
    /// sends `parts` one by one; returns the final response.
    private func post(_ s: HTTPScenario, _ target: String, headers: [String], parts: [String]) throws -> HTTPResponse {
        let c = try s.connect()
        defer { c.close() }
        var head = "POST \(target) HTTP/1.1\r\nhost: weir.test\r\nexpect: 100-continue\r\n"
        for h in headers { head += h + "\r\n" }
        try c.send(head + "\r\n")
        let interim = try c.readResponse()
        #expect(interim.status == 100, "the proxy asks for the body: \(interim)")
        for part in parts { try c.send(part) }
        return try c.readFinalResponse().final
    }

    @Test("rules see the body sent after the head; the server gets it whole, without Expect")
    func rulesSeeTheBody() throws {
        let s = try scenario(frontend: """
                option http-buffer-request
                http-request deny deny_status 403 if { req.body -m sub secret }
                http-request set-header X-User %[req.body_param(user)]
                http-request set-header X-Role %[req.body_param(ROLE,i)]
                http-request set-header X-Length %[req.body_len]/%[req.body_size]
            """)
        defer { s.close() }
        let form = "user=alice&role=admin&note=hello"
        let ok = try post(s, "/form", headers: ["content-length: \(form.utf8.count)",
                                                "content-type: application/x-www-form-urlencoded"], parts: [form])
        #expect(ok.status == 200, "\(ok)")
        let request = try #require(s.backends[0].requests.last)
        #expect(request.body.text == form, "\(request)")
        #expect(request.headers.value("x-user") == "alice" && request.headers.value("x-role") == "admin", "\(request)")
        #expect(request.headers.value("x-length") == "\(form.utf8.count)/\(form.utf8.count)", "\(request)")
        #expect(request.headers.value("expect") == nil && !request.sentContinue, "\(request)")

        let secret = "token=secret"
        let denied = try post(s, "/form", headers: ["content-length: \(secret.utf8.count)"], parts: [secret])
        #expect(denied.status == 403, "\(denied)")
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("a chunked body sent in pieces is decoded for the samples and forwarded as it came")
    func chunkedBody() throws {
        let s = try scenario(frontend: """
                option http-buffer-request
                http-request set-header X-Body %[req.body]
                http-request set-header X-Length %[req.body_len]
            """)
        defer { s.close() }
        let r = try post(s, "/upload", headers: ["transfer-encoding: chunked"],
                         parts: ["5\r\nhello\r\n", "6;ext=1\r\n world\r\n", "0\r\n\r\n"])
        #expect(r.status == 200, "\(r)")
        let request = try #require(s.backends[0].requests.last)
        #expect(request.body.text == "hello world", "\(request)")
        #expect(request.headers.value("x-body") == "hello world" && request.headers.value("x-length") == "11", "\(request)")
    }

    @Test("a body larger than the buffer: the rules see the buffer's worth; the server gets it all")
    func bodyLargerThanTheBuffer() throws {
        let s = try scenario(frontend: """
                option http-buffer-request
                http-request set-header X-Length %[req.body_len]/%[req.body_size]
            """, global: "    tune.bufsize 4096")
        defer { s.close() }
        let body = String(repeating: "0123456789abcdef", count: 640)
        let r = try post(s, "/big", headers: ["content-length: \(body.utf8.count)"],
                         parts: [String(body.prefix(1000)), String(body.dropFirst(1000))])
        #expect(r.status == 200, "\(r)")
        let request = try #require(s.backends[0].requests.last)
        #expect(request.body.text == body, "\(request.body.bytes.count) bytes")
        let seen = try #require(request.headers.value("x-length")?.split(separator: "/").compactMap { Int($0) })
        #expect(seen.count == 2 && seen[0] > 1000 && seen[0] < 4096 && seen[1] == body.utf8.count, "\(seen)")
    }

    @Test("a backend's option makes its frontends wait; a body that never comes ends in a 408")
    func backendOptionAndTimeout() throws {
        let s = try scenario(frontend: """
                timeout http-request 300ms
                http-request set-header X-User %[req.body_param(user)]
            """, backend: "    option http-buffer-request")
        defer { s.close() }
        let form = "user=bob"
        let ok = try post(s, "/f", headers: ["content-length: \(form.utf8.count)"], parts: [form])
        #expect(ok.status == 200 && s.backends[0].requests.last?.headers.value("x-user") == "bob", "\(ok)")

        let c = try s.connect()
        defer { c.close() }
        try c.send("POST /slow HTTP/1.1\r\nhost: weir.test\r\ncontent-length: 100\r\n\r\npart")
        let r = try c.readResponse()
        #expect(r.status == 408, "\(r)")
        let line = try s.log(of: c)
        #expect(line.status == 408 && line.termination.hasPrefix("cR"), "\(line)")
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("without the option, the body samples see what came with the head")
    func withoutTheOption() throws {
        let s = try scenario(frontend: "    http-request set-header X-User %[req.body_param(user)]")
        defer { s.close() }
        let c = try s.connect()
        defer { c.close() }
        try c.request("POST", "/f", body: Array("user=carol".utf8))
        let r = try c.readResponse()
        #expect(r.status == 200, "\(r)")
        let request = try #require(s.backends[0].requests.last)
        #expect(request.body.text == "user=carol", "\(request)")
    }
}
