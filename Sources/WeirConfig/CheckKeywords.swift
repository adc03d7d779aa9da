import Glibc

// Health-check keywords: the check options of `server` and `default-server`,
// `option httpchk|tcp-check|log-health-checks|allbackups`, `http-check` and
// `tcp-check`.

extension ParserState {
    // MARK: server options

    /// A check option of a server line at `words[i]`, `i` moved past it and
    /// its value. nil: not a check option; false: an error was reported.
    mutating func parseServerCheckOption(_ words: [Word], _ i: inout Int, into check: inout ServerCheck,
                                         keyword: String) -> Bool? {
        let option = words[i]
        let name = "\(keyword) \(option.text)"
        switch option.text {
        case "check":
            check.enabled = true
            i += 1
        case "no-check":
            check.enabled = false
            i += 1
        case "check-send-proxy":
            check.sendProxy = true
            i += 1
        case "inter", "fastinter", "downinter":
            guard let ms = duration(words, i + 1, keyword: name) else { return false }
            guard ms > 0 else {
                error("\(name): expected a duration greater than 0", at: words[i + 1])
                return false
            }
            switch option.text {
            case "inter": check.inter = ms
            case "fastinter": check.fastinter = ms
            default: check.downinter = ms
            }
            i += 2
        case "slowstart":
            guard let ms = duration(words, i + 1, keyword: name) else { return false }
            check.slowstart = ms > 0 ? ms : nil
            i += 2
        case "rise", "fall":
            guard let n = integer(words, i + 1, keyword: name, range: 1...Int(Int32.max), anchor: option) else { return false }
            if option.text == "rise" { check.rise = n } else { check.fall = n }
            i += 2
        case "error-limit":
            guard let n = integer(words, i + 1, keyword: name, range: 1...Int(Int32.max), anchor: option) else { return false }
            check.errorLimit = n
            i += 2
        case "port":
            guard let n = integer(words, i + 1, keyword: name, range: 1...65535, anchor: option) else { return false }
            check.port = UInt16(n)
            i += 2
        case "addr", "agent-addr":
            guard let address = checkAddress(words, i, name: name) else { return false }
            if option.text == "addr" { check.address = address } else { check.agent.address = address }
            i += 2
        case "agent-check":
            check.agent.enabled = true
            i += 1
        case "no-agent-check":
            check.agent.enabled = false
            i += 1
        case "agent-port":
            guard let n = integer(words, i + 1, keyword: name, range: 1...65535, anchor: option) else { return false }
            check.agent.port = UInt16(n)
            i += 2
        case "agent-inter":
            guard let ms = duration(words, i + 1, keyword: name) else { return false }
            guard ms > 0 else {
                error("\(name): expected a duration greater than 0", at: words[i + 1])
                return false
            }
            check.agent.inter = ms
            i += 2
        case "agent-send":
            guard i + 1 < words.count else {
                error("\(name): expected the string to send", at: option)
                return false
            }
            check.agent.send = words[i + 1].text
            i += 2
        case "init-addr":
            guard i + 1 < words.count else {
                error("\(name): expected a list of methods like 'last,libc,none'", at: option)
                return false
            }
            var methods: [InitAddrMethod] = []
            var offset = 0
            for element in words[i + 1].text.split(separator: ",", omittingEmptySubsequences: false) {
                let at = location(words[i + 1], offset: offset)
                offset += element.count + 1
                switch element {
                case "last": methods.append(.last)
                case "libc": methods.append(.libc)
                case "none": methods.append(.none)
                default:
                    if let ip = Addresses.parseIPv4(element) ?? Addresses.parseIPv6(element) {
                        methods.append(.ip(ip))
                    } else {
                        report(.error, "\(name): unknown method '\(element)'; expected last, libc, none or an IP address"
                               + Keywords.didYouMean(String(element), among: ["last", "libc", "none"]).replacingDidYouMean(),
                               at: at)
                        return false
                    }
                }
            }
            check.initAddr = methods
            i += 2
        case "observe":
            guard i + 1 < words.count else {
                error("\(name): expected layer4 or layer7", at: option)
                return false
            }
            let value = words[i + 1].text
            if value == "none" {
                check.observe = nil
            } else if let mode = ObserveMode(rawValue: value) {
                check.observe = mode
            } else {
                error("\(name): expected layer4, layer7 or none, got '\(value)'"
                      + Keywords.didYouMean(value, among: ["layer4", "layer7", "none"]).replacingDidYouMean(), at: words[i + 1])
                return false
            }
            i += 2
        case "on-error":
            let choices = ["fastinter", "fail-check", "sudden-death", "mark-down"]
            guard i + 1 < words.count else {
                error("\(name): expected fastinter, fail-check, sudden-death or mark-down", at: option)
                return false
            }
            guard let action = OnErrorAction(rawValue: words[i + 1].text) else {
                error("\(name): expected fastinter, fail-check, sudden-death or mark-down, got '\(words[i + 1].text)'"
                      + Keywords.didYouMean(words[i + 1].text, among: choices).replacingDidYouMean(), at: words[i + 1])
                return false
            }
            check.onError = action
            i += 2
        case "on-marked-down", "on-marked-up":
            let expected = option.text == "on-marked-down" ? "shutdown-sessions" : "shutdown-backup-sessions"
            guard i + 1 < words.count else {
                error("\(name): expected '\(expected)'", at: option)
                return false
            }
            guard words[i + 1].text == expected else {
                error("\(name): expected '\(expected)', got '\(words[i + 1].text)'", at: words[i + 1])
                return false
            }
            if option.text == "on-marked-down" { check.shutdownSessionsOnDown = true } else { check.shutdownBackupSessionsOnUp = true }
            i += 2
        default:
            return nil
        }
        return true
    }

