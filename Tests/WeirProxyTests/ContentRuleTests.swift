import Testing
import WeirConfig
import WeirSystem
@testable import WeirProxy

extension RuleHarness {
    /// The frontend's `tcp-request content` rules over `bytes` as buffered
    /// so far; `final`: no more will come.
    mutating func contentVerdict(_ bytes: [UInt8], final: Bool) -> ContentVerdict {
        bytes.withUnsafeBytes { data in
            var input = self.input
            input.content = data
            input.contentFinal = final
            engine.beginConnection(input)
            return engine.contentVerdict(engine.compiled.frontends[0].tcpContentRules)
        }
    }
}

/// `tcp-request content` rules over the request's bytes, as HAProxy runs
/// them during `tcp-request inspect-delay`: with three values while more
/// bytes may come, with two once they are final.
@Suite struct ContentRuleTests {
    typealias B = HelloBytes

    static func config(_ lines: String) -> String {
        """
        defaults
            mode tcp
        frontend fe
            bind 127.0.0.1:0
            tcp-request inspect-delay 5s
        \(lines)
            default_backend b0
        backend b0
            server s 127.0.0.1:1
        """
    }

    static let hello = B.clientHello(extensions: [B.serverName(["api.w.test"]), B.alpn(["h2", "http/1.1"]),
                                                  B.supportedGroups])
    static let plain = Array("GET / HTTP/1.1\r\n\r\n".utf8)

    @Test("accept if { req.ssl_hello_type 1 }: waits for the whole hello, or accepts anything once final")
    func acceptHello() throws {
        var h = try RuleHarness(Self.config("    tcp-request content accept if { req.ssl_hello_type 1 }"))
        #expect(h.contentVerdict([], final: false) == .wait)
        #expect(h.contentVerdict(Array(Self.hello.prefix(30)), final: false) == .wait)
        #expect(h.contentVerdict(Self.hello, final: false) == .accept)
        // Not TLS: decided at once; no rule matches, so accepted (the default).
        #expect(h.contentVerdict(Self.plain, final: false) == .accept)
        #expect(h.contentVerdict([], final: true) == .accept)
    }

    @Test("reject if !{ req.ssl_hello_type 1 }: a miss stays a miss when negated")
    func rejectNonTLS() throws {
        var h = try RuleHarness(Self.config("    tcp-request content reject if !{ req.ssl_hello_type 1 }"))
        #expect(h.contentVerdict([], final: false) == .wait)
        #expect(h.contentVerdict(Array(Self.hello.prefix(8)), final: false) == .wait)
        #expect(h.contentVerdict(Self.plain, final: false) == .reject)
        #expect(h.contentVerdict(Self.hello, final: false) == .accept)
        #expect(h.contentVerdict([], final: true) == .reject)
        #expect(h.contentVerdict(Array(Self.hello.prefix(30)), final: true) == .reject)
    }

