import Testing
@testable import WeirConfig

/// `http-request`, `http-response`, `redirect`, `use_backend` and `tcp-request` rules.
@Suite struct HTTPRuleTests {
    /// The frontend of `frontend fe` holding `lines` (lines start at 8).
    func frontend(_ lines: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Frontend? {
        let text = httpDefaults + "frontend fe\n    bind :80\n" + lines + "\n    default_backend be\nbackend be\n"
        return config(text, sourceLocation: sourceLocation)?.frontends.first
    }

    func requestAction(_ line: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> HTTPAction? {
        frontend("    http-request \(line)", sourceLocation: sourceLocation)?.httpRequestRules.first?.action
    }

    func responseAction(_ line: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> HTTPAction? {
        frontend("    http-response \(line)", sourceLocation: sourceLocation)?.httpResponseRules.first?.action
    }

    func ruleErrors(_ lines: String) -> [String] {
        errors(httpDefaults + "frontend fe\n    bind :80\n" + lines + "\n    default_backend be\nbackend be\n")
    }

    func lit(_ s: String) -> LogFormat { LogFormat(nodes: [.literal(Array(s.utf8))]) }

    @Test func simpleActions() {
        #expect(requestAction("allow") == .allow)
        #expect(requestAction("deny") == .deny(status: 403))
        #expect(requestAction("deny deny_status 429") == .deny(status: 429))
        #expect(requestAction("deny status 400") == .deny(status: 400))
        #expect(requestAction("tarpit") == .tarpit(status: 500))
        #expect(requestAction("tarpit deny_status 403") == .tarpit(status: 403))
        #expect(requestAction("deny default-errorfiles") == .deny(status: 403))
        #expect(requestAction("deny deny_status 429 content-type text/plain string slow hdr Retry-After 30")
                == .deny(status: 429, answer: ReturnSpec(status: 429, contentType: "text/plain", body: .bytes(Array("slow".utf8)),
                                                         headers: [ReturnHeader(name: "Retry-After", value: lit("30"))])))
        #expect(responseAction("deny content-type text/plain lf-string %[status]")
                == .deny(status: 502, answer: ReturnSpec(status: 502, contentType: "text/plain",
                                                         body: .logFormat(LogFormat(nodes: [.sample(Sample(fetch: .status), .none)])))))
        #expect(requestAction("tarpit content-type text/plain string later")
                == .tarpit(status: 500, answer: ReturnSpec(status: 500, contentType: "text/plain", body: .bytes(Array("later".utf8)))))
        #expect(requestAction("auth") == .auth(realm: nil))
        #expect(requestAction("auth realm \"Admin area\"") == .auth(realm: "Admin area"))
        #expect(responseAction("deny") == .deny(status: 502))
        #expect(responseAction("allow") == .allow)
        #expect(requestAction("set-log-level silent") == .setLogLevel(nil))
        #expect(requestAction("set-log-level err") == .setLogLevel(.err))
        #expect(responseAction("set-status 503") == .setStatus(status: 503, reason: nil))
        #expect(responseAction("set-status 418 reason \"I'm a teapot\"") == .setStatus(status: 418, reason: "I'm a teapot"))
    }

