import Testing
@testable import WeirConfig

/// `http-after-response` as the configuration reads it.
@Suite("http-after-response configuration")
struct AfterResponseConfigTests {
    @Test func rulesGoToTheirSections() throws {
        let configuration = try #require(config(timeoutDefaults + """
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:8080
                http-after-response set-header Strict-Transport-Security max-age=31536000
                http-after-response del-header server if { status 200 }
                default_backend be
            backend be
                http-after-response set-status 404 if { status 403 }
                server s1 127.0.0.1:8001
            """))
        #expect(configuration.frontends.first?.httpAfterResponseRules.count == 2)
        #expect(configuration.frontends.first?.httpResponseRules.isEmpty == true)
        #expect(configuration.backends.first?.httpAfterResponseRules.count == 1)
    }

    @Test func rulesThatReplaceAResponseAreRefused() {
        let text = timeoutDefaults + """
            frontend fe
                mode http
                bind 127.0.0.1:8080
                http-after-response deny if { status 500 }
                default_backend be
            backend be
                mode http
                server s1 127.0.0.1:8001
            """
        #expect(errors(text) == ["t.cfg:8:25: error: 'deny' is not an action of 'http-after-response': it may edit a "
                                 + "response, not replace or drop it"])
    }

    @Test func anUnknownActionGetsASuggestion() {
        let text = timeoutDefaults + """
            frontend fe
                mode http
                bind 127.0.0.1:8080
                http-after-response set-headr X-A b
                default_backend be
            backend be
                mode http
                server s1 127.0.0.1:8001
            """
        #expect(errors(text) == ["t.cfg:8:25: error: http-after-response: unknown action 'set-headr'; did you mean 'set-header'?"])
    }

    @Test func tcpModeIgnoresThemWithAWarning() {
        let text = timeoutDefaults + """
            frontend fe
                mode tcp
                bind 127.0.0.1:8080
                http-after-response set-header X-A b
                default_backend be
            backend be
                mode tcp
                server s1 127.0.0.1:8001
            """
        #expect(warnings(text).contains("t.cfg:8:5: warning: 'http-after-response' rules are ignored in frontend 'fe': "
                                        + "they need 'mode http'"), "\(warnings(text))")
    }
}
