import Testing
@testable import WeirConfig

/// Health-check keywords: server options, `option httpchk`, `http-check`,
/// `option tcp-check`, `tcp-check`, and their diagnostics.
@Suite struct CheckConfigTests {
    private func backend(_ lines: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Backend {
        let c = try #require(config(timeoutDefaults + "backend be\n" + lines + "\n", sourceLocation: sourceLocation),
                             sourceLocation: sourceLocation)
        return c.backends[0]
    }

    /// Errors of a backend section; its first line is line 6.
    private func backendErrors(_ lines: String) -> [String] {
        errors(timeoutDefaults + "backend be\n" + lines + "\n")
    }

    @Test func serverCheckOptions() throws {
        let be = try backend("""
             server s1 10.0.0.1:80 check inter 500ms fastinter 100ms downinter 5s rise 3 fall 4 port 8080 addr 10.0.0.9 slowstart 30s observe layer7 error-limit 5 on-error sudden-death on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions init-addr last,libc,none
             server s2 10.0.0.2:80
            """)
        let c = be.servers[0].check
        #expect(c.enabled)
        #expect(c.inter == 500 && c.fastinter == 100 && c.downinter == 5000)
        #expect(c.rise == 3 && c.fall == 4)
        #expect(c.port == 8080)
        #expect(c.address == .ip(IPAddress(bytes: [10, 0, 0, 9])))
        #expect(c.slowstart == 30_000)
        #expect(c.observe == .layer7 && c.errorLimit == 5 && c.onError == .suddenDeath)
        #expect(c.shutdownSessionsOnDown && c.shutdownBackupSessionsOnUp)
        #expect(c.initAddr == [.last, .libc, .none])
        #expect(!be.servers[1].check.enabled)
        #expect(be.servers[1].check.inter == 2000 && be.servers[1].check.rise == 2 && be.servers[1].check.fall == 3)
    }

    @Test func defaultServerCarriesCheckSettings() throws {
        let be = try backend("""
             default-server check inter 1s fall 2
             server s1 10.0.0.1:80
             server s2 10.0.0.2:80 no-check
             server s3 10.0.0.3:80 inter 3s
            """)
        #expect(be.servers[0].check.enabled && be.servers[0].check.inter == 1000 && be.servers[0].check.fall == 2)
        #expect(!be.servers[1].check.enabled)
        #expect(be.servers[2].check.enabled && be.servers[2].check.inter == 3000)
    }

    @Test func agentCheckOptions() throws {
        let be = try backend("""
             default-server agent-check agent-port 9999 agent-inter 500ms
             server s1 10.0.0.1:80 check agent-addr 10.0.0.9 agent-send "hello\\n"
             server s2 10.0.0.2:80 agent-port 7000 agent-addr agent.example
             server s3 10.0.0.3:80 no-agent-check
            """)
        let a1 = be.servers[0].check.agent
        #expect(a1.enabled && a1.port == 9999 && a1.inter == 500)
        #expect(a1.address == .ip(IPAddress(bytes: [10, 0, 0, 9])))
        #expect(a1.send == "hello\n")
        #expect(be.servers[0].check.enabled)
        let a2 = be.servers[1].check.agent
        #expect(a2.enabled && a2.port == 7000 && a2.address == .host("agent.example") && a2.send == nil)
        #expect(!be.servers[1].check.enabled, "agent-check does not turn the health check on")
        #expect(!be.servers[2].check.agent.enabled)
        #expect(try backend(" server s1 10.0.0.1:80 agent-check agent-port 1").servers[0].check.agent.inter == nil)
    }

