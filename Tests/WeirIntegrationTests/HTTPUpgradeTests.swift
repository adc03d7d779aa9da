import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `mode tcp` frontend choosing a `mode http` backend: the session is
/// upgraded to HTTP (HAProxy's implicit upgrade), and every request on the
/// connection goes through that backend as HTTP.
@Suite("mode tcp frontend to mode http backend", .serialized)
struct HTTPUpgradeTests {
    /// Frontend `fe` in mode tcp: connections whose first bytes are `GET `
    /// go to `web` (mode http), the others to `raw` (mode tcp).
    static func config(web: String, raw: String = "", frontend: String) -> String {
        """
        global
            log stdout format raw local0

        defaults
            log global
            timeout connect 2s
            timeout client 30s
            timeout server 30s

        frontend fe
            mode tcp
            bind 127.0.0.1:0
            tcp-request inspect-delay 5s
            tcp-request content accept if { req.len ge 4 }
            use_backend web if { req.payload(0,4) -m str "GET " }
            default_backend raw
        \(frontend)

        backend web
            mode http
        \(web)

        backend raw
            mode tcp
        \(raw)
        """
    }

    /// The lines of `weir`'s standard output that start with `prefix`, once there are `count`.
    private func lines(_ weir: WeirProcess, prefix: String, count: Int,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        var found: [String] = []
        let ok = waitUntil(timeout: 10) {
            found = weir.stdout.lines.filter { $0.hasPrefix(prefix) }
            return found.count >= count
        }
        let text = weir.stdout.text, errors = weir.stderr.text
        try #require(ok, "expected \(count) line(s) starting with \(prefix.debugDescription); stdout:\n\(text)\nstderr:\n\(errors)",
                     sourceLocation: sourceLocation)
        return found
    }

    @Test("the requests of a kept-alive connection all go through the HTTP backend's rules, each logged")
    func keepAliveThroughBackendRules() throws {
        let web = try HTTPBackend(name: "s1")
        let s = try HTTPScenario(config: Self.config(web: """
                option forwardfor
                http-request set-header x-upgraded yes
                http-response set-header x-via weir
                server s1 \(web.address)
            """, frontend: #"    log-format "%ci:%cp %ft %b/%s %ST %{+Q}r""#), backends: [web])
        defer { s.close() }
        let c = try s.connect()
        for path in ["/a", "/b", "/c"] {
            try c.request("GET", path)
            let response = try c.readResponse()
            #expect(response.status == 200 && response.text == "s1 GET \(path)\n", "\(response)")
            #expect(response.headers.value("x-via") == "weir")
        }
        // The backend saw each request, in order, on the one connection weir kept.
        #expect(web.requests.map(\.target) == ["/a", "/b", "/c"])
        for request in web.requests {
            #expect(request.headers.value("x-upgraded") == "yes", "\(request)")
            #expect(request.headers.value("x-forwarded-for") == "127.0.0.1", "\(request)")
            #expect(request.connection == 1, "\(request)")
        }
        // One line per request, in the frontend's format, as HAProxy logs each stream.
        let logged = try lines(s.weir, prefix: "127.0.0.1:\(c.localPort) ", count: 3)
        #expect(logged.map { $0.split(separator: " ", maxSplits: 1)[1] } == [
            #"fe web/s1 200 "GET /a HTTP/1.1""#, #"fe web/s1 200 "GET /b HTTP/1.1""#, #"fe web/s1 200 "GET /c HTTP/1.1""#,
        ])
    }

    @Test("one frontend: each connection goes to the HTTP backend or the TCP one, as its first bytes say")
    func choicePerConnection() throws {
        let echo = try Backend(.echo)
        let web = try HTTPBackend(name: "w1")
        let s = try Scenario(config: Self.config(web: "    server w1 \(web.address)",
                                                 raw: "    server r1 \(echo.address)", frontend: "    option tcplog"),
                             backends: [echo])
        defer {
            s.close()
            web.stop()
        }
        // A connection forwarded as bytes stays open while an HTTP one is served.
        let raw = try Client(port: s.port)
        try raw.send("PING 1\n")
        #expect(try raw.readLine() == "PING 1")
        let http = try HTTPConnection(port: s.port)
        for path in ["/x", "/y"] {
            try http.request("GET", path)
            let response = try http.readResponse()
            #expect(response.status == 200 && response.text == "w1 GET \(path)\n", "\(response)")
        }
        try raw.send("PING 2\n")
        #expect(try raw.readLine() == "PING 2")
        raw.close()
        let rawLine = try s.log(of: raw)
        #expect(rawLine.backend == "raw" && rawLine.server == "r1", "\(rawLine)")
        #expect(rawLine.bytes == 14, "\(rawLine)")
        // The upgraded connection: a tcplog line per request.
        let httpLines = try lines(s.weir, prefix: "127.0.0.1:\(http.localPort) ", count: 2).compactMap(TCPLogLine.init)
        #expect(httpLines.count == 2)
        #expect(httpLines.allSatisfy { $0.backend == "web" && $0.server == "w1" && $0.termination == "--" }, "\(httpLines)")
        #expect(web.requests.count == 2 && echo.snapshot.accepted == 1)
    }

    @Test("http.client: requests on one connection, upgraded without inspecting, counted at the backend")
    func pythonClientKeepAlive() throws {
        let python = try #require(pythonPath, "python3 is not installed")
        let web = try HTTPBackend(name: "s1")
        let s = try HTTPScenario(config: """
            defaults
                timeout connect 2s
                timeout client 30s
                timeout server 30s

            frontend fe
                mode tcp
                bind 127.0.0.1:0
                default_backend web

            backend web
                mode http
                http-request set-header x-upgraded yes
                server s1 \(web.address)
            """, backends: [web])
        defer { s.close() }
        let run = try runTool(python, ["-c", #"""
            import http.client, sys
            c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
            for i in range(5):
                c.request("GET", f"/item/{i}")
                r = c.getresponse()
                print(r.status, r.read().decode().strip())
            c.close()
            """#, String(s.port)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n") == (0..<5).map { "200 s1 GET /item/\($0)"[...] })
        #expect(web.requests.count == 5)
        #expect(web.requests.allSatisfy { $0.headers.value("x-upgraded") == "yes" && $0.connection == 1 },
                "\(web.requests)")
        #expect(web.requests.map(\.indexOnConnection) == [1, 2, 3, 4, 5])
    }

    @Test("the HTTP backend balances by content and keeps a client on its cookie's server")
    func balancingAndCookies() throws {
        let servers = try namedHTTPServers(2)
        let s = try HTTPScenario(config: Self.config(web: """
                balance url_param id
                cookie SRV insert indirect nocache
                server s1 \(servers[0].address) cookie s1
                server s2 \(servers[1].address) cookie s2
            """, frontend: ""), backends: servers)
        defer { s.close() }
        // The same key, on fresh connections: the same server every time.
        let first = try servedFresh(s.port, "/?id=7")
        for _ in 0..<3 { #expect(try servedFresh(s.port, "/?id=7") == first) }
        let keyed = try Set((1...16).map { try servedFresh(s.port, "/?id=\($0)") })
        #expect(keyed == ["s1", "s2"])
        // A cookie naming a server wins over the key, request after request.
        let other = first == "s1" ? "s2" : "s1"
        let c = try s.connect()
        for _ in 0..<3 {
            try c.request("GET", "/?id=7", headers: ["cookie: SRV=\(other)"])
            let response = try c.readResponse()
            #expect(response.headers.value("x-served-by") == other, "\(response)")
        }
        try c.request("GET", "/?id=7")
        let response = try c.readResponse()
        #expect(response.headers.value("set-cookie") == "SRV=\(first); path=/", "\(response)")
    }

    @Test("a backend named at run time may be in mode http")
    func dynamicBackendName() throws {
        let echo = try Backend(.echo)
        let web = try HTTPBackend(name: "s1")
        let s = try Scenario(config: """
            defaults
                timeout connect 2s
                timeout client 30s
                timeout server 30s

            frontend fe
                mode tcp
                bind 127.0.0.1:0
                tcp-request inspect-delay 5s
                tcp-request content accept if { req.len ge 4 }
                use_backend %[req.payload(0,3),lower]

            backend get
                mode http
                http-request set-header x-upgraded yes
                server s1 \(web.address)

            backend raw
                mode tcp
                server r1 \(echo.address)
            """, backends: [echo])
        defer {
            s.close()
            web.stop()
        }
        let http = try HTTPConnection(port: s.port)
        try http.request("GET", "/dynamic")
        #expect(try http.readResponse().text == "s1 GET /dynamic\n")
        #expect(web.requests.first?.headers.value("x-upgraded") == "yes")
        let raw = try Client(port: s.port)
        try raw.send("RAW bytes\n")
        #expect(try raw.readLine() == "RAW bytes")
    }

    @Test("a bad request on an upgraded connection gets a 400")
    func badRequest() throws {
        let web = try HTTPBackend(name: "s1")
        let s = try HTTPScenario(config: Self.config(web: "    server s1 \(web.address)", frontend: ""), backends: [web])
        defer { s.close() }
        let c = try s.connect()
        try c.send("GET / BAD-VERSION\r\n\r\n")
        #expect(try c.readResponse().status == 400)
        #expect(web.requests.isEmpty)
    }
}
