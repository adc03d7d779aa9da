import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What HAProxy 2.6 added to the actions that end a request: custom answers
/// for deny and tarpit, `errorfiles` in answers, reject and silent-drop.
@Suite("HTTP rules: answers and closes", .serialized)
struct HTTPRulesAnswerTests {
    private func scenario(frontend: String, extra: String = "") throws -> HTTPScenario {
        let server = try HTTPBackend(name: "app") { request in
            .text(200, "app \(request.method) \(request.target)\n", headers: [HTTPHeaderField(name: "x-kind", value: "bad")])
        }
        let sections = "backend app\n    server app \(server.address)\n\n\(extra)"
        return try HTTPScenario(config: rulesConfig(frontend: frontend + "\n    default_backend app", sections: sections),
                                backends: [server])
    }

    @Test("deny with a custom answer: status, content-type, string, lf-string, hdr; PR-- and closed")
    func denyAnswer() throws {
        let s = try scenario(frontend: """
            http-request deny deny_status 429 content-type text/plain string "slow down\\n" hdr Retry-After 30 if { path_beg /busy }
            http-request deny content-type application/json lf-string "{\\"path\\":\\"%[path]\\"}" hdr X-Client %[src] if { path_beg /json }
            http-request set-var(txn.secret) str(1) if { path_beg /secret }
            http-response deny content-type text/plain string "hidden\\n" if { res.hdr(x-kind) bad } { var(txn.secret) -m found }
        """)
        defer { s.close() }
        let busy = try s.connect()
        try busy.request("GET", "/busy")
        let r = try busy.readResponse()
        #expect(r.status == 429 && r.text == "slow down\n", "\(r)")
        #expect(r.headers.value("content-type") == "text/plain" && r.headers.value("retry-after") == "30", "\(r)")
        #expect(busy.isClosedByPeer(within: 5), "a denial closes the connection")
        let line = try s.log(of: busy)
        #expect(line.status == 429 && line.termination == "PR--", "\(line)")

        let json = try s.connect()
        try json.request("GET", "/json/a")
        let j = try json.readResponse()
        #expect(j.status == 403 && j.text == "{\"path\":\"/json/a\"}", "\(j)")
        #expect(j.headers.value("x-client") == "127.0.0.1" && j.headers.value("content-type") == "application/json")
        #expect(s.backends[0].requests.isEmpty)

        let secret = try s.connect()
        try secret.request("GET", "/secret")
        let h = try secret.readResponse()
        #expect(h.status == 502 && h.text == "hidden\n", "\(h)")
        let hidden = try s.log(of: secret)
        #expect(hidden.termination == "PH--" && hidden.status == 502, "\(hidden)")
    }

    @Test("deny with hdr and no body: the status and the fields, an empty body (as HAProxy)")
    func denyWithFieldsOnly() throws {
        let s = try scenario(frontend: """
            http-request deny deny_status 429 hdr Retry-After 10 if { path_beg /busy }
        """)
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/busy")
        let r = try c.readResponse()
        #expect(r.status == 429 && r.headers.value("retry-after") == "10" && r.text.isEmpty, "\(r)")
        #expect(r.headers.value("content-length") == "0", "\(r)")
        let line = try s.log(of: c)
        #expect(line.status == 429 && line.termination == "PR--", "\(line)")
    }

