import Foundation
import Synchronization
import Testing

// Active health checks and failover, with `weir -d` (the process checks
// for itself). Timings use `inter 100ms`: a state change is awaited through
// its log line, never through a sleep.

/// Waits for a line of `process`'s stderr containing `text`; nil after `timeout`.
private func stateLine(_ weir: WeirProcess, _ text: String, timeout: Double = 10) -> String? {
    weir.stderr.waitForLine(timeout: timeout) { $0.contains(text) }
}

/// Lines of stderr containing `text`.
private func count(_ weir: WeirProcess, _ text: String) -> Int {
    weir.stderr.lines.filter { $0.contains(text) }.count
}

@Suite("Health checks")
struct HealthCheckScenarioTests {
    @Test("a killed server is marked DOWN within fall × inter, traffic moves, and comes back after rise × inter")
    func killAndRestartUnderLoad() throws {
        let backends = try (0..<3).map { _ in try Backend(.echo) }
        let config = tcpConfig(backend: """
                balance roundrobin
                retries 3
                option redispatch
                timeout connect 500ms
                default-server check inter 100ms rise 2 fall 2
            \(serverLines(backends))
            """)
        let scenario = try Scenario(config: config, backends: backends)
        defer { scenario.close() }
        let load = ConnectLoop(port: scenario.port)
        defer { _ = load.stop() }
        #expect(load.waitForSuccesses(30))
        #expect(backends[0].waitFor { $0.bytesReceived > 0 }, "s1 takes traffic before the kill")

        let port = backends[0].port
        let killed = monotonicNow()
        backends[0].stop()
        let down = stateLine(scenario.weir, "Server be/s1 is DOWN")
        let downAfter = monotonicNow() - killed
        let downLine = try #require(down, "no DOWN line; stderr:\n\(scenario.weir.stderr.text)")
        #expect(downLine.contains("reason: Layer4 connection problem, info: \"Connection refused\""), "\(downLine)")
        #expect(downLine.contains("2 active and 0 backup servers left."), "\(downLine)")
        // fall × inter = 200ms; a generous bound for a loaded machine.
        #expect(downAfter < 2.0, "DOWN after \(downAfter)s")
        #expect(load.waitForSuccesses(30))

        // Started again on the same port: UP after rise checks, traffic returns.
        let revived = try Backend(.echo, port: port)
        defer { revived.stop() }
        let up = try #require(stateLine(scenario.weir, "Server be/s1 is UP"), "no UP line; stderr:\n\(scenario.weir.stderr.text)")
        #expect(up.contains("reason: Layer4 check passed"), "\(up)")
        #expect(up.contains("3 active and 0 backup servers online."), "\(up)")
        #expect(revived.waitFor { $0.bytesReceived > 0 }, "traffic returns to s1")
        let (succeeded, failed) = load.stop()
        #expect(succeeded > 60)
        // Retries and redispatch hide the dead server: the only failures
        // allowed are exchanges already in flight on s1 when it was killed.
        let late = failed.filter { $0.started > killed + 0.01 }
        #expect(late.isEmpty, "failures after the kill: \(late)")
        #expect(failed.count <= 1, "failures: \(failed)")
    }

