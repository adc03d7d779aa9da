import Testing
@testable import WeirConfig

/// Log-format strings: `log-format`, `option httplog`/`tcplog`, `unique-id-format`.
@Suite struct LogFormatTests {
    func frontend(_ lines: String, defaults: String = httpDefaults,
                  sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Frontend? {
        config(defaults + "frontend fe\n    bind :80\n" + lines + "\n    default_backend be\nbackend be\n",
               sourceLocation: sourceLocation)?.frontends.first
    }

    func format(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [LogFormatNode]? {
        frontend("    log-format \(text)", sourceLocation: sourceLocation)?.logFormat?.nodes
    }

    func formatErrors(_ text: String) -> [String] {
        errors(httpDefaults + "frontend fe\n    bind :80\n    log-format \(text)\n    default_backend be\nbackend be\n")
    }

    func lit(_ s: String) -> LogFormatNode { .literal(Array(s.utf8)) }

    @Test func variablesAndLiterals() {
        #expect(format(#"%ci:%cp\ [%t]\ %ft\ %b/%s\ %ST\ 100%%"#) == [
            .variable(.clientIP, .none), lit(":"), .variable(.clientPort, .none), lit(" ["), .variable(.acceptDate, .none),
            lit("] "), .variable(.frontendNameTransport, .none), lit(" "), .variable(.backendName, .none), lit("/"),
            .variable(.serverName, .none), lit(" "), .variable(.statusCode, .none), lit(" 100%"),
        ])
        #expect(format("\"%Tq/%Tw/%Tc/%Tr/%Ta/%Tt %TR %Th %Ti %Td %Tu\"")?.compactMap {
            if case .variable(let v, _) = $0 { return v.rawValue }
            return nil
        } == ["Tq", "Tw", "Tc", "Tr", "Ta", "Tt", "TR", "Th", "Ti", "Td", "Tu"])
        #expect(format("'%HM %HU %HP %HPO %HQ %HV %ID %pid %sslv %hrl'")?.count == 19)
    }

    @Test func options() {
        let q = LogFormatOptions(quote: true)
        #expect(format("%{+Q}r") == [.variable(.httpRequest, q)])
        #expect(format("%{+Q,+X}ci") == [.variable(.clientIP, LogFormatOptions(quote: true, hex: true))])
        #expect(format(#"%{+Q}o\ %ci\ %{-Q}b\ %{+E}[path]"#) == [
            .variable(.clientIP, q), lit(" "), .variable(.backendName, .none), lit(" "),
            .sample(Sample(fetch: .path), LogFormatOptions(quote: true, escape: true)),
        ])
    }

    @Test func samples() {
        #expect(format("%[req.hdr(host),lower]%[capture.req.hdr(0)]%[var(txn.a)]") == [
            .sample(Sample(fetch: .hdr(name: "host", occurrence: nil), converters: [.lower]), .none),
            .sample(Sample(fetch: .capturedRequestHeader(0)), .none),
            .sample(Sample(fetch: .variable(scope: .txn, name: "a")), .none),
        ])
        // A `]` inside an argument does not end the expression.
        #expect(format("%[path,regsub('[0-9]+',N)]") == [
            .sample(Sample(fetch: .path, converters: [.regsub(pattern: "[0-9]+", replacement: "N", global: false, ignoreCase: false)]),
                    .none),
        ])
    }

    @Test func optionHTTPLogAndTCPLogProduceHAProxysFormats() throws {
        let http = try #require(frontend("    option httplog"))
        #expect(http.httpLog)
        #expect(http.logFormat == LogFormat.httplog)
        #expect(http.logFormat?.nodes.first == .variable(.clientIP, .none))
        #expect(http.logFormat?.nodes.last == .variable(.httpRequest, LogFormatOptions(quote: true)))
        let clf = try #require(frontend("    option httplog clf"))
        #expect(clf.logFormat == LogFormat.httplogCLF)
        let tcp = try #require(frontend("    option tcplog", defaults: timeoutDefaults))
        #expect(tcp.logFormat == LogFormat.tcplog)
        #expect(tcp.logFormat?.nodes.count == 35)
        // httplog in tcp mode logs in tcplog format.
        let fallback = parse(timeoutDefaults + "frontend fe\n    bind :80\n    option httplog\n    default_backend be\nbackend be\n")
        #expect(fallback.configuration?.frontends[0].logFormat == LogFormat.tcplog)
        #expect(frontend("")?.logFormat == nil)
    }

    @Test func theLastFormatWins() throws {
        #expect(frontend("    option httplog\n    log-format %ci")?.logFormat?.nodes == [.variable(.clientIP, .none)])
        #expect(frontend("    log-format %ci\n    option httplog")?.logFormat == LogFormat.httplog)
        #expect(frontend("    option httplog\n    no option httplog")?.logFormat == nil)
        let inherited = try #require(config(httpDefaults + """
            defaults web
                mode http
                log-format "%ci %ST"
            frontend fe from web
                bind :80
                timeout client 1s
                default_backend be
            backend be from web
                timeout connect 1s
                timeout server 1s
            """))
        #expect(inherited.frontends[0].logFormat?.nodes.count == 3)
    }

    @Test func uniqueID() throws {
        let fe = try #require(frontend("    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n    unique-id-header X-Unique-ID"))
        #expect(fe.uniqueIDFormat?.nodes.first == .variable(.clientIP, LogFormatOptions(hex: true)))
        #expect(fe.uniqueIDFormat?.nodes.count == 13)
        #expect(fe.uniqueIDHeader == "X-Unique-ID")
        #expect(frontend("    http-request set-header X-Req %[unique-id]")?.httpRequestRules.first?.action
                == .setHeader(name: "X-Req", value: LogFormat(nodes: [.sample(Sample(fetch: .uniqueID), .none)])))
    }

    @Test func logFlags() throws {
        let fe = try #require(frontend("    option dontlog-normal\n    option log-separate-errors"))
        #expect(fe.dontLogNormal && fe.logSeparateErrors)
        let off = try #require(frontend("    option dontlog-normal\n    no option dontlog-normal"))
        #expect(!off.dontLogNormal && !off.logSeparateErrors)
    }

    @Test func formatErrorMessages() {
        #expect(formatErrors("%ci:%cq") == ["t.cfg:8:20: error: log-format: unknown log-format variable '%cq'; did you mean '%ci'?"])
        #expect(formatErrors("%Tz") == ["t.cfg:8:16: error: log-format: unknown log-format variable '%Tz'; did you mean '%T'?"])
        #expect(formatErrors("%[path") == ["t.cfg:8:17: error: log-format: missing ']' after '%['"])
        #expect(formatErrors("%[pth]") == ["t.cfg:8:18: error: log-format: unknown fetch 'pth'; did you mean 'path'?"])
        #expect(formatErrors("%[path,lowr]") == ["t.cfg:8:23: error: log-format: unknown converter 'lowr'; did you mean 'lower'?"])
        #expect(formatErrors("abc%") == ["t.cfg:8:19: error: log-format: '%' must be followed by a variable or '[…]'; write '%%' for a percent sign"])
        #expect(formatErrors("%{+Z}ci") == ["t.cfg:8:18: error: log-format: unknown log-format option '+Z'; expected +Q, +X or +E (or - to turn one off)"])
        #expect(formatErrors("%{+json}o") == ["t.cfg:8:18: error: log-format: log-format option 'json' is not supported by Weir yet"])
        #expect(formatErrors("%{+Q") == ["t.cfg:8:17: error: log-format: missing '}' after '%{'"])
        #expect(formatErrors("%(name)ci") == ["t.cfg:8:16: error: log-format: named log-format fields '%(name)' are not supported by Weir yet"])
        #expect(formatErrors("\"%ci %b\" x") == ["t.cfg:8:25: error: unexpected argument 'x' after 'log-format'"])
        #expect(errors(httpDefaults + "backend be\n    log-format %ci\n") == ["t.cfg:7:5: error: 'log-format' is not allowed in a 'backend' section"])
        // Quoted words: the error points at the word.
        #expect(formatErrors("\"%ci %zz\"") == ["t.cfg:8:16: error: log-format: unknown log-format variable '%zz'"])
    }
}
