import Testing
@testable import WeirConfig

@Suite("disabled, enabled and proxy id")
struct ProxyStateConfigTests {
    @Test func disabledFollowsDefaultsAndEnabledUndoesIt() throws {
        let c = try #require(config(timeoutDefaults + """
            defaults
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                disabled
            frontend fe
                enabled
                id 7
                bind :80
                default_backend be
            listen off
                bind :81
                server s1 127.0.0.1:8080
            backend be
                server s1 127.0.0.1:8080 check
            """))
        #expect(c.frontends.map(\.disabled) == [false, true])
        #expect(c.frontends.map(\.id) == [7, nil])
        #expect(c.backends.map(\.disabled) == [true, true])
        #expect(c.backends.allSatisfy { $0.servers.allSatisfy(\.disabled) })
    }

    @Test func idMistakes() {
        #expect(errors(timeoutDefaults + """
            frontend fe
                id 5
                id 0
                id 6 7
                bind :80
                default_backend be
            backend be
                id 5
                disabled now
                server s1 127.0.0.1:8080
            defaults
                id 3
            """) == [
            "t.cfg:7:8: error: id: expected a number between 1 and 2147483647, got '0'",
            "t.cfg:8:10: error: unexpected argument '7' after 'id 6'",
            "t.cfg:13:14: error: unexpected argument 'now' after 'disabled'",
            "t.cfg:16:5: error: 'id' is not allowed in a 'defaults' section",
            "t.cfg:12:5: error: backend 'be' reuses id 5 of frontend 'fe' (declared at t.cfg:5:10)",
        ])
    }
}
