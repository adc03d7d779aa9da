import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A custom `log-format` whose fields are `key=value`, separated by `;`.
private struct FieldLine: CustomStringConvertible {
    let raw: String
    let fields: [String: String]

    init(_ raw: String) {
        self.raw = raw
        var fields: [String: String] = [:]
        for part in raw.split(separator: ";", omittingEmptySubsequences: false) {
            guard let eq = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        self.fields = fields
    }

    subscript(_ key: String) -> String { fields[key] ?? "<missing \(key)>" }
    func int(_ key: String) -> Int { Int(self[key]) ?? Int.min }
    var description: String { raw }
}

/// The line of the connection from `port` (the format must hold `cp=%cp`),
/// waiting for it.
private func fieldLine(_ scenario: HTTPScenario, port: UInt16, sourceLocation: SourceLocation = #_sourceLocation) throws -> FieldLine {
    let line = scenario.weir.stdout.waitForLine(timeout: 10) { $0.contains("cp=\(port);") }
    try #require(line != nil, "no log line for client port \(port); stdout:\n\(scenario.weir.stdout.text)\nstderr:\n\(scenario.weir.stderr.text)",
                 sourceLocation: sourceLocation)
    return FieldLine(line!)
}

/// Closes with a reset (SO_LINGER 0), as a client that gives up does.
private func reset(_ c: HTTPConnection) {
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
    _ = setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    c.close()
}

/// A UDP socket on 127.0.0.1 that plays the syslog server.
private final class SyslogSink: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init() throws {
        fd = try Sock.check(socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket")
        try Sock.bind(fd, host: "127.0.0.1", port: 0)
        port = Sock.localPort(fd)
    }

    deinit { close(fd) }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double = 10) -> String? {
        Sock.setTimeouts(fd, seconds: timeout)
        var bytes = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &bytes, bytes.count, 0)
        return n < 0 ? nil : String(decoding: bytes[0..<n], as: UTF8.self)
    }

    /// The PRI of an RFC 5424 datagram (`<131>1 …`).
    static func priority(_ datagram: String) -> Int? {
        guard datagram.hasPrefix("<"), let close = datagram.firstIndex(of: ">") else { return nil }
        return Int(datagram[datagram.index(after: datagram.startIndex)..<close])
    }
}

@Suite("HTTP log-format")
struct HTTPLogFormatTests {
    static let everyVariable = [
        "ci=%ci", "cp=%cp", "t=%t", "tr=%tr", "ft=%ft", "b=%b", "s=%s", "TR=%TR", "Tw=%Tw", "Tc=%Tc", "Tr=%Tr",
        "Ta=%Ta", "Tt=%Tt", "ST=%ST", "B=%B", "U=%U", "CC=%CC", "CS=%CS", "tsc=%tsc", "ac=%ac", "fc=%fc", "bc=%bc",
        "sc=%sc", "rc=%rc", "sq=%sq", "bq=%bq", "hr=%hr", "hs=%hs", "HM=%HM", "HU=%HU", "HP=%HP", "HV=%HV",
        "ID=%ID", "QID=%{+Q}ID", "QB=%{+Q}b", "QST=%{+Q}ST", "E=%{+E}[capture.req.hdr(1)]", "r=%{+Q}r",
    ].joined(separator: ";")

