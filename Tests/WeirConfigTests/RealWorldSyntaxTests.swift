import Testing
@testable import WeirConfig

/// Lines from real haproxy.cfg files that HAProxy 2.6 accepts (checked with
/// `haproxy -c`), which Weir used to refuse.
@Suite struct RealWorldSyntaxTests {
    private let http = timeoutDefaults + "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n"

    @Test func upperCaseOrJoinsConditions() throws {
        let c = try #require(config(http + """
            frontend fe
                bind :80
                acl a path_beg /a
                acl b path_beg /b
                http-request deny unless a OR b
                default_backend be
            backend be
                server s1 127.0.0.1:1
            """))
        #expect(c.frontends[0].httpRequestRules[0].condition.alternatives.count == 2)
    }

    @Test func redirectOptionsMayComeBeforeTheKind() throws {
        let c = try #require(config(http + """
            frontend fe
                bind :80
                http-request redirect code 301 location /new if { path /old }
                redirect code 308 drop-query prefix /v2 if { path_beg /v1 }
                default_backend be
            backend be
                server s1 127.0.0.1:1
            """))
        guard case .redirect(let r) = c.frontends[0].httpRequestRules[0].action else {
            Issue.record("not a redirect")
            return
        }
        #expect(r.kind == .location && r.code == 301)
        guard case .redirect(let k) = c.frontends[0].redirectRules[0].action else {
            Issue.record("not a redirect")
            return
        }
        #expect(k.kind == .prefix && k.code == 308 && k.dropQuery)
        // Options alone, with no kind and value, are still an error.
        let missing = errors(http + "frontend fe\n bind :80\n redirect code 301 if { path /x }\n default_backend be\n"
                             + "backend be\n server s 127.0.0.1:1\n")
        #expect(missing == ["t.cfg:12:16: error: redirect: expected 'location', 'prefix' or 'scheme'"], "\(missing)")
    }

    @Test func environmentVariablesInAddressesOutsideQuotes() throws {
        let c = try #require(config(http + """
            frontend fe
                bind 127.0.0.1:$PORT
                default_backend be
            backend be
                server s1 ${HOST-10.0.0.9}:$SERVER_PORT
            """, environment: ["PORT": "8081", "SERVER_PORT": "9001"]))
        #expect(c.frontends[0].binds[0].address.description.hasSuffix(":8081"), "\(c.frontends[0].binds[0].address)")
        #expect("\(c.backends[0].servers[0].address)".contains("10.0.0.9") && "\(c.backends[0].servers[0].address)".contains("9001"),
                "\(c.backends[0].servers[0].address)")
    }

    @Test func tcpContentRulesOfAnHTTPFrontendSeeTheRequest() {
        #expect(errors(http + """
            frontend fe
                bind :80
                tcp-request content track-sc0 path table st
                default_backend be
            backend st
                stick-table type string len 128 size 100M expire 30s store http_req_rate(10s)
            backend be
                server s1 127.0.0.1:1
            """).isEmpty)
        let tcp = errors(timeoutDefaults + """
            frontend fe
                mode tcp
                bind :80
                tcp-request content track-sc0 path table st
                default_backend be
            backend st
                stick-table type string size 1k
            backend be
                mode tcp
                server s1 127.0.0.1:1
            """)
        #expect(tcp.count == 1 && tcp[0].hasSuffix("this sample needs the HTTP request, which is not available to mode tcp content rules"),
                "\(tcp)")
    }

    @Test func whatHAProxyOnlyWarnsAbout() {
        let found = warnings(http + """
            frontend fe
                bind :80 alpn h2,http/1.1
                http-request deny deny_status 429 hdr Retry-After 10 if { path /x }
                default_backend be
            backend st
                stick-table type string len 128 size 100M
            backend be
                maxconn 100
                server s1 127.0.0.1:1
            """)
        #expect(found.contains("t.cfg:11:14: warning: bind: 'alpn' has no effect without 'ssl' on the same line"), "\(found)")
        #expect(found.contains { $0.hasPrefix("t.cfg:15:33: warning: stick-table len: Weir keeps at most 64 bytes") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("t.cfg:15:42: warning: stick-table size: Weir holds at most 16m entries") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("t.cfg:17:5: warning: 'maxconn' is ignored in a backend") }, "\(found)")
        #expect(found.count == 4, "\(found)")
    }
}

@Suite struct StatsShowNodeTests {
    @Test func showNodeAndDescription() throws {
        let c = try #require(config("global\n    node lb-2\n    description Edge balancer\n" + timeoutDefaults + """
            listen stats
                mode http
                bind :8404
                stats enable
                stats show-node
                stats show-desc Public entry
            """))
        #expect(c.global.node == "lb-2" && c.global.description == "Edge balancer")
        #expect(c.frontends[0].statsPage?.showNode == "" && c.frontends[0].statsPage?.showDescription == "Public entry")
        #expect(errors("global\n    node lb 2\n") == ["t.cfg:2:10: error: node: expected one name of letters, digits, '-', '_' and '.'"])
    }
}

@Suite struct RemovedKeywordTests {
    @Test func haproxy1KeywordsNameTheirReplacement() {
        let found = errors(timeoutDefaults + """
            frontend fe
                mode http
                bind :80
                reqadd X-Proto:\\ https
                reqirep ^Host:\\ a Host:\\ b
                rspidel ^Server:.*
                default_backend be
            backend be
                mode http
                server s1 127.0.0.1:1
            """)
        #expect(found == [
            "t.cfg:8:5: error: 'reqadd' was removed in HAProxy 2.1; use 'http-request add-header' instead",
            "t.cfg:9:5: error: 'reqirep' was removed in HAProxy 2.1; use 'http-request replace-header' or 'replace-path' instead",
            "t.cfg:10:5: error: 'rspidel' was removed in HAProxy 2.1; use 'http-response del-header' instead",
        ], "\(found)")
    }

    @Test func removedTimeoutsOptionsAndGlobalsNameWhatToDo() {
        let found = errors("""
            global
                nbproc 2
            defaults
                mode http
                contimeout 5s
                clitimeout 5s
                srvtimeout 5s
            frontend fe
                bind :80
                option forceclose
                option http-tunnel
                default_backend be
            backend be
                server s1 127.0.0.1:1
            """)
        #expect(found == [
            "t.cfg:2:5: error: 'nbproc' was removed in HAProxy 2.5; remove it, or set the number of worker processes with 'nbthread'",
            "t.cfg:5:5: error: 'contimeout' was removed in HAProxy 2.1; use 'timeout connect' instead",
            "t.cfg:6:5: error: 'clitimeout' was removed in HAProxy 2.1; use 'timeout client' instead",
            "t.cfg:7:5: error: 'srvtimeout' was removed in HAProxy 2.1; use 'timeout server' instead",
            "t.cfg:10:12: error: 'option forceclose' was removed in HAProxy 2.0; remove it, or use 'option httpclose' if the connection must close",
            "t.cfg:11:12: error: 'option http-tunnel' was removed in HAProxy 2.1; remove it: requests after the first are processed anyway",
        ], "\(found)")
    }

    @Test func addressOnTheListenLineIsOneErrorNamingTheBindLine() {
        let found = errors(timeoutDefaults + """
            listen stats :1936
                mode http
                stats enable
            """)
        #expect(found == ["t.cfg:5:14: error: listening addresses go on a 'bind' line: 'bind :1936'"], "\(found)")
    }

    @Test func bindProcessIsIgnoredWithAWarning() {
        let text = timeoutDefaults + """
            frontend fe
                bind :80
                bind-process 1
                default_backend be
            backend be
                server s1 127.0.0.1:1
            """
        #expect(errors(text).isEmpty)
        #expect(warnings(text) == ["t.cfg:7:5: warning: 'bind-process' is ignored: every Weir worker process serves "
                                   + "every 'bind' line (HAProxy 2.6 ignores it too)"])
    }
}

@Suite struct SyslogHeaderConfigTests {
    @Test func logSendHostnameAndLogTag() throws {
        let named = try #require(config("global\n    log-send-hostname edge-1\n    log-tag haproxy\n"))
        #expect(named.global.logSendHostname == "edge-1" && named.global.logTag == "haproxy")
        let plain = try #require(config("global\n    log-send-hostname\n"))
        #expect(plain.global.logSendHostname == "" && plain.global.logTag == nil)
        #expect(errors("global\n    log-tag\n") == ["t.cfg:2:5: error: log-tag: expected one tag, as in 'log-tag haproxy'"])
    }
}

@Suite struct ProcessGlobalTests {
    @Test func environmentKeywordsChangeLaterLines() throws {
        let text = """
            global
                setenv WEIR_PORT 8080
                presetenv WEIR_PORT 9090
                presetenv WEIR_HOST 127.0.0.2
                unsetenv WEIR_DROP
                setenv WEIR_KEEP yes
            """ + "\n" + timeoutDefaults + """
            frontend fe
                bind "${WEIR_HOST}:${WEIR_PORT}"
                default_backend be
            backend be
                server s1 "${WEIR_HOST}:${WEIR_BACKEND_PORT}"
            """
        let c = try #require(config(text, environment: ["WEIR_HOST": "127.0.0.3", "WEIR_BACKEND_PORT": "81", "WEIR_DROP": "x"]))
        #expect(c.frontends[0].binds[0].address.description == "127.0.0.3:8080", "presetenv keeps a set variable")
        #expect(c.backends[0].servers[0].address.description == "127.0.0.3:81")
        #expect(c.global.environment == ["WEIR_HOST": "127.0.0.3", "WEIR_BACKEND_PORT": "81", "WEIR_PORT": "8080",
                                         "WEIR_KEEP": "yes"])
        let reset = try #require(config("global\n    resetenv WEIR_A\n", environment: ["WEIR_A": "1", "WEIR_B": "2"]))
        #expect(reset.global.environment == ["WEIR_A": "1"])
        #expect(try #require(config("global\n    daemon\n")).global.environment == nil)
        #expect(errors("global\n    setenv ONLY_NAME\n") == [
            "t.cfg:2:12: error: setenv: expected a variable name and a value, as in 'setenv NAME value'"])
    }

    @Test func idsSpreadChecksQuietAndZeroWarning() throws {
        let c = try #require(config("global\n    uid 65534\n    gid 65533\n    spread-checks 5\n    quiet\n    zero-warning\n"))
        #expect(c.global.uid == 65534 && c.global.gid == 65533 && c.global.spreadChecks == 5)
        #expect(c.global.quiet && c.global.zeroWarning)
        #expect(errors("global\n    spread-checks 51\n") == [
            "t.cfg:2:19: error: spread-checks: expected a number between 0 and 50, got '51'"])
        #expect(errors("global\n    uid nobody\n").count == 1)
    }
}

@Suite struct CPUMapConfigTests {
    private func cpus(_ lines: String, workers: Int = 4) throws -> [[Int]?] {
        let c = try #require(config("global\n" + lines))
        return (1...workers).map { c.global.cpus(forWorker: $0) }
    }

    @Test func mapsWorkersToCPUs() throws {
        #expect(try cpus("    cpu-map auto:1/1-4 0-3\n") == [[0], [1], [2], [3]])
        #expect(try cpus("    cpu-map auto:1/1-2 4,6\n") == [[4], [6], nil, nil])
        #expect(try cpus("    cpu-map auto:1/1-4 2\n") == [[2], [2], [2], [2]])
        #expect(try cpus("    cpu-map 1 0-1\n") == [[0, 1], [0, 1], [0, 1], [0, 1]])
        #expect(try cpus("    cpu-map all 3\n    cpu-map 1/2 1 2\n") == [[3], [1, 2], [3], [3]], "a later line wins")
        #expect(try cpus("    cpu-map auto:1 0-1\n") == [[0], [1], nil, nil])
        #expect(try cpus("    cpu-map odd/3 0\n") == [nil, nil, [0], nil])
    }

    @Test func linesForOtherGroupsWarnAndBadSetsAreErrors() {
        #expect(warnings("global\n    cpu-map 2/1 0\n") == [
            "t.cfg:2:13: warning: cpu-map: Weir has one thread group; this line names none of its workers"])
        #expect(warnings("global\n    cpu-map even 0\n").count == 1)
        #expect(errors("global\n    cpu-map auto:1/1-3 0-1\n") == [
            "t.cfg:2:13: error: cpu-map: 'auto:' gives each of the 3 workers one of the 2 CPUs: name as many CPUs as workers"])
        #expect(errors("global\n    cpu-map 1/0 1\n") == [
            "t.cfg:2:13: error: cpu-map: expected worker numbers from 1 such as 1, 1-4 or all, got '0'"])
        #expect(errors("global\n    cpu-map 1/1 x\n") == [
            "t.cfg:2:17: error: cpu-map: expected CPU numbers such as 0, 0-3 or 0,2, got 'x'"])
        #expect(errors("global\n    cpu-map 1\n") == [
            "t.cfg:2:13: error: cpu-map: expected the workers and their CPUs, as in 'cpu-map 1/1 0' or 'cpu-map auto:1/1-4 0-3'"])
    }
}

@Suite struct ServerConnectionOptionConfigTests {
    @Test func preferLastServerAndPretendKeepAlive() throws {
        let text = timeoutDefaults + """
            frontend fe
                mode http
                bind :80
                option prefer-last-server
                default_backend rr
            backend rr
                mode http
                option prefer-last-server
                option http-server-close
                option http-pretend-keepalive
                server s1 127.0.0.1:1
            backend hashed
                mode http
                balance source
                option prefer-last-server
                server s1 127.0.0.1:1
            """
        let c = try #require(config(text))
        #expect(c.backends[0].preferLastServer && c.backends[0].pretendKeepAlive)
        #expect(!c.backends[1].preferLastServer, "a hashing algorithm keeps its choice")
        #expect(warnings(text) == [
            "t.cfg:8:12: warning: 'option prefer-last-server' is ignored in a 'frontend' section: it applies to backends"])
    }

    @Test func logASAPBelongsToFrontends() throws {
        let text = timeoutDefaults + """
            frontend fe
                bind :80
                option logasap
                default_backend be
            backend be
                option logasap
                server s1 127.0.0.1:1
            """
        let c = try #require(config(text))
        #expect(c.frontends[0].logASAP)
        #expect(warnings(text) == [
            "t.cfg:10:12: warning: 'option logasap' is ignored in a 'backend' section: it applies to frontends"])
    }
}
