import Glibc
import Testing
@testable import WeirProxy

/// http-request and http-response actions: edits of the message, verdicts,
/// session state, and the answers the proxy writes.
@Suite struct RuleActionTests {
    static let request = "GET /shop/item?id=5&ref=x HTTP/1.1\nhost: example.com\nx-keep: 1\nx-debug-a: 1\nx-debug-b: 2\n"
        + "accept: text/html, application/json\n\n"

    private func harness(_ lines: String, extra: String = "") throws -> RuleHarness {
        try RuleHarness(routingConfig(lines, extra: extra))
    }

    @Test func headerEdits() throws {
        var h = try harness("""
            http-request set-header x-keep replaced
                http-request add-header x-added one
                http-request add-header x-added two
                http-request del-header x-debug -m beg
                http-request replace-header host ^(.*)\\.com$ \\1.org
                http-request replace-value accept ^text/(.*)$ text/x-\\1
            """)
        try h.begin(request: Self.request)
        guard case .proceed = h.runRequestRules() else { Issue.record("rules did not proceed"); return }
        #expect(h.fields("x-keep") == ["replaced"])
        #expect(h.fields("x-added") == ["one", "two"])
        #expect(h.fields("x-debug-a").isEmpty && h.fields("x-debug-b").isEmpty)
        #expect(h.fields("host") == ["example.org"])
        #expect(h.fields("accept") == ["text/x-html, application/json"])
        #expect(h.fieldNames() == ["host", "accept", "x-keep", "x-added", "x-added"])
    }

    @Test func deleteHeaderByRegex() throws {
        var h = try harness("http-request del-header ^x-(keep|debug-a)$ -m reg")
        try h.begin(request: Self.request)
        _ = h.runRequestRules()
        #expect(h.fieldNames() == ["host", "x-debug-b", "accept"])
    }

    @Test(arguments: [
        ("http-request set-path /v2%[path]", "GET /v2/shop/item?id=5&ref=x"),
        ("http-request set-query a=b", "GET /shop/item?a=b"),
        ("http-request set-pathq /p?q=1", "GET /p?q=1"),
        ("http-request set-uri /other", "GET /other"),
        ("http-request set-method POST", "POST /shop/item?id=5&ref=x"),
    ])
    func requestLineEdits(_ rule: String, _ expected: String) throws {
        var h = try harness(rule)
        try h.begin(request: Self.request)
        _ = h.runRequestRules()
        #expect(h.requestLine() == expected)
    }

    @Test func absoluteTargetKeepsItsAuthority() throws {
        var h = try harness("http-request set-path /new")
        try h.begin(request: "GET http://example.com/old?q HTTP/1.1\nhost: example.com\n\n")
        _ = h.runRequestRules()
        #expect(h.requestLine() == "GET http://example.com/new?q")
    }

    @Test func firstStoppingRuleWins() throws {
        var h = try harness("""
            http-request allow if { path_beg /shop }
                http-request deny
            """)
        try h.begin(request: Self.request)
        guard case .proceed = h.runRequestRules() else { Issue.record("allow must stop the list"); return }
        try h.begin(request: "GET /other HTTP/1.1\nhost: a\n\n")
        guard case .deny(let status, nil) = h.runRequestRules() else { Issue.record("expected deny"); return }
        #expect(status == 403)
    }

    @Test func denyAndTarpitStatuses() throws {
        var h = try harness("http-request deny deny_status 429 if { path_beg /a }\n    http-request tarpit if { path_beg /b }")
        try h.begin(request: "GET /a HTTP/1.1\nhost: a\n\n")
        guard case .deny(429, nil) = h.runRequestRules() else { Issue.record("expected deny 429"); return }
        try h.begin(request: "GET /b HTTP/1.1\nhost: a\n\n")
        guard case .tarpit(let status, 0) = h.runRequestRules() else { Issue.record("expected tarpit"); return }
        #expect(status == 500)
    }

