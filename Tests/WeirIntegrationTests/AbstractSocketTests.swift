import Foundation
import Testing

/// `abns@NAME`: UNIX sockets in Linux's abstract namespace, as HAProxy
/// chains its own proxies with them.
@Suite("abns@ addresses", .serialized)
struct AbstractSocketTests {
    @Test("a frontend reaches an inner listener over abns@ with the PROXY protocol; the client address goes through")
    func chainedThroughTheAbstractNamespace() throws {
        let app = try HTTPBackend(name: "app")
        let name = "weir-test-" + String(UUID().uuidString.prefix(8))
        let config = httpConfig(backend: "    server inner abns@\(name) send-proxy-v2", frontend: "", global: "") + """

            frontend inner
                bind abns@\(name) accept-proxy
                default_backend app
            backend app
                http-request set-header X-Seen-Client %[src]
                server app \(app.address)
            """
        let scenario = try HTTPScenario(config: config, backends: [app])
        defer { scenario.close() }
        let connection = try scenario.connect()
        defer { connection.close() }
        try connection.request("GET", "/chained")
        let response = try connection.readResponse()
        #expect(response.status == 200 && response.headers.value("x-served-by") == "app", "\(response)")
        let seen = try #require(app.requests.first)
        #expect(seen.headers.first { $0.name.lowercased() == "x-seen-client" }?.value == "127.0.0.1", "\(seen)")
        // Nothing was created in the file system.
        #expect(!FileManager.default.fileExists(atPath: name))
        // Both frontends log the client (the inner one learnt it from the PROXY header).
        let lines = try scenario.logs(clientPort: connection.localPort, count: 2)
        #expect(Set(lines.map { "\($0.frontend) \($0.server)" }) == ["fe inner", "inner app"], "\(lines)")
    }
}
