import Glibc
import Testing
import WeirSystem
@testable import WeirProxy

/// ACLs and conditions, through `use_backend`: which backend a request gets.
@Suite struct RuleConditionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let lines: String
        let request: String
        let expected: String
        var peer: [UInt8] = [10, 1, 2, 3]
        var testDescription: String { "\(lines) ← \(request.split(separator: "\n").first ?? "")" }
    }

    static func get(_ target: String, _ headers: String = "") -> String {
        "GET \(target) HTTP/1.1\nhost: example.com\n\(headers)\n"
    }

    static let cases: [Case] = [
        Case(lines: "use_backend b1 if { path_beg /api }", request: get("/api/users"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /api }", request: get("/web"), expected: "b0"),
        Case(lines: "use_backend b1 if { path_end .jpg .png }", request: get("/img/a.png?x=1"), expected: "b1"),
        Case(lines: "use_backend b1 if { path /exact }", request: get("/exact/no"), expected: "b0"),
        Case(lines: "acl h hdr(host) -i Example.COM\n    use_backend b1 if h",
             request: "GET / HTTP/1.1\nhost: EXAMPLE.com\n\n", expected: "b1"),
        Case(lines: "acl h hdr(host) example.com\n    use_backend b1 if h",
             request: "GET / HTTP/1.1\nhost: EXAMPLE.com\n\n", expected: "b0"),
        Case(lines: "use_backend b1 if { hdr_dom(host) -i example.com }",
             request: "GET / HTTP/1.1\nhost: www.Example.com\n\n", expected: "b1"),
        Case(lines: "use_backend b1 if { hdr_dom(host) -i example.com }",
             request: "GET / HTTP/1.1\nhost: example.community\n\n", expected: "b0"),
        Case(lines: "use_backend b1 if { url_param(user) alice }", request: get("/?x=1&user=alice"), expected: "b1"),
        Case(lines: "use_backend b1 if { url_param(user) alice }", request: get("/?x=1&username=alice"), expected: "b0"),
        Case(lines: "use_backend b1 if { method POST }",
             request: "POST /form HTTP/1.1\nhost: a\ncontent-length: 0\n\n", expected: "b1"),
        Case(lines: "use_backend b1 if METH_GET", request: get("/"), expected: "b1"),
        Case(lines: "use_backend b1 if { src 10.1.0.0/16 }", request: get("/"), expected: "b1"),
        Case(lines: "use_backend b1 if { src 10.1.0.0/16 }", request: get("/"), expected: "b0", peer: [10, 2, 0, 1]),
        Case(lines: "use_backend b1 if { src 10.1.2.3 }", request: get("/"), expected: "b1",
             peer: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]),
        Case(lines: "use_backend b1 if !{ path_beg /api }", request: get("/web"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /a } || { path_beg /b }", request: get("/b"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /a } or { path_beg /b }", request: get("/c"), expected: "b0"),
        Case(lines: "use_backend b1 if { path_beg /a } { method GET }", request: get("/a"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /a } { method POST }", request: get("/a"), expected: "b0"),
        Case(lines: "acl a path_beg /x\n    acl a path_beg /y\n    use_backend b1 if a", request: get("/y"), expected: "b1"),
        Case(lines: "use_backend b1 unless { path_beg /api }", request: get("/api"), expected: "b0"),
        Case(lines: "use_backend b1 if { path_reg ^/v[0-9]+/ }", request: get("/v12/x"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_dir api }", request: get("/v1/api/x"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_dir api }", request: get("/v1/apis/x"), expected: "b0"),
        Case(lines: "use_backend b1 if { hdr_sub(user-agent) -i bot }", request: get("/", "user-agent: GoogleBOT/2\n"),
             expected: "b1"),
        Case(lines: "use_backend b1 if { hdr_end(host) .com }", request: get("/"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_len gt 5 }", request: get("/abcdef"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr_val(x-n) ge 5 }", request: get("/", "x-n: 7\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr_val(x-n) ge 5 }", request: get("/", "x-n: 4\n"), expected: "b0"),
        Case(lines: "use_backend b1 if { hdr(x-flag) -m found }", request: get("/", "x-flag: \n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr(x-flag) -m found }", request: get("/"), expected: "b0"),
        Case(lines: "use_backend b1 if { hdr(x-list) b }", request: get("/", "x-list: a, b\nx-list: c\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr(x-list,1) b }", request: get("/", "x-list: a, b\n"), expected: "b0"),
        Case(lines: "use_backend b1 if { hdr(x-list,-1) c }", request: get("/", "x-list: a, b\nx-list: c\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { req.fhdr(x-list) \"a, b\" }", request: get("/", "x-list: a, b\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr_cnt(x-list) eq 3 }", request: get("/", "x-list: a, b\nx-list: c\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { cook(session) -m beg abc }", request: get("/", "cookie: a=1; session=abc123\n"),
             expected: "b1"),
        Case(lines: "use_backend b1 if { query -m sub debug=1 }", request: get("/x?a=2&debug=1"), expected: "b1"),
        Case(lines: "use_backend b1 if { url_sub debug }", request: get("/x?debug"), expected: "b1"),
        Case(lines: "use_backend b1 if { base_beg example.com/shop }", request: get("/shop/cart"), expected: "b1"),
        Case(lines: "use_backend b1 if HTTP_1.0", request: "GET / HTTP/1.0\n\n", expected: "b1"),
        Case(lines: "use_backend b1 if { dst 192.168.0.0/24 } { dst_port 8080 }", request: get("/"), expected: "b1"),
        Case(lines: "use_backend b1 if { nbsrv(b2) eq 0 }", request: get("/"), expected: "b1"),
        Case(lines: "use_backend b1 if { path -i /a /b /c /d /e /f /g /H /i /j }", request: get("/h"), expected: "b1"),
        Case(lines: "use_backend b1 if { path,lower -m str /mixed }", request: get("/MiXeD"), expected: "b1"),
        Case(lines: "use_backend b1 if FALSE\n    use_backend b2 if TRUE", request: get("/"), expected: "b2"),
        Case(lines: "use_backend b1 if { hdr(host),field(1,.) example }", request: get("/"), expected: "b1"),
        Case(lines: "use_backend %[path,field(2,/)]", request: get("/b2/x"), expected: "b2"),
        Case(lines: "use_backend %[path,field(2,/)]", request: get("/nope/x"), expected: "b0"),
        Case(lines: "use_backend b%[req.hdr(x-shard)] if { req.hdr(x-shard) -m found }",
             request: get("/", "x-shard: 3\n"), expected: "b3"),
    ]

    @Test(arguments: cases)
    func routes(_ c: Case) throws {
        var harness = try RuleHarness(routingConfig(c.lines))
        harness.peer = PeerAddress(SocketAddress(ip: c.peer, port: 40000))
        #expect(try harness.route(c.request) == c.expected)
    }

    /// The plan's direct comparisons: short patterns of every length, list
    /// elements, fields the rules set or removed.
    static let plannedCases: [Case] = [
        Case(lines: "use_backend b1 if { path_beg /ab }", request: get("/ab/x"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /ab }", request: get("/ac"), expected: "b0"),
        Case(lines: "use_backend b1 if { path_beg /abcdef }", request: get("/abcdef"), expected: "b1"),
        Case(lines: "use_backend b1 if { path_beg /abcdef }", request: get("/abcxef"), expected: "b0"),
        Case(lines: "use_backend b1 if { path_beg /abcdef }", request: get("/abcdeF"), expected: "b0"),
        Case(lines: "use_backend b1 if { path /exactly }", request: get("/exactly"), expected: "b1"),
        Case(lines: "use_backend b1 if { path /exactly }", request: get("/exactlY"), expected: "b0"),
        Case(lines: "use_backend b1 if { path -i /exactly }", request: get("/ExactlY"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr(x-list) -i B }", request: get("/", "x-list: b\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr(x-list) -i B }", request: get("/", "x-list: a, B\n"), expected: "b1"),
        Case(lines: "use_backend b1 if { hdr(x-list) -i B }", request: get("/", "x-list: bb\n"), expected: "b0"),
        Case(lines: "use_backend b1 if { hdr(x-list) a,b }", request: get("/", "x-list: a,b\n"), expected: "b0"),
        Case(lines: "use_backend b1 if { req.fhdr(x-list) a,b }", request: get("/", "x-list: a,b\n"), expected: "b1"),
        Case(lines: "http-request set-header Host other.example\n    use_backend b1 if { hdr(host) other.example }",
             request: get("/"), expected: "b1"),
        Case(lines: "http-request del-header host\n    use_backend b1 if { hdr(host) -m found }",
             request: get("/"), expected: "b0"),
        Case(lines: "http-request add-header X-Host example.com\n    use_backend b1 if { hdr(x-host) example.com }",
             request: get("/"), expected: "b1"),
    ]

    @Test(arguments: cases + plannedCases)
    func routesOverThePlan(_ c: Case) throws {
        var harness = try RuleHarness(routingConfig(c.lines))
        harness.peer = PeerAddress(SocketAddress(ip: c.peer, port: 40000))
        #expect(try harness.routePlanned(c.request) == c.expected)
    }

    @Test func sourceNetworksFromAFile() throws {
        let file = temporaryFile("# trusted\n10.9.0.0/16\n10.1.2.0/24\n")
        defer { _ = unlink(file) }
        var harness = try RuleHarness(routingConfig("acl trusted src -f \(file)\n    use_backend b1 if trusted"))
        #expect(try harness.route(Self.get("/")) == "b1")
        harness.peer = PeerAddress(SocketAddress(ip: [10, 1, 3, 1], port: 1))
        #expect(try harness.route(Self.get("/")) == "b0")
    }

    @Test func mapConverterPicksTheBackend() throws {
        let map = temporaryFile("example.com b1\nshop.example.com b2\n")
        defer { _ = unlink(map) }
        var harness = try RuleHarness(routingConfig("use_backend %[req.hdr(host),lower,map(\(map),b3)]"))
        #expect(try harness.route("GET / HTTP/1.1\nhost: SHOP.example.com\n\n") == "b2")
        #expect(try harness.route("GET / HTTP/1.1\nhost: example.com\n\n") == "b1")
        #expect(try harness.route("GET / HTTP/1.1\nhost: other.org\n\n") == "b3")
    }

    @Test func mapBegAndMapIPMatchTheirWay() throws {
        let prefixes = temporaryFile("/api/v2 b2\n/api b1\n")
        let networks = temporaryFile("10.0.0.0/8 b1\n10.1.0.0/16 b2\n")
        defer {
            _ = unlink(prefixes)
            _ = unlink(networks)
        }
        var byPath = try RuleHarness(routingConfig("use_backend %[path,map_beg(\(prefixes))]"))
        #expect(try byPath.route(Self.get("/api/v2/x")) == "b2")
        #expect(try byPath.route(Self.get("/api/v1")) == "b1")
        var bySource = try RuleHarness(routingConfig("use_backend %[src,map_ip(\(networks))]"))
        #expect(try bySource.route(Self.get("/")) == "b2", "the most specific network wins")
    }

    @Test func tcpRulesSeeOnlyTheConnection() throws {
        var harness = try RuleHarness(routingConfig("use_backend b1 if { path_beg / }\n    use_backend b2 if { src 10.0.0.0/8 }"))
        harness.engine.beginConnection(harness.input)
        #expect(harness.engine.chooseBackend(frontend: 0) == 2, "no request yet: path does not exist")
    }
}
