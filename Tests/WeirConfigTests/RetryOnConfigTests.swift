import Testing
@testable import WeirConfig

/// `retry-on` and `option redispatch [N]`.
@Suite struct RetryOnConfigTests {
    func backend(_ lines: String, defaults: String = "", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Backend? {
        config(httpDefaults + defaults + "backend be\n" + lines + "\n", sourceLocation: sourceLocation)?.backends.first
    }

    @Test func defaultIsConnFailure() {
        #expect(backend("")?.retryOn == .connFailure)
        #expect(backend("")?.redispatchInterval == -1)
    }

    @Test func keywordsReplaceEachOther() throws {
        let b = try #require(backend("    retry-on 503 empty-response\n    retry-on conn-failure 504 response-timeout"))
        #expect(b.retryOn == [.connFailure, .responseTimeout, RetryOn.status(504)!])
        #expect(!b.retryOn.retries(status: 503))
        #expect(b.retryOn.retries(status: 504))
        #expect(backend("    retry-on none")?.retryOn == [])
        #expect(backend("    retry-on 0rtt-rejected junk-response 401 403 404 408 425 500 501 502")?.retryOn.retries(status: 425) == true)
    }

    @Test func allRetryableErrors() throws {
        let b = try #require(backend("    retry-on all-retryable-errors"))
        for code in [500, 502, 503, 504] { #expect(b.retryOn.retries(status: code)) }
        for code in [404, 501] { #expect(!b.retryOn.retries(status: code)) }
        #expect(b.retryOn.isSuperset(of: [.connFailure, .emptyResponse, .junkResponse, .responseTimeout, .zeroRTTRejected]))
        #expect(b.retryOn.needsReplay)
        #expect(!RetryOn.connFailure.needsReplay)
    }

    @Test func inheritedFromDefaults() {
        #expect(backend("", defaults: "defaults\n    mode http\n    retry-on 503\n")?.retryOn == RetryOn.status(503)!)
    }

    @Test func diagnostics() {
        let base = httpDefaults + "backend be\n"
        #expect(errors(base + "    retry-on\n").first?.contains("retry-on: expected at least one of") == true)
        #expect(errors(base + "    retry-on none 503\n").first?.contains("'none' may only be used alone") == true)
        #expect(errors(base + "    retry-on 200\n").first?.contains("status 200 is not retryable") == true)
        #expect(errors(base + "    retry-on empty-respons\n").first?.contains("did you mean 'empty-response'") == true)
        let frontend = httpDefaults + "frontend fe\n    bind :80\n    retry-on 503\n    default_backend be\nbackend be\n"
        #expect(!errors(frontend).isEmpty)
    }

    @Test func tcpModeWarns() {
        let text = """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend fe
                bind :80
                default_backend be
            backend be
                retry-on conn-failure empty-response
                server s1 127.0.0.1:8080

            """
        #expect(warnings(text).contains { $0.contains("only 'conn-failure' applies in mode tcp") }, "\(warnings(text))")
        #expect(warnings(text.replacing(" empty-response", with: "")).isEmpty)
    }

    @Test func disableL7RetryAction() throws {
        let b = try #require(backend("    http-request disable-l7-retry if { path_beg /pay }"))
        #expect(b.httpRequestRules.first?.action == .disableL7Retry)
    }

    @Test func redispatchInterval() {
        #expect(backend("    option redispatch 1")?.redispatchInterval == 1)
        #expect(backend("    option redispatch -2")?.redispatchInterval == -2)
        #expect(backend("    option redispatch")?.redispatch == true)
        #expect(backend("    option redispatch 2\n    no option redispatch")?.redispatch == false)
        let base = httpDefaults + "backend be\n"
        #expect(errors(base + "    option redispatch 0\n").first?.contains("non-zero") == true)
        #expect(errors(base + "    option redispatch x\n").first?.contains("non-zero") == true)
    }
}
