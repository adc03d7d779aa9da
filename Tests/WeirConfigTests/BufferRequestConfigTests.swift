import Testing
@testable import WeirConfig

/// `option http-buffer-request` and the body fetches as the configuration reads them.
@Suite("option http-buffer-request configuration")
struct BufferRequestConfigTests {
    @Test func aBackendsOptionReachesTheFrontendsThatMayChooseIt() throws {
        let configuration = try #require(config(timeoutDefaults + """
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend waits
                bind 127.0.0.1:8080
                use_backend buffered if { path_beg /api }
                default_backend plain
            frontend direct
                bind 127.0.0.1:8081
                default_backend plain
            backend buffered
                option http-buffer-request
                server s1 127.0.0.1:8001
            backend plain
                server s2 127.0.0.1:8002
            """))
        #expect(configuration.frontends.map(\.buffersRequestBody) == [true, false])
    }

    @Test func bodyFetchesCheckTheirArguments() {
        let base = timeoutDefaults + """
            frontend fe
                mode http
                bind 127.0.0.1:8080
                default_backend be
            backend be
                mode http
                server s1 127.0.0.1:8001

            """
        #expect(errors(base + "    http-request set-header X %[req.body_param]\n").count == 1)
        #expect(errors(base + "    http-request set-header X %[req.body_param(a,x)]\n").count == 1)
        #expect(errors(base + "    http-request set-header X %[req.body(1)]\n").count == 1)
        #expect(errors(base + "    http-request set-header X %[req.body_param(a,i)]%[req.body_len]\n").isEmpty)
    }
}