    @Test func headerActions() {
        #expect(requestAction("set-header X-Env prod") == .setHeader(name: "X-Env", value: lit("prod")))
        #expect(requestAction("add-header X-Client %[src]")
                == .addHeader(name: "X-Client", value: LogFormat(nodes: [.sample(Sample(fetch: .src), .none)])))
        #expect(requestAction("del-header X-Secret") == .delHeader(name: "X-Secret", method: .str))
        #expect(requestAction("del-header X-Internal- -m beg") == .delHeader(name: "X-Internal-", method: .beg))
        #expect(requestAction("del-header ^x-(a|b)$ -m reg") == .delHeader(name: "^x-(a|b)$", method: .reg))
        #expect(requestAction(#"replace-header Cookie (.*)SESSID=[^;]*(.*) \1\2"#)
                == .replaceHeader(name: "Cookie", regex: "(.*)SESSID=[^;]*(.*)", replacement: lit(#"\1\2"#)))
        #expect(requestAction(#"replace-value X-Forwarded-For ^192\.168\. 10.0."#)
                == .replaceValue(name: "X-Forwarded-For", regex: #"^192\.168\."#, replacement: lit("10.0.")))
        #expect(responseAction("set-header Server weir") == .setHeader(name: "Server", value: lit("weir")))
        #expect(responseAction("del-header Server") == .delHeader(name: "Server", method: .str))
    }

    @Test func setVarFormat() {
        #expect(requestAction("set-var-fmt(txn.who) %[src]-x")
                == .setVarFormat(scope: .txn, name: "who",
                                 format: LogFormat(nodes: [.sample(Sample(fetch: .src), .none), .literal(Array("-x".utf8))])))
        #expect(ruleErrors("    http-request set-var-fmt(txn.who)").first?.contains("expected a log-format string") == true)
    }

    @Test func uriActions() {
        #expect(requestAction("set-path /v2%[path]")
                == .setPath(LogFormat(nodes: [.literal(Array("/v2".utf8)), .sample(Sample(fetch: .path), .none)])))
        #expect(requestAction("set-pathq /x") == .setPathQuery(lit("/x")))
        #expect(requestAction("set-query a=1&%[query]")
                == .setQuery(LogFormat(nodes: [.literal(Array("a=1&".utf8)), .sample(Sample(fetch: .query), .none)])))
        #expect(requestAction("set-uri /") == .setURI(lit("/")))
        #expect(requestAction("set-method GET") == .setMethod(lit("GET")))
        #expect(requestAction("replace-path /api(/.*) \\1")
                == .replaceTarget(part: .path, regex: "/api(/.*)", replacement: lit("\\1")))
        #expect(requestAction("replace-pathq ^/a(.*) /b\\1") == .replaceTarget(part: .pathAndQuery, regex: "^/a(.*)", replacement: lit("/b\\1")))
        #expect(requestAction("replace-uri ^http://[^/]*(.*) \\1") == .replaceTarget(part: .uri, regex: "^http://[^/]*(.*)", replacement: lit("\\1")))
        #expect(ruleErrors("    http-request replace-path (unclosed /x").first?.contains("invalid regular expression") == true)
        #expect(ruleErrors("    http-request replace-path /x").first?.contains("expected a replacement") == true)
    }

    @Test func variablesAndCaptures() {
        #expect(requestAction("set-var(txn.host) req.hdr(host),lower")
                == .setVar(scope: .txn, name: "host", sample: Sample(fetch: .hdr(name: "host", occurrence: nil), converters: [.lower])))
        #expect(requestAction("unset-var(sess.a.b)") == .unsetVar(scope: .sess, name: "a.b"))
        #expect(responseAction("set-var(res.code) status") == .setVar(scope: .res, name: "code", sample: Sample(fetch: .status)))
        #expect(requestAction("capture req.hdr(user-agent) len 64")
                == .capture(sample: Sample(fetch: .hdr(name: "user-agent", occurrence: nil)), length: 64))
    }

    @Test func returnAction() throws {
        let body = temporaryFile("<h1>maintenance</h1>\n")
        let lf = temporaryFile("client %ci\n")
        let raw = temporaryFile("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown")
        #expect(requestAction("return") == .returnResponse(ReturnSpec()))
        #expect(requestAction("reject") == .reject)
        #expect(requestAction("set-timeout server 5s") == .setTimeout(tunnel: false, .milliseconds(5000)))
        #expect(requestAction("set-timeout tunnel req.hdr(x-t)")
                == .setTimeout(tunnel: true, .expression(Sample(fetch: .hdr(name: "x-t", occurrence: nil)))))
        #expect(requestAction("silent-drop") == .silentDrop)
        #expect(responseAction("silent-drop") == .silentDrop)
        var empty = Redirect(kind: .location, value: LogFormat(nodes: [.sample(Sample(fetch: .hdr(name: "x-to", occurrence: nil)), .none)]))
        empty.ignoreEmpty = true
        #expect(requestAction("redirect location %[req.hdr(x-to)] ignore-empty") == .redirect(empty))
        #expect(requestAction("return status 404 content-type text/plain string nope hdr X-A b hdr X-B %[src]")
                == .returnResponse(ReturnSpec(status: 404, contentType: "text/plain", body: .bytes(Array("nope".utf8)),
                                              headers: [ReturnHeader(name: "X-A", value: lit("b")),
                                                        ReturnHeader(name: "X-B", value: LogFormat(nodes: [.sample(Sample(fetch: .src), .none)]))])))
        #expect(requestAction("return content-type text/html file \(body)")
                == .returnResponse(ReturnSpec(contentType: "text/html", body: .bytes(Array("<h1>maintenance</h1>\n".utf8)))))
        #expect(requestAction("return content-type text/plain lf-file \(lf)")
                == .returnResponse(ReturnSpec(contentType: "text/plain", body: .logFormat(LogFormat(nodes: [
                    .literal(Array("client ".utf8)), .variable(.clientIP, .none), .literal([10]),
                ])))))
        #expect(requestAction("return content-type text/plain lf-string \"hello %[req.hdr(host)]\"")
                == .returnResponse(ReturnSpec(contentType: "text/plain", body: .logFormat(LogFormat(nodes: [
                    .literal(Array("hello ".utf8)), .sample(Sample(fetch: .hdr(name: "host", occurrence: nil)), .none),
                ])))))
        let rawBytes = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown".utf8)
        #expect(requestAction("return errorfile \(raw)") == .returnResponse(ReturnSpec(body: .rawResponse(rawBytes))))
        #expect(requestAction("return status 503 default-errorfiles")
                == .returnResponse(ReturnSpec(status: 503, body: .defaultErrorFiles)))
    }

    @Test func errorFilesInAnswers() throws {
        let page = temporaryFile("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
        let pageBytes = Array("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n".utf8)
        let text = httpDefaults + "frontend fe\n    bind :80\n"
            + "    http-request return status 403 errorfiles site if { path /a }\n"
            + "    http-request deny errorfiles site if { path /b }\n"
            + "    http-request deny deny_status 404 errorfiles site\n"
            + "    default_backend be\nbackend be\nhttp-errors site\n    errorfile 403 \(page)\n"
        let rules = try #require(config(text)?.frontends.first?.httpRequestRules)
        #expect(rules.map(\.action) == [
            .returnResponse(ReturnSpec(status: 403, body: .rawResponse(pageBytes))),
            .deny(status: 403, answer: ReturnSpec(status: 403, body: .rawResponse(pageBytes))),
            .deny(status: 404),
        ])
    }

    @Test func rulesKeepOrderConditionsAndLocations() throws {
        let fe = try #require(frontend("""
                acl admin path_beg /admin
                http-request deny if admin !{ src 10.0.0.0/8 }
                http-request set-header X-Admin 1 unless admin
                http-request allow
                http-response set-header X-Frame-Options DENY if { status 200 }
            """))
        #expect(fe.httpRequestRules.map(\.location.line) == [9, 10, 11])
        #expect(fe.httpRequestRules.map(\.location.column) == [5, 5, 5])
        #expect(fe.httpRequestRules[0].condition.alternatives[0].map(\.name) == ["admin", ""])
        #expect(fe.httpRequestRules[0].condition.alternatives[0].map(\.negated) == [false, true])
        #expect(fe.httpRequestRules[1].condition.negated)
        #expect(fe.httpRequestRules[2].condition == .always)
        #expect(fe.httpResponseRules[0].condition.alternatives[0][0].acls[0].sample.fetch == .status)
    }

    @Test func backendRules() throws {
        let c = try #require(config(httpDefaults + """
            frontend fe
                bind :80
                default_backend be
            backend be
                acl api path_beg /api
                http-request set-header X-Api 1 if api
                http-response del-header Server
                redirect prefix /new if api
                tcp-request content reject if { src 10.0.0.0/8 }
            """))
        let be = c.backends[0]
        #expect(be.httpRequestRules.first?.action == .setHeader(name: "X-Api", value: lit("1")))
        #expect(be.httpResponseRules.first?.action == .delHeader(name: "Server", method: .str))
        #expect(be.redirectRules.count == 1)
        #expect(be.tcpRequestContentRules.first?.action == .reject)
    }

    @Test func listenRulesAreInBothHalves() throws {
        let c = try #require(config(httpDefaults + """
            listen app
                bind :80
                http-request deny if { path /x }
                server s1 127.0.0.1:8080
            """))
        #expect(c.frontends[0].ownBackend == 0)
        #expect(c.frontends[0].httpRequestRules.count == 1)
        #expect(c.backends[0].httpRequestRules.count == 1)
    }

    @Test func redirects() throws {
        let fe = try #require(frontend("""
                redirect scheme https code 301
                redirect location /maintenance.html code 307 drop-query set-cookie SEEN=1 clear-cookie OLD if { path / }
                redirect prefix http://www.example.com append-slash
                http-request redirect location https://%[req.hdr(host)]%[path] code 308
            """))
        #expect(fe.redirectRules.map(\.action) == [
            .redirect(Redirect(kind: .scheme, value: lit("https"), code: 301)),
            .redirect(Redirect(kind: .location, value: lit("/maintenance.html"), code: 307, dropQuery: true,
                               setCookie: "SEEN=1", clearCookie: "OLD")),
            .redirect(Redirect(kind: .prefix, value: lit("http://www.example.com"), appendSlash: true)),
        ])
        #expect(fe.redirectRules[1].condition.alternatives.count == 1)
        #expect(fe.httpRequestRules.first?.action == .redirect(Redirect(kind: .location, value: LogFormat(nodes: [
            .literal(Array("https://".utf8)), .sample(Sample(fetch: .hdr(name: "host", occurrence: nil)), .none),
            .sample(Sample(fetch: .path), .none),
        ]), code: 308)))
        // The `redirect` keyword takes its value literally, as HAProxy does.
        let literal = try #require(frontend("    redirect location /%[path]"))
        #expect(literal.redirectRules.first?.action == .redirect(Redirect(kind: .location, value: lit("/%[path]"))))
    }

    @Test func useBackendRules() throws {
        let map = temporaryFile("api.example.com api\n")
        let c = try #require(config(httpDefaults + """
            frontend fe
                bind :80
                acl is_api path_beg /api
                acl is_static path_end .css .js
                use_backend api if is_api || { hdr(host) -i api.example.com }
                use_backend static unless !is_static
                use_backend %[req.hdr(host),lower,map(\(map),web)]
                use_backend web if { nbsrv(api) lt 1 }
                use_backend "%[str(static)]"
                default_backend web
            backend api
            backend static
            backend web
            """))
        let rules = c.frontends[0].useBackends
        #expect(rules.map(\.backend) == [0, 1, -1, 2, -1])
        #expect(rules[0].condition.alternatives.map { $0.map(\.name) } == [["is_api"], [""]])
        #expect(rules[1].condition.negated && rules[1].condition.alternatives[0][0].negated)
        #expect(rules[2].dynamicName?.nodes.count == 1)
        if case .sample(let s, _)? = rules[2].dynamicName?.nodes.first {
            #expect(s.fetch == .hdr(name: "host", occurrence: nil))
            #expect(s.converters.count == 2)
        } else {
            Issue.record("expected a sample")
        }
        #expect(rules[3].condition.alternatives[0][0].acls[0].sample.fetch == .nbsrv(backend: 0))
        #expect(rules[4].dynamicName?.nodes == [.sample(Sample(fetch: .constant("static")), .none)])
    }

    @Test func nbsrvAndUseBackendNamesAreResolved() {
        #expect(errors(httpDefaults + """
            frontend fe
                bind :80
                use_backend %[str(x)] if { nbsrv(apii) lt 1 }
                use_backend apx if TRUE
                use_backend api if { nbsrv lt 1 }
            backend api
            """) == [
            "t.cfg:10:26: error: acl: 'nbsrv' needs a backend name outside a backend or listen section, as in nbsrv(app)",
            "t.cfg:9:17: error: use_backend: no backend named 'apx'; did you mean 'api'?",
            "t.cfg:8:32: error: nbsrv: no backend named 'apii'; did you mean 'api'?",
        ])
        // In a backend, nbsrv without a name is the backend itself.
        #expect(errors(httpDefaults + "backend api\n    http-request deny if { nbsrv lt 1 }\n") == [])
    }

    @Test func tcpRequestRules() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                tcp-request inspect-delay 5s
                tcp-request connection reject if { src 192.0.2.0/24 }
                tcp-request connection accept
                tcp-request connection silent-drop
                tcp-request content accept if { src 10.0.0.0/8 }
                tcp-request content silent-drop if { src 10.0.0.1 }
                tcp-request content reject
                default_backend be
            backend be
            """))
        let fe = c.frontends[0]
        #expect(fe.tcpInspectDelay == 5000)
        #expect(fe.tcpRequestConnectionRules.map(\.action) == [.reject, .accept, .silentDrop])
        #expect(fe.tcpRequestConnectionRules[0].condition.alternatives[0][0].acls[0].match.networks
                == [IPNetwork(address: v4(192, 0, 2, 0), prefixLength: 24)])
        #expect(fe.tcpRequestConnectionRules[1].condition == .always)
        #expect(fe.tcpRequestContentRules.map(\.action) == [.accept, .silentDrop, .reject])
    }

    @Test func unreachableRulesWarn() {
        #expect(warnings(httpDefaults + """
            frontend fe
                bind :80
                http-request deny
                http-request set-header X 1
                default_backend be
            backend be
            """) == ["t.cfg:9:5: warning: this 'http-request set-header' is never reached: the rule at t.cfg:8:5 applies to every request"])
    }

    @Test func httpRulesInTCPMode() {
        let r = parse(timeoutDefaults + """
            frontend fe
                bind :80
                http-request deny if { path /x }
                http-response del-header Server
                redirect prefix /x
                default_backend be
            backend be
            """)
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [
            "t.cfg:7:5: warning: 'http-request' rules are ignored in frontend 'fe': they need 'mode http'",
            "t.cfg:8:5: warning: 'http-response' rules are ignored in frontend 'fe': they need 'mode http'",
            "t.cfg:9:5: warning: 'redirect' rules are ignored in frontend 'fe': they need 'mode http'",
        ])
        #expect(r.configuration?.frontends[0].httpRequestRules == [])
    }

    @Test func ruleErrorMessages() {
        #expect(ruleErrors("    http-request deni") == ["t.cfg:8:18: error: http-request: unknown action 'deni'; did you mean 'deny'?"])
        #expect(ruleErrors("    http-request") == ["t.cfg:8:5: error: http-request: expected an action"])
        #expect(ruleErrors("    http-request set-status 200")
                == ["t.cfg:8:18: error: 'set-status' is not an action of 'http-request' (it is one of 'http-response')"])
        #expect(ruleErrors("    http-response tarpit")
                == ["t.cfg:8:19: error: 'tarpit' is not an action of 'http-response' (it is one of 'http-request')"])
        #expect(ruleErrors("    http-request track-sc0 src") == ["t.cfg:8:18: error: no stick-table named 'fe'"])
        #expect(ruleErrors("    http-request set-header X-A") == ["t.cfg:8:29: error: http-request set-header: expected a value after the header name"])
        #expect(ruleErrors("    http-request set-header X-A if TRUE")
                == ["t.cfg:8:29: error: http-request set-header: expected a value after the header name"])
        #expect(ruleErrors("    http-request set-header X-A b c")
                == ["t.cfg:8:35: error: http-request set-header: unexpected 'c'; expected 'if' or 'unless' and a condition"])
        #expect(ruleErrors("    http-request set-header X-A %[res.hdr(x)]")
                == ["t.cfg:8:35: error: http-request set-header: this sample needs the HTTP response, which is not available before the response arrives"])
        #expect(ruleErrors("    http-request set-header X-A %[ssl_bc_protocol]")
                == ["t.cfg:8:35: error: http-request set-header: this sample needs the connection to the server, which is not available before a server is connected"])
        #expect(ruleErrors("    http-response set-header X-A %[ssl_bc_protocol]").isEmpty)
        #expect(ruleErrors("    http-request set-header X-A %[pth]")
                == ["t.cfg:8:35: error: http-request set-header: unknown fetch 'pth'; did you mean 'path'?"])
        #expect(ruleErrors("    http-request replace-header Host ^(www\\.]+ x")
                == ["t.cfg:8:38: error: http-request replace-header: invalid regular expression '^(www\\.]+': Unmatched ( or \\("])
        #expect(ruleErrors("    http-request del-header X -m regx")
                == ["t.cfg:8:34: error: http-request del-header: expected str, beg, end, sub or reg after '-m', got 'regx'"])
        #expect(ruleErrors("    http-request deny deny_status 99")
                == ["t.cfg:8:35: error: http-request deny deny_status: expected a number between 200 and 599, got '99'"])
        #expect(warnings(httpDefaults + "frontend fe\n    bind :80\n    http-request deny content-type text/plain\n"
                         + "    default_backend be\nbackend be\n")
                == ["t.cfg:8:18: warning: http-request deny: 'content-type' is ignored without a body ('string', 'lf-string', 'file' or 'lf-file')"])
        #expect(ruleErrors("    http-request deny default-errorfiles hdr X-A b")
                == ["t.cfg:8:23: error: http-request deny: 'content-type' and 'hdr' cannot be used with 'default-errorfiles', "
                    + "which gives a whole response"])
        #expect(ruleErrors("    http-request return deny_status 403")
                == ["t.cfg:8:25: error: http-request return: unexpected 'deny_status'; expected status, content-type, "
                    + "string, lf-string, file, lf-file, errorfile, errorfiles, default-errorfiles or hdr"])
        #expect(ruleErrors("    http-request set-timeout client 5s")
                == ["t.cfg:8:30: error: http-request set-timeout: expected 'server' or 'tunnel', got 'client'"])
        #expect(ruleErrors("    http-request set-timeout server 0")
                == ["t.cfg:8:37: error: http-request set-timeout: the timeout must not be null"])
        #expect(ruleErrors("    http-request set-timeout server")
                == ["t.cfg:8:30: error: http-request set-timeout: expected a timeout like 5s or a sample expression"])
        #expect(ruleErrors("    http-response set-timeout server 5s")
                == ["t.cfg:8:19: error: 'set-timeout' is not an action of 'http-response' (it is one of 'http-request')"])
        #expect(ruleErrors("    http-request deny errorfiles nowhere")
                == ["t.cfg:8:34: error: errorfiles: no 'http-errors' section named 'nowhere'"])
        #expect(ruleErrors("    http-request set-var(txn) str(a)")
                == ["t.cfg:8:18: error: http-request set-var: expected a scope and a name like txn.name, got 'txn'"])
        #expect(ruleErrors("    http-request set-var(txn.a)") == ["t.cfg:8:18: error: http-request set-var: expected a sample expression"])
        #expect(ruleErrors("    http-request set-log-level loud")
                == ["t.cfg:8:32: error: http-request set-log-level: expected a level like info or 'silent', got 'loud'"])
        #expect(ruleErrors("    http-request capture path lenn 10")
                == ["t.cfg:8:31: error: http-request capture: expected 'len' after the sample, got 'lenn'"])
        #expect(ruleErrors("    http-request capture path id 0")
                == ["t.cfg:8:31: error: http-request capture: 'id' (with 'declare capture') is not supported by Weir yet"])
        #expect(ruleErrors("    http-request return string hi")
                == ["t.cfg:8:25: error: http-request return: 'content-type' is required with 'string'"])
        #expect(ruleErrors("    http-request return content-type a/b string hi file /etc/hostname")
                == ["t.cfg:8:52: error: http-request return: 'file' and 'string' both give the body; keep one"])
        #expect(ruleErrors("    http-request return file /nonexistent")
                == ["t.cfg:8:30: error: http-request return: file: cannot read '/nonexistent': No such file or directory"])
        #expect(ruleErrors("    http-request redirect place /x")
                == ["t.cfg:8:27: error: http-request redirect: expected 'location', 'prefix' or 'scheme', got 'place'"])
        #expect(ruleErrors("    redirect location /x code 304")
                == ["t.cfg:8:31: error: redirect code: expected 301, 302, 303, 307 or 308, got '304'"])
        #expect(ruleErrors("    redirect location /x drop_query")
                == ["t.cfg:8:26: error: redirect: unexpected 'drop_query'; expected code, drop-query, append-slash, "
                    + "set-cookie, clear-cookie, ignore-empty, 'if' or 'unless' (did you mean 'drop-query'?)"])
        #expect(ruleErrors("    http-request redirect location /x keep-query")
                == ["t.cfg:8:39: error: http-request redirect: 'keep-query' is not supported by Weir yet"])
        #expect(ruleErrors("    redirect location") == ["t.cfg:8:14: error: redirect location: expected a value"])
        #expect(ruleErrors("    tcp-request conection accept")
                == ["t.cfg:8:17: error: tcp-request: expected 'connection', 'content' or 'inspect-delay', got 'conection' "
                    + "(did you mean 'connection'?)"])
        #expect(ruleErrors("    tcp-request content accpet")
                == ["t.cfg:8:25: error: tcp-request content: unknown action 'accpet'; expected 'accept', 'reject' or "
                    + "'silent-drop' (did you mean 'accept'?)"])
        #expect(ruleErrors("    tcp-request connection expect-proxy")
                == ["t.cfg:8:28: error: tcp-request connection expect-proxy: expected 'layer4'"])
        #expect(ruleErrors("    tcp-request connection expect-proxy layer7")
                == ["t.cfg:8:41: error: tcp-request connection expect-proxy: expected 'layer4'"])
        #expect(ruleErrors("    tcp-request content expect-proxy layer4")
                == ["t.cfg:8:25: error: 'tcp-request content expect-proxy' is not allowed: the PROXY header is read "
                    + "at layer 4, by 'tcp-request connection expect-proxy layer4'"])
        #expect(ruleErrors("    http-request deny if") == ["t.cfg:8:23: error: http-request deny: expected a condition after 'if'"])
        #expect(errors(httpDefaults + "backend be\n    tcp-request connection reject\n")
                == ["t.cfg:7:17: error: 'tcp-request connection' is not allowed in a 'backend' section"])
        #expect(errors("defaults\n    http-request deny\n") == ["t.cfg:2:5: error: 'http-request' is not allowed in a 'defaults' section"])
    }
}
