import Testing
@testable import WeirConfig

/// Server `maxqueue` as the configuration reads it.
@Suite("maxqueue configuration")
struct ServerQueueConfigTests {
    @Test func maxqueueOnAServerAndInDefaultServer() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                default-server maxqueue 5
                server s1 127.0.0.1:8001 maxconn 1 maxqueue 2
                server s2 127.0.0.1:8002
                server s3 127.0.0.1:8003 maxqueue 0
            """))
        #expect(configuration.backends[0].servers.map(\.maxqueue) == [2, 5, 0])
    }

    @Test func maxqueueNeedsACount() {
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 maxqueue many
            """) == ["t.cfg:6:39: error: maxqueue: expected a number between 0 and 2147483647, got 'many'"])
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 maxqueue
            """).count == 1)
    }
}