    @Test("log-format with every common variable: each field is what it must be")
    func everyField() throws {
        let backend = try HTTPBackend()
        let frontend = """
                capture request header Host len 4
                capture request header X-Esc len 32
                capture request header X-Missing len 8
                capture response header X-Served-By len 1
                capture response header X-None len 8
                unique-id-format "%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid"
                unique-id-header X-Request-ID
                http-request set-header X-Rule-ID %[unique-id]
                http-request set-header X-Var-ID "id %ID"
                log-format "\(Self.everyVariable)"
            """
        let scenario = try HTTPScenario(backends: [backend], frontend: frontend)
        defer { scenario.close() }
        let c = try scenario.connect()
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        try c.request("POST", "/some/path?q=1", headers: ["X-Esc: a\"b\\c]d"], body: body)
        let r = try c.readResponse()
        #expect(r.status == 200)
        let line = try fieldLine(scenario, port: c.localPort)

        #expect(line["ci"] == "127.0.0.1", "\(line)")
        #expect(line["cp"] == "\(c.localPort)")
        let date = /\d\d\/[A-Z][a-z][a-z]\/\d{4}:\d\d:\d\d:\d\d\.\d{3}/
        #expect(line["t"].wholeMatch(of: date) != nil, "%t \(line["t"])")
        #expect(line["tr"].wholeMatch(of: date) != nil, "%tr \(line["tr"])")
        #expect(line["ft"] == "fe" && line["b"] == "be" && line["s"] == "s1", "\(line)")
        let timers = ["TR", "Tw", "Tc", "Tr", "Ta", "Tt"].map { line.int($0) }
        #expect(timers.allSatisfy { $0 >= 0 }, "timers \(timers): \(line)")
        #expect(timers[0] + timers[1] + timers[2] + timers[3] <= timers[4], "TR+Tw+Tc+Tr <= Ta: \(line)")
        #expect(timers[4] <= timers[5], "Ta <= Tt: \(line)")
        #expect(line.int("ST") == 200)
        #expect(line.int("B") == r.wireBytes, "%B \(line["B"]) vs \(r.wireBytes) received")
        // What HTTPConnection.request sent: the head as written, then the body.
        let sentHead = "POST /some/path?q=1 HTTP/1.1\r\nhost: weir.test\r\nX-Esc: a\"b\\c]d\r\ncontent-length: 100\r\n\r\n"
        #expect(line.int("U") == sentHead.utf8.count + body.count, "%U counts the bytes the client sent: \(line)")
        #expect(line["CC"] == "-" && line["CS"] == "-", "no cookie capture: \(line)")
        #expect(line["tsc"] == "----")
        #expect(line.int("ac") >= 1 && line.int("fc") >= 1 && line.int("bc") >= 1 && line.int("sc") >= 0, "\(line)")
        #expect(line["rc"] == "0" && line.int("sq") == 0 && line.int("bq") == 0, "\(line)")
        // Captures: truncated at their len, `"` encoded as #22, a missing header empty.
        #expect(line["hr"] == "{weir|a#22b\\c]d|}", "\(line)")
        #expect(line["hs"] == "{s|}", "\(line)")
        #expect(line["HM"] == "POST" && line["HU"] == "/some/path?q=1" && line["HP"] == "/some/path" && line["HV"] == "HTTP/1.1",
                "\(line)")
        #expect(line["r"] == "\"POST /some/path?q=1 HTTP/1.1\"")
        #expect(line["QB"] == "\"be\"", "+Q quotes text")
        #expect(line["QST"] == "200", "+Q leaves numbers alone")
        #expect(line["E"] == #"a\"b\\c\]d"#, "+E escapes \", \\ and ]: \(line)")