    @Test("without retries, a DOWN server is not picked at all")
    func downServerIsNotPicked() throws {
        let live = try Backend(.name("s2"))
        let dead = try Sock.refusedPort()
        let config = tcpConfig(backend: """
                balance roundrobin
                retries 0
                server s1 127.0.0.1:\(dead) check inter 100ms fall 1
                server s2 \(live.address) check inter 100ms
            """)
        let scenario = try Scenario(config: config, backends: [live])
        defer { scenario.close() }
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        for _ in 0..<10 { #expect(try askName(scenario.port) == "s2") }
    }

    @Test("backup servers serve only when every active server is DOWN, and hand back when one is UP")
    func backupFailover() throws {
        let active = try Backend(.name("s1"))
        let backup1 = try Backend(.name("b1"))
        let backup2 = try Backend(.name("b2"))
        let config = tcpConfig(backend: """
                balance roundrobin
                server s1 \(active.address) check inter 100ms rise 2 fall 1
                server b1 \(backup1.address) backup check inter 100ms
                server b2 \(backup2.address) backup check inter 100ms
            """)
        let scenario = try Scenario(config: config, backends: [active, backup1, backup2])
        defer { scenario.close() }
        for _ in 0..<4 { #expect(try askName(scenario.port) == "s1") }
        let port = active.port
        active.stop()
        let down = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        #expect(down.contains("0 active and 2 backup servers left. Running on backup."), "\(down)")
        // Without `option allbackups`, only the first backup serves.
        for _ in 0..<6 { #expect(try askName(scenario.port) == "b1") }
        let again = try Backend(.name("s1"), port: port)
        defer { again.stop() }
        let up = try #require(stateLine(scenario.weir, "Server be/s1 is UP"), "stderr:\n\(scenario.weir.stderr.text)")
        #expect(up.contains("1 active and 2 backup servers online."), "\(up)")
        for _ in 0..<4 { #expect(try askName(scenario.port) == "s1") }
    }

    @Test("option allbackups: every backup serves while no active server is usable")
    func allBackups() throws {
        let backup1 = try Backend(.name("b1"))
        let backup2 = try Backend(.name("b2"))
        let dead = try Sock.refusedPort()
        let config = tcpConfig(backend: """
                balance roundrobin
                option allbackups
                server s1 127.0.0.1:\(dead) check inter 100ms fall 1
                server b1 \(backup1.address) backup check inter 100ms
                server b2 \(backup2.address) backup check inter 100ms
            """)
        let scenario = try Scenario(config: config, backends: [backup1, backup2])
        defer { scenario.close() }
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        var seen = Set<String>()
        for _ in 0..<6 { seen.insert(try askName(scenario.port)) }
        #expect(seen == ["b1", "b2"], "\(seen)")
    }

    @Test("init-addr none: a server whose name does not resolve starts out of service instead of failing the start")
    func initAddrNone() throws {
        let live = try Backend(.name("s2"))
        let config = tcpConfig(backend: """
                server s1 no-such-host.invalid:80 check inter 100ms init-addr last,libc,none
                server s2 \(live.address) check inter 100ms
            """)
        let scenario = try Scenario(config: config, backends: [live])
        defer { scenario.close() }
        #expect(scenario.weir.stderr.lines.contains { $0.contains("server be/s1 has no address") },
                "stderr:\n\(scenario.weir.stderr.text)")
        for _ in 0..<4 { #expect(try askName(scenario.port) == "s2") }
    }

    @Test("slowstart: a server back UP starts with a small share and ramps to its full weight")
    func slowStartRamps() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        let config = tcpConfig(backend: """
                balance roundrobin
                server s1 \(s1.address) weight 100 check inter 100ms rise 1 fall 1 slowstart 1s
                server s2 \(s2.address) weight 100 check inter 100ms
            """)
        let scenario = try Scenario(config: config, backends: [s2])
        defer { scenario.close() }
        let port = s1.port
        s1.stop()
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        let again = try Backend(.name("s1"), port: port)
        defer { again.stop() }
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is UP"), "stderr:\n\(scenario.weir.stderr.text)")
        let started = monotonicNow()
        var early = 0
        for _ in 0..<20 where try askName(scenario.port) == "s1" { early += 1 }
        let earlyTime = monotonicNow() - started
        // Its weight is 1 of 100 for the first 100ms, then grows by a twentieth.
        if earlyTime < 0.3 { #expect(early <= 5, "s1 took \(early) of 20 in the first \(earlyTime)s") }
        // Once the slow start is over (measured, not a readiness wait): an even share.
        usleep(UInt32(max(0, 1.3 - (monotonicNow() - started)) * 1_000_000))
        var late = 0
        for _ in 0..<40 where try askName(scenario.port) == "s1" { late += 1 }
        #expect((14...26).contains(late), "s1 took \(late) of 40 after the slow start")
    }

    @Test("on-marked-up shutdown-backup-sessions closes the backup's sessions when the active server is back")
    func shutdownBackupSessionsOnUp() throws {
        let active = try Backend(.nameThenHold("s1"))
        let backup = try Backend(.nameThenHold("b1"))
        let config = tcpConfig(backend: """
                server s1 \(active.address) check inter 100ms rise 1 fall 1 on-marked-up shutdown-backup-sessions
                server b1 \(backup.address) backup
            """)
        let scenario = try Scenario(config: config, backends: [backup])
        defer { scenario.close() }
        let port = active.port
        active.stop()
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        let client = try Client(port: scenario.port)
        defer { client.close() }
        #expect(try client.readLine() == "b1")
        let again = try Backend(.nameThenHold("s1"), port: port)
        defer { again.stop() }
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is UP"), "stderr:\n\(scenario.weir.stderr.text)")
        let (_, end) = client.readToEnd()
        #expect(end.isClosed, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.server == "b1" && line.termination.hasPrefix("D"), "\(line)")
        #expect(try askName(scenario.port) == "s1")
    }

    @Test("HTTP check expectations: status, string, rstring, rstatus and negation")
    func httpExpectations() throws {
        let ok = try HTTPBackend(name: "ok") { _ in .text(200, "all good\n") }
        let maintenance = try HTTPBackend(name: "maint") { _ in .text(200, "maintenance mode\n") }
        let failing = try HTTPBackend(name: "fail") { _ in .text(503, "down\n") }
        let notFound = try HTTPBackend(name: "nf") { _ in .text(404, "no\n") }
        defer { [ok, maintenance, failing, notFound].forEach { $0.stop() } }
        // Each backend has one server; `log-health-checks` logs the first
        // passing check, so every verdict has a line to wait for.
        let cases: [(name: String, server: HTTPBackend, rules: String, passes: Bool)] = [
            ("default_ok", ok, "", true),
            ("default_503", failing, "", false),
            ("status_200", ok, "http-check expect status 200", true),
            ("status_404", notFound, "http-check expect status 200-399", false),
            ("not_status_503", failing, "http-check expect ! status 503", false),
            ("string_good", ok, "http-check expect string good", true),
            ("string_missing", maintenance, "http-check expect string good", false),
            ("not_string_maint", maintenance, "http-check expect ! string maintenance", false),
            ("not_string_ok", ok, "http-check expect ! string maintenance", true),
            ("rstring", ok, "http-check expect rstring ^all.+good", true),
            ("rstring_miss", maintenance, "http-check expect rstring ^all", false),
            ("rstatus_5xx", failing, "http-check expect ! rstatus ^5", false),
        ]
        var sections = ""
        for c in cases {
            sections += """

                backend \(c.name)
                    option httpchk GET /health HTTP/1.1
                    http-check send hdr Host weir.test
                    option log-health-checks
                    \(c.rules)
                    server s1 \(c.server.address) check inter 100ms
                """
        }
        let config = tcpConfig(backend: "    server s1 \(ok.address)", frontend: "", defaults: "") + sections
        let weir = try WeirProcess.start(config: config)
        defer { weir.stop() }
        for c in cases {
            let verdict = c.passes ? "Health check for server \(c.name)/s1 succeeded" : "Server \(c.name)/s1 is DOWN"
            let line = stateLine(weir, verdict)
            #expect(line != nil, "\(c.name): no '\(verdict)'; stderr:\n\(weir.stderr.text)")
            if c.passes { #expect(count(weir, "Server \(c.name)/s1 is DOWN") == 0, "\(c.name)") }
        }
        let wrongStatus = try #require(stateLine(weir, "Server default_503/s1 is DOWN"))
        #expect(wrongStatus.contains("reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\""), "\(wrongStatus)")
        let content = try #require(stateLine(weir, "Server string_missing/s1 is DOWN"))
        #expect(content.contains("reason: Layer7 wrong status, code: 200, info: \"HTTP content check did not match\""),
                "\(content)")
        // The request as configured.
        let request = try #require(ok.requests.first)
        #expect(request.method == "GET" && request.target == "/health", "\(request)")
    }

    @Test("http-check disable-on-404: a 404 drains the server (no new sessions, persistence kept) until it answers 200")
    func disableOn404() throws {
        let notFound = Mutex(false)
        let s1 = try HTTPBackend(name: "s1") { request in
            if request.target == "/health" { return .text(notFound.withLock { $0 } ? 404 : 200, "health\n") }
            return .text(200, "s1\n")
        }
        let s2 = try HTTPBackend(name: "s2") { _ in .text(200, "s2\n") }
        let s = try HTTPScenario(config: rulesConfig(frontend: "    default_backend be", sections: """
            backend be
                balance roundrobin
                cookie SRV insert indirect nocache
                option httpchk GET /health
                http-check disable-on-404
                server s1 \(s1.address) cookie s1 check inter 100ms
                server s2 \(s2.address) cookie s2 check inter 100ms
            """), backends: [s1, s2])
        defer { s.close() }
        func body(cookie: String? = nil) throws -> String {
            let c = try s.connect()
            defer { c.close() }
            try c.request("GET", "/", headers: cookie.map { ["cookie: " + $0] } ?? [])
            return try c.readResponse().text
        }
        #expect(Set(try (0..<4).map { _ in try body() }) == ["s1\n", "s2\n"])
        notFound.withLock { $0 = true }
        let stopping = try #require(stateLine(s.weir, "Server be/s1 is stopping"), "stderr:\n\(s.weir.stderr.text)")
        #expect(stopping.contains("reason: Layer7 check conditionally passed, code: 404"), "\(stopping)")
        #expect(stopping.contains("1 active and 0 backup servers online"), "\(stopping)")
        #expect(try (0..<6).map { _ in try body() } == Array(repeating: "s2\n", count: 6))
        #expect(try body(cookie: "SRV=s1") == "s1\n", "persistence still reaches a stopping server")
        #expect(count(s.weir, "Server be/s1 is DOWN") == 0)
        notFound.withLock { $0 = false }
        let up = try #require(stateLine(s.weir, "Server be/s1 is UP"), "stderr:\n\(s.weir.stderr.text)")
        #expect(up.contains("reason: Layer7 check passed, code: 200"), "\(up)")
        #expect(Set(try (0..<4).map { _ in try body() }) == ["s1\n", "s2\n"])
    }

    @Test("tcp-check sequences against a wrong banner, a silent server and one that closes at once")
    func tcpCheckMisbehavingServers() throws {
        let good = try Backend(.init(greeting: "+OK ready\n", then: .discardUntilEOF))
        let wrong = try Backend(.name("-ERR busy"))
        let silent = try Backend(.silent)
        let closing = try Backend(.init(greeting: nil, then: .close))
        let echo = try Backend(.echo)
        let all = [good, wrong, silent, closing, echo]
        defer { all.forEach { $0.stop() } }
        let cases: [(name: String, server: Backend, rules: String, passes: Bool, reason: String)] = [
            ("banner_ok", good, "tcp-check expect string +OK", true, ""),
            ("banner_wrong", wrong, "tcp-check expect string +OK", false,
             "reason: Layer7 wrong status, info: \"TCPCHK did not match content '+OK' at step 2\""),
            ("banner_negated", wrong, "tcp-check expect ! rstring ^-ERR", false,
             "reason: Layer7 wrong status, info: \"TCPCHK matched unwanted content '^-ERR' at step 2\""),
            ("slow", silent, "tcp-check expect string +OK", false,
             "reason: Layer7 timeout, info: \" at step 2 of tcp-check (expect string '+OK')\""),
            ("closing", closing, "tcp-check expect string +OK", false,
             "reason: Layer7 invalid response, info: \"TCPCHK got an empty response at step 2\""),
            ("ping_pong", echo, "tcp-check send PING\\r\\n\n    tcp-check expect string PING\n    tcp-check send-binary 00ff\n    tcp-check expect binary 00ff", true, ""),
        ]
        var sections = ""
        for c in cases {
            sections += """

                backend \(c.name)
                    option tcp-check
                    option log-health-checks
                    timeout check 300ms
                    \(c.rules)
                    server s1 \(c.server.address) check inter 100ms
                """
        }
        let weir = try WeirProcess.start(config: tcpConfig(backend: "    server s1 \(good.address)") + sections)
        defer { weir.stop() }
        for c in cases {
            let verdict = c.passes ? "Health check for server \(c.name)/s1 succeeded" : "Server \(c.name)/s1 is DOWN"
            let line = stateLine(weir, verdict)
            #expect(line != nil, "\(c.name): no '\(verdict)'; stderr:\n\(weir.stderr.text)")
            if let line, !c.passes { #expect(line.contains(c.reason), "\(c.name): \(line)") }
        }
        #expect(count(weir, "Server banner_ok/s1 is DOWN") == 0)
        #expect(count(weir, "Server ping_pong/s1 is DOWN") == 0)
    }

    @Test("option ssl-hello-chk: a TLS listener passes, a server answering in clear fails")
    func sslHelloCheck() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let certificate = try pki.aTest()
        let plain = try Backend(.name("-ERR busy"))
        defer { plain.stop() }
        let tlsPort = try freeLoopbackPort()
        let sections = """

            listen tls_server
                bind 127.0.0.1:\(tlsPort) ssl crt \(certificate.pem)
                server s1 \(plain.address)
            backend hello_tls
                option ssl-hello-chk
                option log-health-checks
                timeout check 300ms
                server s1 127.0.0.1:\(tlsPort) check inter 100ms
            backend hello_plain
                option ssl-hello-chk
                option log-health-checks
                timeout check 300ms
                server s1 \(plain.address) check inter 100ms
            """
        let weir = try WeirProcess.start(config: tcpConfig(backend: "    server s1 \(plain.address)") + sections)
        defer { weir.stop() }
        let up = stateLine(weir, "Health check for server hello_tls/s1 succeeded")
        #expect(up != nil, "stderr:\n\(weir.stderr.text)")
        let down = stateLine(weir, "Server hello_plain/s1 is DOWN")
        #expect(down != nil, "stderr:\n\(weir.stderr.text)")
        #expect(count(weir, "Server hello_tls/s1 is DOWN") == 0)
    }

    @Test("on-marked-down shutdown-sessions closes the sessions of a server marked DOWN")
    func shutdownSessionsOnDown() throws {
        // A hand-made server: its listening socket is closed while the
        // connection it accepted stays open, so checks fail and the session
        // can only end because the proxy cuts it.
        let listener = try Sock.listener()
        Sock.setNonBlocking(listener)
        var accepted: [Int32] = []
        var listenerOpen = true
        defer {
            if listenerOpen { close(listener) }
            accepted.forEach { close($0) }
        }
        let config = tcpConfig(backend: """
                server s1 127.0.0.1:\(Sock.localPort(listener)) check inter 100ms fall 1 on-marked-down shutdown-sessions
            """)
        let scenario = try Scenario(config: config, backends: [])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        defer { client.close() }
        // Answer every connection (checks, reset at once, included).
        let answered = waitUntil(timeout: 5) {
            while case let fd = acceptNonBlocking(listener), fd >= 0 {
                accepted.append(fd)
                _ = "s1\n".withCString { send(fd, $0, 3, Int32(MSG_NOSIGNAL)) }
            }
            return client.receivesNothing(within: 0.05) == false
        }
        #expect(answered)
        #expect(try client.readLine() == "s1")
        close(listener)
        listenerOpen = false
        _ = try #require(stateLine(scenario.weir, "Server be/s1 is DOWN"), "stderr:\n\(scenario.weir.stderr.text)")
        let (_, end) = client.readToEnd()
        #expect(end.isClosed, "ended with \(end)")
        let line = try scenario.log(of: client)
        #expect(line.termination.hasPrefix("D"), "\(line)")
    }
}

/// Passive checks: `observe layer7` with `error-limit` and `on-error`.
@Suite("Passive health checks")
struct PassiveCheckScenarioTests {
    /// A server whose check URL answers 200 and whose other URLs answer 503.
    private static func halfBroken(_ name: String) throws -> HTTPBackend {
        try HTTPBackend(name: name) { request in
            request.target == "/health" ? .text(200, "ok\n") : .text(503, "broken\n")
        }
    }

    private static func config(_ servers: String, nbthread: Int? = nil) -> String {
        httpConfig(backend: """
                option httpchk GET /health
                retries 0
            \(servers)
            """, global: nbthread.map { "    nbthread \($0)" } ?? "")
    }

    private static func sendErrors(port: UInt16, count: Int) throws {
        for _ in 0..<count {
            let c = try HTTPConnection(port: port)
            defer { c.close() }
            try c.request("GET", "/app")
            let response = try c.readResponse()
            #expect(response.status == 503)
        }
    }

    @Test("error-limit 5xx responses in a row mark the server DOWN (on-error mark-down); checks bring it back")
    func layer7ErrorsMarkDown() throws {
        let broken = try Self.halfBroken("s1")
        let scenario = try HTTPScenario(config: Self.config("""
                server s1 \(broken.address) check inter 100ms rise 1 observe layer7 error-limit 3 on-error mark-down
            """), backends: [broken])
        defer { scenario.close() }
        try Self.sendErrors(port: scenario.port, count: 3)
        let down = scenario.weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") }
        let line = try #require(down, "stderr:\n\(scenario.weir.stderr.text)")
        #expect(line.contains("reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: Wrong http response\""),
                "\(line)")
        // Its checks pass: UP again after rise.
        #expect(scenario.weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is UP") } != nil)
    }

    @Test("two errors then a success do not reach an error-limit of three")
    func successResetsTheCount() throws {
        let flaky = try HTTPBackend(name: "s1") { request in
            request.target == "/ok" || request.target == "/health" ? .text(200, "ok\n") : .text(502, "bad\n")
        }
        let scenario = try HTTPScenario(config: Self.config("""
                server s1 \(flaky.address) check inter 100ms observe layer7 error-limit 3 on-error mark-down
            """), backends: [flaky])
        defer { scenario.close() }
        for target in ["/a", "/b", "/ok", "/c", "/d", "/ok", "/e", "/f"] {
            let c = try HTTPConnection(port: scenario.port)
            defer { c.close() }
            try c.request("GET", target)
            _ = try c.readResponse()
        }
        // The requests were all answered in order; a DOWN would have been logged by now.
        let logged = waitUntil(timeout: 5) { scenario.logLines.count >= 8 }
        #expect(logged)
        #expect(!scenario.weir.stderr.lines.contains { $0.contains("is DOWN") }, "stderr:\n\(scenario.weir.stderr.text)")
    }

    @Test("under a master, workers report errors and the master marks the server DOWN")
    func masterCountsWorkersErrors() throws {
        let broken = try Self.halfBroken("s1")
        defer { broken.stop() }
        let harness = try MasterHarness(config: Self.config("""
                server s1 \(broken.address) check inter 100ms observe layer7 error-limit 4 on-error mark-down
            """, nbthread: 2))
        defer { harness.close() }
        #expect(harness.master.waitForCount(of: " ready", atLeast: 2))
        let port = try harness.master.port(of: "fe")
        try Self.sendErrors(port: port, count: 4)
        let down = harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") }
        let line = try #require(down, "stderr:\n\(harness.master.stderr.text)")
        #expect(line.contains("reason: Health analyze"), "\(line)")
    }
}