    /// The address of `addr` or `agent-addr` at `words[i]`: an IP address
    /// or a host name; nil after an error.
    private mutating func checkAddress(_ words: [Word], _ i: Int, name: String) -> CheckAddress? {
        guard i + 1 < words.count else {
            error("\(name): expected an IPv4 or IPv6 address", at: words[i])
            return nil
        }
        let text = Substring(words[i + 1].text)
        if let ip = Addresses.parseIPv4(text) ?? Addresses.parseIPv6(text) { return .ip(ip) }
        if Self.isHostName(text) { return .host(String(text)) }
        error("\(name): expected an IPv4 or IPv6 address or a host name, got '\(text)'", at: words[i + 1])
        return nil
    }

    /// `agent-check` (on the line, or from `default-server`) needs
    /// `agent-port`: the agent listens on a port of its own. False after
    /// reporting the error.
    mutating func agentHasPort(_ check: ServerCheck, _ words: [Word], server name: Word, keyword: String) -> Bool {
        guard check.agent.enabled, check.agent.port == nil else { return true }
        let anchor = words.last { $0.text == "agent-check" } ?? name
        error("\(keyword) '\(name.text)': 'agent-check' needs 'agent-port', the port the agent listens on", at: anchor)
        return false
    }

    static func isHostName(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F
        }
    }

    // MARK: option httpchk / tcp-check / log-health-checks / allbackups

    mutating func parseCheckOption(_ words: [Word], negated: Bool) {
        let name = words[1]
        let prefix = negated ? "no option" : "option"
        if sectionKind == .frontend {
            warning("'option \(name.text)' is ignored in a 'frontend' section: it applies to backends", at: name)
        }
        switch name.text {
        case "log-health-checks":
            settings.logHealthChecks = !negated
            expectAtMost(2, words, after: "\(prefix) log-health-checks")
        case "allbackups":
            settings.allBackups = !negated
            expectAtMost(2, words, after: "\(prefix) allbackups")
        case "tcp-check", "ssl-hello-chk", "external-check":
            let kind: CheckKindChoice = name.text == "tcp-check" ? .tcp : name.text == "external-check" ? .external : .sslHello
            if negated {
                if settings.checkKind == kind { settings.checkKind = .connect }
            } else {
                settings.checkKind = kind
                settings.checkKindLocation = location(name)
            }
            expectAtMost(2, words, after: "\(prefix) \(name.text)")
        case "redis-check", "smtpchk", "pgsql-check", "mysql-check", "ldap-check":
            if negated {
                if case .protocolCheck(let option, _) = settings.checkKind, option == name.text { settings.checkKind = .connect }
                expectAtMost(2, words, after: "no option \(name.text)")
                return
            }
            guard let steps = protocolCheckSteps(words) else { return }
            settings.checkKind = .protocolCheck(option: name.text, steps: steps)
            settings.checkKindLocation = location(name)
        default:
            if negated {
                if case .http = settings.checkKind { settings.checkKind = .connect }
                expectAtMost(2, words, after: "no option httpchk")
                return
            }
            // option httpchk [URI] | [METHOD URI [VERSION]]
            guard expectAtMost(5, words, after: "option httpchk") else { return }
            var check = settings.httpCheck
            let args = Array(words.dropFirst(2))
            switch args.count {
            case 0: break
            case 1: check.uri = args[0].text
            default:
                check.method = args[0].text
                check.uri = args[1].text
                if args.count == 3 { check.version = args[2].text }
            }
            if args.count >= 2, !Self.isMethodToken(args[0].text) {
                error("option httpchk: invalid method '\(args[0].text)'", at: args[0])
                return
            }
            if let uri = args.count == 1 ? args.first : (args.count >= 2 ? args[1] : nil),
               uri.text.isEmpty || uri.text.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
                error("option httpchk: invalid URI '\(uri.text)'", at: uri)
                return
            }
            settings.httpCheck = check
            settings.checkKind = .http
            settings.checkKindLocation = location(name)
        }
    }

    static func isMethodToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    // MARK: http-check

    mutating func parseHTTPCheck(_ words: [Word]) {
        guard words.count > 1 else {
            error("http-check: expected 'send' or 'expect'", at: words[0])
            return
        }
        if settings.httpCheckRulesInherited {
            settings.httpCheckRulesInherited = false
            settings.httpCheck.expects = []
            settings.httpCheck.headers = []
            settings.httpCheck.body = nil
            settings.httpCheckLocation = nil
        }
        if settings.httpCheckLocation == nil { settings.httpCheckLocation = location(words[0]) }
        let verb = words[1]
        switch verb.text {
        case "send":
            parseHTTPCheckSend(words)
        case "expect":
            guard let expect = parseExpect(words, from: 2, keyword: "http-check expect", http: true) else { return }
            settings.httpCheck.expects.append(expect)
        case "disable-on-404":
            expectAtMost(2, words, after: "http-check disable-on-404")
            settings.httpCheck.disableOn404 = true
        case "connect", "send-state", "comment", "set-var", "unset-var", "set-var-fmt":
            error("'http-check \(verb.text)' is not supported by Weir yet", at: verb)
        default:
            error("http-check: unknown action '\(verb.text)'; expected send or expect"
                  + Keywords.didYouMean(verb.text, among: ["send", "expect"]).replacingDidYouMean(), at: verb)
        }
    }

    private mutating func parseHTTPCheckSend(_ words: [Word]) {
        var check = settings.httpCheck
        var i = 2
        while i < words.count {
            let option = words[i]
            func value(_ n: Int = 1) -> Bool {
                i + n < words.count
            }
            switch option.text {
            case "meth", "uri", "ver", "body":
                guard value() else {
                    error("http-check send \(option.text): expected a value", at: option)
                    return
                }
                let v = words[i + 1].text
                switch option.text {
                case "meth":
                    guard Self.isMethodToken(v) else {
                        error("http-check send meth: invalid method '\(v)'", at: words[i + 1])
                        return
                    }
                    check.method = v
                case "uri":
                    guard !v.isEmpty, !v.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else {
                        error("http-check send uri: invalid URI '\(v)'", at: words[i + 1])
                        return
                    }
                    check.uri = v
                case "ver":
                    guard v == "HTTP/1.0" || v == "HTTP/1.1" else {
                        error("http-check send ver: expected HTTP/1.0 or HTTP/1.1, got '\(v)'", at: words[i + 1])
                        return
                    }
                    check.version = v
                default:
                    check.body = v
                }
                i += 2
            case "hdr":
                guard value(2) else {
                    error("http-check send hdr: expected a name and a value", at: option)
                    return
                }
                let headerName = words[i + 1].text
                guard Self.isMethodToken(headerName) else {
                    error("http-check send hdr: invalid header name '\(headerName)'", at: words[i + 1])
                    return
                }
                check.headers.append(CheckHeader(name: headerName, value: words[i + 2].text))
                i += 3
            case "uri-lf", "body-lf", "comment":
                error("'http-check send \(option.text)' is not supported by Weir yet", at: option)
                return
            default:
                error("http-check send: unknown option '\(option.text)'; expected meth, uri, ver, hdr or body"
                      + Keywords.didYouMean(option.text, among: ["meth", "uri", "ver", "hdr", "body"]).replacingDidYouMean(),
                      at: option)
                return
            }
        }
        settings.httpCheck = check
    }

    /// `[!] KIND PATTERN` after `http-check expect` or `tcp-check expect`.
    private mutating func parseExpect(_ words: [Word], from start: Int, keyword: String, http: Bool) -> CheckExpect? {
        var i = start
        var negated = false
        let kinds = http ? ["status", "rstatus", "string", "rstring"] : ["string", "rstring", "binary", "rbinary"]
        let expected = http ? "status, rstatus, string or rstring" : "string, rstring, binary or rbinary"
        if i < words.count, words[i].text == "!" {
            negated = true
            i += 1
        }
        guard i < words.count else {
            error("\(keyword): expected \(expected) and a pattern", at: words[i - 1])
            return nil
        }
        let kindWord = words[i]
        let unsupported = ["min-recv", "comment", "ok-status", "error-status", "tout-status", "on-success", "on-error",
                           "status-code", "hdr", "fhdr", "string-lf", "binary-lf", "custom"]
        if unsupported.contains(kindWord.text) {
            error("'\(keyword) \(kindWord.text)' is not supported by Weir yet", at: kindWord)
            return nil
        }
        guard kinds.contains(kindWord.text) else {
            error("\(keyword): unknown match '\(kindWord.text)'; expected \(expected)"
                  + Keywords.didYouMean(kindWord.text, among: kinds).replacingDidYouMean(), at: kindWord)
            return nil
        }
        guard i + 1 < words.count else {
            error("\(keyword) \(kindWord.text): expected a pattern", at: kindWord)
            return nil
        }
        let patternWord = words[i + 1]
        let pattern = patternWord.text
        guard expectAtMost(i + 2, words, after: "\(keyword) \(kindWord.text) \(pattern)") else { return nil }
        let kind: CheckExpect.Kind
        switch kindWord.text {
        case "status":
            var ranges: [ClosedRange<Int>] = []
            for part in pattern.split(separator: ",", omittingEmptySubsequences: false) {
                let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                guard let low = Int(bounds[0]), let high = bounds.count == 2 ? Int(bounds[1]) : low,
                      (100...999).contains(low), (100...999).contains(high), low <= high else {
                    error("\(keyword) status: expected status codes like 200 or 200-399, got '\(pattern)'", at: patternWord)
                    return nil
                }
                ranges.append(low...high)
            }
            kind = .status(ranges)
        case "rstatus", "rstring", "rbinary":
            if let problem = Regex.check(pattern) {
                error("\(keyword) \(kindWord.text): invalid regular expression '\(pattern)': \(problem)", at: patternWord)
                return nil
            }
            switch kindWord.text {
            case "rstatus": kind = .statusRegex(pattern)
            case "rstring": kind = .regex(pattern)
            default: kind = .binaryRegex(pattern)
            }
        case "binary":
            guard let bytes = Self.hexBytes(pattern) else {
                error("\(keyword) binary: expected an even number of hexadecimal digits, got '\(pattern)'", at: patternWord)
                return nil
            }
            kind = .binary(bytes)
        default:
            guard !pattern.isEmpty else {
                error("\(keyword) string: expected a non-empty string", at: patternWord)
                return nil
            }
            kind = .string(Array(pattern.utf8))
        }
        return CheckExpect(kind: kind, negated: negated, pattern: pattern)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        text.isEmpty ? nil : Hex.bytes(text.utf8)
    }

    // MARK: tcp-check

    mutating func parseTCPCheck(_ words: [Word]) {
        guard words.count > 1 else {
            error("tcp-check: expected connect, send, send-binary or expect", at: words[0])
            return
        }
        if settings.tcpCheckRulesInherited {
            settings.tcpCheckRulesInherited = false
            settings.tcpCheckSteps = []
            settings.tcpCheckLocation = nil
        }
        if settings.tcpCheckLocation == nil { settings.tcpCheckLocation = location(words[0]) }
        let verb = words[1]
        switch verb.text {
        case "connect":
            var port: UInt16?
            var i = 2
            while i < words.count {
                let option = words[i]
                if option.text == "port" {
                    guard let n = integer(words, i + 1, keyword: "tcp-check connect port", range: 1...65535,
                                          anchor: option) else { return }
                    port = UInt16(n)
                    i += 2
                } else if ["ssl", "send-proxy", "via-socks4", "sni", "alpn", "proto", "addr", "linger", "comment",
                           "default", "pool-conn-name"].contains(option.text) {
                    error("'tcp-check connect \(option.text)' is not supported by Weir yet", at: option)
                    return
                } else {
                    error("tcp-check connect: unknown option '\(option.text)'; expected port"
                          + Keywords.didYouMean(option.text, among: ["port"]).replacingDidYouMean(), at: option)
                    return
                }
            }
            settings.tcpCheckSteps.append(.connect(port: port))
        case "send", "send-binary":
            guard words.count > 2 else {
                error("tcp-check \(verb.text): expected \(verb.text == "send" ? "a string" : "hexadecimal bytes")", at: verb)
                return
            }
            guard expectAtMost(3, words, after: "tcp-check \(verb.text) \(words[2].text)") else { return }
            if verb.text == "send" {
                settings.tcpCheckSteps.append(.send(Array(words[2].text.utf8)))
            } else {
                guard let bytes = Self.hexBytes(words[2].text) else {
                    error("tcp-check send-binary: expected an even number of hexadecimal digits, got '\(words[2].text)'",
                          at: words[2])
                    return
                }
                settings.tcpCheckSteps.append(.send(bytes))
            }
        case "expect":
            guard let expect = parseExpect(words, from: 2, keyword: "tcp-check expect", http: false) else { return }
            settings.tcpCheckSteps.append(.expect(expect))
        case "send-lf", "send-binary-lf", "comment", "set-var", "set-var-fmt", "unset-var":
            error("'tcp-check \(verb.text)' is not supported by Weir yet", at: verb)
        default:
            error("tcp-check: unknown action '\(verb.text)'; expected connect, send, send-binary or expect"
                  + Keywords.didYouMean(verb.text, among: ["connect", "send", "send-binary", "expect"]).replacingDidYouMean(),
                  at: verb)
        }
    }

    // MARK: End of a backend

    /// The backend's check kind; warns about rules that nothing runs.
    mutating func checkKind(of draft: ProxyDraft) -> HealthCheckKind {
        let label = "\(draft.kind.rawValue) '\(draft.name)'"
        switch draft.settings.checkKind {
        case .connect:
            if let at = draft.settings.httpCheckLocation {
                report(.warning, "'http-check' rules are ignored in \(label): they need 'option httpchk'", at: at)
            }
            if let at = draft.settings.tcpCheckLocation {
                report(.warning, "'tcp-check' rules are ignored in \(label): they need 'option tcp-check'", at: at)
            }
            return .connect
        case .http:
            return .http(draft.settings.httpCheck)
        case .tcp:
            var steps = draft.settings.tcpCheckSteps
            if let first = steps.first, case .connect = first {} else if !steps.isEmpty {
                // Steps before any explicit connect run on the server's own connection.
                steps.insert(.connect(port: nil), at: 0)
            }
            if steps.isEmpty { steps = [.connect(port: nil)] }
            return .tcp(steps)
        case .sslHello:
            return .tcp(Self.sslHelloSteps)
        case .protocolCheck(_, let steps):
            return .tcp(steps)
        case .external:
            return externalCheck(of: draft, label: label) ?? .connect
        }
    }

    /// `external-check command PATH` and `external-check path PATH`.
    mutating func parseExternalCheck(_ words: [Word]) {
        guard words.count > 1 else {
            error("external-check: expected 'command' or 'path'", at: words[0])
            return
        }
        let verb = words[1]
        guard verb.text == "command" || verb.text == "path" else {
            error("external-check: expected 'command' or 'path', got '\(verb.text)'", at: verb)
            return
        }
        guard words.count > 2 else {
            error("external-check \(verb.text): expected \(verb.text == "command" ? "a program" : "a PATH value")",
                  at: verb)
            return
        }
        guard expectAtMost(3, words, after: "external-check \(verb.text)") else { return }
        if verb.text == "command" {
            settings.externalCheckCommand = words[2].text
            settings.externalCheckCommandLocation = location(words[2])
        } else {
            settings.externalCheckPath = words[2].text
        }
    }

    /// `option external-check`'s program, once the global section allows it
    /// and the program is executable; nil after an error.
    private mutating func externalCheck(of draft: ProxyDraft, label: String) -> HealthCheckKind? {
        let at = draft.settings.checkKindLocation
        // HAProxy 2.6 forks only with both; without the second its checks all fail.
        for (allowed, keyword) in [(global.externalCheck, "external-check"),
                                   (global.insecureForkWanted, "insecure-fork-wanted")] where !allowed {
            report(.error, "'option external-check' in \(label) runs programs: add '\(keyword)' to the 'global' "
                   + "section to allow it", at: at)
            return nil
        }
        guard let command = draft.settings.externalCheckCommand,
              let commandAt = draft.settings.externalCheckCommandLocation else {
            report(.error, "'option external-check' in \(label) needs 'external-check command <program>'", at: at)
            return nil
        }
        let path = draft.settings.externalCheckPath ?? ""
        var resolved = command
        if !command.contains("/") {
            // As execvp would find it with the checks' PATH.
            let directories = path.split(separator: ":", omittingEmptySubsequences: false).map { $0.isEmpty ? "." : String($0) }
            resolved = directories.map { "\($0)/\(command)" }.first(where: Self.isExecutableFile) ?? command
        }
        guard Self.isExecutableFile(resolved) else {
            report(.error, "external-check command: '\(command)' is not an executable file"
                   + (command.contains("/") ? "" : " in the external-check path '\(path)'"), at: commandAt)
            return nil
        }
        return .external(ExternalCheck(command: resolved, path: path))
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// The steps of `option redis-check`, `smtpchk`, `pgsql-check`,
    /// `mysql-check` or `ldap-check`, which HAProxy runs as tcp-check rules
    /// too; nil after an error.
    private mutating func protocolCheckSteps(_ words: [Word]) -> [TCPCheckStep]? {
        let option = words[1].text
        switch option {
        case "redis-check":
            guard expectAtMost(2, words, after: "option redis-check") else { return nil }
            return [.connect(port: nil), .send(Array("*1\r\n$4\r\nPING\r\n".utf8)), Self.expectString("+PONG")]
        case "smtpchk":
            // `option smtpchk [HELO|EHLO DOMAIN]`: a 2xx banner, then a 2xx
            // answer to the greeting, then a polite QUIT.
            var greeting = "HELO localhost"
            if words.count > 2 {
                let verb = words[2].text.uppercased()
                guard words.count == 4, verb == "HELO" || verb == "EHLO", Self.isHostName(Substring(words[3].text)) else {
                    error("option smtpchk: expected 'HELO DOMAIN' or 'EHLO DOMAIN'", at: words[2])
                    return nil
                }
                greeting = "\(verb) \(words[3].text)"
            }
            let positive = Self.expectRegex("^2[0-9][0-9][ -]")
            return [.connect(port: nil), positive, .send(Array("\(greeting)\r\n".utf8)), positive,
                    .send(Array("QUIT\r\n".utf8))]
        case "pgsql-check":
            // `option pgsql-check user NAME`: a StartupMessage (protocol
            // 3.0) for that user, answered by an authentication request
            // (`R`); an error (`E`) fails.
            guard words.count == 4, words[2].text == "user", !words[3].text.isEmpty else {
                error("option pgsql-check: expected 'user NAME'", at: words[min(2, words.count - 1)])
                return nil
            }
            let body = [0, 3, 0, 0] + Array("user".utf8) + [0] + Array(words[3].text.utf8) + [0, 0]
            return [.connect(port: nil), .send(Self.bigEndian32(body.count + 4) + body), Self.expectHex("^52")]
        case "mysql-check":
            return mysqlCheckSteps(words)
        default:
            // `option ldap-check`: an anonymous LDAPv3 simple bind (message
            // 1), answered by a bind response (0x61) with result 0.
            guard expectAtMost(2, words, after: "option ldap-check") else { return nil }
            let bind: [UInt8] = [0x30, 0x0C, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]
            let length = "(8[1-4]([0-9A-F]{2}){1,4}|[0-7][0-9A-F])"
            return [.connect(port: nil), .send(bind), Self.expectHex("^30\(length)02010161\(length)0A0100")]
        }
    }

    /// `option mysql-check [user NAME [post-41|pre-41]]`: without a user,
    /// the server's greeting (protocol 10, not an error packet); with one,
    /// a login as that user without a password, answered by an OK packet,
    /// then a QUIT.
    private mutating func mysqlCheckSteps(_ words: [Word]) -> [TCPCheckStep]? {
        let greeting = Self.expectHex("^[0-9A-F]{6}000A")
        guard words.count > 2 else { return [.connect(port: nil), greeting] }
        guard words[2].text == "user", words.count >= 4, words.count <= 5, !words[3].text.isEmpty else {
            error("option mysql-check: expected 'user NAME' and optionally 'post-41' or 'pre-41'", at: words[2])
            return nil
        }
        let user = Array(words[3].text.utf8)
        let payload: [UInt8]
        switch words.count == 5 ? words[4].text : "post-41" {
        case "post-41":
            // Capabilities LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION, a
            // 16 MiB packet limit, utf8, 23 reserved bytes, the user, an
            // empty authentication response.
            payload = [0x01, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x21] + [UInt8](repeating: 0, count: 23)
                + user + [0x00, 0x00]
        case "pre-41":
            // Capabilities LONG_PASSWORD, a 64 KiB packet limit, the user.
            payload = [0x01, 0x00, 0x00, 0x00, 0x01] + user + [0x00]
        default:
            error("option mysql-check: expected 'post-41' or 'pre-41', got '\(words[4].text)'", at: words[4])
            return nil
        }
        let login = [UInt8(payload.count & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count >> 16 & 0xFF), 0x01]
            + payload
        return [.connect(port: nil), greeting, .send(login), Self.expectHex("^[0-9A-F]{6}0200"),
                .send([0x01, 0x00, 0x00, 0x00, 0x01])]
    }

    /// Expect steps of the protocol checks, their pattern as written.
    private static func expectString(_ text: String) -> TCPCheckStep {
        .expect(CheckExpect(kind: .string(Array(text.utf8)), pattern: text))
    }

    private static func expectRegex(_ regex: String) -> TCPCheckStep {
        .expect(CheckExpect(kind: .regex(regex), pattern: regex))
    }

    /// `rbinary`: a regular expression over the data in hexadecimal.
    private static func expectHex(_ regex: String) -> TCPCheckStep {
        .expect(CheckExpect(kind: .binaryRegex(regex), pattern: regex))
    }

    private static func bigEndian32(_ n: Int) -> [UInt8] {
        [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
    }

    /// `option ssl-hello-chk`: a TLS ClientHello, answered by any TLS server
    /// with a handshake or an alert record (0x16 or 0x15, then version 3),
    /// as HAProxy checks it.
    static let sslHelloSteps: [TCPCheckStep] = [
        .connect(port: nil),
        .send(clientHello),
        .expect(CheckExpect(kind: .regex("^[\u{15}\u{16}]\u{03}"), pattern: "TLS handshake or alert")),
    ]

    /// A TLS 1.2 ClientHello: a fixed random, no session, four common
    /// suites (ECDHE-RSA-AES128/256-GCM, AES128-GCM, AES128-SHA), no compression.
    static let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x33, 0x01, 0x00, 0x00, 0x2F, 0x03, 0x03]
        + (0..<32).map { UInt8($0) }
        + [0x00, 0x00, 0x08, 0xC0, 0x2F, 0xC0, 0x30, 0x00, 0x9C, 0x00, 0x2F, 0x01, 0x00]
}
