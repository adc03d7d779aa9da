import Foundation
import Testing

/// Balancing by content (`balance uri|url_param|hdr|hash`, `hash-type`): a
/// real weir over real HTTP servers that answer with their name in
/// `x-served-by`.
@Suite("HTTP balancing by content", .serialized)
struct HTTPBalanceTests {
    /// Sends one GET on `connection` and returns the name of the server that answered.
    private func served(_ connection: HTTPConnection, _ target: String, headers: [String] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try connection.request("GET", target, headers: headers)
        let response = try connection.readResponse()
        #expect(response.status == 200, "\(target): \(response)", sourceLocation: sourceLocation)
        return response.headers.value("x-served-by") ?? "?"
    }

    /// One GET on a fresh connection.
    private func servedFresh(_ port: UInt16, _ target: String, headers: [String] = [],
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        return try served(connection, target, headers: headers, sourceLocation: sourceLocation)
    }

    /// The server for each target, each on a fresh connection.
    private func mapping(_ port: UInt16, _ targets: [String]) throws -> [String] {
        try targets.map { try servedFresh(port, $0) }
    }

    // MARK: - balance uri

    @Test("balance uri: a path keeps its server across connections and keep-alive; paths spread")
    func uriStickiness() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance uri")
        defer { scenario.close() }
        let paths = (0..<24).map { "/static/file\($0).css" }
        let first = try mapping(scenario.port, paths)
        // The query is not part of the key.
        let again = try paths.enumerated().map { try servedFresh(scenario.port, "\($1)?v=\($0)") }
        #expect(again == first)
        // One keep-alive connection: each request is balanced on its own.
        let connection = try scenario.connect()
        defer { connection.close() }
        var kept: [String] = []
        for path in paths { kept.append(try served(connection, path)) }
        #expect(kept == first)
        #expect(Set(first).count == 4, "24 paths over 4 servers: \(first)")
    }

    @Test("balance uri whole: the query counts")
    func uriWhole() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance uri whole")
        defer { scenario.close() }
        let targets = (0..<24).map { "/item?id=\($0)" }
        let first = try mapping(scenario.port, targets)
        #expect(try mapping(scenario.port, targets) == first)
        #expect(Set(first).count > 1, "one path, 24 queries: \(first)")
    }

    @Test("balance uri depth 1 / len 4: only the first directory, or the first 4 characters, count")
    func uriDepthAndLength() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance uri depth 1")
        defer { scenario.close() }
        let directories = (0..<16).map { "/d\($0)" }
        let byDirectory = try mapping(scenario.port, directories.map { $0 + "/index.html" })
        #expect(Set(byDirectory).count > 1, "16 directories: \(byDirectory)")
        for (directory, server) in zip(directories, byDirectory) {
            for leaf in ["a", "b/c", "d/e/f.png?x=1"] {
                #expect(try servedFresh(scenario.port, "\(directory)/\(leaf)") == server, "\(directory)/\(leaf)")
            }
        }

        let length = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance uri len 4")
        defer { length.close() }
        let prefixes = (10..<26).map { "/p\($0)" }
        let byPrefix = try mapping(length.port, prefixes.map { $0 + "x" })
        #expect(Set(byPrefix).count > 1, "16 prefixes: \(byPrefix)")
        for (prefix, server) in zip(prefixes, byPrefix) {
            #expect(try servedFresh(length.port, "\(prefix)y/other") == server, "\(prefix)")
        }
    }

    @Test("balance uri hashes the URI the http-request rules left")
    func uriAfterRules() throws {
        let backends = try namedHTTPServers(4)
        let lines = ["    balance uri", "    http-request set-path /static/one.css if { path_beg /old/ }"]
        let scenario = try HTTPScenario(config: httpConfig(backend: (lines + [httpServerLines(backends)]).joined(separator: "\n")),
                                        backends: backends)
        defer { scenario.close() }
        let target = try servedFresh(scenario.port, "/static/one.css")
        let rewritten = try mapping(scenario.port, (0..<12).map { "/old/file\($0).css" })
        #expect(Set(rewritten) == [target], "\(rewritten)")
        // The same paths, not rewritten, spread.
        #expect(Set(try mapping(scenario.port, (0..<12).map { "/new/file\($0).css" })).count > 1)
    }

    // MARK: - url_param and hdr

    @Test("balance url_param: the same value keeps its server; without it, round robin")
    func urlParam() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance url_param sid")
        defer { scenario.close() }
        let values = (0..<20).map { "user\($0)" }
        let first = try mapping(scenario.port, values.map { "/a?sid=\($0)" })
        #expect(Set(first).count > 1, "20 values: \(first)")
        // Another path, other parameters around it: only the value counts.
        let again = try mapping(scenario.port, values.map { "/b/c?x=1&sid=\($0)&y=2" })
        #expect(again == first)
        // Absent (or a different name that merely starts the same): round robin.
        let connection = try scenario.connect()
        defer { connection.close() }
        var absent: [String] = []
        for n in 0..<8 { absent.append(try served(connection, n % 2 == 0 ? "/a?x=1" : "/a?sidx=\(n)")) }
        #expect(Dictionary(absent.map { ($0, 1) }, uniquingKeysWith: +) == ["s1": 2, "s2": 2, "s3": 2, "s4": 2],
                "\(absent)")
    }

    @Test("balance hdr(NAME): the same value keeps its server; absent or empty, round robin")
    func header() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance hdr(X-User)")
        defer { scenario.close() }
        let values = (0..<20).map { "user-\($0)" }
        let first = try values.map { try servedFresh(scenario.port, "/", headers: ["x-user: \($0)"]) }
        #expect(Set(first).count > 1, "20 values: \(first)")
        let connection = try scenario.connect()
        defer { connection.close() }
        for (value, server) in zip(values, first) {
            #expect(try served(connection, "/other/\(value)", headers: ["X-USER: \(value)"]) == server, "\(value)")
        }
        var absent: [String] = []
        for n in 0..<8 { absent.append(try served(connection, "/", headers: n % 2 == 0 ? [] : ["x-user:"])) }
        #expect(Set(absent).count == 4, "\(absent)")
    }

    // MARK: - balance hash EXPR

    @Test("balance hash req.cook(sid): the cookie picks the server; no cookie, round robin")
    func hashExpression() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4), backend: "    balance hash req.cook(sid)")
        defer { scenario.close() }
        let values = (0..<20).map { "c\($0)" }
        let first = try values.map { try servedFresh(scenario.port, "/", headers: ["cookie: a=1; sid=\($0)"]) }
        #expect(Set(first).count > 1, "20 cookies: \(first)")
        let connection = try scenario.connect()
        defer { connection.close() }
        for (value, server) in zip(values, first) {
            #expect(try served(connection, "/x/\(value)", headers: ["cookie: sid=\(value)"]) == server, "\(value)")
        }
        var absent: [String] = []
        for _ in 0..<8 { absent.append(try served(connection, "/", headers: ["cookie: other=1"])) }
        #expect(Set(absent).count == 4, "\(absent)")
    }

    /// The keys and HAProxy 2.6's choices of `WeirBalanceTests/ConsistentHashTests`:
    /// `hash-type consistent sdbm avalanche`, s1…s5 with ids 1, 2, 7, 4, 5
    /// and weights 1, 2, 3, 1, 1; key "key-N" went to the server whose
    /// number is the Nth digit.
    static let haproxyChoices =
        "32215132133321323222243325322213332355313351312332234131344331255315132231453433123323323453313332"
        + "223343332242232231332142233322334133324222123533222323443123322533451524242323244325312352523312434221"

    @Test("hash-type consistent sdbm avalanche: each key reaches the server HAProxy 2.6 picks",
          arguments: ["balance hdr(k)", "balance hash req.hdr(k)", "balance url_param k"])
    func sameServersAsHAProxy(balance: String) throws {
        let backends = try namedHTTPServers(5)
        let lines = ["    " + balance, "    hash-type consistent sdbm avalanche"]
            + zip(backends, [(1, 1), (2, 2), (7, 3), (4, 1), (5, 1)]).map { b, p in
                "    server \(b.name) \(b.address) id \(p.0) weight \(p.1)"
            }
        let scenario = try HTTPScenario(config: httpConfig(backend: lines.joined(separator: "\n")), backends: backends)
        defer { scenario.close() }
        let connection = try scenario.connect()
        defer { connection.close() }
        var digits = ""
        for n in 0..<200 {
            let server = balance.hasSuffix("url_param k")
                ? try served(connection, "/?k=key-\(n)")
                : try served(connection, "/", headers: ["k: key-\(n)"])
            digits += server.dropFirst()
        }
        #expect(digits == Self.haproxyChoices)
    }

    // MARK: - hash-type: what moves when a server goes away

    /// The server of each of 200 URIs, with 4 servers of ids 11…14 (minus
    /// the ones in `removed`, or with them `disabled`), one weir process per call.
    private func placement(_ backends: [HTTPBackend], hashType: String, without removed: Int? = nil,
                           disabled: Int? = nil) throws -> [String] {
        var lines = ["    balance uri", "    hash-type \(hashType)"]
        for (i, b) in backends.enumerated() where i != removed {
            lines.append("    server \(b.name) \(b.address) id \(11 + i)" + (i == disabled ? " disabled" : ""))
        }
        let weir = try WeirProcess.start(config: httpConfig(backend: lines.joined(separator: "\n")))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        return try (0..<200).map { try served(connection, "/objects/\($0).bin") }
    }

    @Test("hash-type consistent: removing or disabling a server moves only its keys")
    func consistentMovesOnlyTheLostServersKeys() throws {
        let backends = try namedHTTPServers(4)
        defer { for b in backends { b.stop() } }
        let before = try placement(backends, hashType: "consistent")
        let counts = Dictionary(before.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(counts.count == 4 && counts.values.allSatisfy { $0 >= 20 }, "\(counts)")
        for after in [try placement(backends, hashType: "consistent", without: 2),
                      try placement(backends, hashType: "consistent", disabled: 2)] {
            var moved: [String] = []
            for n in before.indices {
                if before[n] == "s3" {
                    moved.append(after[n])
                } else {
                    #expect(after[n] == before[n], "key \(n) moved from \(before[n]) to \(after[n])")
                }
            }
            #expect(!moved.contains("s3"))
            #expect(Set(moved) == ["s1", "s2", "s4"], "s3's keys went to \(Set(moved))")
        }
    }

    @Test("hash-type map-based: removing a server moves other servers' keys too")
    func mapBasedMovesMore() throws {
        let backends = try namedHTTPServers(4)
        defer { for b in backends { b.stop() } }
        let before = try placement(backends, hashType: "map-based")
        #expect(Set(before).count == 4, "\(before)")
        let after = try placement(backends, hashType: "map-based", without: 2)
        #expect(!after.contains("s3"))
        let movedElsewhere = before.indices.filter { before[$0] != "s3" && after[$0] != before[$0] }.count
        let kept = before.filter { $0 != "s3" }.count
        // A consistent ring would move none of these; the table moves a good share.
        #expect(movedElsewhere * 5 > kept, "\(movedElsewhere) of \(kept) keys moved off a server still there")
    }

    // MARK: - mode tcp

    @Test("mode tcp: balance hash src and balance source on the ring keep each client address on its server",
          arguments: ["balance hash src", "balance source\n    hash-type consistent",
                      "balance hash src,lower\n    hash-type consistent djb2 avalanche"])
    func tcpHashOfTheSource(balance: String) throws {
        let backends = try (1...4).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    \(balance)\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        var chosen: [String: String] = [:]
        for source in (1...8).map({ "127.0.0.\($0)" }) {
            let answers = try (0..<4).map { _ in try askName(scenario.port, source: source) }
            #expect(Set(answers).count == 1, "from \(source): \(answers)")
            chosen[source] = answers[0]
        }
        #expect(Set(chosen.values).count >= 2, "servers by source: \(chosen)")
    }

    @Test("mode tcp: balance uri has no URI to hash, so it goes round robin")
    func tcpURIFallsBackToRoundRobin() throws {
        let backends = try (1...4).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    balance uri\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        let answers = try (0..<8).map { _ in try askName(scenario.port) }
        #expect(Dictionary(answers.map { ($0, 1) }, uniquingKeysWith: +) == ["s1": 2, "s2": 2, "s3": 2, "s4": 2],
                "\(answers)")
    }

    @Test("balance source with hash-type consistent: one client keeps its server")
    func sourceOnTheRing() throws {
        let scenario = try HTTPScenario(backends: try namedHTTPServers(4),
                                        backend: "    balance source\n    hash-type consistent")
        defer { scenario.close() }
        let first = try mapping(scenario.port, (0..<8).map { "/\($0)" })
        #expect(Set(first).count == 1, "\(first)")
    }
}
