import Testing
@testable import WeirConfig

/// Proxy keywords of HTTP mode besides rules: options, timeouts, captures,
/// error pages, persistence, balancing by content, user lists, tunables.
@Suite struct HTTPKeywordTests {
    func build(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Configuration? {
        config(httpDefaults + text, sourceLocation: sourceLocation)
    }

    func frontend(_ lines: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Frontend? {
        build("frontend fe\n    bind :80\n" + lines + "\n    default_backend be\nbackend be\n",
              sourceLocation: sourceLocation)?.frontends.first
    }

    func backend(_ lines: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Backend? {
        build("backend be\n" + lines + "\n", sourceLocation: sourceLocation)?.backends.first
    }

    func proxyErrors(_ text: String) -> [String] { errors(httpDefaults + text) }

    // MARK: Options

    @Test func forwardFor() throws {
        #expect(frontend("    option forwardfor")?.forwardFor == ForwardedHeader(header: "X-Forwarded-For"))
        #expect(frontend("    option forwardfor except 127.0.0.0/8 header X-Client-IP if-none")?.forwardFor
                == ForwardedHeader(header: "X-Client-IP", except: [IPNetwork(address: v4(127, 0, 0, 0), prefixLength: 8)],
                                   ifNone: true))
        #expect(frontend("    option originalto except 10.0.0.1")?.originalTo
                == ForwardedHeader(header: "X-Original-To", except: [IPNetwork(address: v4(10, 0, 0, 1), prefixLength: 32)]))
        #expect(frontend("    option forwardfor\n    no option forwardfor")?.forwardFor == nil)
        let c = try #require(config("""
            defaults
                mode http
                option forwardfor
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend fe
                bind :80
                default_backend be
            backend be
                option originalto header X-Dst
            """))
        #expect(c.frontends[0].forwardFor?.header == "X-Forwarded-For")
        #expect(c.backends[0].forwardFor?.header == "X-Forwarded-For")
        #expect(c.backends[0].originalTo?.header == "X-Dst")
    }

    @Test func connectionModes() {
        #expect(frontend("")?.connectionMode == .keepAlive)
        #expect(frontend("    option http-server-close")?.connectionMode == .serverClose)
        #expect(frontend("    option httpclose")?.connectionMode == .close)
        #expect(frontend("    option httpclose\n    option http-keep-alive")?.connectionMode == .keepAlive)
        #expect(frontend("    option httpclose\n    no option httpclose")?.connectionMode == .keepAlive)
        #expect(frontend("    option httpclose\n    no option http-server-close")?.connectionMode == .close)
        #expect(backend("    option http-server-close")?.connectionMode == .serverClose)
    }

    @Test func httpReuse() {
        #expect(backend("")?.httpReuse == .safe)
        #expect(backend("    http-reuse always")?.httpReuse == .always)
        #expect(backend("    http-reuse never")?.httpReuse == .never)
        #expect(proxyErrors("backend be\n    http-reuse agressive\n")
                == ["t.cfg:7:16: error: http-reuse: expected never, safe, aggressive or always, got 'agressive' (did you mean 'aggressive'?)"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    http-reuse safe\n")
                .contains("t.cfg:8:5: error: 'http-reuse' is not allowed in a 'frontend' section"))
    }

    @Test func compression() throws {
        let fe = try #require(frontend("    compression algo gzip deflate\n    compression algo raw-deflate\n"
                                       + "    compression type text/html\n    compression type text/plain application/json\n"
                                       + "    compression offload"))
        let compression = try #require(fe.compression)
        // The last configured first, as HAProxy keeps them.
        #expect(compression.algorithms == [.rawDeflate, .deflate, .gzip])
        #expect(compression.types == ["text/html", "text/plain", "application/json"])
        #expect(compression.offload)
        #expect(frontend("")?.compression == nil)
        #expect(backend("    compression algo identity")?.compression?.algorithms == [.identity])
        #expect(proxyErrors("backend be\n    compression algo gzip brotli\n")
                == ["t.cfg:7:27: error: compression algo: 'brotli' is not a supported algorithm (identity, gzip, deflate or raw-deflate)"])
        #expect(proxyErrors("backend be\n    compression algo\n")
                == ["t.cfg:7:17: error: compression algo: expected at least one of identity, gzip, deflate or raw-deflate"])
        #expect(proxyErrors("backend be\n    compression typ text/html\n")
                == ["t.cfg:7:17: error: compression: unexpected 'typ'; expected algo, type or offload (did you mean 'type'?)"])
        #expect(proxyErrors("backend be\n    compression type\n")
                == ["t.cfg:7:17: error: compression type: expected at least one MIME type"])
        #expect(proxyErrors("backend be\n    compression offload now\n").count == 1)
    }

    @Test func compressionInDefaults() throws {
        let text = """
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                compression algo gzip
                compression type text/
                compression offload
            frontend fe
                bind :80
                compression algo deflate
                default_backend be
            backend be
            """
        #expect(warnings(text) == ["t.cfg:8:17: warning: 'compression offload' is ignored in a 'defaults' section"])
        let c = try #require(config(text))
        // A section's algorithms add to the defaults' ones.
        #expect(c.frontends[0].compression?.algorithms == [.deflate, .gzip])
        #expect(c.frontends[0].compression?.offload == false)
        #expect(c.backends[0].compression?.types == ["text/"])
    }

    @Test func compressionInTCPModeIsIgnoredWithAWarning() {
        #expect(warnings("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            listen db
                bind :5432
                compression algo gzip
                server s1 10.0.0.1:5432
            """) == ["t.cfg:7:5: warning: compression: ignored in listen 'db', which is in mode tcp; it compresses HTTP responses"])
    }

    @Test func httpTimeouts() throws {
        let c = try #require(config("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                timeout http-request 10s
                timeout http-keep-alive 2s
                timeout tarpit 3s
            frontend fe
                bind :80
                timeout http-keep-alive 500
                default_backend be
            backend be
            """))
        #expect(c.frontends[0].timeouts.httpRequest == 10_000)
        #expect(c.frontends[0].timeouts.httpKeepAlive == 500)
        #expect(c.frontends[0].timeouts.tarpit == 3000)
        #expect(warnings(timeoutDefaults + "backend be\n    timeout http-request 1s\n")
                == ["t.cfg:6:13: warning: 'timeout http-request' is ignored in a 'backend' section: it applies to frontends"])
    }

    @Test func tunables() throws {
        let g = try #require(config("global\n    tune.http.maxhdr 200\n    tune.maxrewrite 4096\n")?.global)
        #expect(g.maxHeaders == 200 && g.maxRewrite == 4096)
        let d = try #require(config("global\n")?.global)
        #expect(d.maxHeaders == 101 && d.maxRewrite == 1024)
        let big = parse("global\n    tune.bufsize 4096\n    tune.maxrewrite 4000\n")
        #expect(messages(big, .warning)
                == ["t.cfg:3:21: warning: tune.maxrewrite 4000 is more than half of tune.bufsize 4096: reduced to 2048"])
        #expect(big.configuration?.global.maxRewrite == 2048)
        #expect(errors("global\n    tune.http.maxhdr 0\n")
                == ["t.cfg:2:22: error: tune.http.maxhdr: expected a number between 1 and 32767, got '0'"])
    }

    @Test func wakeupCoalescing() throws {
        #expect(try #require(config("global\n")?.global).wakeupCoalesceMicroseconds == 300)
        #expect(try #require(config("global\n    tune.wakeup-coalesce 50us\n")?.global).wakeupCoalesceMicroseconds == 50)
        #expect(try #require(config("global\n    tune.wakeup-coalesce 1ms\n")?.global).wakeupCoalesceMicroseconds == 1000)
        #expect(try #require(config("global\n    tune.wakeup-coalesce 0\n")?.global).wakeupCoalesceMicroseconds == 0)
        #expect(errors("global\n    tune.wakeup-coalesce 2ms\n")
                == ["t.cfg:2:26: error: tune.wakeup-coalesce: expected a duration from 0 to 1ms like 30us, got '2ms'"])
        // A bare number is milliseconds, as for every HAProxy duration.
        #expect(errors("global\n    tune.wakeup-coalesce 30 us\n")
                == ["t.cfg:2:26: error: tune.wakeup-coalesce: expected a duration from 0 to 1ms like 30us, got '30'",
                    "t.cfg:2:29: error: unexpected argument 'us' after 'tune.wakeup-coalesce'"])
        #expect(errors("global\n    tune.wakeup-coalesce\n")
                == ["t.cfg:2:5: error: tune.wakeup-coalesce: expected a duration from 0 to 1ms like 30us"])
    }

    // MARK: Captures

    @Test func captures() throws {
        let fe = try #require(frontend("""
                capture request header Host len 64
                capture request header User-Agent len 128
                capture response header Content-Length len 10
            """))
        #expect(fe.requestCaptures == [HeaderCapture(name: "Host", length: 64), HeaderCapture(name: "User-Agent", length: 128)])
        #expect(fe.responseCaptures == [HeaderCapture(name: "Content-Length", length: 10)])
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture request header Host\n")
                == ["t.cfg:8:28: error: capture request header: expected 'len' and a length after the header name"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture request header Host len 0\n")
                == ["t.cfg:8:37: error: capture request header len: expected a number between 1 and 65535, got '0'"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture requets header Host len 1\n")
                == ["t.cfg:8:13: error: capture: expected 'request header' or 'response header', got 'requets' (did you mean 'request'?)"])
        #expect(proxyErrors("backend be\n    capture request header Host len 1\n")
                == ["t.cfg:7:5: error: 'capture' is not allowed in a 'backend' section"])
        let cookie = try #require(frontend("    capture cookie SRV len 32"))
        #expect(cookie.cookieCapture == HeaderCapture(name: "SRV", length: 32))
        #expect(fe.cookieCapture == nil)
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture cookie A len 4\n    capture cookie B len 4\n")
                == ["t.cfg:9:5: error: capture cookie: only one is allowed in a section; the first is at t.cfg:8:5"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture cookie A\n")
                == ["t.cfg:8:20: error: capture cookie: expected 'len' and a length after the cookie name"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    capture cookie A len 4 x\n").count == 1)
    }

    // MARK: Error pages

    @Test func errorPages() throws {
        let page = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nCache-Control: no-cache\r\n\r\n<h1>down</h1>\n"
        let file = temporaryFile(page)
        let empty = temporaryFile("")
        let fe = try #require(frontend("""
                errorfile 503 \(file)
                errorfile 408 \(empty)
                errorloc 403 https://example.com/forbidden
                errorloc303 404 /not-found
                http-error status 429 content-type text/plain string "slow down" hdr Retry-After 30
            """))
        #expect(fe.errorPages[503] == .raw(Array(page.utf8)))
        #expect(fe.errorPages[408] == .raw([]))
        #expect(fe.errorPages[403] == .redirect(code: 302, location: "https://example.com/forbidden"))
        #expect(fe.errorPages[404] == .redirect(code: 303, location: "/not-found"))
        #expect(fe.errorPages[429] == .response(ReturnSpec(status: 429, contentType: "text/plain", body: .bytes(Array("slow down".utf8)),
                                                          headers: [ReturnHeader(name: "Retry-After", value: LogFormat(nodes: [.literal(Array("30".utf8))]))])))
        // Inherited from defaults, and on backends.
        let c = try #require(config(httpDefaults.replacing("    mode http\n", with: "    mode http\n    errorfile 503 \(file)\n")
                                    + "backend be\n"))
        #expect(c.backends[0].errorPages[503] == .raw(Array(page.utf8)))
    }

    @Test func httpErrorsSections() throws {
        let page503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\ndown\n"
        let page404 = "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\ngone\n"
        let own503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nown\n"
        let (f503, f404, fOwn) = (temporaryFile(page503), temporaryFile(page404), temporaryFile(own503))
        let c = try #require(config(httpDefaults + """
            frontend fe
                bind :80
                errorfiles site 404
                default_backend be
            backend be
                errorfiles site
                errorfile 503 \(fOwn)
            http-errors site
                errorfile 503 \(f503)
                errorfile 404 \(f404)

            """))
        // The section comes after the proxies that use it; a proxy imports
        // every page or the codes it names; its own errorfile wins.
        #expect(c.frontends[0].errorPages == [404: .raw(Array(page404.utf8))])
        #expect(c.backends[0].errorPages[404] == .raw(Array(page404.utf8)))
        #expect(c.backends[0].errorPages[503] == .raw(Array(own503.utf8)))
        #expect(errors(httpDefaults + """
            backend be
                errorfiles sit
            http-errors site
                errorfile 503 \(f503)
                errorloc 503 /x
            http-errors site

            """) == [
            "t.cfg:10:5: error: unknown keyword 'errorloc' in 'http-errors' section; expected 'errorfile'",
            "t.cfg:11:13: error: http-errors 'site' is already defined at t.cfg:8:13",
            "t.cfg:7:16: error: errorfiles: no 'http-errors' section named 'sit'; did you mean 'site'?",
        ])
    }

    @Test func errorPageErrors() {
        let bad = temporaryFile("<h1>not a response</h1>\n")
        let noEnd = temporaryFile("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n")
        #expect(proxyErrors("backend be\n    errorfile 503 \(bad)\n")
                == ["t.cfg:7:19: error: errorfile: '\(bad)' is not a valid HTTP response: it must start with a status line "
                    + "like 'HTTP/1.1 503 Service Unavailable', got '<h1>not a response</h1>'"])
        #expect(proxyErrors("backend be\n    errorfile 503 \(noEnd)\n")
                == ["t.cfg:7:19: error: errorfile: '\(noEnd)' is not a valid HTTP response: the headers must end with an empty line"])
        #expect(proxyErrors("backend be\n    errorfile 503 /nonexistent/503.http\n")
                == ["t.cfg:7:19: error: errorfile: cannot read '/nonexistent/503.http': No such file or directory"])
        #expect(proxyErrors("backend be\n    errorfile 418 /dev/null\n")
                == ["t.cfg:7:15: error: errorfile: status 418 cannot be customised; expected one of 200, 400, 401, 403, 404, "
                    + "405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504"])
        #expect(proxyErrors("backend be\n    errorloc 503\n") == ["t.cfg:7:14: error: errorloc: expected a URL after the status"])
        #expect(proxyErrors("backend be\n    http-error 503\n") == ["t.cfg:7:16: error: http-error: expected 'status' and a status code"])
        #expect(proxyErrors("backend be\n    http-error status 503 string x\n")
                == ["t.cfg:7:27: error: http-error: 'content-type' is required with 'string'"])
    }

    // MARK: Balancing by content

    @Test(arguments: [
        ("uri", BalanceAlgorithm.uri(whole: false, length: nil, depth: nil)),
        ("uri whole len 20 depth 3", .uri(whole: true, length: 20, depth: 3)),
        ("url_param userid", .urlParam("userid")),
        ("url_param userid check_post", .urlParam("userid", checkPost: true)),
        ("url_param userid check_post 128", .urlParam("userid", checkPost: true)),
        ("hdr(host)", .header("host")),
        ("hdr(Host) use_domain_only", .header("Host", domainOnly: true)),
        ("hash req.cook(sid)", .hash(Sample(fetch: .cookie("sid")))),
        ("hash path,lower", .hash(Sample(fetch: .path, converters: [.lower]))),
    ])
    func balanceByContent(text: String, expected: BalanceAlgorithm) {
        #expect(backend("    balance \(text)")?.balance == expected)
    }

    @Test func balanceErrors() {
        #expect(proxyErrors("backend be\n    balance uri dpth 2\n")
                == ["t.cfg:7:17: error: balance uri: unexpected 'dpth'; expected whole, len or depth (did you mean 'depth'?)"])
        #expect(proxyErrors("backend be\n    balance url_param\n") == ["t.cfg:7:13: error: balance url_param: expected a parameter name"])
        #expect(proxyErrors("backend be\n    balance hdr\n") == ["t.cfg:7:13: error: balance hdr: expected a header name, as in hdr(host)"])
        #expect(proxyErrors("backend be\n    balance hash res.hdr(x)\n")
                == ["t.cfg:7:18: error: balance hash: this sample needs the HTTP response, which is not available before the response arrives"])
        #expect(proxyErrors("backend be\n    balance url_param id check_post soon\n")
                == ["t.cfg:7:37: error: balance url_param check_post: expected a number, got 'soon'"])
    }

    @Test func hashType() {
        #expect(backend("")?.hashType == HashType(method: .mapBased, function: .sdbm, avalanche: false))
        #expect(backend("    hash-type consistent")?.hashType == HashType(method: .consistent))
        #expect(backend("    hash-type consistent djb2 avalanche")?.hashType
                == HashType(method: .consistent, function: .djb2, avalanche: true))
        #expect(backend("    hash-type map-based crc32")?.hashType == HashType(method: .mapBased, function: .crc32))
        #expect(proxyErrors("backend be\n    hash-type consistant\n")
                == ["t.cfg:7:15: error: hash-type: expected 'map-based' or 'consistent', got 'consistant' (did you mean 'consistent'?)"])
        #expect(proxyErrors("backend be\n    hash-type consistent md5\n")
                == ["t.cfg:7:26: error: hash-type: unexpected 'md5'; expected a function (sdbm, djb2, wt6, crc32, none) then 'avalanche'"])
    }

    // MARK: Persistence

    @Test func cookiePersistence() throws {
        let be = try #require(backend("""
                cookie SRVID insert indirect nocache httponly secure domain .example.com domain .example.org maxidle 30m maxlife 8h attr SameSite=Lax
                server s1 10.0.0.1:80 cookie s1
                server s2 10.0.0.2:80 cookie "web 2" weight 5
                server s3 10.0.0.3:80
            """))
        var expected = CookiePersistence(name: "SRVID", mode: .insert)
        expected.indirect = true
        expected.noCache = true
        expected.httpOnly = true
        expected.secure = true
        expected.domains = [".example.com", ".example.org"]
        expected.maxIdle = 1_800_000
        expected.maxLife = 28_800_000
        expected.attributes = ["SameSite=Lax"]
        #expect(be.cookie == expected)
        #expect(be.servers.map(\.cookie) == ["s1", "web 2", nil])
        #expect(be.servers[1].weight == 5)
        #expect(backend("    cookie JSESSIONID prefix")?.cookie == CookiePersistence(name: "JSESSIONID", mode: .prefix))
        #expect(backend("    cookie SRV")?.cookie == CookiePersistence(name: "SRV", mode: .passive))
        #expect(backend("    cookie SRV rewrite")?.cookie?.mode == .rewrite)
    }

    @Test func cookieErrors() {
        #expect(proxyErrors("backend be\n    cookie\n") == ["t.cfg:7:5: error: cookie: expected a cookie name"])
        #expect(proxyErrors("backend be\n    cookie S insert rewrite\n")
                == ["t.cfg:7:21: error: cookie: 'rewrite' conflicts with 'insert'; choose one of insert, rewrite and prefix"])
        #expect(proxyErrors("backend be\n    cookie S insert nocahe\n")
                == ["t.cfg:7:21: error: cookie: unknown option 'nocahe'; did you mean 'nocache'?"])
        #expect(proxyErrors("backend be\n    cookie S rewrite nocache\n")
                == ["t.cfg:7:12: error: cookie: 'nocache', 'postonly', 'maxidle' and 'maxlife' need 'insert'"])
        #expect(proxyErrors("backend be\n    cookie S insert maxidle soon\n")
                == ["t.cfg:7:29: error: cookie maxidle: expected a duration like 5s, got 'soon'"])
        #expect(proxyErrors("backend be\n    server s 10.0.0.1:80 cookie\n") == ["t.cfg:7:26: error: cookie: expected a value"])
        #expect(proxyErrors("backend be\n    default-server cookie x\n")
                == ["t.cfg:7:20: error: 'cookie' is not allowed in 'default-server': each server needs its own"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    cookie S insert\n")
                .contains("t.cfg:8:5: error: 'cookie' is not allowed in a 'frontend' section"))
    }

    @Test func persistRules() throws {
        let be = try #require(backend("""
                option persist
                force-persist if { src 10.0.0.0/8 }
                ignore-persist unless { path_beg /app }
            """))
        #expect(be.persist)
        #expect(be.forcePersist.count == 1)
        #expect(be.forcePersist[0].alternatives[0][0].acls[0].sample.fetch == .src)
        #expect(be.ignorePersist.count == 1 && be.ignorePersist[0].negated)
        #expect(backend("")?.persist == false)
        #expect(proxyErrors("backend be\n    force-persist\n") == ["t.cfg:7:5: error: force-persist: expected 'if' or 'unless' and a condition"])
        #expect(proxyErrors("frontend fe\n    bind :80\n    ignore-persist if TRUE\n")
                .contains("t.cfg:8:5: error: 'ignore-persist' in a 'frontend' section is not supported by Weir yet; write it in the backend"))
    }

    // MARK: User lists

    @Test func userlists() throws {
        let c = try #require(build("""
            userlist admins
                group ops users carol
                group dev
                user alice password $6$salt$hash groups dev,ops
                user bob insecure-password secret
                user carol insecure-password s3
            frontend fe
                bind :80
                http-request auth realm Admin if !{ http_auth(admins) }
                http-request deny unless { http_auth_group(admins) ops }
                default_backend be
            backend be
            """))
        let list = try #require(c.userlists.first)
        #expect(list.name == "admins")
        #expect(list.users.map(\.name) == ["alice", "bob", "carol"])
        #expect(list.users[0].password == .hashed("$6$salt$hash"))
        #expect(list.users[1].password == .insecure("secret"))
        #expect(list.users.map(\.groups) == [["dev", "ops"], [], ["ops"]])
        #expect(list.groups.map(\.users) == [["carol", "alice"], ["alice"]])
        let rules = c.frontends[0].httpRequestRules
        #expect(rules[0].condition.alternatives[0][0].acls[0].sample.fetch == .httpAuth(userlist: 0))
        #expect(rules[1].condition.alternatives[0][0].acls[0].sample.fetch == .httpAuthGroup(userlist: 0))
        #expect(rules[1].condition.alternatives[0][0].acls[0].match.strings == ["ops"])
    }

    @Test func userlistErrors() {
        #expect(proxyErrors("""
            userlist admins
                user alice insecure-password x groups wheel
                group ops users bob
                user carol
                user carol insecure-password x
                user carol insecure-password y
                pasword x
            frontend fe
                bind :80
                http-request deny if !{ http_auth(admin) }
                default_backend be
            backend be
            """) == [
            "t.cfg:9:10: error: user 'carol': expected 'password HASH' or 'insecure-password TEXT'",
            "t.cfg:11:10: error: user 'carol' is already defined in userlist 'admins'",
            "t.cfg:12:5: error: unknown keyword 'pasword' in 'userlist' section",
            "t.cfg:7:10: error: user 'alice': no group named 'wheel' in userlist 'admins'",
            "t.cfg:8:11: error: group 'ops': no user named 'bob' in userlist 'admins'",
            "t.cfg:15:29: error: no userlist named 'admin'; did you mean 'admins'?",
        ])
    }
}
