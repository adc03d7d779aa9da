import Testing
@testable import WeirConfig

/// `cookie`, `option persist`, `force-persist`, `ignore-persist` as the
/// configuration reads them.
@Suite("Cookie persistence configuration")
struct CookieConfigTests {
    @Test func persistRulesKeepTheirOrder() throws {
        let configuration = try #require(config(timeoutDefaults + """
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            backend be
                ignore-persist if { path_beg /static }
                force-persist if { src 10.0.0.0/8 }
                ignore-persist unless METH_GET
                server s1 127.0.0.1:8001 cookie s1
            """))
        let backend = try #require(configuration.backends.first)
        #expect(backend.persistRules.map(\.kind) == [.ignore, .force, .ignore])
        #expect(backend.forcePersist.count == 1 && backend.ignorePersist.count == 2)
        #expect(backend.ignorePersist[1].negated)
    }

    @Test func cookieLineKeepsItsOptions() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                mode http
                cookie SRV insert indirect nocache maxidle 30m maxlife 2h domain .a.test attr SameSite=Lax
                server s1 127.0.0.1:8001 cookie s1
            """))
        let cookie = try #require(configuration.backends.first?.cookie)
        #expect(cookie.mode == .insert && cookie.indirect && cookie.noCache)
        #expect(cookie.maxIdle == 1_800_000 && cookie.maxLife == 7_200_000)
        #expect(cookie.domains == [".a.test"] && cookie.attributes == ["SameSite=Lax"])
        #expect(configuration.backends.first?.servers.first?.cookie == "s1")
    }

    @Test func cookieInTCPModeIsIgnoredWithAWarning() {
        let text = timeoutDefaults + """
            backend be
                mode tcp
                cookie SRV insert
                server s1 127.0.0.1:8001 cookie s1
            """
        #expect(warnings(text) == ["t.cfg:7:5: warning: 'cookie' is ignored in backend 'be': it needs 'mode http'"])
    }

    @Test func persistRulesCannotSeeTheResponse() {
        let text = timeoutDefaults + """
            backend be
                mode http
                force-persist if { status 200 }
                server s1 127.0.0.1:8001
            """
        let found = warnings(text)
        #expect(found.contains { $0.hasPrefix("t.cfg:7:24: warning: this anonymous ACL never matches in 'force-persist' rules") }, "\(found)")
    }
}