        // The unique id: `%{+X}o` puts addresses, ports and counters in hex.
        let id = line["ID"]
        let hexPort = String(format: "%04X", Int(c.localPort))
        let weirPort = String(format: "%04X", Int(scenario.port))
        let pattern = try Regex("7F000001:\(hexPort)_7F000001:\(weirPort)_[0-9A-F]{8}_[0-9A-F]{4,}:[0-9A-F]{4,}")
        #expect(id.wholeMatch(of: pattern) != nil, "unique id \(id)")
        #expect(line["QID"] == "\"\(id)\"")
        let received = try #require(backend.requests.first)
        #expect(received.headers.value("x-request-id") == id, "unique-id-header: \(received.headers)")
        #expect(received.headers.value("x-rule-id") == id, "%[unique-id] in a rule: \(received.headers)")
        #expect(received.headers.value("x-var-id") == "id " + id, "%ID in a rule: \(received.headers)")
    }

    @Test("option httplog: header captures as {…} blocks, truncated, http-request capture last, reset per request")
    func capturesInHTTPLog() throws {
        let backend = try HTTPBackend()
        let frontend = """
                capture request header Host len 6
                capture request header User-Agent len 5
                http-request capture req.hdr(x-extra) len 3
                capture response header X-Served-By len 10
            """
        let scenario = try HTTPScenario(backends: [backend], frontend: frontend)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/one", headers: ["User-Agent: curl/8.0 (x|y)", "X-Extra: abcdef"])
        #expect(try c.readResponse().status == 200)
        try c.request("GET", "/two")
        #expect(try c.readResponse().status == 200)
        let lines = try scenario.logs(clientPort: c.localPort, count: 2)
        func blocks(_ line: HTTPLogLine) -> [String] {
            line.raw.matches(of: /\{([^}]*)\}/).map { String($0.output.1) }
        }
        #expect(blocks(lines[0]) == ["weir.t|curl/|abc", "s1"], "\(lines[0])")
        #expect(lines[0].request == "GET /one HTTP/1.1", "\(lines[0])")
        // The second request has no User-Agent nor X-Extra: nothing is left from the first.
        #expect(blocks(lines[1]) == ["weir.t||", "s1"], "\(lines[1])")
        #expect(lines[1].raw.contains(" 0/0 {weir.t||} {s1} \"GET /two HTTP/1.1\""), "\(lines[1])")
    }

    @Test("%hr/%hs in a log-format, +Q, and nothing at all (no double space) without captures")
    func capturesInLogFormat() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                capture request header Host len 20
                log-format "cp=%cp; %{+Q}hr %hs x"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/")
        #expect(try c.readResponse().status == 200)
        let line = try fieldLine(scenario, port: c.localPort)
        // `%hs` writes nothing (no response capture), and its separator merges with the next one.
        #expect(line.raw == "cp=\(c.localPort); \"{weir.test}\" x", "\(line)")
    }

    @Test("option dontlog-normal: only errors (deny, 5xx) are logged")
    func dontLogNormal() throws {
        let backend = try HTTPBackend { request in
            request.target == "/fail" ? .text(500, "no\n") : .text(200, "ok\n")
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                option dontlog-normal
                http-request deny if { path /deny }
                log-format "cp=%cp;r=%r;ST=%ST;tsc=%tsc"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/ok")
        #expect(try c.readResponse().status == 200)
        try c.request("GET", "/fail")
        #expect(try c.readResponse().status == 500)
        let d = try scenario.connect()
        try d.request("GET", "/deny")
        #expect(try d.readResponse().status == 403)
        let failed = try fieldLine(scenario, port: c.localPort)
        #expect(failed["r"] == "GET /fail HTTP/1.1" && failed.int("ST") == 500 && failed["tsc"] == "----", "\(failed)")
        let denied = try fieldLine(scenario, port: d.localPort)
        #expect(denied.int("ST") == 403 && denied["tsc"] == "PR--", "\(denied)")
        // The normal exchange came before the 500 on the same connection: had it been logged, it would be there.
        let lines = scenario.weir.stdout.lines.filter { $0.hasPrefix("cp=") }
        #expect(lines.count == 2 && !lines.contains { $0.contains("/ok") }, "\(lines)")
    }

    @Test("option log-separate-errors and set-log-level: the syslog PRI says info, err, notice; silent sends nothing")
    func logLevels() throws {
        let syslog = try SyslogSink()
        let backend = try HTTPBackend { request in
            request.target == "/fail" ? .text(503, "no\n") : .text(200, "ok\n")
        }
        let config = """
            global
                log 127.0.0.1:\(syslog.port) format rfc5424 local0

            defaults
                mode http
                log global
                option httplog
                option log-separate-errors
                timeout connect 2s
                timeout client 30s
                timeout server 30s

            frontend fe
                bind 127.0.0.1:0
                http-request set-log-level silent if { path /silent }
                http-request set-log-level notice if { path /notice }
                default_backend be

            backend be
            \(httpServerLines([backend]))
            """
        let scenario = try HTTPScenario(config: config, backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        var priorities: [String: Int] = [:]
        for path in ["/silent", "/notice", "/ok", "/fail"] {
            try c.request("GET", path)
            _ = try c.readResponse()
            if path == "/silent" { continue }
            let datagram = try #require(syslog.receive(), "no datagram for \(path)")
            // The silent request sent nothing: the next datagram is the next request's.
            #expect(datagram.contains("\"GET \(path) HTTP/1.1\""), "for \(path): \(datagram)")
            priorities[path] = SyslogSink.priority(datagram)
        }
        // local0 is facility 16: 16 * 8 + level.
        #expect(priorities == ["/notice": 128 + 5, "/ok": 128 + 6, "/fail": 128 + 3], "\(priorities)")
    }

    @Test("a bad request: %TR is -1, %r <BADREQ>, PR--")
    func badRequestTimers() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                log-format "cp=%cp;TR=%TR;Tw=%Tw;Tc=%Tc;Tr=%Tr;Ta=%Ta;ST=%ST;tsc=%tsc;s=%s;HM=%HM;r=%{+Q}r"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("GET / HTTP/1.1\r\nbad header line\r\n\r\n")
        _ = try? c.readResponse()
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line.int("TR") == -1 && line.int("Tw") == -1 && line.int("Tc") == -1 && line.int("Tr") == -1, "\(line)")
        #expect(line.int("Ta") >= 0)
        #expect(line.int("ST") == 400 && line["tsc"] == "PR--" && line["s"] == "<NOSRV>", "\(line)")
        #expect(line["HM"] == "<BADREQ>" && line["r"] == "\"<BADREQ>\"", "\(line)")
    }

    @Test("the client leaves in the middle of its request head: CR--, %TR -1")
    func clientAbortsRequest() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                log-format "cp=%cp;TR=%TR;tsc=%tsc;s=%s"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("GET /half HTTP/1.1\r\nHost: weir")
        c.shutdownWrite()
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "CR--" && line.int("TR") == -1 && line["s"] == "<NOSRV>", "\(line)")
        #expect(backend.requests.isEmpty)
    }

    @Test("the client resets while waiting for the response: CH--, no status, %Tr -1")
    func clientAbortsWaitingForResponse() throws {
        let backend = try HTTPBackend { _ in .neverAnswer }
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                log-format "cp=%cp;TR=%TR;Tc=%Tc;Tr=%Tr;ST=%ST;tsc=%tsc;s=%s"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        let port = c.localPort
        try c.request("GET", "/slow")
        #expect(backend.waitForRequests { $0.count == 1 })
        reset(c)
        let line = try fieldLine(scenario, port: port)
        #expect(line["tsc"] == "CH--" && line.int("ST") == -1 && line.int("Tr") == -1, "\(line)")
        #expect(line.int("TR") >= 0 && line.int("Tc") >= 0 && line["s"] == "s1", "\(line)")
    }

    @Test("the client resets in the middle of a large response: CD--, status 200, some bytes")
    func clientAbortsDuringData() throws {
        let backend = try HTTPBackend { _ in
            .response(status: 200, headers: [], body: .pattern(64 << 20), framing: .contentLength)
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                log-format "cp=%cp;ST=%ST;B=%B;Tr=%Tr;tsc=%tsc"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        let port = c.localPort
        try c.request("GET", "/big")
        _ = try c.readRaw(1000)
        reset(c)
        let line = try fieldLine(scenario, port: port)
        #expect(line["tsc"] == "CD--" && line.int("ST") == 200 && line.int("Tr") >= 0, "\(line)")
        #expect(line.int("B") >= 1000 && line.int("B") < 64 << 20, "\(line)")
    }

    @Test("the server stalls in the middle of its body, timeout server 1s: sD--")
    func serverTimeoutDuringData() throws {
        let backend = try HTTPBackend { _ in
            .raw(Array("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc".utf8), close: false)
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                log-format "cp=%cp;ST=%ST;tsc=%tsc;Ta=%Ta"
            """, defaults: "    timeout server 1s")
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/stall")
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "sD--" && line.int("ST") == 200, "\(line)")
        #expect(line.int("Ta") >= 900 && line.int("Ta") < 8000, "\(line)")
    }

    @Test("the client stops reading a large response, timeout client 1s: cD--")
    func clientTimeoutDuringData() throws {
        let backend = try HTTPBackend { _ in
            .response(status: 200, headers: [], body: .pattern(64 << 20), framing: .contentLength)
        }
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                timeout client 1s
                log-format "cp=%cp;ST=%ST;tsc=%tsc;Ta=%Ta"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/big")
        _ = try c.readRaw(100)
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "cD--" && line.int("ST") == 200, "\(line)")
        #expect(line.int("Ta") >= 900 && line.int("Ta") < 8000, "\(line)")
    }

    @Test("timeout queue 1s with the only server busy: 503, sQ--, Tw is the wait, Tc -1")
    func queueTimeout() throws {
        let backend = try HTTPBackend { _ in .neverAnswer }
        let scenario = try HTTPScenario(config: httpConfig(backend: "    timeout queue 1s\n" + httpServerLines([backend], extras: "maxconn 1"),
                                                           frontend: "    log-format \"cp=%cp;ST=%ST;tsc=%tsc;Tw=%Tw;Tc=%Tc;Tr=%Tr\""),
                                        backends: [backend])
        defer { scenario.close() }
        let busy = try scenario.connect()
        try busy.request("GET", "/hold")
        #expect(backend.waitForRequests { $0.count == 1 })
        let c = try scenario.connect()
        try c.request("GET", "/queued")
        #expect(try c.readResponse().status == 503)
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "sQ--" && line.int("ST") == 503, "\(line)")
        #expect(line.int("Tw") >= 900 && line.int("Tc") == -1 && line.int("Tr") == -1, "\(line)")
        busy.close()
    }

    @Test("a redirect is answered by the proxy: LR--, <NOSRV>, and logged normally under dontlog-normal only if asked")
    func redirectIsLocal() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                http-request redirect location /there if { path /here }
                log-format "cp=%cp;ST=%ST;tsc=%tsc;s=%s;Tw=%Tw;r=%r"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/here")
        #expect(try c.readResponse().status == 302)
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "LR--" && line.int("ST") == 302 && line["s"] == "<NOSRV>" && line.int("Tw") == -1, "\(line)")
        #expect(line["r"] == "GET /here HTTP/1.1")
    }

    @Test("a tarpitted request: PT--, %Tw is how long it was held")
    func tarpitHeld() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend], frontend: """
                timeout tarpit 500ms
                http-request tarpit if { path /bots }
                log-format "cp=%cp;ST=%ST;tsc=%tsc;Tw=%Tw;Tc=%Tc;Ta=%Ta"
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/bots")
        _ = try? c.readResponse()
        let line = try fieldLine(scenario, port: c.localPort)
        #expect(line["tsc"] == "PT--" && line.int("Tc") == -1, "\(line)")
        #expect(line.int("Tw") >= 450 && line.int("Tw") <= line.int("Ta"), "\(line)")
    }

    @Test("mode tcp: a log-format line per session, and dontlog-normal keeps only the failed ones")
    func tcpLogFormat() throws {
        let backend = try Backend(.name("b1"))
        let refused = try Sock.refusedPort()
        let config = tcpConfig(backend: serverLines([backend]), frontend: """
                option dontlog-normal
                log-format "cp=%cp;b=%b;s=%s;B=%B;ts=%ts;Tw=%Tw;Tc=%Tc;Tt=%Tt;ID=%ID"
                use_backend dead if { src 127.0.0.2 }

            backend dead
                retries 0
                server d1 127.0.0.1:\(refused)
            """)
        let scenario = try Scenario(config: config, backends: [backend])
        defer { scenario.close() }
        // A normal session, over before the next one starts: not logged.
        let ok = try Client(port: scenario.port)
        #expect(try ok.readLine() == "b1")
        _ = ok.readToEnd()
        ok.close()
        // A session whose server refuses: logged.
        let failing = try Client(port: scenario.port, source: "127.0.0.2")
        _ = failing.readToEnd()
        let logged = scenario.weir.stdout.waitForLine(timeout: 10) { $0.contains("cp=\(failing.localPort);") }
        let line = FieldLine(try #require(logged, "no line; stdout:\n\(scenario.weir.stdout.text)"))
        #expect(line["b"] == "dead" && line["s"] == "d1" && line["ts"] == "SC" && line.int("B") == 0, "\(line)")
        #expect(line.int("Tw") >= 0 && line.int("Tc") == -1 && line.int("Tt") >= 0 && line["ID"] == "-", "\(line)")
        let lines = scenario.weir.stdout.lines.filter { $0.hasPrefix("cp=") }
        #expect(lines.count == 1, "only the failed session is logged: \(lines)")
    }
}
