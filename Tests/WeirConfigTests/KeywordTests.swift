import Testing
@testable import WeirConfig

@Suite struct KeywordTests {
    @Test func masterKeywords() throws {
        let r = parse("global\n    hard-stop-after 30s\n    mworker-max-reloads 3\n    master-worker\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [])
        let global = try #require(r.configuration?.global)
        #expect(global.hardStopAfter == 30_000)
        #expect(global.maxReloads == 3)
        #expect(errors("global\n    hard-stop-after soon\n")
                == ["t.cfg:2:21: error: hard-stop-after: expected a duration like 5s, got 'soon'"])
    }

    @Test func defaultDHParamIsIgnoredWithATrueReason() {
        let r = parse("global\n    tune.ssl.default-dh-param 2048\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == ["t.cfg:2:5: warning: 'tune.ssl.default-dh-param' is ignored: Weir sizes DH "
                                          + "parameters to the certificate's key; set them with 'ssl-dh-param-file'"])
    }

    @Test func schedulerAndHTTP2TuningIsIgnoredWithAReason() {
        let r = parse("global\n    tune.maxaccept 64\n    tune.h2.initial-window-size 65536\n    tune.h2.max-concurrent-streams 100\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [
            "t.cfg:2:5: warning: 'tune.maxaccept' is ignored: it sizes the batches of HAProxy's scheduler; Weir's event loop sizes its own",
            "t.cfg:3:5: warning: 'tune.h2.initial-window-size' is ignored: Weir speaks HTTP/1.1 to clients and servers (ALPN h2 is not offered)",
            "t.cfg:4:5: warning: 'tune.h2.max-concurrent-streams' is ignored: Weir speaks HTTP/1.1 to clients and servers (ALPN h2 is not offered)",
        ])
        #expect(errors("backend be\n    tune.h2.max-frame-size 16384\n") == ["t.cfg:2:5: error: 'tune.h2.max-frame-size' is not allowed in a 'backend' section"])
    }

    @Test func limitsAndDumpabilityCanBeTurnedOffWithNo() throws {
        var global = try #require(parse("global\n").configuration?.global)
        #expect(global.strictLimits && !global.setDumpable)
        let r = parse("global\n    no strict-limits\n    set-dumpable\n    nosplice\n    nopoll\n    tune.comp.maxlevel 1\n    noreuseport\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [])
        global = try #require(r.configuration?.global)
        #expect(!global.strictLimits && global.setDumpable && global.noReusePort)
        global = try #require(parse("global\n    set-dumpable\n    no set-dumpable\n    no strict-limits\n    strict-limits\n")
            .configuration?.global)
        #expect(global.strictLimits && !global.setDumpable)
        #expect(errors("global\n    no maxconn\n") == ["t.cfg:2:8: error: 'no maxconn' is not supported in a 'global' section "
                                                         + "(only 'no strict-limits', 'no set-dumpable' and 'no busy-polling')"])
        #expect(errors("global\n    strict-limits on\n").count == 1)
    }

    /// What HAProxy tunes and Weir does not have loads, with the reason.
    @Test func spliceCompressionThrottlingAndPollingTuningIsIgnoredWithAReason() {
        let r = parse("global\n    maxpipes 64\n    maxcompcpuusage 80\n    busy-polling\n    noepoll\n    tune.comp.maxlevel 9\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [
            "t.cfg:2:5: warning: 'maxpipes' is ignored: Weir moves data through its own buffers, never with splice(2), so it uses no pipes",
            "t.cfg:3:5: warning: 'maxcompcpuusage' is ignored: Weir does not throttle compression by memory, rate or CPU use; "
                + "it compresses every eligible response at the fastest level",
            "t.cfg:4:5: warning: 'busy-polling' is ignored: Weir's workers sleep in epoll_wait when they have nothing to do; they never spin",
            "t.cfg:5:5: warning: 'noepoll' is ignored: Weir's event loop always uses epoll",
            "t.cfg:6:5: warning: 'tune.comp.maxlevel 9' is ignored: Weir compresses at level 1, HAProxy's default",
        ])
        #expect(errors("global\n    tune.comp.maxlevel 10\n").count == 1)
    }

    @Test func unixBindPrefixesUnixPathsAndFillsInAccess() throws {
        let r = parse("""
            global
                unix-bind prefix /var/lib/weir mode 660 user weir gid 7
                stats socket /admin.sock level admin
                stats socket ipv4@127.0.0.1:9999
            frontend fe
                bind /fe.sock mode 600 uid 0
                bind abns@hidden
                bind 127.0.0.1:80
            """)
        #expect(messages(r) == [])
        let config = try #require(r.configuration)
        #expect(config.global.statsSockets.map(\.address).first == .unix(path: "/var/lib/weir/admin.sock"))
        #expect(config.global.statsSockets.count == 2)
        #expect(config.global.statsSockets[0].access.mode == 0o660 && config.global.statsSockets[0].access.user == "weir")
        let binds = config.frontends[0].binds
        #expect(binds[0].address == .unix(path: "/var/lib/weir/fe.sock"))
        // The line's own settings win; what it leaves out comes from unix-bind.
        #expect(binds[0].options.unixAccess.mode == 0o600)
        #expect(binds[0].options.unixAccess.uid == 0 && binds[0].options.unixAccess.user == nil)
        #expect(binds[0].options.unixAccess.gid == 7)
        #expect(binds[1].address == .unix(path: "\0hidden"), "the abstract namespace has no directory")
    }

    @Test func unixAccessSettingsAreChecked() {
        #expect(errors("global\n    unix-bind mode 999\n") == ["t.cfg:2:20: error: unix-bind: 'mode' expects an octal permission like 660, got '999'"])
        #expect(errors("global\n    unix-bind owner weir\n")
                == ["t.cfg:2:15: error: unix-bind: unknown setting 'owner'; expected 'prefix', 'mode', 'user', 'uid', 'group' or 'gid'"])
        #expect(errors("global\n    stats socket /s.sock uid x\n") == ["t.cfg:2:30: error: stats socket: 'uid' expects a number, got 'x'"])
        let r = parse("frontend fe\n    bind 127.0.0.1:80 mode 600\n    default_backend be\nbackend be\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning).prefix(1) == ["t.cfg:2:23: warning: bind: 'mode' applies to UNIX sockets only; ignored for '127.0.0.1:80'"])
    }

    @Test func globalKeywords() throws {
        let r = parse("""
            global
                maxconn 4096
                nbthread 4
                pidfile /run/weir.pid
                user weir
                group weir
                chroot /var/empty
                daemon
                tune.bufsize 32k
                stats socket /run/weir.sock mode 600 level admin
                stats timeout 30s
                description "my proxy"
            """)
        #expect(messages(r) == [])
        let g = try #require(r.configuration?.global)
        #expect(g.maxconn == 4096)
        #expect(g.nbthread == 4)
        #expect(g.pidfile == "/run/weir.pid")
        #expect(g.user == "weir" && g.group == "weir" && g.chroot == "/var/empty")
        #expect(g.daemon)
        #expect(g.bufferSize == 32768)
        #expect(g.statsSockets.map(\.address) == [.unix(path: "/run/weir.sock")])
        #expect(g.statsSockets.map(\.level) == [.admin])
        #expect(g.statsSockets.map(\.access.mode) == [0o600])
        #expect(g.statsTimeout == 30_000)
        #expect(messages(r, .warning) == [])
    }

    @Test func statsSockets() throws {
        let r = parse("""
            global
                stats socket ipv4@127.0.0.1:9999 level user
                stats socket /run/a.sock expose-fd listeners
                stats socket fd@5
            """)
        #expect(messages(r) == [])
        let sockets = try #require(r.configuration?.global.statsSockets)
        #expect(sockets.map(\.address) == [.ip(IPAddress(bytes: [127, 0, 0, 1]), port: 9999), .unix(path: "/run/a.sock"),
                                           .inheritedFD(5)])
        #expect(sockets.map(\.level) == [.user, .operator, .operator])
        #expect(messages(r, .warning) == ["t.cfg:3:30: warning: stats socket: 'expose-fd' is ignored"])
        #expect(messages(parse("global\n stats socket /a level root\n"))
                == ["t.cfg:2:24: error: stats socket: 'level' expects 'user', 'operator' or 'admin', got 'root'"])
        #expect(messages(parse("global\n stats socket /a mode 999\n"))
                == ["t.cfg:2:23: error: stats socket: 'mode' expects an octal permission like 660, got '999'"])
        #expect(messages(parse("global\n stats socket 127.0.0.1:80-81\n"))
                == ["t.cfg:2:15: error: stats socket: expected one address, not a port range: '127.0.0.1:80-81'"])
        #expect(messages(parse("global\n stats socket /a level\n"))
                == ["t.cfg:2:18: error: stats socket: 'level' expects an argument"])
        #expect(messages(parse("global\n stats socket /a bogus 1\n"))
                == ["t.cfg:2:18: error: stats socket: unsupported option 'bogus'; expected 'mode', 'user', 'group', 'uid', 'gid' or 'level'"])
    }

    @Test func serverTLSGlobals() throws {
        let c = try #require(parse("""
            global
             ca-base /etc/ssl/weir
             crt-base /etc/weir/certs
             ssl-default-server-ciphers ECDHE-ECDSA-AES128-GCM-SHA256
             ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256
             ssl-default-server-options no-tlsv10 ssl-min-ver TLSv1.3 no-ssl-reuse
            backend be
             default-server ssl ca-file ca.pem alpn http/1.1
             server s1 10.0.0.1:443 crt client.pem sni str(x.test) verifyhost x.test check check-sni c.test
             server s2 10.0.0.2:443 verify none ciphers AES256-SHA no-ssl
             server s3 10.0.0.3:443 no-ssl check-ssl verify none

            """).configuration)
        let s = c.backends[0].servers
        #expect(s[0].tls.enabled && s[0].tls.verify == .required && s[0].tls.caFile?.path == "/etc/ssl/weir/ca.pem")
        #expect(s[0].tls.certificate?.path == "/etc/weir/certs/client.pem" && s[0].tls.verifyHost == "x.test")
        #expect(s[0].tls.sni == Sample(fetch: .constant("x.test")) && s[0].tls.checkSNI == "c.test")
        #expect(s[0].tls.ciphers == "ECDHE-ECDSA-AES128-GCM-SHA256" && s[0].tls.minVersion == .tls13)
        #expect(s[0].tls.alpn == ["http/1.1"] && !s[0].tls.reuseSessions && s[0].checksUseTLS)
        #expect(!s[1].tls.enabled && s[1].tls.verify == ServerTLS.Verify.none && s[1].tls.ciphers == "AES256-SHA")
        #expect(!s[2].tls.enabled && s[2].checksUseTLS && s[2].usesTLS == false)
        #expect(errors("global\n ssl-server-verify maybe\n")
                == ["t.cfg:2:20: error: ssl-server-verify: expected 'none' or 'required', got 'maybe'"])
    }

    @Test("no-tls-tickets: from ssl-default-server-options, default-server or the server; tls-tickets undoes it")
    func serverTickets() throws {
        let c = try #require(parse("""
            global
             ssl-default-server-options no-tls-tickets
            backend be
             server s1 10.0.0.1:443 ssl verify none
             server s2 10.0.0.2:443 ssl verify none tls-tickets
            backend be2
             default-server tls-tickets
             server s3 10.0.0.3:443 ssl verify none
             server s4 10.0.0.4:443 ssl verify none no-tls-tickets

            """).configuration)
        #expect(c.backends[0].servers.map(\.tls.tickets) == [false, true])
        #expect(c.backends[1].servers.map(\.tls.tickets) == [true, false])
        let plain = try #require(parse("backend be\n server s1 10.0.0.1:443 ssl verify none\n").configuration)
        #expect(plain.backends[0].servers[0].tls.tickets == true)
    }

    @Test func serverVerifyNeedsACAFile() {
        #expect(errors("backend be\n server s1 10.0.0.1:443 ssl\n") == [
            "t.cfg:2:25: error: server 'be/s1': verify is enabled by default but no CA file specified. If you're "
                + "running on a LAN where you're certain to trust the server's certificate, please set an explicit "
                + "'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global "
                + "section to disable server-side verifications by default."])
        #expect(errors("backend be\n server s1 10.0.0.1:443 ssl verify required\n")
                == ["t.cfg:2:25: error: server 'be/s1': verify is enabled but no CA file specified."])
        #expect(errors("backend be\n server s1 10.0.0.1:443 ssl\nglobal\n ssl-server-verify none\n").isEmpty)
        #expect(errors("backend be\n server s1 10.0.0.1:443 ssl verify maybe\n")
                == ["t.cfg:2:36: error: server verify: expected 'none' or 'required', got 'maybe'"])
    }

    @Test func bindTLSDefaultsFromGlobal() throws {
        let c = try #require(parse("""
            global
             ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256
             ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
             ssl-default-bind-options no-sslv3 no-tlsv10 ssl-min-ver TLSv1.3
             crt-base /etc/weir/certs
            frontend fe
             bind :443 ssl crt site.pem crt /abs/other.pem
             bind :444 ssl crt site.pem ciphers AES256-SHA ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2
             default_backend be
            backend be

            """).configuration)
        let first = try #require(c.frontends[0].binds[0].tls)
        #expect(first.certificates.map(\.path) == ["/etc/weir/certs/site.pem", "/abs/other.pem"])
        #expect(first.ciphers == "ECDHE-ECDSA-AES128-GCM-SHA256" && first.ciphersuites == "TLS_AES_128_GCM_SHA256")
        #expect(first.minVersion == .tls13 && first.maxVersion == nil)
        let second = try #require(c.frontends[0].binds[1].tls)
        #expect(second.ciphers == "AES256-SHA" && second.minVersion == .tls12 && second.maxVersion == .tls12)
        #expect(errors("global\n ssl-default-bind-options no-tls-ticket\n")
                == ["t.cfg:2:27: error: ssl-default-bind-options: 'no-tls-ticket' is not supported by Weir yet; "
                    + "supported: ssl-min-ver, ssl-max-ver, no-tls-tickets, prefer-client-ciphers, "
                    + "no-sslv3, no-tlsv10, no-tlsv11, no-tlsv12, no-tlsv13, force-sslv3, force-tlsv10, force-tlsv11, "
                    + "force-tlsv12, force-tlsv13"])
        #expect(errors("global\n ssl-default-server-options no-tls-ticket\n")
                == ["t.cfg:2:29: error: ssl-default-server-options: 'no-tls-ticket' is not supported by Weir yet; "
                    + "supported: ssl-min-ver, ssl-max-ver, no-ssl-reuse, no-tls-tickets, no-sslv3, no-tlsv10, "
                    + "no-tlsv11, no-tlsv12, no-tlsv13, force-sslv3, force-tlsv10, force-tlsv11, force-tlsv12, "
                    + "force-tlsv13"])
        #expect(errors("global\n ssl-default-server-options ssl-max-ver TLSv9\n")
                == ["t.cfg:2:41: error: ssl-default-server-options: 'ssl-max-ver' expects TLSv1.0, TLSv1.1, TLSv1.2 "
                    + "or TLSv1.3, got 'TLSv9'"])
    }

    @Test func bindClientVerification() throws {
        let c = try #require(parse("""
            global
             ca-base /etc/weir/ca
            frontend fe
             bind :443 ssl crt /x.pem verify required ca-file clients.pem crl-file /abs/crl.pem ca-ignore-err all crt-ignore-err 10,23
             bind :444 ssl crt /x.pem verify optional ca-file ca/ ca-verify-file root.pem
             bind :445 ssl crt /x.pem
             default_backend be
            backend be

            """).configuration)
        let required = try #require(c.frontends[0].binds[0].tls?.clientVerification)
        #expect(required.mode == .required)
        #expect(required.caFile?.path == "/etc/weir/ca/clients.pem" && required.crlFile?.path == "/abs/crl.pem")
        #expect(required.caFile?.location == SourceLocation(file: "t.cfg", line: 4, column: 51))
        #expect(required.caIgnoreErrors == BindTLS.IgnoredErrors(all: true))
        #expect(required.crtIgnoreErrors == BindTLS.IgnoredErrors(all: false, ids: [10, 23]))
        let optional = try #require(c.frontends[0].binds[1].tls?.clientVerification)
        #expect(optional.mode == .optional && optional.caFile?.path == "/etc/weir/ca/ca/" && optional.crlFile == nil)
        #expect(optional.caVerifyFile?.path == "/etc/weir/ca/root.pem" && required.caVerifyFile == nil)
        #expect(c.frontends[0].binds[2].tls?.clientVerification == BindTLS.ClientVerification())
        #expect(c.frontends[0].binds[2].tls?.clientVerification.mode == BindTLS.Verify.none)
    }

    @Test("fullconn: a positive number in defaults, listen and backend; ignored with a warning in a frontend")
    func fullconn() {
        #expect(errors(timeoutDefaults + "defaults\n    fullconn 1000\nbackend be\n    fullconn 200\n") == [])
        #expect(errors(timeoutDefaults + "backend be\n    fullconn none\n")
                == ["t.cfg:6:14: error: fullconn: expected a number between 1 and 2147483647, got 'none'"])
        #expect(warnings(timeoutDefaults + "frontend fe\n    bind :80\n    fullconn 10\n")
                .contains("t.cfg:7:5: warning: 'fullconn' is ignored in a 'frontend' section: it applies to backends"))
    }

    @Test func timeouts() throws {
        let c = try #require(config("""
            defaults
                timeout connect 100us
                timeout client 2m
                timeout server 1h
                timeout queue 0
                timeout tunnel 1d
                timeout client-fin 500
                timeout server-fin 500ms
            backend be
            """))
        #expect(c.backends[0].timeouts == Timeouts(connect: 1, client: 120_000, server: 3_600_000, queue: nil,
                                                   tunnel: 86_400_000, clientFin: 500, serverFin: 500))
    }

    @Test func zeroTimeoutClearsAnInheritedOne() throws {
        let c = try #require(parse("defaults\n timeout server 5s\nbackend be\n timeout server 0\n").configuration)
        #expect(c.backends[0].timeouts.server == nil)
    }

    @Test func ignoredTimeoutsWarn() {
        #expect(warnings("defaults\n timeout http-request 10s\n timeout client-hs 2s\n") == [])
        let c = try? #require(parse("defaults\n timeout client-hs 2s\nfrontend fe\n bind :80\n default_backend be\nbackend be\n").configuration)
        #expect(c?.frontends[0].timeouts.clientHandshake == 2000)
    }

    @Test func timeoutsOnTheWrongSideWarn() {
        let w = warnings(timeoutDefaults + "frontend fe\n bind :1\n timeout server 1s\nbackend be\n timeout client 1s\n")
        #expect(w.contains("t.cfg:7:10: warning: 'timeout server' is ignored in a 'frontend' section: it applies to backends"))
        #expect(w.contains("t.cfg:9:10: warning: 'timeout client' is ignored in a 'backend' section: it applies to frontends"))
    }

    @Test(arguments: [
        ("roundrobin", BalanceAlgorithm.roundRobin), ("static-rr", .staticRoundRobin), ("leastconn", .leastConn),
        ("first", .first), ("source", .source), ("random", .random(draws: 2)), ("random(5)", .random(draws: 5)),
    ])
    func balance(text: String, expected: BalanceAlgorithm) throws {
        let c = try #require(config(timeoutDefaults + "backend be\n balance \(text)\n"))
        #expect(c.backends[0].balance == expected)
    }

    @Test func serverOptions() throws {
        let c = try #require(config(timeoutDefaults + """
            backend be
                default-server weight 10
                server a 10.0.0.1:80
                server b 10.0.0.2:80 weight 0 maxconn 50 backup
                default-server disabled maxconn 5
                server c 10.0.0.3:80 id 10
                server d 10.0.0.4:80 enabled
                server e 10.0.0.5:80 weight 256 id 2
            """))
        let s = c.backends[0].servers
        #expect(s.map(\.weight) == [10, 0, 10, 10, 256])
        #expect(s.map(\.maxconn) == [0, 50, 5, 5, 5])
        #expect(s.map(\.backup) == [false, true, false, false, false])
        #expect(s.map(\.disabled) == [false, false, true, false, true])
        // Explicit ids are kept; the others take the lowest free id.
        #expect(s.map(\.id) == [1, 3, 10, 4, 2])
    }

    @Test func options() throws {
        let c = try #require(config(timeoutDefaults + """
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                option redispatch
                option tcplog
                option dontlognull
            frontend fe
                bind :80
                no option tcplog
                default_backend be
            backend be
                no option redispatch
            listen li
                bind :81
            """))
        #expect(c.frontends[0].tcpLog == false)
        #expect(c.frontends[0].dontLogNull)
        #expect(c.frontends[1].tcpLog)
        #expect(c.backends[0].redispatch == false)
        #expect(c.backends[1].redispatch)
    }

    @Test func httplogFallsBackToTcplogInTCPMode() throws {
        let r = parse(timeoutDefaults + "frontend fe\n bind :80\n option httplog\n default_backend be\nbackend be\n")
        #expect(messages(r, .warning)
                == ["t.cfg:7:9: warning: 'option httplog' is ignored in tcp mode: frontend 'fe' logs in tcplog format instead"])
        #expect(r.configuration?.frontends[0].tcpLog == true)
        #expect(r.configuration?.frontends[0].httpLog == false)
    }

    @Test func modeHTTPWithAnUnconditionalReturn() throws {
        let r = parse(timeoutDefaults + """
            frontend web
                mode http
                bind :8080
                option httplog
                http-request return status 503 content-type "text/plain" string "down for maintenance\\n"
            """)
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [], "a proxy answering locally is fully served")
        let fe = try #require(r.configuration?.frontends.first)
        #expect(fe.mode == .http)
        #expect(fe.httpLog)
        #expect(fe.httpRequestRules.first?.action == .returnResponse(ReturnSpec(
            status: 503, contentType: "text/plain", body: .bytes(Array("down for maintenance\n".utf8)))))
    }

    @Test func modeHTTPForwardsWithoutWarning() {
        let r = parse(timeoutDefaults + """
            frontend web
                mode http
                bind :8080
                default_backend app
            backend app
                mode http
                server s1 127.0.0.1:8000
            """)
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [])
    }

    @Test func returnDefaults() throws {
        let r = parse(timeoutDefaults + "listen l\n mode http\n bind :1\n http-request return\n")
        #expect(r.configuration?.frontends[0].httpRequestRules.first?.action == .returnResponse(ReturnSpec()))
    }

    @Test func useBackendConditions() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                use_backend a if TRUE
                use_backend b unless TRUE
                use_backend a if !always_false
                use_backend b if ! TRUE
                use_backend a
                default_backend b
            backend a
            backend b
            """))
        #expect(c.frontends[0].useBackends.map(\.backend) == [0, 1, 0, 1, 0])
        #expect(c.frontends[0].useBackends.map(\.condition) == [.always, .never, .always, .never, .always])
        #expect(c.frontends[0].useBackends[1].location == WeirConfig.SourceLocation(file: "t.cfg", line: 8, column: 17))
        #expect(c.frontends[0].defaultBackend == 1)
    }

    @Test func maxconnAndRetries() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                maxconn 77
                default_backend be
            backend be
                retries 0
            """))
        #expect(c.frontends[0].maxconn == 77)
        #expect(c.backends[0].retries == 0)
    }

    @Test func missingTimeoutsWarn() {
        let w = warnings("frontend fe\n bind :1\n default_backend be\nbackend be\nlisten li\n bind :2\n")
        #expect(w == [
            "t.cfg:4:9: warning: missing timeouts for backend 'be': 'connect' and 'server' are not set; this is valid, "
                + "but connections may then stay open forever: set them to non-zero values",
            "t.cfg:5:8: warning: missing timeouts for proxy 'li': 'client', 'connect' and 'server' are not set; this is "
                + "valid, but connections may then stay open forever: set them to non-zero values",
            "t.cfg:1:10: warning: missing timeouts for frontend 'fe': 'client' is not set; this is valid, but connections "
                + "may then stay open forever: set them to non-zero values",
        ])
    }

    @Test func frontendWithoutRouteWarns() {
        #expect(warnings(timeoutDefaults + "frontend fe\n bind :1\n")
                == ["t.cfg:5:10: warning: frontend 'fe' has no default_backend, use_backend or 'http-request return': "
                    + "it will reject every connection"])
    }
}

@Suite struct LogURILengthTests {
    @Test func logURILength() throws {
        #expect(try #require(config("global\n    tune.http.logurilen 4096\n")).global.logURILength == 4096)
        #expect(try #require(config("global\n    daemon\n")).global.logURILength == 1024)
        #expect(errors("global\n    tune.http.logurilen 0\n") == ["t.cfg:2:25: error: tune.http.logurilen: expected a number between 1 and 65535, got '0'"])
    }
}
