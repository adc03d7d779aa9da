import Testing
@testable import WeirConfig

/// A `mode tcp` frontend may choose a backend in `mode http` (HAProxy's
/// implicit upgrade): the configuration says which frontends may upgrade.
@Suite struct HTTPUpgradeConfigTests {
    func frontend(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Frontend? {
        config(timeoutDefaults + text, sourceLocation: sourceLocation)?.frontends.first
    }

    @Test func tcpFrontendMayChooseAnHTTPBackend() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                default_backend web
            backend web
                mode http
                server s1 10.0.0.1:80
            """))
        #expect(c.frontends[0].mode == .tcp)
        #expect(c.frontends[0].defaultBackend == 0)
        #expect(c.frontends[0].upgradesToHTTP)
    }

    @Test func useBackendMayMixModes() throws {
        let fe = try #require(frontend("""
            frontend fe
                bind :80
                tcp-request inspect-delay 5s
                tcp-request content accept if { req.len ge 4 }
                use_backend web if { req.payload(0,4) -m str "GET " }
                default_backend raw
            backend web
                mode http
            backend raw
                mode tcp
            """))
        #expect(fe.useBackends.map { $0.backend } == [0])
        #expect(fe.defaultBackend == 1)
        #expect(fe.upgradesToHTTP)
    }

    @Test func onlyFrontendsThatMayReachAnHTTPBackendUpgrade() throws {
        let tcpOnly = try #require(frontend("frontend fe\n bind :80\n default_backend raw\nbackend raw\nbackend web\n mode http\n"))
        #expect(!tcpOnly.upgradesToHTTP)
        let http = try #require(frontend("frontend fe\n mode http\n bind :80\n default_backend web\nbackend web\n mode http\n"))
        #expect(!http.upgradesToHTTP)
        let listen = try #require(frontend("listen li\n bind :80\n server s1 10.0.0.1:80\n"))
        #expect(!listen.upgradesToHTTP)
        let listenToWeb = try #require(frontend("""
            listen li
                bind :80
                use_backend web if { src 10.0.0.0/8 }
                server s1 10.0.0.1:80
            backend web
                mode http
            """))
        #expect(listenToWeb.upgradesToHTTP)
        // A name built at run time may be any backend's.
        let dynamic = try #require(frontend("frontend fe\n bind :80\n use_backend %[src]\nbackend web\n mode http\n"))
        #expect(dynamic.upgradesToHTTP)
    }

    @Test func aBackendThatBuffersBodiesMakesTheFrontendReadThem() throws {
        let fe = try #require(frontend("""
            frontend fe
                bind :80
                default_backend web
            backend web
                mode http
                option http-buffer-request
            """))
        #expect(fe.buffersRequestBody)
    }

    /// As in HAProxy, `option httplog` in a tcp frontend falls back to
    /// tcplog even when its sessions may be upgraded: their requests are
    /// logged in that format.
    @Test func httplogStillFallsBackToTcplog() throws {
        let text = timeoutDefaults + """
            frontend fe
                bind :80
                option httplog
                default_backend web
            backend web
                mode http
            """
        #expect(warnings(text) == ["t.cfg:7:12: warning: 'option httplog' is ignored in tcp mode: "
                                   + "frontend 'fe' logs in tcplog format instead"])
        let fe = try #require(config(text)?.frontends.first)
        #expect(fe.logFormat == LogFormat.tcplog)
        #expect(fe.upgradesToHTTP)
    }
}
