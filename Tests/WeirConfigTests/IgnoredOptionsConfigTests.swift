import Testing
@testable import WeirConfig

@Suite("options accepted and ignored; option nolinger")
struct IgnoredOptionsConfigTests {
    @Test func ignoredOptionsWarnAndSayWhy() {
        let text = timeoutDefaults + """
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                option splice-auto
                no option http-no-delay
                option http-use-htx
                option tcp-smart-accept now
            frontend fe
                bind :80
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            """
        #expect(errors(text) == ["t.cfg:13:29: error: unexpected argument 'now' after 'option tcp-smart-accept'"])
        #expect(warnings(text) == [
            "t.cfg:10:12: warning: 'option splice-auto' is ignored: Weir forwards through its own buffers and never splices",
            "t.cfg:11:15: warning: 'no option http-no-delay' is ignored: Weir never holds bytes back to merge them with "
                + "later ones",
            "t.cfg:12:12: warning: 'option http-use-htx' is ignored: it chose HAProxy's internal HTTP representation, "
                + "which has no counterpart in Weir (HAProxy 2.1 made that representation the only one and 2.6 "
                + "refuses the option)",
        ])
        #expect(errors(timeoutDefaults + "frontend fe\n    option independent-streams\n").contains(
            "t.cfg:6:12: error: 'option independent-streams' is not supported by Weir yet"))
    }

    @Test func noLingerReachesBothSides() throws {
        let c = try #require(config(timeoutDefaults + """
            defaults
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                option nolinger
            frontend fe
                bind :80
                default_backend be
            frontend other
                bind :81
                no option nolinger
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            """))
        #expect(c.frontends.map(\.noLinger) == [true, false])
        #expect(c.backends[0].noLinger)
    }
}

@Suite("option http-ignore-probes")
struct IgnoreProbesConfigTests {
    @Test func frontendsOnly() throws {
        let text = httpDefaults + """
                option http-ignore-probes
            frontend fe
                bind :80
                default_backend be
            frontend off
                bind :81
                no option http-ignore-probes
                default_backend be
            backend be
                option http-ignore-probes
                server s1 127.0.0.1:8080
            """
        let c = try #require(config(text))
        #expect(c.frontends.map(\.ignoreProbes) == [true, false])
        #expect(warnings(text) == [
            "t.cfg:15:12: warning: 'option http-ignore-probes' is ignored in a 'backend' section: it applies to frontends",
        ])
    }
}

@Suite("option abortonclose")
struct AbortOnCloseConfigTests {
    @Test func backendsOnly() throws {
        let text = timeoutDefaults + """
            defaults
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                option abortonclose
            frontend fe
                bind :80
                option abortonclose
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            backend patient
                no option abortonclose
                server s1 127.0.0.1:8080
            """
        let c = try #require(config(text))
        #expect(c.backends.map(\.abortOnClose) == [true, false])
        #expect(warnings(text) == [
            "t.cfg:12:12: warning: 'option abortonclose' is ignored in a 'frontend' section: it applies to backends",
        ])
    }
}
