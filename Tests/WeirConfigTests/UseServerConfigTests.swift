import Testing
@testable import WeirConfig

/// `use-server NAME if|unless COND` as the configuration reads it.
@Suite("use-server configuration")
struct UseServerConfigTests {
    @Test func rulesResolveTheirServersInOrder() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                mode http
                use-server s2 if { path_beg /two }
                use-server s1 unless { src 10.0.0.0/8 }
                server s1 127.0.0.1:8001
                server s2 127.0.0.1:8002
            """))
        let rules = try #require(configuration.backends.first?.serverRules)
        #expect(rules.map(\.serverName) == ["s2", "s1"])
        #expect(rules.map(\.server) == [1, 0])
        #expect(rules[1].condition.negated)
    }

    @Test func anUnknownServerIsAnErrorWithASuggestion() {
        #expect(errors(timeoutDefaults + """
            backend be
                use-server web2 if { src 10.0.0.0/8 }
                server web1 127.0.0.1:8001
            """) == ["t.cfg:6:16: error: use-server: no server 'web2' in backend 'be'; did you mean 'web1'?"])
    }

    @Test func aConditionIsRequired() {
        #expect(errors(timeoutDefaults + """
            backend be
                use-server s1
                server s1 127.0.0.1:8001
            """) == ["t.cfg:6:16: error: use-server: 's1' must be followed by 'if' or 'unless' and a condition"])
        #expect(errors(timeoutDefaults + """
            backend be
                use-server s1 when { src 10.0.0.0/8 }
                server s1 127.0.0.1:8001
            """) == ["t.cfg:6:19: error: use-server: 's1' must be followed by 'if' or 'unless' and a condition"])
    }

    @Test func aFrontendHasNoServersToUse() {
        let found = errors(timeoutDefaults + """
            frontend fe
                bind 127.0.0.1:8080
                use-server s1 if { src 10.0.0.0/8 }
                default_backend be
            backend be
                server s1 127.0.0.1:8001
            """)
        #expect(found.count == 1 && found[0].hasPrefix("t.cfg:7:5: error: 'use-server'"), "\(found)")
    }

    @Test func aConditionOnTheResponseIsWarnedAbout() {
        let found = warnings(timeoutDefaults + """
            backend be
                mode http
                use-server s1 if { status 200 }
                server s1 127.0.0.1:8001
            """)
        #expect(found.contains { $0.hasPrefix("t.cfg:7:24: warning: this anonymous ACL never matches in 'use-server' rules") },
                "\(found)")
    }
}