    @Test func agentCheckErrors() {
        #expect(backendErrors(" server s1 10.0.0.1:80 check agent-check")
                == ["t.cfg:6:30: error: server 's1': 'agent-check' needs 'agent-port', the port the agent listens on"])
        // Enabled by default-server: the server line is blamed.
        #expect(backendErrors(" default-server agent-check\n server s1 10.0.0.1:80")
                == ["t.cfg:7:9: error: server 's1': 'agent-check' needs 'agent-port', the port the agent listens on"])
        #expect(backendErrors(" server s1 10.0.0.1:80 agent-check agent-port 1 agent-inter 0")
                == ["t.cfg:6:61: error: server agent-inter: expected a duration greater than 0"])
        #expect(backendErrors(" server s1 10.0.0.1:80 agent-check agent-port 1 agent-inter soon")
                == ["t.cfg:6:61: error: server agent-inter: expected a duration like 5s, got 'soon'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 agent-check agent-port 0")
                == ["t.cfg:6:47: error: server agent-port: expected a number between 1 and 65535, got '0'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 agent-addr bad!addr")
                == ["t.cfg:6:35: error: server agent-addr: expected an IPv4 or IPv6 address or a host name, got 'bad!addr'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 agent-send")
                == ["t.cfg:6:24: error: server agent-send: expected the string to send"])
        #expect(backendErrors(" default-server agent-check\n server s1 10.0.0.1:80 no-agent-check").isEmpty)
    }

    @Test func intervalChoice() {
        var c = ServerCheck()
        c.inter = 1000
        #expect(c.interval(transitioning: false, down: false) == 1000)
        #expect(c.interval(transitioning: true, down: false) == 1000)
        #expect(c.interval(transitioning: false, down: true) == 1000)
        c.fastinter = 100
        c.downinter = 5000
        #expect(c.interval(transitioning: true, down: false) == 100)
        #expect(c.interval(transitioning: true, down: true) == 100)
        #expect(c.interval(transitioning: false, down: true) == 5000)
    }

    @Test func serverCheckErrors() {
        #expect(backendErrors(" server s1 10.0.0.1:80 check inter 0")
                == ["t.cfg:6:36: error: server inter: expected a duration greater than 0"])
        #expect(backendErrors(" server s1 10.0.0.1:80 inter soon")
                == ["t.cfg:6:30: error: server inter: expected a duration like 5s, got 'soon'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 rise 0")
                == ["t.cfg:6:29: error: server rise: expected a number between 1 and 2147483647, got '0'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 fall")
                == ["t.cfg:6:24: error: server fall: expected a number between 1 and 2147483647"])
        #expect(backendErrors(" server s1 10.0.0.1:80 port 70000")
                == ["t.cfg:6:29: error: server port: expected a number between 1 and 65535, got '70000'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 observe layer5")
                == ["t.cfg:6:32: error: server observe: expected layer4, layer7 or none, got 'layer5' (did you mean 'layer4'?)"])
        #expect(backendErrors(" server s1 10.0.0.1:80 on-error mark-dwn")
                == ["t.cfg:6:33: error: server on-error: expected fastinter, fail-check, sudden-death or mark-down, got 'mark-dwn' (did you mean 'mark-down'?)"])
        #expect(backendErrors(" server s1 10.0.0.1:80 on-marked-down kill")
                == ["t.cfg:6:39: error: server on-marked-down: expected 'shutdown-sessions', got 'kill'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 init-addr last,dns")
                == ["t.cfg:6:39: error: server init-addr: unknown method 'dns'; expected last, libc, none or an IP address"])
        #expect(backendErrors(" server s1 10.0.0.1:80 addr bad!addr")
                == ["t.cfg:6:29: error: server addr: expected an IPv4 or IPv6 address or a host name, got 'bad!addr'"])
        #expect(backendErrors(" server s1 10.0.0.1:80 chekc")
                == ["t.cfg:6:24: error: unknown server option 'chekc'; did you mean 'check'?"])
        #expect(backendErrors(" default-server rise x")
                == ["t.cfg:6:22: error: default-server rise: expected a number between 1 and 2147483647, got 'x'"])
    }

    @Test func optionHTTPCheckForms() throws {
        #expect(try backend(" option httpchk").healthCheck == .http(HTTPCheck()))
        var uri = HTTPCheck()
        uri.uri = "/health"
        #expect(try backend(" option httpchk /health").healthCheck == .http(uri))
        var full = HTTPCheck()
        full.method = "HEAD"
        full.uri = "/ping"
        full.version = "HTTP/1.1"
        #expect(try backend(" option httpchk HEAD /ping HTTP/1.1").healthCheck == .http(full))
        #expect(try backend(" option httpchk\n no option httpchk").healthCheck == .connect)
        #expect(try backend(" server s1 10.0.0.1:80").healthCheck == .connect)
    }

    @Test func httpCheckSendAndExpect() throws {
        let be = try backend("""
             option httpchk
             http-check send meth GET uri /status ver HTTP/1.1 hdr Host example.com hdr X-Check yes body ping
             http-check expect status 200-299,304
             http-check expect ! string maintenance
             http-check expect rstring ^ok
             http-check expect ! rstatus ^5
            """)
        guard case .http(let check) = be.healthCheck else {
            Issue.record("expected an HTTP check, got \(be.healthCheck)")
            return
        }
        #expect(check.method == "GET" && check.uri == "/status" && check.version == "HTTP/1.1")
        #expect(check.headers == [CheckHeader(name: "Host", value: "example.com"), CheckHeader(name: "X-Check", value: "yes")])
        #expect(check.body == "ping")
        #expect(check.expects == [
            CheckExpect(kind: .status([200...299, 304...304]), pattern: "200-299,304"),
            CheckExpect(kind: .string(Array("maintenance".utf8)), negated: true, pattern: "maintenance"),
            CheckExpect(kind: .regex("^ok"), pattern: "^ok"),
            CheckExpect(kind: .statusRegex("^5"), negated: true, pattern: "^5"),
        ])
    }

    @Test("http-check disable-on-404, from defaults too")
    func disableOn404() throws {
        let be = try backend(" option httpchk GET /health\n http-check disable-on-404")
        guard case .http(let check) = be.healthCheck else {
            Issue.record("expected an HTTP check, got \(be.healthCheck)")
            return
        }
        #expect(check.disableOn404)
        let c = try #require(config(timeoutDefaults + """
            defaults
                option httpchk
                http-check disable-on-404
            backend be
                server s1 10.0.0.1:80 check
            """))
        guard case .http(let inherited) = c.backends[0].healthCheck else {
            Issue.record("expected an HTTP check, got \(c.backends[0].healthCheck)")
            return
        }
        #expect(inherited.disableOn404)
    }

    @Test func httpCheckErrors() {
        #expect(backendErrors(" http-check expect status abc")
                == ["t.cfg:6:27: error: http-check expect status: expected status codes like 200 or 200-399, got 'abc'"])
        #expect(backendErrors(" http-check expect rstring (")
                .first?.hasPrefix("t.cfg:6:28: error: http-check expect rstring: invalid regular expression '('") == true)
        #expect(backendErrors(" http-check expect strng ok")
                == ["t.cfg:6:20: error: http-check expect: unknown match 'strng'; expected status, rstatus, string or rstring (did you mean 'string'?)"])
        #expect(backendErrors(" http-check expect hdr name x")
                == ["t.cfg:6:20: error: 'http-check expect hdr' is not supported by Weir yet"])
        #expect(backendErrors(" http-check expect status")
                == ["t.cfg:6:20: error: http-check expect status: expected a pattern"])
        #expect(backendErrors(" http-check send meth GET ver HTTP/2")
                == ["t.cfg:6:31: error: http-check send ver: expected HTTP/1.0 or HTTP/1.1, got 'HTTP/2'"])
        #expect(backendErrors(" http-check send method GET")
                == ["t.cfg:6:18: error: http-check send: unknown option 'method'; expected meth, uri, ver, hdr or body (did you mean 'meth'?)"])
        #expect(backendErrors(" http-check disable-on-404 now")
                == ["t.cfg:6:28: error: unexpected argument 'now' after 'http-check disable-on-404'"])
        #expect(backendErrors(" option httpchk GET / HTTP/1.0 extra")
                == ["t.cfg:6:32: error: unexpected argument 'extra' after 'option httpchk'"])
        #expect(errors(timeoutDefaults + "frontend fe\n bind :80\n http-check expect status 200\n")
                == ["t.cfg:7:2: error: 'http-check' is not allowed in a 'frontend' section"])
    }

    @Test func httpCheckWithoutOptionWarns() {
        #expect(warnings(timeoutDefaults + "backend be\n http-check expect status 200\n server s1 10.0.0.1:80 check\n")
                == ["t.cfg:6:2: warning: 'http-check' rules are ignored in backend 'be': they need 'option httpchk'"])
    }

    @Test func tcpCheckSequence() throws {
        let be = try backend("""
             option tcp-check
             tcp-check connect port 6379
             tcp-check send "PING\\r\\n"
             tcp-check expect string +PONG
             tcp-check send-binary 0a0B
             tcp-check expect ! rstring ^-ERR
             tcp-check expect binary 00ff
            """)
        #expect(be.healthCheck == .tcp([
            .connect(port: 6379),
            .send(Array("PING\r\n".utf8)),
            .expect(CheckExpect(kind: .string(Array("+PONG".utf8)), pattern: "+PONG")),
            .send([0x0a, 0x0b]),
            .expect(CheckExpect(kind: .regex("^-ERR"), negated: true, pattern: "^-ERR")),
            .expect(CheckExpect(kind: .binary([0x00, 0xff]), pattern: "00ff")),
        ]))
        // Steps before any connect run on an implicit first connection.
        #expect(try backend(" option tcp-check\n tcp-check expect string SSH").healthCheck == .tcp([
            .connect(port: nil), .expect(CheckExpect(kind: .string(Array("SSH".utf8)), pattern: "SSH")),
        ]))
        #expect(try backend(" option tcp-check").healthCheck == .tcp([.connect(port: nil)]))
    }

    @Test func tcpCheckErrors() {
        #expect(backendErrors(" tcp-check send-binary 0g")
                == ["t.cfg:6:24: error: tcp-check send-binary: expected an even number of hexadecimal digits, got '0g'"])
        #expect(backendErrors(" tcp-check expect status 200")
                == ["t.cfg:6:19: error: tcp-check expect: unknown match 'status'; expected string, rstring, binary or rbinary"])
        #expect(backendErrors(" tcp-check connect ssl")
                == ["t.cfg:6:20: error: 'tcp-check connect ssl' is not supported by Weir yet"])
        #expect(backendErrors(" tcp-check connect port 0")
                == ["t.cfg:6:25: error: tcp-check connect port: expected a number between 1 and 65535, got '0'"])
        #expect(backendErrors(" tcp-check sned x")
                == ["t.cfg:6:12: error: tcp-check: unknown action 'sned'; expected connect, send, send-binary or expect (did you mean 'send'?)"])
        #expect(backendErrors(" tcp-check send a b")
                == ["t.cfg:6:19: error: unexpected argument 'b' after 'tcp-check send a'"])
    }

    @Test func sectionRulesReplaceTheDefaultsOnes() throws {
        let c = try #require(config("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                option httpchk GET /up
                http-check expect status 200
                http-check send hdr Host a
            backend inherits
                server s1 10.0.0.1:80 check
            backend own
                http-check expect string ok
                server s1 10.0.0.1:80 check
            """))
        guard case .http(let inherited) = c.backends[0].healthCheck, case .http(let own) = c.backends[1].healthCheck else {
            Issue.record("expected HTTP checks")
            return
        }
        #expect(inherited.expects.count == 1 && inherited.headers.count == 1)
        #expect(own.uri == "/up" && own.headers.isEmpty)
        #expect(own.expects == [CheckExpect(kind: .string(Array("ok".utf8)), pattern: "ok")])
    }

    @Test func backendOptions() throws {
        let be = try backend(" option allbackups\n option log-health-checks\n timeout check 3s")
        #expect(be.allBackups && be.logHealthChecks)
        #expect(be.timeouts.check == 3000)
        let inherited = try #require(config(timeoutDefaults + """
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                option allbackups
                option httpchk GET /up
            backend be
                no option allbackups
            """))
        var check = HTTPCheck()
        check.method = "GET"
        check.uri = "/up"
        #expect(!inherited.backends[0].allBackups)
        #expect(inherited.backends[0].healthCheck == .http(check))
    }
}

@Suite struct ProtocolCheckConfigTests {
    private func steps(_ option: String) throws -> [TCPCheckStep] {
        let c = try #require(config(timeoutDefaults + "backend be\n    \(option)\n    server s1 127.0.0.1:1 check\n"))
        guard case .tcp(let steps) = c.backends[0].healthCheck else { return [] }
        return steps
    }

    @Test func optionsBecomeTCPCheckSteps() throws {
        #expect(try steps("option redis-check").count == 3)
        let smtp = try steps("option smtpchk EHLO mx.example")
        #expect(smtp.contains(.send(Array("EHLO mx.example\r\n".utf8))) && smtp.contains(.send(Array("QUIT\r\n".utf8))))
        #expect(try steps("option smtpchk").contains(.send(Array("HELO localhost\r\n".utf8))))
        #expect(try steps("option mysql-check").count == 2)
        #expect(try steps("option mysql-check user haproxy pre-41").count == 5)
        #expect(try steps("option ldap-check").count == 3)
        // `no option` returns to a plain connect check.
        let c = try #require(config(timeoutDefaults + "defaults\n    option redis-check\nbackend be\n    no option redis-check\n    server s1 127.0.0.1:1 check\n"))
        #expect(c.backends[0].healthCheck == .connect)
    }

    @Test func badArgumentsAreErrors() {
        let backend = timeoutDefaults + "backend be\n    server s1 127.0.0.1:1 check\n"
        #expect(errors(backend + "    option smtpchk HELLO x\n") == ["t.cfg:7:20: error: option smtpchk: expected 'HELO DOMAIN' or 'EHLO DOMAIN'"])
        #expect(errors(backend + "    option pgsql-check\n") == ["t.cfg:7:12: error: option pgsql-check: expected 'user NAME'"])
        #expect(errors(backend + "    option mysql-check user u post-42\n") == [
            "t.cfg:7:31: error: option mysql-check: expected 'post-41' or 'pre-41', got 'post-42'"])
        #expect(errors(backend + "    option tcp-check\n    tcp-check expect rbinary (\n").count == 1)
    }
}
