import Testing
@testable import WeirConfig

@Suite("maxconnrate, maxsessrate, maxsslrate and rate-limit sessions")
struct RateLimitConfigTests {
    @Test func limitsAreReadAndDefaultsCarryThem() throws {
        let c = try #require(config("""
            global
                maxconnrate 100
                maxsessrate 50
                maxsslrate 0
            defaults
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                rate-limit sessions 20
            frontend inherits
                bind :80
                default_backend be
            frontend own
                rate-limit sessions 7
                bind :81
                default_backend be
            listen off
                rate-limit sessions 0
                bind :82
                server s1 127.0.0.1:8080
            backend be
                server s1 127.0.0.1:8080
            """))
        #expect(c.global.maxConnectionRate == 100 && c.global.maxSessionRate == 50 && c.global.maxSSLRate == 0)
        #expect(c.frontends.map(\.sessionRateLimit) == [20, 7, 0])
    }

    @Test func noLimitUnlessSet() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            """))
        #expect(c.global.maxConnectionRate == 0 && c.global.maxSessionRate == 0 && c.global.maxSSLRate == 0)
        #expect(c.frontends[0].sessionRateLimit == 0)
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        let text = """
            global
                maxconnrate fast
                maxsessrate -1
                maxsslrate 2147483648
                maxconnrate 10 20
                maxsessrate
            """ + "\n" + timeoutDefaults + """
            frontend fe
                bind :80
                rate-limit
                rate-limit connections 10
                rate-limit sessions
                rate-limit sessions many
                rate-limit sessions 4294967296
                rate-limit sessions 5 now
                default_backend be
            backend be
                rate-limit sessions 10
                server s1 127.0.0.1:8080
            """
        #expect(errors(text) == [
            "t.cfg:2:17: error: maxconnrate: expected a number between 0 and 2147483647, got 'fast'",
            "t.cfg:3:17: error: maxsessrate: expected a number between 0 and 2147483647, got '-1'",
            "t.cfg:4:16: error: maxsslrate: expected a number between 0 and 2147483647, got '2147483648'",
            "t.cfg:5:20: error: unexpected argument '20' after 'maxconnrate'",
            "t.cfg:6:5: error: maxsessrate: expected a number between 0 and 2147483647",
            "t.cfg:13:5: error: rate-limit: expected 'sessions' and a number of sessions per second",
            "t.cfg:14:16: error: rate-limit: only 'sessions' is supported, got 'connections'",
            "t.cfg:15:16: error: rate-limit sessions: expected a number between 0 and 4294967295",
            "t.cfg:16:25: error: rate-limit sessions: expected a number between 0 and 4294967295, got 'many'",
            "t.cfg:17:25: error: rate-limit sessions: expected a number between 0 and 4294967295, got '4294967296'",
            "t.cfg:18:27: error: unexpected argument 'now' after 'rate-limit sessions'",
        ])
        #expect(warnings(text) == ["t.cfg:21:5: warning: 'rate-limit' is ignored in a 'backend' section: it applies to frontends"])
    }
}
