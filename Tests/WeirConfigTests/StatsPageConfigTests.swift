import Testing
@testable import WeirConfig

@Suite("stats page and prometheus-exporter keywords")
struct StatsPageConfigTests {
    @Test func statsLinesBuildThePage() throws {
        let c = try #require(config(timeoutDefaults + """
            listen stats
                mode http
                bind 127.0.0.1:8404
                stats uri /monitor
                stats auth admin:secret
                stats auth ops:pa:ss
                stats realm Weir\\ stats
                stats refresh 10s
                stats admin if LOCALHOST
                stats hide-version
                stats show-legends
                http-request use-service prometheus-exporter if { path /metrics }
            """))
        let page = try #require(c.frontends[0].statsPage)
        #expect(page.uri == "/monitor")
        #expect(page.credentials == ["admin:secret", "ops:pa:ss"])
        #expect(page.realm == "Weir stats")
        #expect(page.refresh == 10_000)
        #expect(page.admin != nil)
        #expect(page.hideVersion && page.showLegends)
        #expect(c.backends[0].statsPage == page)
        #expect(c.frontends[0].httpRequestRules.first?.action == .useService(.prometheusExporter))
    }

    @Test func anyStatsLineEnablesThePageWithHAProxysDefaults() throws {
        let c = try #require(config(timeoutDefaults + """
            defaults web
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                stats enable
            frontend fe from web
                bind :8080
                default_backend be
            backend be from web
                server s1 127.0.0.1:8081
            """))
        #expect(c.frontends[0].statsPage?.uri == "/haproxy?stats")
        #expect(c.frontends[0].statsPage?.realmOrDefault == "HAProxy Statistics")
        #expect(c.backends[0].statsPage?.admin == nil)
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        #expect(errors(timeoutDefaults + """
            frontend fe
                mode http
                bind :80
                stats auth nopassword
                stats admin
                stats refresh soon
                stats scope
                stats enabel
                stats socket /tmp/x.sock
                http-request use-service lua.hello
                http-request use-service prometheus-exportr
                default_backend be
            backend be
                mode http
                server s1 127.0.0.1:80
            defaults
                stats admin if TRUE
            """) == [
            "t.cfg:8:16: error: stats auth: expected USER:PASSWORD, got 'nopassword'",
            "t.cfg:9:11: error: stats admin: expected 'if' or 'unless' and a condition, as in 'stats admin if LOCALHOST'",
            "t.cfg:10:19: error: stats refresh: expected a duration like 5s, got 'soon'",
            "t.cfg:11:11: error: stats scope: expected a proxy name, or '.' for this one",
            "t.cfg:12:11: error: stats: unknown option 'enabel'; did you mean 'enable'?",
            "t.cfg:13:11: error: 'stats socket' is only allowed in the 'global' section",
            "t.cfg:14:30: error: http-request use-service: unknown service 'lua.hello'; Weir only has 'prometheus-exporter'",
            "t.cfg:15:30: error: http-request use-service: unknown service 'prometheus-exportr'; Weir only has 'prometheus-exporter' (did you mean 'prometheus-exporter'?)",
            "t.cfg:21:11: error: 'stats admin' is not allowed in a 'defaults' section",
        ])
    }

    @Test("stats scope: one proxy per line, '.' for the one serving the page")
    func scope() throws {
        let c = try #require(config(timeoutDefaults + """
            listen stats
                mode http
                bind :8404
                stats scope .
                stats scope be
            backend be
                server s1 127.0.0.1:80
            """))
        #expect(c.frontends[0].statsPage?.scope == [".", "be"])
    }

    @Test func theStatsPageNeedsModeHTTP() {
        #expect(warnings(timeoutDefaults + """
            listen tcp
                mode tcp
                bind :9000
                stats enable
                server s1 127.0.0.1:80
            """) == ["t.cfg:8:5: warning: 'stats' is ignored in listen 'tcp': the statistics page needs 'mode http'"])
    }

    @Test func statsAdminConditionsUseTheSectionsACLs() {
        #expect(errors(timeoutDefaults + """
            listen stats
                mode http
                bind :8404
                acl trusted src 10.0.0.0/8
                stats admin if trusted
                stats admin if untrusted
            """) == ["t.cfg:10:20: error: unknown ACL 'untrusted'; did you mean 'trusted'?"])
    }
}
