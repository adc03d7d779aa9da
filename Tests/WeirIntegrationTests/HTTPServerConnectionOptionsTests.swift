import Foundation
import Testing

/// `option prefer-last-server` and `option http-pretend-keepalive`: what the
/// servers see of a client's keep-alive requests.
@Suite("HTTP: prefer-last-server, http-pretend-keepalive", .serialized)
struct HTTPServerConnectionOptionsTests {
    /// The servers that answered `count` requests sent on one keep-alive connection.
    private func servedInTurn(_ scenario: HTTPScenario, _ count: Int) throws -> [String] {
        let connection = try scenario.connect()
        defer { connection.close() }
        return try (0..<count).map { i in
            try connection.request("GET", "/r\(i)")
            return try connection.readResponse().headers.value("x-served-by") ?? "?"
        }
    }

    @Test("prefer-last-server: one client's requests stay on its server until it leaves; round robin without it")
    func preferLastServer() throws {
        let socket = statsSocketPath()
        let backends = try namedHTTPServers(2)
        let config = httpConfig(backend: "    balance roundrobin\n    option prefer-last-server\n" + httpServerLines(backends),
                                global: "    stats socket \(socket) level admin")
        let scenario = try HTTPScenario(config: config, backends: backends)
        defer { scenario.close() }
        let connection = try scenario.connect()
        defer { connection.close() }
        var served: [String] = []
        for i in 0..<6 {
            try connection.request("GET", "/r\(i)")
            served.append(try connection.readResponse().headers.value("x-served-by") ?? "?")
        }
        #expect(Set(served).count == 1, "\(served)")
        // Its server in maintenance: the next request is balanced, then stays.
        let first = try #require(served.first)
        #expect(try statsCommand(socket, "disable server be/\(first)") == "\n")
        var after: [String] = []
        for i in 0..<3 {
            try connection.request("GET", "/after\(i)")
            after.append(try connection.readResponse().headers.value("x-served-by") ?? "?")
        }
        #expect(Set(after).count == 1 && after[0] != first, "\(after)")

        let plain = try HTTPScenario(backends: try namedHTTPServers(2), backend: "    balance roundrobin")
        defer { plain.close() }
        let balanced = try servedInTurn(plain, 4)
        #expect(Set(balanced).count == 2 && balanced[0] != balanced[1], "\(balanced)")
    }

    @Test("prefer-last-server is left alone by hashing algorithms")
    func hashingIgnoresPreferLastServer() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(2),
                                        backend: "    balance uri\n    option prefer-last-server")
        defer { scenario.close() }
        let served = try servedInTurn(scenario, 12)
        #expect(Set(served).count == 2, "twelve paths hash to both servers: \(served)")
    }

    @Test("http-pretend-keepalive with http-server-close: no 'Connection: close' to the server, still one connection per request")
    func pretendKeepAlive() throws {
        for pretend in [false, true] {
            let server = try HTTPBackend(name: "app")
            let scenario = try HTTPScenario(backends: [server], backend: """
                    option http-server-close
                \(pretend ? "    option http-pretend-keepalive" : "")
                """)
            defer { scenario.close() }
            let served = try servedInTurn(scenario, 3)
            #expect(served == ["app", "app", "app"])
            let requests = server.requests
            #expect(requests.count == 3)
            let closing = requests.filter { r in
                r.headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased().contains("close") }
            }
            #expect(closing.count == (pretend ? 0 : 3), "pretend \(pretend): \(requests)")
            #expect(server.accepted == 3, "the server connection still closes after each response (pretend \(pretend))")
        }
    }
}