    @Test("errorfiles NAME in deny and return; a status the section lacks falls back to the proxy's page")
    func errorFiles() throws {
        let page = try rulesFile("HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n"
                                 + "connection: close\r\n\r\nno way\n", name: "403.http")
        defer { page.remove() }
        let s = try scenario(frontend: """
            http-request deny errorfiles site if { path_beg /deny }
            http-request return status 403 errorfiles site if { path_beg /return }
            http-request deny deny_status 404 errorfiles site if { path_beg /missing }
        """, extra: """
            http-errors site
                errorfile 403 \(page.path)
            """)
        defer { s.close() }
        for path in ["/deny", "/return"] {
            let c = try s.connect()
            try c.request("GET", path)
            let r = try c.readResponse()
            #expect(r.status == 403 && r.text == "no way\n", "\(path): \(r)")
        }
        let missing = try s.connect()
        try missing.request("GET", "/missing")
        let m = try missing.readResponse()
        #expect(m.status == 404 && m.text != "no way\n", "\(m)")
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("tarpit with a custom answer: sent after timeout tarpit, PT--")
    func tarpitAnswer() throws {
        let s = try scenario(frontend: """
            timeout tarpit 300ms
            http-request tarpit deny_status 429 content-type text/plain string "later\\n" hdr X-Tarpit yes if { path_beg /bots }
        """)
        defer { s.close() }
        let c = try s.connect()
        let start = monotonicNow()
        try c.request("GET", "/bots/x")
        let r = try c.readResponse()
        #expect(monotonicNow() - start >= 0.25)
        #expect(r.status == 429 && r.text == "later\n" && r.headers.value("x-tarpit") == "yes", "\(r)")
        let line = try s.log(of: c)
        #expect(line.termination == "PT--" && line.status == 429, "\(line)")
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("tarpit with a log-format answer: written from the request, sent after the delay; HEAD gets no body")
    func tarpitLogFormatAnswer() throws {
        let s = try scenario(frontend: """
            timeout tarpit 100ms
            http-request set-var(txn.who) req.hdr(x-who)
            http-request tarpit deny_status 403 content-type application/json lf-string "{\\"path\\":\\"%[path]\\",\\"who\\":\\"%[var(txn.who)]\\"}" hdr X-Client %[src] if { path_beg /bots }
        """)
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/bots/a?x=1", headers: ["X-Who: crawler"])
        let r = try c.readResponse()
        #expect(r.status == 403 && r.text == "{\"path\":\"/bots/a\",\"who\":\"crawler\"}", "\(r)")
        #expect(r.headers.value("x-client") == "127.0.0.1" && r.headers.value("content-type") == "application/json", "\(r)")
        #expect(c.isClosedByPeer(within: 5))
        let line = try s.log(of: c)
        #expect(line.termination == "PT--" && line.status == 403, "\(line)")

        let head = try s.connect()
        try head.request("HEAD", "/bots/b")
        let h = try head.readResponse(method: "HEAD")
        #expect(h.status == 403 && h.text.isEmpty && h.headers.value("content-length") == "27", "\(h)")
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("tarpits with log-format answers give their buffers back, whether the client waits or leaves")
    func tarpitLogFormatAnswerBuffers() throws {
        // 20 connections at most: a pool of 128 buffers, which 150 tarpits
        // that each kept one would exhaust.
        let server = try HTTPBackend(name: "app") { _ in .text(200, "app\n") }
        let config = rulesConfig(frontend: """
                timeout tarpit 20ms
                http-request tarpit content-type text/plain lf-string "%[path]" if { path_beg /bots }
                default_backend app
            """, sections: "backend app\n    server app \(server.address)", global: "    maxconn 20")
        let s = try HTTPScenario(config: config, backends: [server])
        defer { s.close() }
        for wave in 0..<15 {
            var waiting: [HTTPConnection] = []
            for i in 0..<10 {
                let c = try s.connect()
                try c.request("GET", "/bots/\(wave)-\(i)")
                if i % 2 == 0 { c.close() } else { waiting.append(c) }
            }
            for c in waiting {
                let r = try c.readResponse()
                #expect(r.status == 500 && r.text.hasPrefix("/bots/\(wave)-"), "\(r)")
                c.close()
            }
        }
        // Every tarpit has ended: the aborted ones logged too.
        #expect(waitUntil(timeout: 10) { s.logLines.filter { $0.termination.hasSuffix("T--") }.count == 150 })
        let c = try s.connect()
        try c.request("GET", "/app")
        #expect(try c.readResponse().text == "app\n")
        try c.request("GET", "/bots/last")
        let last = try c.readResponse()
        #expect(last.status == 500 && last.text == "/bots/last", "\(last)")
    }

    @Test("redirect ignore-empty: an empty location skips the rule, the next rules run")
    func redirectIgnoreEmpty() throws {
        let s = try scenario(frontend: """
            http-request redirect location %[req.hdr(x-to)] code 301 ignore-empty
            http-request redirect location /fallback if { path_beg /fall }
        """)
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/a", headers: ["X-To: /moved"])
        let moved = try c.readResponse()
        #expect(moved.status == 301 && moved.headers.value("location") == "/moved", "\(moved)")
        try c.request("GET", "/fall")
        let fallback = try c.readResponse()
        #expect(fallback.status == 302 && fallback.headers.value("location") == "/fallback", "\(fallback)")
        try c.request("GET", "/b")
        #expect(try c.readResponse().text == "app GET /b\n")
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("reject closes with a FIN and silent-drop with a reset, no answer; both logged PR--")
    func rejectAndSilentDrop() throws {
        let s = try scenario(frontend: """
            http-request reject if { path_beg /reject }
            http-request silent-drop if { path_beg /drop }
        """)
        defer { s.close() }
        let rejected = try s.connect()
        try rejected.request("GET", "/reject")
        let (bytes, end) = rejected.readToEnd()
        #expect(bytes.isEmpty && end == .eof, "\(end)")
        let line = try s.log(of: rejected)
        #expect(line.termination == "PR--" && line.server == "<NOSRV>", "\(line)")

        let dropped = try s.connect()
        try dropped.request("GET", "/drop")
        let (dropBytes, dropEnd) = dropped.readToEnd()
        #expect(dropBytes.isEmpty && dropEnd == .reset, "on loopback the reset arrives: \(dropEnd)")
        let drop = try s.log(of: dropped)
        #expect(drop.termination == "PR--", "\(drop)")

        let kept = try s.connect()
        try kept.request("GET", "/fine")
        #expect(try kept.readResponse().text == "app GET /fine\n")
        #expect(s.backends[0].requests.count == 1)
    }
}

/// `balance hdr(NAME) use_domain_only` and `balance url_param NAME check_post`.
@Suite("HTTP balancing: use_domain_only, check_post", .serialized)
struct HTTPBalanceOptionTests {
    /// Servers `s1` to `s4`, each naming itself in `x-served-by`, behind `balance`.
    private func fourServers(balance: String) throws -> HTTPScenario {
        try HTTPScenario(backends: namedBackends(["s1", "s2", "s3", "s4"]).backends, backend: "    balance \(balance)")
    }

    @Test("check_post: a form body's parameter picks the server its query form picks; the query wins")
    func checkPost() throws {
        let s = try fourServers(balance: "url_param uid check_post")
        defer { s.close() }
        func server(_ method: String, _ target: String, body: String = "") throws -> String {
            let c = try HTTPConnection(port: s.port)
            defer { c.close() }
            // One write, so that the body is buffered with the head.
            try c.send("\(method) \(target) HTTP/1.1\r\nhost: weir.test\r\n"
                       + "content-type: application/x-www-form-urlencoded\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
            return try c.readResponse().headers.value("x-served-by") ?? "?"
        }
        var spread: Set<String> = []
        for n in 0..<12 {
            let first = try server("GET", "/?uid=user-\(n)")
            #expect(try server("POST", "/form", body: "a=1&uid=user-\(n)&b=2") == first, "user-\(n)")
            #expect(try server("POST", "/form?uid=user-\(n)", body: "uid=other") == first, "user-\(n): the query first")
            spread.insert(first)
        }
        #expect(spread.count > 1, "12 values on one server: \(spread)")
    }

    @Test("hosts of the same domain reach the same server; other domains spread")
    func sameDomainSameServer() throws {
        let s = try fourServers(balance: "hdr(X-Site) use_domain_only")
        defer { s.close() }
        func server(_ host: String) throws -> String {
            let c = try HTTPConnection(port: s.port)
            defer { c.close() }
            try c.request("GET", "/", headers: ["X-Site: \(host)"])
            return try c.readResponse().headers.value("x-served-by") ?? "?"
        }
        var spread: Set<String> = []
        for n in 0..<12 {
            let domain = "site\(n)"
            let first = try server("www.\(domain).com")
            #expect(try server("api.\(domain).com") == first, "\(domain)")
            #expect(try server("a.b.\(domain).org") == first, "\(domain)")
            #expect(try server("\(domain).net") == first, "\(domain)")
            spread.insert(first)
        }
        #expect(spread.count > 1, "12 domains on one server: \(spread)")
    }
}
