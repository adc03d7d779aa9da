import Testing
@testable import WeirConfig

/// `acl` lines, patterns and conditions: what the model holds for each form.
@Suite struct ACLTests {
    /// The ACLs named `x` of a frontend that declares `lines`.
    func acl(_ lines: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [ACL] {
        let text = httpDefaults + "frontend fe\n    bind :80\n" + lines + "\n    use_backend be if x\nbackend be\n"
        guard let c = config(text, sourceLocation: sourceLocation) else { return [] }
        let terms = c.frontends[0].useBackends[0].condition.alternatives.first ?? []
        return terms.first?.acls ?? []
    }

    /// The condition of `use_backend be COND` after `lines`.
    func condition(_ lines: String, _ cond: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Condition? {
        let text = httpDefaults + "frontend fe\n    bind :80\n" + lines + "\n    use_backend be \(cond)\nbackend be\n"
        return config(text, sourceLocation: sourceLocation)?.frontends[0].useBackends[0].condition
    }

    func aclErrors(_ lines: String) -> [String] {
        errors(httpDefaults + "frontend fe\n    bind :80\n" + lines + "\n    default_backend be\nbackend be\n")
    }

    @Test(arguments: [
        ("path_beg /api", Fetch.path, MatchMethod.beg, ["/api"]),
        ("path_end .jpg .png", .path, .end, [".jpg", ".png"]),
        ("path_sub admin", .path, .sub, ["admin"]),
        ("path_dir img", .path, .dir, ["img"]),
        ("path_reg ^/v[0-9]+/", .path, .reg, ["^/v[0-9]+/"]),
        ("path /", .path, .str, ["/"]),
        ("url_beg /static", .url, .beg, ["/static"]),
        ("base_dom example.com", .base, .dom, ["example.com"]),
        ("query a=1", .query, .str, ["a=1"]),
        ("method GET POST", .method, .str, ["GET", "POST"]),
        ("req.ver 1.1", .reqVer, .str, ["1.1"]),
        ("hdr(host) www.example.com", .hdr(name: "host", occurrence: nil), .str, ["www.example.com"]),
        ("hdr_dom(host) example.com", .hdr(name: "host", occurrence: nil), .dom, ["example.com"]),
        ("hdr_beg(host) www.", .hdr(name: "host", occurrence: nil), .beg, ["www."]),
        ("req.hdr(host,1) a", .hdr(name: "host", occurrence: 1), .str, ["a"]),
        ("req.hdr(x-forwarded-for,-1) a", .hdr(name: "x-forwarded-for", occurrence: -1), .str, ["a"]),
        ("req.fhdr(user-agent) curl", .fhdr(name: "user-agent", occurrence: nil), .str, ["curl"]),
        ("url_param(id) 7", .urlParam("id"), .str, ["7"]),
        ("urlp_beg(lang) en", .urlParam("lang"), .beg, ["en"]),
        ("cook(SESSION) x", .cookie("SESSION"), .str, ["x"]),
        ("req.cook(SESSION) -m found", .cookie("SESSION"), .found, []),
        ("shdr(server) nginx", .resHdr(name: "server", occurrence: nil), .str, ["nginx"]),
        ("res.hdr(content-type) -m beg text/", .resHdr(name: "content-type", occurrence: nil), .beg, ["text/"]),
        ("var(txn.user) bob", .variable(scope: .txn, name: "user"), .str, ["bob"]),
        ("str(abc) abc", .constant("abc"), .str, ["abc"]),
        ("unique-id -m found", .uniqueID, .found, []),
        ("path -m sub -i Admin", .path, .sub, ["Admin"]),
        ("ssl_c_sha1 9C03BF2913A693B0BFFE62C9C90E2192335A9C11", .sslCertificate(.sha1, client: true), .bin,
         ["9C03BF2913A693B0BFFE62C9C90E2192335A9C11"]),
        ("ssl_f_serial -m str x", .sslCertificate(.serial, client: false), .str, ["x"]),
        ("ssl_c_s_dn(cn) -m beg client", .sslCertificate(.subjectDN(DNSelection(entry: "cn")), client: true), .beg, ["client"]),
        ("ssl_f_i_dn(OU,-1) Ops", .sslCertificate(.issuerDN(DNSelection(entry: "OU", occurrence: -1)), client: false), .str, ["Ops"]),
        ("ssl_c_i_dn(,0,rfc2253) CN=x", .sslCertificate(.issuerDN(DNSelection(rfc2253: true)), client: true), .str, ["CN=x"]),
        ("ssl_c_notafter -m beg 26", .sslCertificate(.notAfter, client: true), .beg, ["26"]),
    ])
    func stringACLs(line: String, fetch: Fetch, method: MatchMethod, patterns: [String]) {
        let a = acl("    acl x \(line)")
        #expect(a.count == 1)
        #expect(a.first?.sample == Sample(fetch: fetch))
        #expect(a.first?.match.method == method)
        #expect(a.first?.match.strings == patterns)
        #expect(a.first?.name == "x")
    }

    @Test func integerACLs() {
        let cnt = acl("    acl x hdr_cnt(host) gt 1")
        #expect(cnt.first?.sample.fetch == .hdrCount("host"))
        #expect(cnt.first?.match == Match(method: .int, integers: [2...Int64.max]))
        #expect(acl("    acl x hdr_cnt 0").first?.sample.fetch == .hdrCount(nil))
        #expect(acl("    acl x hdr_len(host) 0:10").first?.match == Match(method: .len, integers: [0...10]))
        #expect(acl("    acl x hdr_val(content-length) ge 1024").first?.match
                == Match(method: .int, integers: [1024...Int64.max]))
        #expect(acl("    acl x hdr_val(content-length) ge 1024").first?.sample.fetch
                == .hdr(name: "content-length", occurrence: nil))
        #expect(acl("    acl x path_len lt 5 100: :2 eq 7 le -1").first?.match.integers
                == [Int64.min...4, 100...Int64.max, Int64.min...2, 7...7, Int64.min...(-1)])
        #expect(acl("    acl x int(-3) -- -3 -5:-4").first?.match.integers == [-3...(-3), -5...(-4)])
        #expect(acl("    acl x int(-3) -3").first?.match.integers == [-3...(-3)])
        #expect(acl("    acl x status 500:599").first?.sample.fetch == .status)
        #expect(acl("    acl x src_port 1024:").first?.match == Match(method: .int, integers: [1024...Int64.max]))
        #expect(acl("    acl x dst_port 80 443").first?.match == Match(method: .int, integers: [80...80, 443...443]))
        #expect(acl("    acl x cook_cnt(id) 1").first?.sample.fetch == .cookieCount("id"))
        #expect(acl("    acl x int(5) 5").first?.sample.fetch == .constant("5"))
        #expect(acl("    acl x nbsrv(be) lt 1").first?.sample.fetch == .nbsrv(backend: 0))
    }

    @Test func networkACLs() {
        let a = acl("    acl x src 10.0.0.0/8 192.168.1.1 172.16.0.0/255.240.0.0 2001:db8::/32")
        #expect(a.first?.sample.fetch == .src)
        #expect(a.first?.match.method == .ip)
        #expect(a.first?.match.networks == [
            IPNetwork(address: v4(10, 0, 0, 0), prefixLength: 8),
            IPNetwork(address: v4(192, 168, 1, 1), prefixLength: 32),
            IPNetwork(address: v4(172, 16, 0, 0), prefixLength: 12),
            IPNetwork(address: Addresses.parseIPv6("2001:db8::")!, prefixLength: 32),
        ])
        let h = acl("    acl x hdr_ip(x-forwarded-for) 10.0.0.0/8")
        #expect(h.first?.match.method == .ip)
        #expect(acl("    acl x req.hdr(x-real-ip) -m ip 10.1.0.0/16").first?.match.networks
                == [IPNetwork(address: v4(10, 1, 0, 0), prefixLength: 16)])
    }

    @Test func flags() {
        let b = acl("    acl x hdr(host) -i -n -u 3 -- -dash -i")
        #expect(b.first?.match == Match(method: .str, ignoreCase: true, strings: ["-dash", "-i"]))
    }

    @Test func aclLinesOfOneNameAreAlternatives() {
        let a = acl("    acl x path_beg /a\n    acl y path_beg /y\n    acl x src 10.0.0.1")
        #expect(a.map(\.sample.fetch) == [.path, .src])
        #expect(a.map(\.location.line) == [8, 10])
        #expect(a.map(\.location.column) == [9, 9])
    }

    @Test func conditionStructure() throws {
        let lines = "    acl a path_beg /a\n    acl b method POST\n    acl c src 10.0.0.1"
        let c = try #require(condition(lines, "if a !b || ! c or { hdr(host) x } !{ path / }"))
        #expect(c.negated == false)
        #expect(c.alternatives.map { $0.map(\.name) } == [["a", "b"], ["c"], ["", ""]])
        #expect(c.alternatives.map { $0.map(\.negated) } == [[false, true], [true], [false, true]])
        #expect(c.alternatives[2][0].acls.first?.sample.fetch == .hdr(name: "host", occurrence: nil))
        #expect(c.alternatives[2][0].acls.first?.name == "")
        #expect(c.alternatives[2][0].acls.first?.location == WeirConfig.SourceLocation(file: "t.cfg", line: 11, column: 40))
        let u = try #require(condition(lines, "unless a"))
        #expect(u.negated)
        #expect(u.alternatives.map { $0.map(\.name) } == [["a"]])
    }

    @Test func constantsFold() {
        let a = "    acl a path_beg /a\n    acl t always_true\n    acl f always_false"
        #expect(condition(a, "if TRUE") == .always)
        #expect(condition(a, "if FALSE") == .never)
        #expect(condition(a, "unless TRUE") == .never)
        #expect(condition(a, "unless FALSE") == .always)
        #expect(condition(a, "if !TRUE || t") == .always)
        #expect(condition(a, "if a f") == .never)
        #expect(condition(a, "if a f || FALSE") == .never)
        #expect(condition(a, "if a TRUE")?.alternatives.map { $0.map(\.name) } == [["a"]])
        #expect(condition(a, "if a || t") == .always)
        #expect(condition(a, "if { always_false } || a")?.alternatives.map { $0.map(\.name) } == [["a"]])
    }

    @Test func predefinedACLs() throws {
        let c = try #require(condition("", "if METH_GET LOCALHOST HTTP_1.1 !HTTP_URL_SLASH"))
        let terms = c.alternatives[0]
        #expect(terms[0].acls.first?.match == Match(method: .str, strings: ["GET", "HEAD"]))
        #expect(terms[0].acls.first?.sample.fetch == .method)
        #expect(terms[1].acls.first?.sample.fetch == .src)
        #expect(terms[1].acls.first?.match.networks.first == IPNetwork(address: v4(127, 0, 0, 1), prefixLength: 8))
        #expect(terms[2].acls.first?.match == Match(method: .str, strings: ["1.1"]))
        #expect(terms[3].negated && terms[3].acls.first?.match == Match(method: .beg, strings: ["/"]))
        #expect(terms[1].acls.first?.location == WeirConfig.SourceLocation(file: "t.cfg", line: 9, column: 32))
        let l4 = try #require(condition("", "if HTTP RDP_COOKIE"))
        #expect(l4.alternatives[0][0].acls.first?.sample.fetch == .content(.protoHTTP))
        #expect(l4.alternatives[0][1].acls.first?.sample.fetch == .content(.rdpCookieCount(name: nil)))
        #expect(l4.alternatives[0][1].acls.first?.match == Match(method: .int, integers: [1...Int64.max]))
    }

    @Test func aclsDefinedAfterUseAreSeen() throws {
        let text = httpDefaults + """
            frontend fe
                bind :80
                use_backend be if late
                acl late path /late
            backend be
            """
        let c = try #require(config(text))
        #expect(c.frontends[0].useBackends[0].condition.alternatives[0][0].acls.first?.match.strings == ["/late"])
    }

    @Test func patternFiles() throws {
        let paths = temporaryFile("# blocked paths\n/admin\n\n   /private  \n#/not-this\n/secret\n")
        let nets = temporaryFile("10.0.0.0/8\n# office\n192.168.0.0/16\n::1\n")
        let a = acl("    acl x path_beg -i -f \(paths) /inline")
        #expect(a.first?.match == Match(method: .beg, ignoreCase: true, strings: ["/inline", "/admin", "/private", "/secret"]))
        let n = acl("    acl x src -f \(nets)")
        #expect(n.first?.match.networks.map(\.prefixLength) == [8, 16, 128])
        let m = acl("    acl x req.hdr(x-client) -m ip -f \(nets) -f \(nets)")
        #expect(m.first?.match.networks.count == 6)
    }

    @Test func patternFileErrorsPointIntoTheFile() {
        let nets = temporaryFile("10.0.0.0/8\n\n  10.0.0.300\n")
        #expect(aclErrors("    acl x src -f \(nets)")
                == ["\(nets):3:3: error: acl 'x': expected an IPv4 or IPv6 address or network, got '10.0.0.300'"])
        let regs = temporaryFile("^/ok\n(unclosed\n")
        #expect(aclErrors("    acl x path_reg -f \(regs)")
                == ["\(regs):2:1: error: acl 'x': invalid regular expression '(unclosed': Unmatched ( or \\("])
        #expect(aclErrors("    acl x path_beg -f /nonexistent/weir.lst")
                == ["t.cfg:8:23: error: acl 'x': -f: cannot read '/nonexistent/weir.lst': No such file or directory"])
    }

    @Test func converters() throws {
        let map = temporaryFile("# host to backend\nexample.com   be_a\nwww.example.org be_b with spaces\n")
        let a = acl("    acl x req.hdr(host),lower,map(\(map),none) -m str be_a")
        let converters = try #require(a.first?.sample.converters)
        #expect(converters.count == 2)
        #expect(converters[0] == .lower)
        #expect(converters[1] == .map(MapTable(method: .str, entries: [
            MapEntry(key: "example.com", value: "be_a"), MapEntry(key: "www.example.org", value: "be_b with spaces"),
        ], defaultValue: "none", file: map)))
        #expect(acl("    acl x path,field(2,/) api").first?.sample.converters == [.field(index: 2, delimiters: "/")])
        #expect(acl("    acl x path,word(-1,/) api").first?.sample.converters == [.word(index: -1, delimiters: "/")])
        #expect(acl("    acl x path,regsub(^/api/,/,gi) /").first?.sample.converters
                == [.regsub(pattern: "^/api/", replacement: "/", global: true, ignoreCase: true)])
        #expect(acl(#"    acl x path,regsub('(a|b)+',"x\,y") x"#).first?.sample.converters
                == [.regsub(pattern: "(a|b)+", replacement: "x,y", global: false, ignoreCase: false)])
        // Backreferences and regex escapes keep their backslash, quoted or not.
        #expect(acl(#"    acl x path,regsub("(foo|bar)([0-9]+)?","\2\1",i) x"#).first?.sample.converters
                == [.regsub(pattern: "(foo|bar)([0-9]+)?", replacement: #"\2\1"#, global: false, ignoreCase: true)])
        #expect(acl(#"    acl x path,regsub(^/a/(.*)\.html,/b/\1) x"#).first?.sample.converters
                == [.regsub(pattern: #"^/a/(.*)\.html"#, replacement: #"/b/\1"#, global: false, ignoreCase: false)])
        #expect(acl("    acl x src,ipmask(24,64) 10.0.0.0").first?.sample.converters == [.ipmask(v4: 24, v6: 64)])
        #expect(acl("    acl x src,ipmask(255.255.0.0) 10.0.0.0").first?.sample.converters == [.ipmask(v4: 16, v6: nil)])
        #expect(acl("    acl x path,url_dec,upper,base64,hex /").first?.sample.converters == [.urlDecode, .upper, .base64, .hex])
        // The converters' output type picks the default match.
        let len = acl("    acl x req.hdr(host),length gt 3")
        #expect(len.first?.match == Match(method: .int, integers: [4...Int64.max]))
        let ipmap = temporaryFile("10.0.0.0/8 internal\n0.0.0.0/0 external\n")
        let m = acl("    acl x src,map_ip(\(ipmap)) internal")
        if case .map(let table)? = m.first?.sample.converters.first {
            #expect(table.method == .ip)
            #expect(table.entries.map(\.network) == [IPNetwork(address: v4(10, 0, 0, 0), prefixLength: 8),
                                                     IPNetwork(address: v4(0, 0, 0, 0), prefixLength: 0)])
            #expect(table.defaultValue == nil)
        } else {
            Issue.record("expected a map converter")
        }
    }

    @Test func clientCertificateFetches() {
        #expect(aclErrors("    acl x ssl_c_used") == [])
        #expect(aclErrors("    acl x ssl_fc_has_crt") == [])
        #expect(aclErrors("    acl x ssl_c_verify 0") == [])
        #expect(aclErrors("    acl x ssl_c_s_dn(cn) -m beg client") == [])
        #expect(aclErrors("    acl x ssl_c_i_dn(OU,-1) Ops") == [])
        #expect(aclErrors("    acl x ssl_f_s_dn(,0,rfc2253) -m sub CN=") == [])
        #expect(aclErrors("    acl x ssl_c_serial 1234ABCD 0a") == [])
        #expect(aclErrors("    acl x ssl_c_sha1,hex -m str 9C03") == [])
        #expect(aclErrors("    acl x ssl_c_serial 123")
                == ["t.cfg:8:24: error: acl 'x': '-m bin' expects bytes in hexadecimal like 0A1B2C, got '123'"])
        #expect(aclErrors("    acl x path -m bin 2F zz")
                == ["t.cfg:8:26: error: acl 'x': '-m bin' expects bytes in hexadecimal like 0A1B2C, got 'zz'"])
        #expect(aclErrors("    acl x ssl_c_s_dn(cn,1,ldap) a")
                == ["t.cfg:8:11: error: acl 'x': 'ssl_c_s_dn': only rfc2253 or a blank value are currently supported as the "
                    + "format argument, got 'ldap'"])
        #expect(aclErrors("    acl x ssl_c_s_dn(cn,0) a")
                == ["t.cfg:8:11: error: acl 'x': 'ssl_c_s_dn': the occurrence of 'cn' cannot be 0; 1 is the first, -1 the last"])
        #expect(aclErrors("    acl x ssl_c_verify(1) 0") == ["t.cfg:8:11: error: acl 'x': 'ssl_c_verify' takes no argument"])
    }

    @Test func aclLineErrors() {
        #expect(aclErrors("    acl x pth_beg /a") == ["t.cfg:8:11: error: acl 'x': unknown fetch 'pth_beg'; did you mean 'path_beg'?"])
        #expect(aclErrors("    acl x hdr_dmo(host) a")
                == ["t.cfg:8:11: error: acl 'x': unknown fetch 'hdr_dmo'; did you mean 'hdr_dom'?"])
        #expect(aclErrors("    acl x ssl_fc") == [])
        #expect(aclErrors("    acl x ssl_fc_sni_end .example.com") == [])
        #expect(aclErrors("    acl x ssl_fc_session_id -m found")
                == ["t.cfg:8:11: error: acl 'x': fetch 'ssl_fc_session_id' is not supported by Weir yet"])
        #expect(aclErrors("    acl x path_reg ^/(a") == ["t.cfg:8:20: error: acl 'x': invalid regular expression '^/(a': Unmatched ( or \\("])
        #expect(aclErrors("    acl x") == ["t.cfg:8:9: error: acl 'x': expected a criterion like path_beg or hdr(host)"])
        #expect(aclErrors("    acl") == ["t.cfg:8:5: error: acl: expected a name and a criterion, as in 'acl is_api path_beg /api'"])
        #expect(aclErrors("    acl x path -m strr a")
                == ["t.cfg:8:19: error: acl 'x': unknown match method 'strr'; expected one of found, bool, int, ip, len, str, "
                    + "sub, reg, beg, end, dir, dom, bin (did you mean 'str'?)"])
        #expect(aclErrors("    acl x path -j a")
                == ["t.cfg:8:16: error: acl 'x': unknown flag '-j'; put '--' before a pattern that starts with '-' (did you mean '-i'?)"])
        #expect(aclErrors("    acl x path -m") == ["t.cfg:8:16: error: acl 'x': '-m' expects a value"])
        #expect(aclErrors("    acl x src 10.0.0.0/33")
                == ["t.cfg:8:15: error: acl 'x': invalid network '10.0.0.0/33': expected a prefix length between 0 and 32 or a netmask"])
        #expect(aclErrors("    acl x src localhost")
                == ["t.cfg:8:15: error: acl 'x': expected an IPv4 or IPv6 address or network, got 'localhost'"])
        #expect(aclErrors("    acl x hdr_cnt(host) many")
                == ["t.cfg:8:25: error: acl 'x': expected an integer or a range like 10:20, got 'many'"])
        #expect(aclErrors("    acl x hdr_cnt(host) gt") == ["t.cfg:8:25: error: acl 'x': expected a number after 'gt'"])
        #expect(aclErrors("    acl x path_len 9:2")
                == ["t.cfg:8:20: error: acl 'x': invalid range '9:2': the first number is higher than the last"])
        #expect(aclErrors("    acl x req.cook(a) -m found yes") == ["t.cfg:8:32: error: acl 'x': '-m found' takes no pattern, got 'yes'"])
        #expect(aclErrors("    acl x hdr /a") == ["t.cfg:8:11: error: acl 'x': 'hdr' expects a header name, as in hdr(host)"])
        #expect(aclErrors("    acl x hdr(host,x) a")
                == ["t.cfg:8:11: error: acl 'x': 'hdr': expected an occurrence number like 1 or -1, got 'x'"])
        #expect(aclErrors("    acl x hdr(host a") == ["t.cfg:8:14: error: acl 'x': missing ')' after the arguments"])
        #expect(aclErrors("    acl x path,lowr /") == ["t.cfg:8:16: error: acl 'x': unknown converter 'lowr'; did you mean 'lower'?"])
        #expect(aclErrors("    acl x path,hmac(sha256,a) /") == ["t.cfg:8:16: error: acl 'x': converter 'hmac' is not supported by Weir yet"])
        #expect(aclErrors("    acl x path,add() 1") == ["t.cfg:8:16: error: acl 'x': converter 'add' expects an integer or a variable name, as in add(2) or add(txn.count)"])
        #expect(aclErrors("    acl x path,sha2(100) /") == ["t.cfg:8:16: error: acl 'x': converter 'sha2' takes 224, 256, 384 or 512"])
        #expect(aclErrors("    acl x path,json(utf16) /") == ["t.cfg:8:16: error: acl 'x': converter 'json' takes ascii, utf8, utf8s, utf8p or utf8ps"])
        #expect(aclErrors("    acl x path,http_date(1,h) /") == ["t.cfg:8:16: error: acl 'x': converter 'http_date': expected the unit s, ms or us, got 'h'"])
        #expect(aclErrors("    acl x path,regsub(^(,x) /")
                == ["t.cfg:8:22: error: acl 'x': missing ')' after the arguments"])
        #expect(aclErrors("    acl x path,regsub([,x) /")
                == ["t.cfg:8:16: error: acl 'x': converter 'regsub': invalid regular expression '[': Invalid regular expression"])
        #expect(aclErrors("    acl x path,field(0,/) /")
                == ["t.cfg:8:16: error: acl 'x': converter 'field': expected a non-zero index, got '0'"])
        #expect(aclErrors("    acl x path,map(/nonexistent.map) /")
                == ["t.cfg:8:11: error: acl 'x': converter 'map': cannot read '/nonexistent.map': No such file or directory"])
        #expect(aclErrors("    acl x var(foo) a") == ["t.cfg:8:11: error: acl 'x': 'var': expected a scope and a name like txn.name, got 'foo'"])
        #expect(aclErrors("    acl x var(tx.foo) a")
                == ["t.cfg:8:11: error: acl 'x': 'var': unknown variable scope 'tx'; expected proc, sess, txn, req or res"])
        #expect(aclErrors("    acl x/y path /") == ["t.cfg:8:9: error: acl: character '/' is not permitted in ACL name 'x/y'"])
        #expect(aclErrors("    acl x -i path /")
                == ["t.cfg:8:11: error: acl 'x': unknown fetch '-i'"])
    }

    @Test func aclWithoutPatternWarns() {
        #expect(warnings(httpDefaults + "frontend fe\n    bind :80\n    acl x path_beg\n    default_backend be\nbackend be\n")
                == ["t.cfg:8:11: warning: acl 'x' has no pattern: it never matches (use '-m found' to test that the sample exists)"])
    }

    @Test func aclNotInDefaults() {
        #expect(errors("defaults\n    acl x path /\n") == ["t.cfg:2:5: error: 'acl' is not allowed in a 'defaults' section"])
    }

    @Test func conditionErrors() {
        let base = httpDefaults + "frontend fe\n    bind :80\n    acl a path /\n"
        let tail = "\nbackend be\n"
        #expect(errors(base + "    use_backend be if zzz" + tail) == ["t.cfg:9:23: error: unknown ACL 'zzz'"])
        #expect(errors(base + "    use_backend be if ab" + tail) == ["t.cfg:9:23: error: unknown ACL 'ab'; did you mean 'a'?"])
        #expect(errors(base + "    use_backend be if METH_GETT" + tail)
                == ["t.cfg:9:23: error: unknown ACL 'METH_GETT'; did you mean 'METH_GET'?"])
        #expect(errors(base + "    use_backend be if HTTP RDP_COOKIE" + tail) == [])
        #expect(errors(base + "    use_backend be if { path /x" + tail)
                == ["t.cfg:9:23: error: use_backend: missing '}' after this anonymous ACL"])
        #expect(errors(base + "    use_backend be if { }" + tail) == ["t.cfg:9:23: error: use_backend: empty anonymous ACL '{ }'"])
        #expect(errors(base + "    use_backend be if {path /x }" + tail)
                == ["t.cfg:9:23: error: use_backend: braces of an anonymous ACL must be separate words, as in '{ path_beg /api }'"])
        #expect(errors(base + "    use_backend be if a ||" + tail) == ["t.cfg:9:25: error: use_backend: expected an ACL after '||'"])
        #expect(errors(base + "    use_backend be if || a" + tail) == ["t.cfg:9:23: error: use_backend: expected an ACL before '||'"])
        #expect(errors(base + "    use_backend be if a !" + tail) == ["t.cfg:9:25: error: use_backend: expected a condition after '!'"])
        #expect(errors(base + "    use_backend be if { pth / }" + tail)
                == ["t.cfg:9:25: error: acl: unknown fetch 'pth'; did you mean 'path'?"])
    }

    @Test func responseACLsNeverMatchInRequestRules() {
        let w = warnings(httpDefaults + """
            frontend fe
                bind :80
                acl err status 500
                use_backend be if err
                use_backend be if err !TRUE
                http-request deny if { res.hdr(x) a }
                http-response deny if err
                tcp-request connection reject if { path /x }
            backend be
            """)
        #expect(w == [
            "t.cfg:13:40: warning: this anonymous ACL never matches in 'tcp-request connection' rules: it needs the HTTP request, which is not available yet there",
            "t.cfg:11:28: warning: this anonymous ACL never matches in 'http-request' rules: it needs the HTTP response, which is not available yet there",
            "t.cfg:8:9: warning: ACL 'err' never matches in 'use_backend' rules: it needs the HTTP response, which is not available yet there",
        ])
    }
}
