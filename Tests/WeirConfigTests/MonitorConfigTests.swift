import Testing
@testable import WeirConfig

@Suite("monitor-uri and monitor fail")
struct MonitorConfigTests {
    @Test func monitorLinesReachTheFrontend() throws {
        let c = try #require(config(httpDefaults + """
                monitor-uri /from-defaults
            frontend fe
                bind :80
                monitor-uri /alive
                acl site_dead nbsrv(be) lt 1
                monitor fail if site_dead
                monitor fail unless { nbsrv(be) ge 1 }
                default_backend be
            listen inherits
                bind :81
                server s1 127.0.0.1:8080
            backend be
                server s1 127.0.0.1:8080
            """))
        #expect(c.frontends[0].monitorURI == "/alive")
        #expect(c.frontends[0].monitorFail.count == 2)
        #expect(c.frontends[0].monitorFail[1].negated)
        #expect(c.frontends[1].monitorURI == "/from-defaults")
        #expect(c.frontends[1].monitorFail.isEmpty)
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        #expect(errors(httpDefaults + """
            frontend fe
                bind :80
                monitor-uri
                monitor-uri /a /b
                monitor
                monitor pass if TRUE
                monitor fail
                monitor fail when TRUE
                monitor fail if unknown_acl
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            defaults
                monitor fail if TRUE
            """) == [
            "t.cfg:8:5: error: monitor-uri: expected a URI like /alive",
            "t.cfg:9:20: error: unexpected argument '/b' after 'monitor-uri /a'",
            "t.cfg:10:5: error: monitor: expected 'fail'",
            "t.cfg:11:13: error: monitor: only 'monitor fail' is supported, got 'pass'",
            "t.cfg:12:13: error: monitor fail: expected 'if' or 'unless' followed by a condition",
            "t.cfg:13:18: error: monitor fail: expected 'if' or 'unless', got 'when'",
            "t.cfg:14:21: error: unknown ACL 'unknown_acl'",
            "t.cfg:19:5: error: 'monitor' is not allowed in a 'defaults' section",
        ])
    }

    @Test func ignoredOutsideAnHTTPFrontendAsInHAProxy() {
        #expect(warnings(timeoutDefaults + """
            frontend tcp
                mode tcp
                bind :9000
                monitor-uri /alive
                monitor fail if TRUE
                default_backend be
            backend be
                mode http
                monitor-uri /alive
                monitor fail if TRUE
                server s1 127.0.0.1:80
            """) == [
            "t.cfg:8:5: warning: 'monitor-uri' is ignored in frontend 'tcp': it needs 'mode http'",
            "t.cfg:9:5: warning: 'monitor fail' is ignored in frontend 'tcp': it needs 'mode http'",
            "t.cfg:13:5: warning: 'monitor-uri' is ignored in a 'backend' section: it applies to frontends",
            "t.cfg:14:5: warning: 'monitor fail' is ignored in a 'backend' section: it applies to frontends",
        ])
    }
}
