import Testing
@testable import WeirConfig

/// Every error names the file, line and column of the offending word, says
/// what was expected, and parsing goes on to find the next one.
@Suite struct ErrorMessageTests {
    func proxyErrors(_ lines: String) -> [String] {
        errors(timeoutDefaults + lines)
    }

    @Test func renderedWithTheLineAndACaret() {
        let r = parse("defaults\n\ttimeout connect 5x\n")
        #expect(r.diagnostics.map { $0.rendered() }
                == ["t.cfg:2:18: error: timeout connect: expected a duration like 5s, got '5x'\n\ttimeout connect 5x\n\t                ^"])
        #expect(r.configuration == nil)
    }

    @Test func everyErrorInOneRun() {
        let e = errors("""
            global
                maxconn lots
                nbthread 0
            defaults
                timeout connect 5x
                timeout server 30d
                retries -1
            """)
        #expect(e == [
            "t.cfg:2:13: error: maxconn: expected a non-negative number, got 'lots'",
            "t.cfg:3:14: error: nbthread: expected a number between 1 and 4096, got '0'",
            "t.cfg:5:21: error: timeout connect: expected a duration like 5s, got '5x'",
            "t.cfg:6:20: error: timeout server: duration '30d' is too large (the maximum is 2147483647ms, about 24.8 days)",
            "t.cfg:7:13: error: retries: expected a non-negative number, got '-1'",
        ])
    }

    @Test func missingArguments() {
        #expect(errors("defaults\n timeout connect\n") == ["t.cfg:2:10: error: timeout connect: expected a duration like 5s"])
        #expect(errors("defaults\n timeout\n")
                == ["t.cfg:2:2: error: timeout: expected a timeout name (connect, client, server, queue, tunnel, client-fin, "
                    + "server-fin, http-request, http-keep-alive, tarpit, check or client-hs)"])
        #expect(errors("global\n maxconn\n") == ["t.cfg:2:2: error: maxconn: expected a non-negative number"])
        #expect(errors("global\n pidfile\n") == ["t.cfg:2:2: error: pidfile: expected a file path"])
        #expect(errors("global\n maxconn 1 2\n") == ["t.cfg:2:12: error: unexpected argument '2' after 'maxconn'"])
    }

    @Test func unknownTimeout() {
        #expect(errors("defaults\n timeout conect 5s\n")
                == ["t.cfg:2:10: error: timeout: unknown timeout 'conect'; expected connect, client, server, queue, tunnel, "
                    + "client-fin, server-fin, http-request, http-keep-alive, tarpit, check or client-hs (did you mean 'connect'?)"])
    }

    @Test func sizes() {
        #expect(errors("global\n tune.bufsize 16q\n") == ["t.cfg:2:15: error: tune.bufsize: expected a size like 16k, got '16q'"])
        #expect(errors("global\n tune.bufsize 100\n")
                == ["t.cfg:2:15: error: tune.bufsize: expected a size between 1k and 1g, got '100' (100 bytes)"])
    }

    @Test func bindErrors() {
        #expect(proxyErrors("frontend fe\n bind :70000\n") == ["t.cfg:6:7: error: bind: expected a port between 0 and 65535, got '70000'"])
        #expect(proxyErrors("frontend fe\n bind 10.0.0.1\n") == ["t.cfg:6:7: error: bind: missing port in '10.0.0.1'"])
        #expect(proxyErrors("frontend fe\n bind ::1\n") == ["t.cfg:6:7: error: bind: missing port in '::1'"])
        #expect(proxyErrors("frontend fe\n bind [::1]\n") == ["t.cfg:6:7: error: bind: missing port in '[::1]'"])
        #expect(proxyErrors("frontend fe\n bind web.example:80\n") == ["t.cfg:6:7: error: bind: expected an IP address, got 'web.example'"])
        #expect(proxyErrors("frontend fe\n bind :80,:8010-8000\n")
                == ["t.cfg:6:11: error: bind: invalid port range '8010-8000': the first port is higher than the last"])
        #expect(proxyErrors("frontend fe\n bind ipv4@[::]:80\n") == ["t.cfg:6:7: error: bind: expected an IPv4 address, got '::'"])
        #expect(proxyErrors("frontend fe\n bind fd@x\n") == ["t.cfg:6:7: error: bind: expected a file descriptor number after 'fd@', got 'x'"])
        #expect(proxyErrors("frontend fe\n bind \"fd@${NOFD}\"\n") == ["t.cfg:6:7: error: bind: expected a file descriptor number after 'fd@', got ''"])
        #expect(proxyErrors("frontend fe\n bind abnsz@x\n") == ["t.cfg:6:7: error: bind: 'abnsz@' addresses are not supported by Weir yet"])
        #expect(proxyErrors("frontend fe\n bind foo@x\n") == ["t.cfg:6:7: error: bind: unknown address prefix 'foo@'"])
        #expect(proxyErrors("frontend fe\n bind\n") == ["t.cfg:6:2: error: bind: expected an address like ':80' or '127.0.0.1:80'"])
    }

    @Test func bindOptions() {
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /etc/x.pem\n default_backend be\nbackend be\n") == [])
        #expect(proxyErrors("frontend fe\n bind :443 ssl\n default_backend be\nbackend be\n")
                == ["t.cfg:6:2: error: bind: 'ssl' needs at least one certificate ('crt FILE' or 'crt-list FILE')"])
        #expect(warnings(timeoutDefaults + "frontend fe\n bind :443 crt /x.pem\n default_backend be\nbackend be\n")
                .contains("t.cfg:6:12: warning: bind: 'crt' has no effect without 'ssl' on the same line"))
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem ssl-min-ver TLSv1.4\n default_backend be\nbackend be\n")
                == ["t.cfg:6:39: error: bind: 'ssl-min-ver' expects TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, got 'TLSv1.4'"])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt\n default_backend be\nbackend be\n")
                == ["t.cfg:6:16: error: bind: 'crt' expects a value",
                    "t.cfg:6:2: error: bind: 'ssl' needs at least one certificate ('crt FILE' or 'crt-list FILE')"])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem strict-snii\n default_backend be\nbackend be\n")
                == ["t.cfg:6:27: error: unsupported bind option 'strict-snii'; did you mean 'strict-sni'?"])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem verify required\n default_backend be\nbackend be\n")
                == ["t.cfg:6:27: error: bind: verify is enabled but no CA file specified: 'verify required' needs 'ca-file FILE'"])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem verify none\n default_backend be\nbackend be\n") == [])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem verify yes ca-file /ca.pem\n default_backend be\nbackend be\n")
                == ["t.cfg:6:34: error: bind: 'verify' expects none, optional or required, got 'yes'"])
        #expect(proxyErrors("frontend fe\n bind :443 ssl crt /x.pem ca-file /ca.pem crt-ignore-err 10,200\n default_backend be\nbackend be\n")
                == ["t.cfg:6:58: error: bind: 'crt-ignore-err': ID '200' out of range (1..127) in error IDs list '10,200'; "
                    + "expected 'all' or numeric X509 error ids like 10,23"])
        #expect(proxyErrors("frontend fe\n bind :443 verify optional ca-file /ca.pem\n default_backend be\nbackend be\n") == [])
        #expect(proxyErrors("frontend fe\n bind :443 nmae x\n default_backend be\nbackend be\n")
                == ["t.cfg:6:12: error: unsupported bind option 'nmae'; did you mean 'name'?"])
    }

    @Test func serverErrors() {
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:0\n") == ["t.cfg:6:12: error: server: expected a port between 1 and 65535, got '0'"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:+65536\n")
                == ["t.cfg:6:12: error: server: expected a port offset between -65535 and +65535, got '+65536'"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:-\n")
                == ["t.cfg:6:12: error: server: expected a port offset between -65535 and +65535, got '-'"])
        #expect(proxyErrors("backend be\n server s1 bad_host!:80\n")
                == ["t.cfg:6:12: error: server: expected an IP address or host name, got 'bad_host!'"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:80 weight 300\n")
                == ["t.cfg:6:31: error: weight: expected a number between 0 and 256, got '300'"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:80 weight\n")
                == ["t.cfg:6:24: error: weight: expected a number between 0 and 256"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:80 id 0\n")
                == ["t.cfg:6:27: error: id: expected a number between 1 and 2147483647, got '0'"])
        #expect(proxyErrors("backend be\n server s1\n") == ["t.cfg:6:9: error: server 's1': expected an address like 10.0.0.1:80"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:80 send-proxy-v2-ssl\n")
                == ["t.cfg:6:24: error: server option 'send-proxy-v2-ssl' is not supported by Weir yet"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:80 wieght 2\n")
                == ["t.cfg:6:24: error: unknown server option 'wieght'; did you mean 'weight'?"])
        #expect(proxyErrors("backend be\n default-server id 3\n")
                == ["t.cfg:6:17: error: 'id' is not allowed in 'default-server': each server needs its own"])
    }

    /// A server whose port follows the client's has no port to check, as
    /// HAProxy says: `port`, or `tcp-check connect port` rules, give one.
    @Test func checksOfServersWithoutAPort() {
        #expect(proxyErrors("backend be\n server s1 10.0.0.1 check\n")
                == ["t.cfg:6:9: error: server 's1' in backend 'be' has neither service port nor check port: "
                    + "its checks need 'port N' (its traffic goes to the port the client connected to)"])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1:+1 check\n").count == 1)
        #expect(proxyErrors("backend be\n server s1 10.0.0.1 check port 80\n") == [])
        #expect(proxyErrors("backend be\n server s1 10.0.0.1\n") == [])
        #expect(proxyErrors("backend be\n option tcp-check\n tcp-check connect port 80\n server s1 10.0.0.1 check\n") == [])
        #expect(proxyErrors("backend be\n option tcp-check\n tcp-check send x\n server s1 10.0.0.1 check\n").count == 1)
        #expect(proxyErrors("backend be\n server s1 0.0.0.0:80 check\n") == [])
    }

    @Test func duplicates() {
        #expect(proxyErrors("""
            backend be
                server a 10.0.0.1:80
                server a 10.0.0.2:80 id 1
                server b 10.0.0.3:80 id 1
            backend be
            frontend fe
                bind :1
                default_backend be
            listen fe
                bind :2
            """) == [
            "t.cfg:8:12: error: server id 1 is already used by server 'a' in backend 'be'",
            "t.cfg:7:12: error: server 'a' is already defined in backend 'be' at t.cfg:6:12",
            "t.cfg:9:9: error: backend 'be' has the same name as backend 'be' declared at t.cfg:5:9",
            "t.cfg:13:8: error: listen 'fe' has the same name as a frontend declared at t.cfg:10:10",
        ])
    }

    @Test func unknownBackends() {
        #expect(proxyErrors("""
            frontend fe
                bind :1
                default_backend wbe
                use_backend nothing_like_it if TRUE
            backend web
            """) == [
            "t.cfg:7:21: error: default_backend: no backend named 'wbe'; did you mean 'web'?",
            "t.cfg:8:17: error: use_backend: no backend named 'nothing_like_it'",
        ])
    }

    /// An HTTP frontend cannot hand its requests to a backend in mode tcp
    /// (the other way round, the session is upgraded to HTTP).
    @Test func modeMismatch() {
        #expect(proxyErrors("frontend fe\n mode http\n bind :1\n default_backend be\nbackend be\n")
                == ["t.cfg:8:18: error: default_backend: frontend 'fe' is in http mode but backend 'be' is in tcp mode"])
        #expect(proxyErrors("frontend fe\n mode http\n bind :1\n use_backend be if TRUE\nbackend be\n")
                == ["t.cfg:8:14: error: use_backend: frontend 'fe' is in http mode but backend 'be' is in tcp mode"])
    }

    @Test func frontendWithoutBind() {
        #expect(proxyErrors("frontend fe\n default_backend be\nbackend be\n")
                == ["t.cfg:5:10: error: frontend 'fe' has no 'bind' line: declare it as a backend if it should not listen"])
    }

    @Test func misplacedKeywords() {
        #expect(proxyErrors("backend be\n bind :80\n") == ["t.cfg:6:2: error: 'bind' is not allowed in a 'backend' section"])
        #expect(errors("defaults\n bind :80\n") == ["t.cfg:2:2: error: 'bind' is not allowed in a 'defaults' section"])
        #expect(proxyErrors("frontend fe\n bind :1\n server s 10.0.0.1:80\n")
                .contains("t.cfg:7:2: error: 'server' is not allowed in a 'frontend' section"))
        #expect(errors("defaults\n use_backend x\n") == ["t.cfg:2:2: error: 'use_backend' is not allowed in a 'defaults' section"])
        #expect(errors("global\n timeout client 5s\n") == ["t.cfg:2:2: error: 'timeout' is not allowed in a 'global' section"])
        #expect(errors("defaults\n nbthread 2\n") == ["t.cfg:2:2: error: 'nbthread' is not allowed in a 'defaults' section"])
        #expect(errors("global\n log global\n") == ["t.cfg:2:6: error: 'log global' is only meaningful in a proxy section"])
    }

    @Test func useBackendConditions() {
        #expect(proxyErrors("frontend fe\n bind :1\n acl is_api path_beg /api\n use_backend be if is_ap\nbackend be\n")
                == ["t.cfg:8:20: error: unknown ACL 'is_ap'; did you mean 'is_api'?"])
        #expect(proxyErrors("frontend fe\n bind :1\n use_backend be if TRUE FALSE\nbackend be\n") == [])
        #expect(proxyErrors("frontend fe\n bind :1\n use_backend be if\nbackend be\n")
                == ["t.cfg:7:17: error: use_backend: expected a condition after 'if'"])
        #expect(proxyErrors("frontend fe\n bind :1\n use_backend be when TRUE\nbackend be\n")
                == ["t.cfg:7:17: error: use_backend: expected 'if' or 'unless' after the backend name, got 'when'"])
    }

    @Test func balanceErrors() {
        #expect(proxyErrors("backend be\n balance roundrobbin\n")
                == ["t.cfg:6:10: error: balance: unknown algorithm 'roundrobbin'; expected roundrobin, static-rr, leastconn, "
                    + "first, source, random, uri, url_param, hdr(NAME) or hash (did you mean 'roundrobin'?)"])
        #expect(proxyErrors("backend be\n balance rdp-cookie\n") == ["t.cfg:6:10: error: balance 'rdp-cookie' is not supported by Weir yet"])
        #expect(proxyErrors("backend be\n balance random(0)\n")
                == ["t.cfg:6:10: error: balance random: expected a number of draws between 1 and 1000, got '0'"])
    }

    @Test func modeErrors() {
        #expect(errors("defaults\n mode htp\n") == ["t.cfg:2:7: error: mode: expected 'tcp' or 'http', got 'htp' (did you mean 'http'?)"])
    }

    @Test func logErrors() {
        #expect(errors("global\n log stdout\n") == ["t.cfg:2:6: error: log: expected a syslog facility like local0"])
        #expect(errors("global\n log stdout locl0\n")
                == ["t.cfg:2:13: error: log: expected a syslog facility like local0, got 'locl0'; did you mean 'local0'?"])
        #expect(errors("global\n log stdout local0 loud\n") == ["t.cfg:2:20: error: log: expected a level like info, got 'loud'"])
        #expect(errors("global\n log stdout format json local0\n")
                == ["t.cfg:2:20: error: log format: expected raw, rfc3164 or rfc5424, got 'json'"])
        #expect(errors("global\n log stdout len 10 local0\n") == ["t.cfg:2:17: error: log len: expected a number between 80 and 65535, got '10'"])
        #expect(errors("global\n log ring@buf local0\n") == ["t.cfg:2:6: error: log: 'ring@' targets are not supported by Weir yet"])
        #expect(errors("global\n log [syslog] local0\n")
                == ["t.cfg:2:6: error: log: expected stdout, stderr, a path, an IP address or a host name, got 'syslog'"])
        // A name is resolved when the configuration is read (`.invalid` never resolves, RFC 6761).
        let unresolved = errors("global\n log syslog.invalid:514 local0\n")
        #expect(unresolved.count == 1 && unresolved[0].hasPrefix("t.cfg:2:6: error: log: could not resolve address "
                                                                   + "'syslog.invalid': "), "\(unresolved)")
    }

    @Test func httpRequestErrors() {
        #expect(proxyErrors("frontend fe\n bind :1\n http-request set-src hdr(x)\n")
                == ["t.cfg:7:15: error: 'http-request set-src' is not supported by Weir yet"])
        #expect(proxyErrors("frontend fe\n bind :1\n http-request return status 200\n")
                == ["t.cfg:7:2: error: 'http-request return' needs 'mode http' in frontend 'fe'"])
        #expect(proxyErrors("frontend fe\n mode http\n bind :1\n http-request return string hi\n")
                == ["t.cfg:8:22: error: http-request return: 'content-type' is required with 'string'"])
        #expect(proxyErrors("frontend fe\n mode http\n bind :1\n http-request return status 99\n")
                == ["t.cfg:8:29: error: http-request return status: expected a number between 200 and 599, got '99'"])
    }

    @Test func noConfigurationWhenThereAreErrors() {
        let r = parse("global\n maxconn x\n")
        #expect(r.hasErrors)
        #expect(r.configuration == nil)
    }

    @Test func diagnosticWithoutLocationRendersPlainly() {
        #expect(Diagnostic(severity: .error, location: nil, message: "boom").rendered() == "error: boom")
    }
}