    @Test("req.len: a value that may still grow waits until it matches")
    func requestLength() throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content accept if { req.len ge 8 }
                tcp-request content reject
            """))
        #expect(h.contentVerdict([1, 2, 3], final: false) == .wait)
        #expect(h.contentVerdict([UInt8](repeating: 1, count: 8), final: false) == .accept)
        #expect(h.contentVerdict([1, 2, 3], final: true) == .reject)
    }

    @Test("WAIT_END holds until the delay; REQ_CONTENT is req.len gt 0")
    func waitEnd() throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content reject if REQ_CONTENT
                tcp-request content accept if WAIT_END
                tcp-request content reject
            """))
        #expect(h.contentVerdict([], final: false) == .wait)
        #expect(h.contentVerdict([], final: true) == .accept)
        #expect(h.contentVerdict([1], final: false) == .reject)
    }

    @Test("HTTP (req.proto_http): waits for the whole head; a request line that cannot be HTTP decides at once")
    func protoHTTP() throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content accept if HTTP
                tcp-request content reject
            """))
        #expect(h.contentVerdict(Array("GET /a HT".utf8), final: false) == .wait)
        #expect(h.contentVerdict(Array("GET /a HTTP/1.1\r\nhost: x\r\n".utf8), final: false) == .wait)
        #expect(h.contentVerdict(Self.plain, final: false) == .accept)
        #expect(h.contentVerdict(Array("OPTIONS * HTTP/1.0\n\n".utf8), final: false) == .accept)
        #expect(h.contentVerdict(Self.hello, final: false) == .reject)
        #expect(h.contentVerdict(Array("GET /a SMTP/1.1\r\n\r\n".utf8), final: false) == .reject)
        #expect(h.contentVerdict(Array("GET /a HTTP/1.1\r\n".utf8), final: true) == .reject)
    }

    /// An RDP connection request: TPKT, X.224, then `line`.
    static func rdp(_ line: String) -> [UInt8] { [3, 0, 0, 44, 39, 0xE0, 0, 0, 0, 0, 0] + Array(line.utf8) }

    @Test("RDP_COOKIE (req.rdp_cookie_cnt gt 0) and req.rdp_cookie(NAME) read an RDP connection request's cookie")
    func rdpCookie() throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content reject if { req.rdp_cookie(mstshash) -m str alice }
                tcp-request content accept if RDP_COOKIE
                tcp-request content reject
            """))
        #expect(h.contentVerdict(Self.rdp("Cookie: mstshash=bob"), final: false) == .wait)
        #expect(h.contentVerdict(Self.rdp("Cookie: mstshash=bob\r\n"), final: false) == .accept)
        #expect(h.contentVerdict(Self.rdp("cookie:  MSTSHASH=alice\r\n"), final: false) == .reject)
        #expect(h.contentVerdict(Self.rdp("Cookie: user=someone\r\n"), final: false) == .accept)
        // Shorter than the name: it may still come, as in HAProxy, until the bytes are final.
        #expect(h.contentVerdict(Self.rdp("Cookie: msts=x\r\n"), final: false) == .wait)
        #expect(h.contentVerdict(Self.rdp("Cookie: msts=x\r\n"), final: true) == .accept)
        #expect(h.contentVerdict(Self.rdp("Hello: mstshash=bob\r\n"), final: false) == .reject)
        #expect(h.contentVerdict(Self.rdp("Cookie: mstshash=bob"), final: true) == .reject)
    }

    @Test("AND with a failed term and OR with a passed one decide without waiting")
    func threeValues() throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content reject if { req.ssl_hello_type 1 } { src 192.0.2.1 }
                tcp-request content accept if { req.ssl_sni a.test } || { src 10.0.0.0/8 }
                tcp-request content reject
            """))
        // The peer is 10.1.2.3: the first rule fails whatever comes, the second passes.
        #expect(h.contentVerdict([], final: false) == .accept)
        h.peer = PeerAddress(SocketAddress(ip: [192, 0, 2, 7], port: 40000))
        #expect(h.contentVerdict([], final: false) == .wait)
        #expect(h.contentVerdict(Self.hello, final: false) == .reject)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let acl: String
        let bytes: [UInt8]
        let matches: Bool
        var testDescription: String { acl }
    }

    static let cases: [Case] = [
        Case(acl: "req.ssl_sni api.w.test", bytes: hello, matches: true),
        Case(acl: "req_ssl_sni -i API.W.TEST", bytes: hello, matches: true),
        Case(acl: "req.ssl_sni -m end .w.test", bytes: hello, matches: true),
        Case(acl: "req.ssl_sni a.test", bytes: hello, matches: false),
        Case(acl: "req.ssl_sni -m found", bytes: plain, matches: false),
        Case(acl: "req.ssl_ver 3.3", bytes: hello, matches: true),
        Case(acl: "req_ssl_ver 3.1:3.2", bytes: hello, matches: false),
        Case(acl: "req.ssl_ver ge 3.1", bytes: hello, matches: true),
        Case(acl: "req.ssl_ver 196611", bytes: hello, matches: true),
        Case(acl: "req.ssl_hello_type 1", bytes: B.sslv2Hello(), matches: false),
        Case(acl: "req.ssl_ver 3.1", bytes: B.sslv2Hello(), matches: true),
        Case(acl: "req.ssl_alpn http/1.1", bytes: hello, matches: true),
        Case(acl: "req.ssl_alpn h3", bytes: hello, matches: false),
        Case(acl: "req.ssl_st_ext 0", bytes: hello, matches: true),
        Case(acl: "req.ssl_ec_ext", bytes: hello, matches: true),
        Case(acl: "req.payload(0,3) 160301", bytes: hello, matches: true),
        Case(acl: "payload(0,1) -m bin 17", bytes: hello, matches: false),
        Case(acl: "req.payload(0,3) -m str GET", bytes: plain, matches: true),
        Case(acl: "req.payload(4,0) -m beg /", bytes: plain, matches: true),
        Case(acl: "req.payload_lv(3,2) -m len 10:", bytes: hello, matches: true),
        Case(acl: "req.payload_lv(0,1) -m str AB", bytes: Array("\u{2}ABCD".utf8), matches: true),
        Case(acl: "req.payload_lv(0,1,+1) -m str AB", bytes: Array("\u{2}ABCD".utf8), matches: false),
        Case(acl: "req.payload_lv(0,1,+1) -m str BC", bytes: Array("\u{2}ABCD".utf8), matches: true),
        Case(acl: "req.payload_lv(0,1,3) -m str CD", bytes: Array("\u{2}ABCD".utf8), matches: true),
        Case(acl: "req_len 18", bytes: plain, matches: true),
    ]

    @Test("fetches and their ACL matches", arguments: cases)
    func fetches(_ c: Case) throws {
        var h = try RuleHarness(Self.config("""
                tcp-request content accept if { \(c.acl) }
                tcp-request content reject
            """))
        #expect(h.contentVerdict(c.bytes, final: true) == (c.matches ? .accept : .reject))
    }

    @Test("outside content inspection (HTTP, connection rules) the content fetches have no value")
    func noContent() throws {
        var h = try RuleHarness(Self.config("    tcp-request content reject if { req.len ge 0 }"))
        h.engine.beginConnection(h.input)
        #expect(h.engine.contentVerdict(h.engine.compiled.frontends[0].tcpContentRules) == .accept)
    }
}