    @Test func sessionVariablesOutliveTheExchange() throws {
        var h = try harness("http-request set-var(sess.seen) path if { path /first }\n"
                            + "    http-request set-var(txn.t) str(x)\n"
                            + "    http-request set-header x-seen %[var(sess.seen)]-%[var(txn.t)]")
        try h.begin(request: "GET /first HTTP/1.1\nhost: a\n\n")
        _ = h.runRequestRules()
        #expect(h.fields("x-seen") == ["/first-x"])
        h.engine.sessions.unset(0, VariableSlot(index: 1, scope: .txn))
        try h.begin(request: "GET /second HTTP/1.1\nhost: a\n\n")
        #expect(h.engine.sessions.value(0, VariableSlot(index: 1, scope: .txn)).exists == false,
                "a new exchange forgets txn variables")
        _ = h.runRequestRules()
        #expect(h.fields("x-seen") == ["/first-x"], "sess.seen is still set on the next request")
    }

    @Test func logLevelAndCaptures() throws {
        var h = try RuleHarness(routingConfig("""
            capture request header user-agent len 5
                http-request capture path len 4
                http-request set-log-level silent if { path_beg /health }
            """))
        try h.begin(request: "GET /healthz HTTP/1.1\nhost: a\nuser-agent: curl/8.0\n\n")
        _ = h.runRequestRules()
        #expect(h.engine.exchangeLogLevel(0) == .silent)
        let captures = h.engine.compiled.frontends[0].requestCaptures
        #expect(captures.count == 2)
        let texts = captures.map { h.engine.sessions.captured(0, $0.index).map { String(decoding: $0, as: UTF8.self) } }
        #expect(texts == ["curl/", "/hea"])
        try h.begin(request: "GET /x HTTP/1.1\nhost: a\n\n")
        #expect(h.engine.exchangeLogLevel(0) == nil, "the next exchange starts without a level")
    }

    @Test func responseRules() throws {
        var h = try harness("""
            http-response set-status 203 if { status 200 }
                http-response set-header x-server %[res.hdr(server)]-edited
                http-response del-header server
                http-response deny if { res.hdr(x-leak) -m found }
            """)
        try h.begin(response: "HTTP/1.1 200 OK\nserver: app\ncontent-length: 0\n\n")
        guard case .proceed = h.runResponseRules() else { Issue.record("expected proceed"); return }
        #expect(h.engine.status == 203)
        #expect(String(decoding: h.engine.reason, as: UTF8.self) == "Non-Authoritative Information")
        #expect(h.fields("x-server") == ["app-edited"])
        #expect(h.fields("server").isEmpty)
        try h.begin(response: "HTTP/1.1 200 OK\nx-leak: 1\ncontent-length: 0\n\n")
        guard case .deny(let status, nil) = h.runResponseRules() else { Issue.record("expected deny"); return }
        #expect(status == 502)
    }

    @Test(arguments: [
        ("http-request redirect location /login code 303",
         "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /login\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"),
        ("http-request redirect prefix https://new.example drop-query code 301",
         "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://new.example/shop/item\r\nconnection: close\r\n\r\n"),
        ("http-request redirect prefix / append-slash drop-query",
         "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /shop/item/\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"),
        ("http-request redirect scheme https code 308 set-cookie seen=1",
         "HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: https://example.com/shop/item?id=5&ref=x\r\n"
             + "set-cookie: seen=1; path=/;\r\nconnection: close\r\n\r\n"),
        ("redirect location /gone clear-cookie sid= code 307",
         "HTTP/1.1 307 Temporary Redirect\r\ncontent-length: 0\r\nlocation: /gone\r\ncache-control: no-cache\r\n"
             + "set-cookie: sid=; path=/; Max-Age=0;\r\nconnection: close\r\n\r\n"),
        ("http-request redirect location https://%[hdr(host)]%[path]?from=%[src]",
         "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://example.com/shop/item?from=10.1.2.3\r\n"
             + "cache-control: no-cache\r\nconnection: close\r\n\r\n"),
    ])
    func redirects(_ rule: String, _ expected: String) throws {
        var h = try harness(rule)
        try h.begin(request: Self.request)
        let verdict = h.runRequestRules()
        #expect(h.answerText(verdict) == expected)
    }

    @Test func returnAnswers() throws {
        var h = try harness("""
            http-request return status 201 content-type text/plain lf-string "id=%[url_param(id)]" hdr x-from %[src] if { path_beg /shop }
                http-request return status 404 content-type "text/html" string "<p>no</p>"
            """)
        try h.begin(request: Self.request)
        #expect(h.answerText(h.runRequestRules(), connection: .keepAlive)
                == "HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nx-from: 10.1.2.3\r\n\r\nid=5")
        try h.begin(request: "GET / HTTP/1.0\n\n")
        #expect(h.answerText(h.runRequestRules(), connection: .keepAliveHTTP10)
                == "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: keep-alive\r\n\r\n<p>no</p>")
    }

    @Test func returnBodyFromAFile() throws {
        let file = temporaryFile("from a file\n")
        defer { _ = unlink(file) }
        var h = try harness("http-request return status 200 content-type text/plain file \(file)")
        try h.begin(request: Self.request)
        #expect(h.answerText(h.runRequestRules()).hasSuffix("content-length: 12\r\nconnection: close\r\n\r\nfrom a file\n"))
    }

    @Test func basicAuthentication() throws {
        let extra = """
            userlist users
                group admins
                user alice insecure-password wonderland groups admins
                user bob password $6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1
            """
        var h = try harness("http-request auth realm Shop unless { http_auth(users) }\n"
                            + "    http-request set-header x-admin yes if { http_auth_group(users) admins }", extra: extra)
        try h.begin(request: Self.request)
        let challenge = h.runRequestRules()
        #expect(h.answerText(challenge).contains("www-authenticate: Basic realm=\"Shop\"\r\n"))
        #expect(h.answerText(challenge).hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        // alice:wonderland, bob:secret, bob:wrong
        for (credentials, passes, admin) in [("YWxpY2U6d29uZGVybGFuZA==", true, true), ("Ym9iOnNlY3JldA==", true, false),
                                             ("Ym9iOndyb25n", false, false)] {
            try h.begin(request: "GET / HTTP/1.1\nhost: a\nauthorization: Basic \(credentials)\n\n")
            let verdict = h.runRequestRules()
            if case .proceed = verdict { #expect(passes, "\(credentials)") } else { #expect(!passes, "\(credentials)") }
            #expect(h.fields("x-admin") == (admin ? ["yes"] : []))
        }
    }

    @Test func failedRewriteIsReported() throws {
        let long = String(repeating: "x", count: 9000)
        var h = try harness("http-request set-header a \(long)\n    http-request set-header b \(long)")
        try h.begin(request: Self.request)
        guard case .failed = h.runRequestRules() else { Issue.record("two 9000-byte values do not fit a 16 KiB arena"); return }
    }
}
