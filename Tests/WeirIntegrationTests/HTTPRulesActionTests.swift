import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// http-request and http-response actions, end to end: what the server
/// receives, what the client gets, and what the log says.
@Suite("HTTP rules: actions", .serialized)
struct HTTPRulesActionTests {
    private func scenario(frontend: String, backend: String = "", extra: String = "",
                          defaults: String = "") throws -> HTTPScenario {
        let server = try HTTPBackend(name: "app") { request in
            .text(200, "app \(request.method) \(request.target)\n",
                  headers: [HTTPHeaderField(name: "server", value: "tiny"),
                            HTTPHeaderField(name: "x-internal", value: "secret"),
                            HTTPHeaderField(name: "set-cookie", value: "sid=1; path=/app")])
        }
        let sections = "backend app\n\(backend)\n    server app \(server.address)\n\n\(extra)"
        return try HTTPScenario(config: rulesConfig(frontend: frontend + "\n    default_backend app", sections: sections,
                                                    defaults: defaults),
                                backends: [server])
    }

    @Test("request header and request-line rules reach the server, in order")
    func requestEdits() throws {
        let s = try scenario(frontend: """
            http-request set-header X-Client %[src]
            http-request add-header X-Hop one
            http-request add-header X-Hop two
            http-request del-header X-Debug
            http-request del-header X-Trace- -m beg
            http-request replace-header User-Agent ^curl/(.*)$ client-\\1
            http-request replace-value Accept ^text/(.*)$ text/x-\\1
            http-request set-header X-Seen %[req.hdr(x-client)]
            http-request set-path /v2%[path] if { path_beg /shop }
            http-request set-query lang=fr if { path_beg /v2/shop }
            http-request set-method PUT if { hdr(x-method-override) PUT }
            http-request set-var-fmt(txn.who) "%[src] asked %[path]"
            http-request set-header X-Who %[var(txn.who)]
        """, backend: "    http-request set-header X-Backend %[be_name]")
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/shop/list?lang=en",
                      headers: ["User-Agent: curl/8.5", "Accept: text/html, application/json", "X-Debug: 1",
                                "X-Trace-Id: 7", "X-Trace-Span: 8", "X-Method-Override: PUT"])
        let response = try c.readResponse()
        #expect(response.text == "app PUT /v2/shop/list?lang=fr\n")
        let seen = try #require(s.backends[0].requests.last)
        #expect(seen.headers.values("x-client") == ["127.0.0.1"])
        #expect(seen.headers.values("x-hop") == ["one", "two"])
        #expect(!seen.headers.has("x-debug") && !seen.headers.has("x-trace-id") && !seen.headers.has("x-trace-span"))
        #expect(seen.headers.value("user-agent") == "client-8.5")
        #expect(seen.headers.value("accept") == "text/x-html, application/json")
        #expect(seen.headers.value("x-seen") == "127.0.0.1", "a later rule sees an earlier set-header")
        #expect(seen.headers.value("x-backend") == "app", "backend rules run after the backend is chosen")
        #expect(seen.headers.value("x-who") == "127.0.0.1 asked /v2/shop/list", "set-var-fmt renders when it runs")
    }

    @Test("set-uri, set-pathq, replace-path, replace-pathq and replace-uri")
    func uriRewrites() throws {
        let s = try scenario(frontend: """
            http-request set-uri /internal%[url] if { path_beg /a/ }
            http-request set-pathq /q?from=%[path] if { path_beg /b }
            http-request replace-path /api(/.*) \\1 if { path_beg /api/ }
            http-request replace-pathq ^/old/([^?]*)\\?(.*)$ /new/\\1?v=2&\\2 if { path_beg /old/ }
            http-request replace-uri ^/u/(.*) /%[req.hdr(x-tenant)]/\\1 if { path_beg /u/ }
        """)
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/a/x?y=1")
        #expect(try c.readResponse().text == "app GET /internal/a/x?y=1\n")
        try c.request("GET", "/b/z")
        #expect(try c.readResponse().text == "app GET /q?from=/b/z\n")
        try c.request("GET", "/api/v1/users?id=7")
        let stripped = try c.readResponse().text
        #expect(stripped == "app GET /v1/users?id=7\n", "replace-path keeps the query")
        try c.request("GET", "/old/page?x=1")
        #expect(try c.readResponse().text == "app GET /new/page?v=2&x=1\n")
        try c.request("GET", "/old/page")
        #expect(try c.readResponse().text == "app GET /old/page\n", "no match, no change")
        try c.request("GET", "/u/list?all", headers: ["X-Tenant: acme"])
        #expect(try c.readResponse().text == "app GET /acme/list?all\n")
    }

    @Test("response rules: set-status, set-header, del-header, replace-header, deny")
    func responseEdits() throws {
        let s = try scenario(frontend: """
            http-response set-header X-Frontend fe
            http-response del-header x-internal
            http-response replace-header Set-Cookie ^(.*)$ \\1;\\ secure
            http-response set-status 299 reason Fine if { status 200 } { res.hdr(server) weir-tiny }
            http-response deny if { res.hdr(server) -m found } { var(txn.block) -m found }
            http-request set-var(txn.block) str(1) if { path_beg /blocked }
        """, backend: "    http-response set-header Server weir-%[res.hdr(server)]")
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/ok")
        let r = try c.readResponse()
        #expect(r.status == 299 && r.reason == "Fine", "\(r)")
        #expect(r.headers.value("x-frontend") == "fe")
        #expect(!r.headers.has("x-internal"))
        #expect(r.headers.value("set-cookie") == "sid=1; path=/app; secure")
        #expect(r.headers.value("server") == "weir-tiny", "the backend's response rules ran first: set-status saw their edit")
        try c.request("GET", "/blocked")
        let denied = try c.readResponse()
        #expect(denied.status == 502, "\(denied)")
        let logs = try s.logs(clientPort: c.localPort, count: 2)
        #expect(logs[0].status == 299)
        #expect(logs[1].status == 502 && logs[1].termination == "PH--", "\(logs[1])")
    }

    @Test("deny with deny_status and a custom errorfile: 429, PR--")
    func denyStatus() throws {
        let page = try rulesFile("HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
                                 + "connection: close\r\n\r\nslow\n", name: "429.http")
        defer { page.remove() }
        let s = try scenario(frontend: """
            errorfile 429 \(page.path)
            http-request deny deny_status 429 if { path_beg /busy }
            http-request deny if { path_beg /admin }
        """)
        defer { s.close() }
        let busy = try s.connect()
        try busy.request("GET", "/busy")
        let r = try busy.readResponse()
        #expect(r.status == 429 && r.text == "slow\n", "\(r)")
        #expect(busy.isClosedByPeer(within: 5))
        let line = try s.log(of: busy)
        #expect(line.status == 429 && line.termination == "PR--" && line.server == "<NOSRV>", "\(line)")
        let admin = try s.connect()
        try admin.request("GET", "/admin/x")
        #expect(try admin.readResponse().status == 403)
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("redirects: location, prefix, scheme, codes, options; the connection stays open")
    func redirects() throws {
        let s = try scenario(frontend: """
            http-request redirect location /login code 303 if { path /account }
            http-request redirect prefix https://new.example drop-query code 301 if { path_beg /old }
            http-request redirect scheme https code 308 if { hdr(x-forwarded-proto) http }
            http-request redirect location https://%[hdr(host)]%[path]?from=%[src] code 307 if { path_beg /dyn }
            redirect prefix / append-slash drop-query if { path_reg ^/dir/[a-z]+$ }
            redirect location /bye set-cookie gone=1 if { path /logout }
            redirect location /bye2 clear-cookie session= if { path /logout2 }
        """)
        defer { s.close() }
        let c = try s.connect()
        let expectations: [(String, [String], Int, String)] = [
            ("/account", [], 303, "/login"),
            ("/old/page?x=1", [], 301, "https://new.example/old/page"),
            ("/plain?q=1", ["X-Forwarded-Proto: http"], 308, "https://weir.test/plain?q=1"),
            ("/dyn/a", [], 307, "https://weir.test/dyn/a?from=127.0.0.1"),
            ("/dir/docs?x=1", [], 302, "/dir/docs/"),
        ]
        for (path, headers, code, location) in expectations {
            try c.request("GET", path, headers: headers)
            let r = try c.readResponse()
            #expect(r.status == code && r.headers.value("location") == location, "\(path): \(r)")
            #expect(!r.closes, "a redirect keeps the connection")
        }
        try c.request("GET", "/logout")
        #expect(try c.readResponse().headers.value("set-cookie") == "gone=1; path=/;")
        try c.request("GET", "/logout2")
        #expect(try c.readResponse().headers.value("set-cookie") == "session=; path=/; Max-Age=0;")
        try c.request("GET", "/after")
        #expect(try c.readResponse().text == "app GET /after\n", "the same connection still reaches the server")
        let logs = try s.logs(clientPort: c.localPort, count: 8)
        #expect(logs.prefix(7).allSatisfy { $0.termination == "LR--" }, "\(logs)")
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("return: string, file, lf-string, extra headers")
    func returns() throws {
        guard hasCurl else { return }
        let body = try rulesFile("<h1>maintenance</h1>\n", name: "maintenance.html")
        defer { body.remove() }
        let s = try scenario(frontend: """
            http-request return status 200 content-type text/plain string "pong\\n" if { path /ping }
            http-request return status 503 content-type text/html file \(body.path) if { path_beg /down }
            http-request return status 200 content-type application/json lf-string "{\\"ip\\":\\"%[src]\\",\\"path\\":\\"%[path]\\"}" hdr X-Served weir hdr X-Path %[path] if { path_beg /whoami }
        """)
        defer { s.close() }
        let ping = try curlRequest(port: s.port, "/ping")
        #expect(ping.status == 200 && ping.body == "pong\n" && ping.header("content-type") == "text/plain", "\(ping)")
        let down = try curlRequest(port: s.port, "/down/x")
        #expect(down.status == 503 && down.body == "<h1>maintenance</h1>\n", "\(down)")
        let who = try curlRequest(port: s.port, "/whoami")
        #expect(who.body == "{\"ip\":\"127.0.0.1\",\"path\":\"/whoami\"}", "\(who)")
        #expect(who.header("x-served") == "weir" && who.header("x-path") == "/whoami")
        let head = try curlRequest(port: s.port, "/ping", arguments: ["-I"])
        #expect(head.status == 200 && head.body.isEmpty && head.header("content-length") == "5", "\(head)")
        #expect(s.backends[0].requests.isEmpty)
        // curl may return before the proxy has written its last line.
        #expect(waitUntil(timeout: 10) { s.logLines.filter { $0.termination == "LR--" }.count == 4 },
                "\(s.logLines)")
    }

    @Test("tarpit holds the request for timeout tarpit, then answers: PT--")
    func tarpit() throws {
        let s = try scenario(frontend: """
            timeout tarpit 300ms
            http-request tarpit deny_status 429 if { path_beg /bots }
        """)
        defer { s.close() }
        let c = try s.connect()
        let start = monotonicNow()
        try c.request("GET", "/bots/x")
        let r = try c.readResponse()
        let waited = monotonicNow() - start
        #expect(r.status == 429, "\(r)")
        #expect(waited >= 0.25, "answered after \(waited)s")
        let line = try s.log(of: c)
        #expect(line.termination == "PT--" && line.status == 429, "\(line)")
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("basic auth against a userlist: insecure-password and a $6$ hash; 401 then 200")
    func basicAuth() throws {
        guard hasCurl else { return }
        let hash = try runTool("/usr/bin/openssl", ["passwd", "-6", "s3cret"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(hash.hasPrefix("$6$"), "openssl passwd -6 gave \(hash)")
        let s = try scenario(frontend: """
            http-request auth realm "Weir Test" unless { http_auth(team) }
            http-request set-header X-Admin yes if { http_auth_group(team) admins }
        """, extra: """
            userlist team
                group admins users alice
                user alice insecure-password wonderland
                user bob password \(hash)
            """)
        defer { s.close() }
        let anonymous = try curlRequest(port: s.port, "/private")
        #expect(anonymous.status == 401, "\(anonymous)")
        #expect(anonymous.header("www-authenticate") == "Basic realm=\"Weir Test\"")
        let wrong = try curlRequest(port: s.port, "/private", arguments: ["-u", "bob:nope"])
        #expect(wrong.status == 401)
        let alice = try curlRequest(port: s.port, "/private", arguments: ["-u", "alice:wonderland"])
        #expect(alice.status == 200 && alice.body == "app GET /private\n", "\(alice)")
        let bob = try curlRequest(port: s.port, "/private", arguments: ["-u", "bob:s3cret"])
        #expect(bob.status == 200, "\(bob)")
        let seen = s.backends[0].requests
        #expect(seen.count == 2)
        #expect(seen.first?.headers.value("x-admin") == "yes" && seen.last?.headers.has("x-admin") == false)
    }

    @Test("http-error and errorloc pages replace the built-in ones")
    func errorPages() throws {
        let s = try scenario(frontend: """
            http-error status 503 content-type text/plain string "no server today\\n"
            use_backend empty if { path_beg /empty }
        """, extra: "backend empty\n")
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/empty")
        let r = try c.readResponse()
        #expect(r.status == 503 && r.text == "no server today\n", "\(r)")
    }
}
