import Testing
@testable import WeirConfig

/// `tcp-request inspect-delay` and the fetches over the request's contents.
@Suite struct ContentFetchConfigTests {
    /// A mode tcp frontend `fe` (line 6 onwards) with `lines`.
    static func tcp(_ lines: String, defaults: String = "") -> String {
        timeoutDefaults + "    mode tcp\n\(defaults)frontend fe\n    bind :443\n" + lines + "\n    default_backend be\nbackend be\n"
    }

    @Test("the fetches and their old names parse into content fetches")
    func fetches() throws {
        let cfg = try #require(config(Self.tcp("""
                tcp-request inspect-delay 5s
                tcp-request content accept if { req_ssl_hello_type 1 }
                acl sni req.ssl_sni -i a.test
                acl ver req_ssl_ver 3.1:3.3
                acl p req.payload(0,3) 160301
                acl lv payload_lv(43,1,+2) -m found
                acl l req_len gt 0
                use_backend be if sni ver p lv l WAIT_END REQ_CONTENT
            """)))
        let fe = cfg.frontends[0]
        #expect(fe.tcpInspectDelay == 5000)
        #expect(fe.tcpRequestContentRules[0].condition.alternatives[0][0].acls[0].sample.fetch == .content(.sslHelloType))
        let acls = fe.useBackends[0].condition.alternatives[0].map { $0.acls[0] }
        #expect(acls.map(\.sample.fetch) == [
            .content(.sslSNI), .content(.sslVersion), .content(.payload(offset: 0, length: 3)),
            .content(.payloadLV(offset: 43, length: 1, dataOffset: 2, relative: true)), .content(.length),
            .content(.waitEnd), .content(.length),
        ])
        #expect(acls[1].match.method == .int)
        #expect(acls[1].match.integers == [0x0003_0001...0x0003_0003])
        #expect(acls[2].match.method == .bin)
        #expect(acls[2].match.binaryPatterns == [[0x16, 0x03, 0x01]])
    }

    @Test("argument errors name the fetch and what it expects")
    func argumentErrors() {
        func acl(_ text: String) -> [String] { errors(Self.tcp("    tcp-request inspect-delay 1s\n    acl x " + text)) }
        #expect(acl("req.payload(0) 16") == [
            "t.cfg:9:11: error: acl 'x': 'req.payload' expects an offset and a length, as in req.payload(0,3) (length 0: up to the end)",
        ])
        #expect(acl("req.payload(a,1) 16").count == 1)
        #expect(acl("req.payload(-1,2) 16").count == 1)
        #expect(acl("req.payload 16") == [
            "t.cfg:9:11: error: acl 'x': 'req.payload' expects an offset and a length, as in req.payload(0,3) (length 0: up to the end)",
        ])
        #expect(acl("req.payload_lv(0,5) -m found") == [
            "t.cfg:9:11: error: acl 'x': 'req.payload_lv': the length field is 1 to 4 bytes long, got 5",
        ])
        #expect(acl("req.payload_lv(0) -m found") == [
            "t.cfg:9:11: error: acl 'x': 'req.payload_lv' expects the offset and size of a length field and an optional "
                + "data offset, as in req.payload_lv(0,2) or req.payload_lv(0,2,+4)",
        ])
        #expect(acl("req.payload_lv(0,2,x) -m found") == [
            "t.cfg:9:11: error: acl 'x': 'req.payload_lv': expected a data offset like 8, +4 or -2, got 'x'",
        ])
        #expect(acl("req.ssl_sni(1) a") == ["t.cfg:9:11: error: acl 'x': 'req.ssl_sni' takes no argument"])
        #expect(acl("req.len(2) 1") == ["t.cfg:9:11: error: acl 'x': 'req.len' takes no argument"])
        #expect(acl("req.ssl_ver 3.x") == [
            "t.cfg:9:23: error: acl 'x': expected a version like 3.1 or a range like 3.1:3.3, got '3.x'",
        ])
        #expect(acl("req.payload(0,2) 16030") == [
            "t.cfg:9:28: error: acl 'x': '-m bin' expects bytes in hexadecimal like 0A1B2C, got '16030'",
        ])
        #expect(acl("req.ssl_snii a") == [
            "t.cfg:9:11: error: acl 'x': unknown fetch 'req.ssl_snii'; did you mean 'req.ssl_sni'?",
        ])
    }

    @Test("inspect-delay is inherited from defaults; content rules are not allowed there")
    func defaultsSection() throws {
        let cfg = try #require(config(Self.tcp("    tcp-request content accept if { req.ssl_hello_type 1 }",
                                               defaults: "    tcp-request inspect-delay 300ms\n")))
        #expect(cfg.frontends[0].tcpInspectDelay == 300)
        #expect(cfg.backends[0].tcpInspectDelay == 300)
        #expect(errors(Self.tcp("", defaults: "    tcp-request content reject\n")) == [
            "t.cfg:6:17: error: 'tcp-request content' is not allowed in a 'defaults' section; only 'tcp-request inspect-delay' is",
        ])
    }

    @Test("content rules without inspect-delay are warned about, as HAProxy does")
    func missingDelay() {
        #expect(warnings(Self.tcp("    tcp-request content reject if !{ req.ssl_hello_type 1 }")) == [
            "t.cfg:8:38: warning: frontend 'fe' has rules reading the request's contents but no 'tcp-request inspect-delay': "
                + "they only see what arrived with the connection (usually nothing)",
        ])
        #expect(warnings(Self.tcp("    tcp-request inspect-delay 2s\n    tcp-request content reject if !{ req.ssl_hello_type 1 }")).isEmpty)
        // They have nothing to read before the connection is a session.
        #expect(warnings(Self.tcp("    tcp-request inspect-delay 2s\n    tcp-request connection reject if { req.len 0 }")) == [
            "t.cfg:9:40: warning: this anonymous ACL never matches in 'tcp-request connection' rules: it needs the "
                + "request's contents, which is not available yet there",
        ])
    }
}
