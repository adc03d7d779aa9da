import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Cookie persistence (`cookie`, `server … cookie`, `option persist`,
/// `force-persist`, `ignore-persist`): a real weir in front of real backends
/// that answer with their name, each request on a new connection.
@Suite("HTTP cookie persistence", .serialized)
struct HTTPCookieTests {
    /// One request on a new connection; its response and its httplog line.
    private func exchange(_ scenario: HTTPScenario, _ method: String = "GET", _ target: String = "/",
                          headers: [String] = [], body: [UInt8]? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> (response: HTTPResponse, log: HTTPLogLine) {
        let connection = try scenario.connect()
        defer { connection.close() }
        try connection.request(method, target, headers: headers, body: body)
        let response = try connection.readResponse(method: method)
        let log = try scenario.log(of: connection, sourceLocation: sourceLocation)
        return (response, log)
    }

    private func servedBy(_ response: HTTPResponse) -> String { response.headers.value("x-served-by") ?? "?" }

    /// Three backends `s1`…`s3`, with `cookie sN` on each server line.
    private func scenario(_ lines: String, servers: Int = 3, handler: ((String) -> HTTPBackend.Handler)? = nil,
                          serverExtras: [String] = []) throws -> HTTPScenario {
        var backends: [HTTPBackend] = []
        for i in 1...servers {
            let name = "s\(i)"
            backends.append(try HTTPBackend(name: name, handler: handler?(name)))
        }
        var config = lines + "\n"
        for (i, b) in backends.enumerated() {
            let extra = i < serverExtras.count ? serverExtras[i] : ""
            config += "    server s\(i + 1) \(b.address) cookie s\(i + 1) \(extra)\n"
        }
        return try HTTPScenario(config: httpConfig(backend: config), backends: backends)
    }

    /// The `Cookie` field a backend received with its last request, or nil.
    private func lastCookie(_ backend: HTTPBackend) -> String? {
        backend.requests.last?.headers.value("cookie")
    }

    @Test func insertSetsTheServerAndKeepsClientsOnIt() throws {
        let sc = try scenario("    balance roundrobin\n    cookie SRV insert indirect nocache")
        defer { sc.close() }
        let first = try exchange(sc)
        let server = servedBy(first.response)
        #expect(first.response.headers.values("set-cookie") == ["SRV=\(server); path=/"])
        #expect(first.response.headers.value("cache-control") == "private")
        #expect(first.log.termination == "--NI")
        #expect(first.log.server == server)
        // Round robin would move the next requests; the cookie holds them.
        for _ in 0..<5 {
            let next = try exchange(sc, headers: ["Cookie: a=1; SRV=\(server); b=2"])
            #expect(servedBy(next.response) == server)
            #expect(next.response.headers.values("set-cookie").isEmpty)
            #expect(next.log.termination == "--VN")
        }
        // `indirect`: the server never sees the persistence cookie.
        let backend = try #require(sc.backends.first { $0.name == server })
        #expect(lastCookie(backend) == "a=1; b=2")
        let alone = try exchange(sc, headers: ["Cookie: SRV=\(server)"])
        #expect(servedBy(alone.response) == server)
        #expect(backend.requests.last?.headers.has("cookie") == false)
    }

    @Test func eachRequestOfAKeepAliveConnectionIsJudgedOnItsOwn() throws {
        let sc = try scenario("    balance roundrobin\n    cookie SRV insert indirect")
        defer { sc.close() }
        let connection = try sc.connect()
        defer { connection.close() }
        try connection.request("GET", "/one")
        let first = try connection.readResponse()
        let server = servedBy(first)
        #expect(first.headers.values("set-cookie") == ["SRV=\(server); path=/"])
        for i in 0..<3 {
            try connection.request("GET", "/again\(i)", headers: ["Cookie: SRV=\(server)"])
            let next = try connection.readResponse()
            #expect(servedBy(next) == server)
            #expect(next.headers.values("set-cookie").isEmpty)
        }
        // A request without the cookie is balanced again and gets one.
        try connection.request("GET", "/bare")
        let bare = try connection.readResponse()
        #expect(bare.headers.values("set-cookie") == ["SRV=\(servedBy(bare)); path=/"])
        let lines = try sc.logs(clientPort: connection.localPort, count: 5)
        #expect(lines.map(\.termination) == ["--NI", "--VN", "--VN", "--VN", "--NI"])
    }

    @Test func nocacheLeavesUncacheableResponsesAlone() throws {
        let sc = try scenario("    cookie SRV insert nocache", servers: 1, handler: { name in
            { request in
                let control = request.target == "/private" ? "no-store" : "public, max-age=60"
                return .text(200, name, headers: [HTTPHeaderField(name: "x-served-by", value: name),
                                                  HTTPHeaderField(name: "Cache-Control", value: control)])
            }
        })
        defer { sc.close() }
        let stored = try exchange(sc, "GET", "/public")
        #expect(stored.response.headers.values("cache-control") == ["public, max-age=60", "private"])
        let uncached = try exchange(sc, "GET", "/private")
        #expect(uncached.response.headers.values("cache-control") == ["no-store"])
        #expect(uncached.response.headers.values("set-cookie") == ["SRV=s1; path=/"])
        // A POST's response is not cacheable either.
        let post = try exchange(sc, "POST", "/public", body: Array("x".utf8))
        #expect(post.response.headers.values("cache-control") == ["public, max-age=60"])
    }

    @Test func aListenSectionPersistsToo() throws {
        let s1 = try HTTPBackend(name: "s1")
        let s2 = try HTTPBackend(name: "s2")
        let config = """
            global
                log stdout format raw local0
            defaults
                mode http
                log global
                option httplog
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            listen fe
                bind 127.0.0.1:0
                balance roundrobin
                cookie SRV insert indirect
                server s1 \(s1.address) cookie s1
                server s2 \(s2.address) cookie s2
            """
        let sc = try HTTPScenario(config: config, backends: [s1, s2])
        defer { sc.close() }
        for _ in 0..<3 {
            let r = try exchange(sc, headers: ["Cookie: SRV=s2"])
            #expect(servedBy(r.response) == "s2")
            #expect(r.log.termination == "--VN")
        }
    }

    @Test func anUnknownValueIsRebalancedAndGetsAFreshCookie() throws {
        let sc = try scenario("    cookie SRV insert")
        defer { sc.close() }
        let served = try exchange(sc, headers: ["Cookie: SRV=nosuch"])
        let server = servedBy(served.response)
        #expect(served.response.headers.values("set-cookie") == ["SRV=\(server); path=/"])
        #expect(served.log.termination == "--II")
        // Without `indirect` the server sees the cookie as sent.
        let backend = try #require(sc.backends.first { $0.name == server })
        #expect(lastCookie(backend) == "SRV=nosuch")
        // Without `nocache` no cache-control is added.
        #expect(served.response.headers.value("cache-control") == nil)
    }

    @Test func prefixModePrefixesTheApplicationCookie() throws {
        let sc = try scenario("    cookie JSESSIONID prefix", handler: { name in
            { request in
                var headers = [HTTPHeaderField(name: "x-served-by", value: name)]
                if request.headers.value("cookie") == nil {
                    headers.append(HTTPHeaderField(name: "Set-Cookie", value: "JSESSIONID=abc; Path=/app"))
                }
                return .text(200, name, headers: headers)
            }
        })
        defer { sc.close() }
        let first = try exchange(sc)
        let server = servedBy(first.response)
        #expect(first.response.headers.values("set-cookie") == ["JSESSIONID=\(server)~abc; Path=/app"])
        #expect(first.log.termination == "--NR")
        for _ in 0..<3 {
            let next = try exchange(sc, headers: ["Cookie: JSESSIONID=\(server)~abc; other=x"])
            #expect(servedBy(next.response) == server)
            #expect(next.log.termination == "--VN")
        }
        let backend = try #require(sc.backends.first { $0.name == server })
        #expect(lastCookie(backend) == "JSESSIONID=abc; other=x")
    }

    @Test func rewriteModeReplacesTheServersValue() throws {
        let sc = try scenario("    cookie SERVERID rewrite", handler: { name in
            { _ in
                .text(200, name, headers: [HTTPHeaderField(name: "x-served-by", value: name),
                                           HTTPHeaderField(name: "Set-Cookie", value: "SERVERID=placeholder; Path=/")])
            }
        })
        defer { sc.close() }
        let first = try exchange(sc)
        let server = servedBy(first.response)
        #expect(first.response.headers.values("set-cookie") == ["SERVERID=\(server); Path=/"])
        #expect(first.log.termination == "--NR")
        let next = try exchange(sc, headers: ["Cookie: SERVERID=\(server)"])
        #expect(servedBy(next.response) == server)
        #expect(next.log.termination == "--VR")
    }

    @Test func insertReplacesTheServersCookieUnlessPreserved() throws {
        let handler: (String) -> HTTPBackend.Handler = { name in
            { _ in
                .text(200, name, headers: [HTTPHeaderField(name: "x-served-by", value: name),
                                           HTTPHeaderField(name: "Set-Cookie", value: "SRV=fromapp"),
                                           HTTPHeaderField(name: "Set-Cookie", value: "other=1")])
            }
        }
        do {
            let sc = try scenario("    cookie SRV insert", handler: handler)
            defer { sc.close() }
            let r = try exchange(sc)
            #expect(r.response.headers.values("set-cookie") == ["other=1", "SRV=\(servedBy(r.response)); path=/"])
            #expect(r.log.termination == "--NI")
        }
        do {
            let sc = try scenario("    cookie SRV insert preserve", handler: handler)
            defer { sc.close() }
            let r = try exchange(sc)
            #expect(r.response.headers.values("set-cookie") == ["SRV=fromapp", "other=1"])
            #expect(r.log.termination == "--NP")
        }
    }

    @Test func attributesAndPostOnly() throws {
        let sc = try scenario("    cookie SRV insert postonly httponly secure domain .weir.test attr SameSite=Lax")
        defer { sc.close() }
        let get = try exchange(sc)
        #expect(get.response.headers.values("set-cookie").isEmpty)
        #expect(get.log.termination == "--NN")
        let post = try exchange(sc, "POST", "/form", body: Array("x=1".utf8))
        let server = servedBy(post.response)
        #expect(post.response.headers.values("set-cookie")
                == ["SRV=\(server); path=/; domain=.weir.test; HttpOnly; Secure; SameSite=Lax"])
        #expect(post.log.termination == "--NI")
    }

    @Test func aCookieForADisabledServerIsRebalanced() throws {
        let sc = try scenario("    cookie SRV insert", servers: 2, serverExtras: ["", "disabled"])
        defer { sc.close() }
        for _ in 0..<3 {
            let r = try exchange(sc, headers: ["Cookie: SRV=s2"])
            #expect(servedBy(r.response) == "s1")
            #expect(r.response.headers.values("set-cookie") == ["SRV=s1; path=/"])
            #expect(r.log.termination == "--DI")
        }
    }

    @Test func optionPersistKeepsADisabledServer() throws {
        let sc = try scenario("    cookie SRV insert\n    option persist", servers: 2, serverExtras: ["", "disabled"])
        defer { sc.close() }
        for _ in 0..<3 {
            let r = try exchange(sc, headers: ["Cookie: SRV=s2"])
            #expect(servedBy(r.response) == "s2")
            #expect(r.response.headers.values("set-cookie").isEmpty)
            #expect(r.log.termination == "--DN")
        }
        // Without the cookie the disabled server takes nothing.
        let plain = try exchange(sc)
        #expect(servedBy(plain.response) == "s1")
    }

    @Test func forcePersistOnlyWhenItsConditionHolds() throws {
        let sc = try scenario("    cookie SRV insert\n    force-persist if { hdr(x-tester) yes }",
                              servers: 2, serverExtras: ["", "disabled"])
        defer { sc.close() }
        let forced = try exchange(sc, headers: ["Cookie: SRV=s2", "X-Tester: yes"])
        #expect(servedBy(forced.response) == "s2")
        #expect(forced.log.termination == "--DN")
        let plain = try exchange(sc, headers: ["Cookie: SRV=s2"])
        #expect(servedBy(plain.response) == "s1")
        #expect(plain.log.termination == "--DI")
    }

    @Test func ignorePersistBalancesAndInsertsNothing() throws {
        let sc = try scenario("    balance roundrobin\n    cookie SRV insert\n    ignore-persist if { path_beg /static }")
        defer { sc.close() }
        var seen: Set<String> = []
        for _ in 0..<3 {
            let r = try exchange(sc, "GET", "/static/a.css", headers: ["Cookie: SRV=s1"])
            seen.insert(servedBy(r.response))
            #expect(r.response.headers.values("set-cookie").isEmpty)
            #expect(r.log.termination == "--UN")
        }
        #expect(seen.count == 3)
        let held = try exchange(sc, "GET", "/app", headers: ["Cookie: SRV=s1"])
        #expect(servedBy(held.response) == "s1")
        #expect(held.log.termination == "--VN")
    }

    @Test func aFailedConnectRedispatchesUnlessForced() throws {
        let dead = try Sock.refusedPort()
        let live = try HTTPBackend(name: "s1")
        let config = httpConfig(backend: """
                cookie SRV insert
                option redispatch
                retries 1
                timeout connect 500ms
                server s1 \(live.address) cookie s1
                server s2 127.0.0.1:\(dead) cookie s2
                force-persist if { hdr(x-tester) yes }
            """)
        let sc = try HTTPScenario(config: config, backends: [live])
        defer { sc.close() }
        let moved = try exchange(sc, headers: ["Cookie: SRV=s2"])
        #expect(moved.response.status == 200)
        #expect(servedBy(moved.response) == "s1")
        #expect(moved.response.headers.values("set-cookie") == ["SRV=s1; path=/"])
        #expect(moved.log.termination == "--DI")
        #expect(moved.log.retries == "+1")
        let forced = try exchange(sc, headers: ["Cookie: SRV=s2", "X-Tester: yes"])
        #expect(forced.response.status == 503)
        #expect(forced.log.termination == "SCVN")
    }

    @Test func maxIdleAndMaxLifeDateTheCookie() throws {
        let sc = try scenario("    cookie SRV insert maxidle 30m maxlife 2h", servers: 1)
        defer { sc.close() }
        let now = Int(Date().timeIntervalSince1970)
        let first = try exchange(sc)
        let value = try #require(first.response.headers.value("set-cookie"))
        let parts = value.split(separator: ";")[0].split(separator: "=")[1].split(separator: "|").map(String.init)
        #expect(parts.count == 3 && parts[0] == "s1")
        let last = decode30(parts[1]) << 2
        #expect(abs(last - now) <= 8)
        #expect(parts[2] == parts[1])
        #expect(first.log.termination == "--NI")
        // Fresh dates: the cookie is used as it is.
        let fresh = try exchange(sc, headers: ["Cookie: SRV=s1|\(parts[1])|\(parts[2])"])
        #expect(fresh.log.termination == "--VN" || fresh.log.termination == "--VU")
        // Idle too long: ignored, and a new cookie is set.
        let idle = encode30((now - 3600) >> 2)
        let expired = try exchange(sc, headers: ["Cookie: SRV=s1|\(idle)|\(idle)"])
        #expect(expired.log.termination == "--EI")
        #expect(expired.response.headers.value("set-cookie")?.hasPrefix("SRV=s1|") == true)
        // Older than maxlife although seen recently: old.
        let born = encode30((now - 3 * 3600) >> 2)
        let old = try exchange(sc, headers: ["Cookie: SRV=s1|\(parts[1])|\(born)"])
        #expect(old.log.termination == "--OI")
    }

    @Test func passiveCookieLeavesTheLogDashes() throws {
        let sc = try scenario("    cookie SRV", servers: 2)
        defer { sc.close() }
        let r = try exchange(sc, headers: ["Cookie: SRV=s2"])
        #expect(servedBy(r.response) == "s2")
        #expect(r.log.termination == "----")
        #expect(r.response.headers.values("set-cookie").isEmpty)
    }

    @Test func noCookieLineMeansDashes() throws {
        let backend = try HTTPBackend(name: "s1")
        let sc = try HTTPScenario(backends: [backend])
        defer { sc.close() }
        let r = try exchange(sc, headers: ["Cookie: SRV=s1"])
        #expect(r.log.termination == "----")
    }
}

private let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

/// HAProxy's `s30tob64`: 30 bits as 5 base64 characters, most significant first.
private func encode30(_ value: Int) -> String {
    var v = value
    var out = ""
    for _ in 0..<5 {
        out.append(base64Alphabet[(v >> 24) & 0x3f])
        v <<= 6
    }
    return out
}

private func decode30(_ text: String) -> Int {
    text.reduce(0) { ($0 << 6) + (base64Alphabet.firstIndex(of: $1) ?? 0) }
}
