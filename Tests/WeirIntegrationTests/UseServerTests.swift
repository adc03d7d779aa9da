import Foundation
import Testing

/// `use-server NAME if|unless COND`: a real weir over real servers that
/// answer with their name (`x-served-by` in HTTP, a greeting line in TCP).
@Suite("use-server", .serialized)
struct UseServerTests {
    private func counts(_ names: [String]) -> [String: Int] {
        Dictionary(names.map { ($0, 1) }, uniquingKeysWith: +)
    }

    @Test("matching requests go to the named server, the rest are balanced; the first match wins")
    func rulesPickTheirServer() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(3), backend: """
                balance roundrobin
                use-server s2 if { path_beg /two }
                use-server s3 if { req.hdr(x-pin) s3 }
                use-server s1 if { req.hdr(x-pin) s3 }
            """)
        defer { scenario.close() }
        let pinned = try (0..<9).map { try servedFresh(scenario.port, "/two/\($0)") }
        #expect(Set(pinned) == ["s2"], "\(pinned)")
        // Both the second and the third rule hold: the second is first.
        let byHeader = try (0..<6).map { _ in try servedFresh(scenario.port, "/pinned", headers: ["X-Pin: s3"]) }
        #expect(Set(byHeader) == ["s3"], "\(byHeader)")
        let balanced = try (0..<9).map { try servedFresh(scenario.port, "/other/\($0)") }
        #expect(counts(balanced) == ["s1": 3, "s2": 3, "s3": 3], "\(balanced)")
        // The same on one keep-alive connection: each request is decided on its own.
        let connection = try scenario.connect()
        defer { connection.close() }
        var mixed: [String] = []
        for target in ["/two", "/x", "/two", "/y", "/two", "/z"] {
            try connection.request("GET", target)
            mixed.append(try connection.readResponse().headers.value("x-served-by") ?? "?")
        }
        #expect(mixed[0] == "s2" && mixed[2] == "s2" && mixed[4] == "s2", "\(mixed)")
        let log = scenario.logLines.filter { $0.request.hasPrefix("GET /two/") }
        #expect(log.count == 9 && log.allSatisfy { $0.server == "s2" && $0.status == 200 }, "\(log)")
    }

    @Test("a server in maintenance is skipped for the next rule or the balancer, unless force-persist holds")
    func maintenanceAndForcePersist() throws {
        let socket = statsSocketPath()
        let backends = try namedHTTPServers(3)
        let config = httpConfig(backend: """
                balance roundrobin
                use-server s2 if { path_beg /two }
                use-server s3 if { path_beg /two }
                use-server s1 if { path_beg /force }
                force-persist if { path_beg /force }
            """ + "\n" + httpServerLines(backends), global: "    stats socket \(socket) level admin")
        let scenario = try HTTPScenario(config: config, backends: backends)
        defer { scenario.close() }
        #expect(try servedFresh(scenario.port, "/two") == "s2")
        #expect(try statsCommand(socket, "disable server be/s2") == "\n")
        let next = try (0..<4).map { _ in try servedFresh(scenario.port, "/two") }
        #expect(Set(next) == ["s3"], "\(next)")
        #expect(try statsCommand(socket, "disable server be/s3") == "\n")
        let balanced = try (0..<4).map { _ in try servedFresh(scenario.port, "/two") }
        #expect(Set(balanced) == ["s1"], "only s1 is left for the balancer: \(balanced)")
        // force-persist reaches a server in maintenance, as HAProxy does.
        #expect(try statsCommand(socket, "disable server be/s1") == "\n")
        #expect(try statsCommand(socket, "enable server be/s2") == "\n")
        let forced = try (0..<3).map { _ in try servedFresh(scenario.port, "/force") }
        #expect(Set(forced) == ["s1"], "\(forced)")
    }

    @Test("a persistence cookie naming a server wins over use-server; use-server wins over the balancer")
    func cookieComesFirst() throws {
        let backends = try namedHTTPServers(2)
        let lines = backends.enumerated().map { i, b in "    server s\(i + 1) \(b.address) cookie c\(i + 1)" }
        let scenario = try HTTPScenario(config: httpConfig(backend: """
                balance roundrobin
                cookie SRV insert indirect
                use-server s2 if { path_beg /two }
            """ + "\n" + lines.joined(separator: "\n")), backends: backends)
        defer { scenario.close() }
        #expect(try servedFresh(scenario.port, "/two", headers: ["Cookie: SRV=c1"]) == "s1")
        #expect(try servedFresh(scenario.port, "/two") == "s2")
        #expect(try servedFresh(scenario.port, "/two", headers: ["Cookie: SRV=c2"]) == "s2")
    }

    @Test("mode tcp: a rule on the client's address picks the server")
    func tcpBySource() throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: """
                balance roundrobin
                use-server s3 if { src 127.0.0.2 }
            """ + "\n" + serverLines(backends)), backends: backends)
        defer { scenario.close() }
        let pinned = try (0..<6).map { _ in try askName(scenario.port, source: "127.0.0.2") }
        #expect(Set(pinned) == ["s3"], "\(pinned)")
        let balanced = try (0..<6).map { _ in try askName(scenario.port, source: "127.0.0.1") }
        #expect(counts(balanced) == ["s1": 2, "s2": 2, "s3": 2], "\(balanced)")
    }
}
