import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// ACLs and `use_backend`: a real weir routing real requests to one of
/// five backends, each answering with its name.
@Suite("HTTP rules: routing", .serialized)
struct HTTPRulesRoutingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var method = "GET"
        var path: String
        var headers: [String] = []
        var host = "weir.test"
        var expected: String
        var testDescription: String { "\(method) \(path) \(headers) → \(expected)" }
    }

    /// Rules in order; each case below is built to be caught by exactly one.
    static let frontend = """
        acl is_api path_beg /api
        acl is_post method POST
        acl images path_end .jpg .png
        acl shop hdr(host) -i shop.example.com
        acl corp hdr_dom(host) -i corp.example
        acl alice url_param(user) alice
        acl from_two src 127.0.0.2/32
        acl trusted src -f TRUSTED
        use_backend b2 if is_api is_post
        use_backend b1 if is_api
        use_backend b3 if images || { path_beg /static/ }
        use_backend b4 if shop
        use_backend b2 if corp or { hdr(x-tenant) corp }
        use_backend b3 if alice
        use_backend b4 if from_two
        use_backend b1 if trusted !{ path_beg /public }
        use_backend %[req.hdr(x-pool),lower,map(POOLS,b3)] if { req.hdr(x-pool) -m found }
        use_backend %[path,field(3,/)] if { path_beg /direct/ }
        use_backend b4 if { path_dir legacy }
        use_backend b1 if { hdr_cnt(x-multi) ge 2 }
        use_backend b2 if { cook(beta) 1 }
        use_backend b3 if { query -m sub debug=1 }
        use_backend b4 if { path_reg ^/v[0-9]+/items$ }
        use_backend b1 if { hdr_val(x-priority) gt 5 }
        use_backend b2 if { path_len 1 } METH_GET { req.ver 1.0 }
        default_backend fallback
    """

    static let cases: [Case] = [
        Case(path: "/api/users", expected: "b1"),
        Case(method: "POST", path: "/api/users", expected: "b2"),
        Case(path: "/img/cat.jpg", expected: "b3"),
        Case(path: "/static/app.js", expected: "b3"),
        Case(path: "/", host: "SHOP.example.COM", expected: "b4"),
        Case(path: "/", host: "www.corp.example", expected: "b2"),
        Case(path: "/", host: "corp.examples.org", expected: "fallback"),
        Case(path: "/", headers: ["X-Tenant: corp"], expected: "b2"),
        Case(path: "/?a=1&user=alice", expected: "b3"),
        Case(path: "/?user=alicia", expected: "fallback"),
        Case(path: "/x", headers: ["X-Pool: GOLD"], expected: "b2"),
        Case(path: "/x", headers: ["X-Pool: unknown"], expected: "b3"),
        Case(path: "/direct/b4/page", expected: "b4"),
        Case(path: "/direct/nowhere/page", expected: "fallback"),
        Case(path: "/v1/legacy/page", expected: "b4"),
        Case(path: "/v1/legacyx/page", expected: "fallback"),
        Case(path: "/m", headers: ["X-Multi: a, b"], expected: "b1"),
        Case(path: "/m", headers: ["X-Multi: a"], expected: "fallback"),
        Case(path: "/c", headers: ["Cookie: theme=dark; beta=1"], expected: "b2"),
        Case(path: "/q?x=2&debug=1", expected: "b3"),
        Case(path: "/v2/items", expected: "b4"),
        Case(path: "/v2/items/9", expected: "fallback"),
        Case(path: "/p", headers: ["X-Priority: 9"], expected: "b1"),
        Case(path: "/p", headers: ["X-Priority: 3"], expected: "fallback"),
        Case(path: "/plain", expected: "fallback"),
    ]

    private func scenario() throws -> (HTTPScenario, [TempFile]) {
        let trusted = try rulesFile("# trusted clients\n127.0.0.3\n10.0.0.0/8\n", name: "trusted.lst")
        let pools = try rulesFile("gold b2\nsilver b1\n", name: "pools.map")
        let (backends, sections) = try namedBackends(["b1", "b2", "b3", "b4", "fallback"])
        let lines = Self.frontend.replacingOccurrences(of: "TRUSTED", with: trusted.path)
            .replacingOccurrences(of: "POOLS", with: pools.path)
        do {
            return (try HTTPScenario(config: rulesConfig(frontend: lines, sections: sections), backends: backends),
                    [trusted, pools])
        } catch {
            trusted.remove()
            pools.remove()
            throw error
        }
    }

    @Test("each request goes to the backend its ACLs pick")
    func routesEveryCase() throws {
        let (scenario, files) = try scenario()
        defer {
            scenario.close()
            for f in files { f.remove() }
        }
        for c in Self.cases {
            let connection = try scenario.connect()
            let fields = (["host: \(c.host)"] + c.headers + (c.method == "POST" ? ["content-length: 0"] : []))
            try connection.send("\(c.method) \(c.path) HTTP/1.1\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n")
            let response = try connection.readResponse(method: c.method)
            #expect(response.status == 200, "\(c): \(response)")
            #expect(response.text.split(separator: " ").first.map(String.init) == c.expected, "\(c): \(response.text)")
            connection.close()
        }
        // A request sent as HTTP/1.0: predefined ACLs and req.ver.
        let old = try scenario.connect()
        try old.send("GET / HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().text.hasPrefix("b2 "))
    }

    @Test("one keep-alive connection: each request is routed on its own")
    func keepAliveRoutesEachRequest() throws {
        let (scenario, files) = try scenario()
        defer {
            scenario.close()
            for f in files { f.remove() }
        }
        let connection = try scenario.connect()
        for (path, expected) in [("/api/a", "b1"), ("/a.png", "b3"), ("/plain", "fallback"), ("/api/b", "b1")] {
            try connection.request("GET", path)
            let response = try connection.readResponse()
            #expect(response.text.hasPrefix(expected + " GET \(path)"), "\(path): \(response)")
        }
        let logs = try scenario.logs(clientPort: connection.localPort, count: 4)
        #expect(logs.map(\.backend) == ["b1", "b3", "fallback", "b1"])
    }

    @Test("src ACLs: a CIDR and a -f file, with a negated term")
    func sourceAddresses() throws {
        guard hasCurl else { return }
        let (scenario, files) = try scenario()
        defer {
            scenario.close()
            for f in files { f.remove() }
        }
        #expect(try curlRequest(port: scenario.port, "/x", source: "127.0.0.2").body.hasPrefix("b4 "))
        #expect(try curlRequest(port: scenario.port, "/x", source: "127.0.0.3").body.hasPrefix("b1 "))
        #expect(try curlRequest(port: scenario.port, "/public/x", source: "127.0.0.3").body.hasPrefix("fallback "))
        #expect(try curlRequest(port: scenario.port, "/x", source: "127.0.0.4").body.hasPrefix("fallback "))
    }

    @Test("tcp-request connection reject by src; use_backend by src in mode tcp")
    func layerFourRules() throws {
        guard hasCurl else { return }
        let (backends, sections) = try namedBackends(["b1", "b2"])
        let frontend = """
            tcp-request connection reject if { src 127.0.0.2 }
            use_backend b2 if { src 127.0.0.3 }
            default_backend b1
        """
        let http = try HTTPScenario(config: rulesConfig(frontend: frontend, sections: sections), backends: backends)
        defer { http.close() }
        let rejected = try curlRequest(port: http.port, "/", source: "127.0.0.2")
        #expect(rejected.status == 0 && rejected.exitCode != 0, "\(rejected)")
        #expect(try curlRequest(port: http.port, "/", source: "127.0.0.1").body.hasPrefix("b1 "))
        #expect(try curlRequest(port: http.port, "/", source: "127.0.0.3").body.hasPrefix("b2 "))

        let (tcpBackends, tcpSections) = try namedBackends(["b1", "b2"])
        let tcp = try HTTPScenario(config: rulesConfig(frontend: frontend, sections: tcpSections,
                                                      defaults: "    mode tcp\n    option tcplog"),
                                   backends: tcpBackends)
        defer { tcp.close() }
        #expect(try curlRequest(port: tcp.port, "/", source: "127.0.0.2").status == 0)
        #expect(try curlRequest(port: tcp.port, "/", source: "127.0.0.3").body.hasPrefix("b2 "))
        #expect(try curlRequest(port: tcp.port, "/", source: "127.0.0.4").body.hasPrefix("b1 "))
        #expect(tcpBackends[0].accepted + tcpBackends[1].accepted == 2, "the rejected connection reached no server")
    }
}
