import Testing
@testable import WeirConfig

@Suite("http-send-name-header")
struct ServerNameHeaderConfigTests {
    @Test func theHeaderNameReachesTheBackend() throws {
        let c = try #require(config(httpDefaults + """
                http-send-name-header X-Server
            frontend fe
                bind :80
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            backend other
                http-send-name-header X-Upstream
                server s1 127.0.0.1:8080
            """))
        #expect(c.backends.map(\.serverNameHeader) == ["X-Server", "X-Upstream"])
    }

    @Test func mistakes() {
        let text = timeoutDefaults + """
            frontend fe
                bind :80
                http-send-name-header X-Server
                default_backend be
            backend be
                http-send-name-header
                http-send-name-header X-A X-B
                http-send-name-header bad:name
                server s1 127.0.0.1:8080
            backend tcp
                http-send-name-header X-Server
                server s1 127.0.0.1:8080
            """
        #expect(errors(text) == [
            "t.cfg:10:5: error: http-send-name-header: expected a header name like X-Server",
            "t.cfg:11:31: error: unexpected argument 'X-B' after 'http-send-name-header X-A'",
            "t.cfg:12:27: error: http-send-name-header: 'bad:name' is not a valid header name",
        ])
        #expect(warnings(text).contains(
            "t.cfg:15:5: warning: 'http-send-name-header' is ignored in backend 'tcp': it needs 'mode http'"))
        #expect(warnings(text).contains(
            "t.cfg:7:5: warning: 'http-send-name-header' is ignored in a 'frontend' section: it applies to backends"))
    }
}
