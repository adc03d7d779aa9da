// Reading files line by line: conditional blocks, section headers,
// `defaults` inheritance (anonymous, named, `from`), and dispatching each
// keyword to the parser of the feature that owns it.

extension ParserState {
    /// What the lexer expands variables from, on the current line.
    var lexContext: LexContext { LexContext(environment: environment, file: file, section: sectionLabelForLexer) }

    /// An address word with its environment variables expanded, as HAProxy
    /// expands them in addresses even outside double quotes; nil after
    /// reporting a malformed reference.
    mutating func expandedAddress(_ word: Word) -> String? {
        switch Lexer.expandVariables(in: word.text, context: lexContext, lineNumber: line.number) {
        case .success(let text): return text
        case .failure(let f):
            error(f.text, at: word)
            return nil
        }
    }

    mutating func read(_ file: ConfigFile) {
        self.file = file.name
        let rawLines = Lexer.lines(file.bytes)
        sources[file.name] = rawLines.map { String(decoding: $0, as: UTF8.self) }
        var frames: [ConditionFrame] = []

        for (index, raw) in rawLines.enumerated() {
            let number = index + 1
            let text = sources[file.name]![index]
            let active = frames.last?.active ?? true
            let context = lexContext
            let words: [Word]
            switch Lexer.words(raw, lineNumber: number, context: context) {
            case .success(let w): words = w
            case .failure(let e):
                // In a skipped block only the block structure matters.
                if active {
                    line = LexedLine(number: number, text: text, words: [])
                    report(.error, e.message, at: SourceLocation(file: file.name, line: number, column: e.column))
                }
                continue
            }
            guard let first = words.first else { continue }
            line = LexedLine(number: number, text: text, words: words)

            if first.text.hasPrefix(".") {
                directive(words, frames: &frames, active: active)
                continue
            }
            if !active { continue }
            statement(words)
        }
        for frame in frames {
            report(.error, "unterminated '.if' block: missing '.endif' before the end of the file", at: frame.location)
        }
        closeSection()
        section = .none
    }

    private var sectionLabelForLexer: String {
        switch section {
        case .none: return ""
        case .unsupported: return ""
        default: return sectionLabel.isEmpty ? (sectionKind?.rawValue ?? "") : sectionLabel
        }
    }

    // MARK: Directives

    private mutating func directive(_ words: [Word], frames: inout [ConditionFrame], active: Bool) {
        let keyword = words[0]
        let rest = words.dropFirst().map(\.text)
        switch keyword.text {
        case ".if":
            var frame = ConditionFrame(location: location(keyword), parentActive: active, active: false, taken: false)
            if active {
                let value = evaluateCondition(words)
                frame.active = value
                frame.taken = value
            }
            frames.append(frame)
        case ".elif":
            guard var frame = frames.popLast() else {
                if active { error("'.elif' without a matching '.if'", at: keyword) }
                return
            }
            if frame.sawElse {
                if frame.parentActive { error("'.elif' after '.else'", at: keyword) }
                frame.active = false
            } else if frame.parentActive && !frame.taken {
                let value = evaluateCondition(words)
                frame.active = value
                frame.taken = value
            } else {
                frame.active = false
            }
            frames.append(frame)
        case ".else":
            guard var frame = frames.popLast() else {
                if active { error("'.else' without a matching '.if'", at: keyword) }
                return
            }
            if frame.sawElse {
                if frame.parentActive { error("'.else' after '.else'", at: keyword) }
                frame.active = false
            } else {
                frame.active = frame.parentActive && !frame.taken
                frame.taken = true
                frame.sawElse = true
            }
            frames.append(frame)
        case ".endif":
            if frames.popLast() == nil, active { error("'.endif' without a matching '.if'", at: keyword) }
        case ".diag", ".notice", ".warning", ".alert":
            guard active else { return }
            let severity: Diagnostic.Severity = switch keyword.text {
            case ".diag": .diag
            case ".notice": .notice
            case ".warning": .warning
            default: .alert
            }
            report(severity, rest.joined(separator: " "), at: location(keyword))
        default:
            guard active else { return }
            let known = [".if", ".elif", ".else", ".endif", ".diag", ".notice", ".warning", ".alert"]
            error("unknown directive '\(keyword.text)'" + Keywords.didYouMean(keyword.text, among: known), at: keyword)
        }
    }

    private mutating func evaluateCondition(_ words: [Word]) -> Bool {
        guard words.count > 1 else {
            error("'\(words[0].text)' needs a condition", at: words[0])
            return false
        }
        var evaluator = ConditionEvaluator(environment: environment, version: ConfigParser.version)
        switch evaluator.evaluate(words.dropFirst().map(\.text)) {
        case .success(let v): return v
        case .failure(let f):
            error("\(words[0].text): \(f.message)", at: words[1])
            return false
        }
    }

    // MARK: Sections

    private mutating func statement(_ words: [Word]) {
        let keyword = words[0].text
        if keyword == "userlist" {
            closeSection()
            openUserlist(words)
            return
        }
        if keyword == "http-errors" {
            closeSection()
            openHTTPErrors(words)
            return
        }
        if keyword == "resolvers" {
            closeSection()
            openResolvers(words)
            return
        }
        if keyword == "peers" {
            closeSection()
            openPeers(words)
            return
        }
        if keyword == "mailers" {
            closeSection()
            openMailers(words)
            return
        }
        if Keywords.sections.contains(keyword) {
            openSection(words)
            return
        }
        if Keywords.unsupportedSections.contains(keyword) {
            closeSection()
            error("'\(keyword)' sections are not supported by Weir yet", at: words[0])
            section = .unsupported
            return
        }
        switch section {
        case .unsupported:
            return
        case .userlist:
            userlistKeyword(words)
        case .httpErrors:
            httpErrorsKeyword(words)
        case .resolvers:
            resolversKeyword(words)
        case .peers:
            peersKeyword(words)
        case .mailers:
            mailersKeyword(words)
        case .none:
            if let s = Keywords.suggestion(for: keyword, among: Keywords.sections + ["userlist", "http-errors", "resolvers", "peers", "mailers"]) {
                error("unknown section '\(keyword)'; did you mean '\(s)'?", at: words[0])
            } else {
                error("'\(keyword)' must be inside a section (global, defaults, frontend, backend or listen)",
                      at: words[0])
            }
        case .global:
            globalKeyword(words)
        case .defaults, .proxy:
            proxyKeyword(words)
        }
    }

    /// Ends the current section: a `defaults` section becomes the one that
    /// following proxies inherit from; a proxy gets its end-of-section checks.
    /// The name on the first line of a named section (`resolvers dns`) and
    /// where it stands; nil, after an error, when there is none. A second
    /// section of a name in `defined` is an error (`label` names the kind).
    mutating func sectionName(_ words: [Word], label: String, defined: [(name: String, location: SourceLocation)])
        -> (text: String, location: SourceLocation)? {
        guard words.count > 1 else {
            error("'\(words[0].text)' needs a name", at: words[0])
            return nil
        }
        let name = words[1]
        expectAtMost(2, words, after: name.text)
        if let previous = defined.first(where: { $0.name == name.text }) {
            error("\(label) '\(name.text)' is already defined at \(previous.location)", at: name)
        }
        return (name.text, location(name))
    }

    mutating func closeSection() {
        switch section {
        case .defaults(let name, let location):
            lastDefaults = defaultsDraft
            if let name {
                namedDefaults[name] = (defaultsDraft, location)
            }
        case .proxy(let index):
            finishProxy(index)
        case .userlist(let index):
            finishUserlist(index)
        case .resolvers(let index):
            finishResolvers(index)
        case .peers(let index):
            finishPeers(index)
        case .mailers(let index):
            finishMailers(index)
        case .none, .global, .unsupported, .httpErrors:
            break
        }
    }

    private static func validName(_ name: String) -> Character? {
        name.first { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." || $0 == ":")) }
    }

    private mutating func openSection(_ words: [Word]) {
        closeSection()
        let keyword = words[0]
        let kind = SectionKind(rawValue: keyword.text)!
        if kind == .global {
            section = .global
            expectAtMost(1, words, after: "global")
            return
        }

        var name: Word?
        var from: Word?
        var i = 1
        if i < words.count, words[i].text != "from" {
            name = words[i]
            i += 1
        }
        if i < words.count, words[i].text == "from" {
            if i + 1 < words.count {
                from = words[i + 1]
                i += 2
            } else {
                error("'from' needs the name of a defaults section", at: words[i])
                i += 1
            }
        }
        // HAProxy 1.x took the listening address on the section line.
        var addressOnSectionLine = false
        if kind == .frontend || kind == .listen, from == nil, name != nil, i < words.count {
            let address = words[i].text
            error("listening addresses go on a 'bind' line: 'bind \(address)'", at: words[i])
            addressOnSectionLine = true
        } else {
            expectAtMost(i, words, after: from != nil ? "from \(from!.text)" : (name?.text ?? keyword.text))
        }

        if let name, let bad = Self.validName(name.text) {
            error("character '\(bad)' is not permitted in \(kind.rawValue) name '\(name.text)'", at: name)
        }
        if let name, name.text.isEmpty {
            error("\(kind.rawValue) name must not be empty", at: name)
        }

        // The settings this section starts from.
        var base = lastDefaults
        if let from {
            if let named = namedDefaults[from.text] {
                base = named.settings
            } else {
                let names = namedDefaults.keys.sorted()
                error("no defaults section named '\(from.text)'" + Keywords.didYouMean(from.text, among: names), at: from)
            }
        }

        if kind == .defaults {
            // A new defaults section starts from built-in values, or from its `from`.
            defaultsDraft = from != nil ? base : ProxySettings()
            if let name, let previous = namedDefaults[name.text] {
                error("defaults section '\(name.text)' is already defined at \(previous.location)", at: name)
            }
            section = .defaults(name: name?.text, location: name.map(location) ?? location(keyword))
            return
        }

        guard let name else {
            error("'\(kind.rawValue)' needs a name", at: keyword)
            // Keep reading its lines so their errors are reported too.
            proxies.append(ProxyDraft(kind: kind, name: "", location: location(keyword), settings: base))
            section = .proxy(index: proxies.count - 1)
            return
        }
        var settings = base
        // Check rules of the defaults apply until the section writes its own.
        settings.httpCheckRulesInherited = true
        settings.tcpCheckRulesInherited = true
        proxies.append(ProxyDraft(kind: kind, name: name.text, location: location(name), settings: settings))
        // The section's own address was reported; a missing 'bind' is not news.
        proxies[proxies.count - 1].hasBindLine = addressOnSectionLine
        section = .proxy(index: proxies.count - 1)
    }

    // MARK: Keywords

    private mutating func proxyKeyword(_ words: [Word]) {
        guard let kind = sectionKind else { return }
        let keyword = words[0]
        let k = keyword.text
        if let allowed = Keywords.proxyKeywordAllowed(k, in: kind) {
            guard allowed else {
                if k == "maxconn", kind == .backend {
                    // HAProxy only warns: a backend's connections are limited per server.
                    warning("'maxconn' is ignored in a backend, which accepts no connections; limit the servers "
                            + "with 'server ... maxconn'", at: keyword)
                    return
                }
                error("'\(k)' is not allowed in a '\(kind.rawValue)' section", at: keyword)
                return
            }
            switch k {
            case "mode": parseMode(words)
            case "bind": parseBind(words)
            case "default_backend": parseDefaultBackend(words)
            case "use_backend": parseUseBackend(words)
            case "server": parseServer(words)
            case "server-template": parseServerTemplate(words)
            case "default-server": parseDefaultServer(words)
            case "balance": parseBalance(words)
            case "timeout": parseTimeout(words)
            case "maxconn":
                if let n = integer(words, 1, keyword: "maxconn", range: 0...Int.max) { settings.maxconn = n }
                expectAtMost(2, words, after: "maxconn")
            case "backlog":
                guard let n = integer(words, 1, keyword: "backlog", range: 0...Int(Int32.max)),
                      expectAtMost(2, words, after: "backlog") else { break }
                if kind == .backend {
                    warning("'backlog' is ignored in a 'backend' section: it applies to frontends", at: keyword)
                } else {
                    settings.backlog = n == 0 ? nil : n
                }
            case "rate-limit":
                guard words.count > 1 else {
                    error("rate-limit: expected 'sessions' and a number of sessions per second", at: keyword)
                    break
                }
                guard words[1].text == "sessions" else {
                    error("rate-limit: only 'sessions' is supported, got '\(words[1].text)'", at: words[1])
                    break
                }
                // HAProxy keeps it in an unsigned int; 0 is no limit.
                guard let n = integer(words, 2, keyword: "rate-limit sessions", range: 0...Int(UInt32.max)),
                      expectAtMost(3, words, after: "rate-limit sessions") else { break }
                if kind == .backend {
                    warning("'rate-limit' is ignored in a 'backend' section: it applies to frontends", at: keyword)
                } else {
                    settings.sessionRateLimit = n
                }
            case "fullconn":
                guard let n = integer(words, 1, keyword: "fullconn", range: 1...Int(Int32.max)),
                      expectAtMost(2, words, after: "fullconn") else { break }
                if kind == .frontend {
                    warning("'fullconn' is ignored in a 'frontend' section: it applies to backends", at: keyword)
                } else {
                    settings.fullconn = n
                }
            case "retries":
                if let n = integer(words, 1, keyword: "retries", range: 0...Int.max) { settings.retries = n }
                expectAtMost(2, words, after: "retries")
            case "retry-on": parseRetryOn(words)
            case "email-alert": parseEmailAlert(words)
            case "load-server-state-from-file": parseLoadServerState(words)
            case "server-state-file-name": parseServerStateFileName(words)
            case "option": parseOption(words, negated: false)
            case "no": parseNo(words)
            case "log": parseProxyLog(words)
            case "http-request": parseHTTPRule(words, direction: .request)
            case "http-response": parseHTTPRule(words, direction: .response)
            case "http-after-response": parseHTTPRule(words, direction: .afterResponse)
            case "acl": parseACL(words)
            case "redirect": parseRedirect(words)
            case "tcp-request": parseTCPRequest(words)
            case "http-reuse": parseHTTPReuse(words)
            case "compression": parseCompression(words)
            case "capture": parseCapture(words)
            case "log-format", "unique-id-format": parseLogFormatKeyword(words)
            case "unique-id-header": parseUniqueIDHeader(words)
            case "errorfile": parseErrorFile(words)
            case "errorfiles": parseErrorFiles(words)
            case "errorloc", "errorloc302", "errorloc303": parseErrorLocation(words)
            case "http-error": parseHTTPError(words)
            case "cookie": parseCookie(words)
            case "hash-type": parseHashType(words)
            case "force-persist", "ignore-persist": parsePersistRule(words)
            case "use-server": parseServerRule(words)
            case "http-check": parseHTTPCheck(words)
            case "external-check": parseExternalCheck(words)
            case "tcp-check": parseTCPCheck(words)
            case "stats": parseProxyStats(words)
            case "stick-table": parseStickTable(words)
            case "stick": parseStick(words)
            case "http-send-name-header": parseServerNameHeader(words)
            case "source":
                guard let source = parseSource(words, at: 0) else { return }
                if words.count > 2 {
                    let option = words[2].text
                    error(option == "usesrc" || option == "interface"
                          ? "source: '\(option)' is not supported by Weir yet" : "source: unexpected '\(option)'", at: words[2])
                    return
                }
                settings.source = source
            case "disabled", "enabled":
                settings.disabled = k == "disabled"
                expectAtMost(1, words, after: k)
            case "id": parseProxyID(words)
            case "monitor-uri": parseMonitorURI(words)
            case "monitor": parseMonitor(words)
            case "clitcpka-cnt", "clitcpka-idle", "clitcpka-intvl", "srvtcpka-cnt", "srvtcpka-idle", "srvtcpka-intvl":
                parseTCPKeepAliveSetting(words)
            case "description": break
            default: break
            }
            return
        }
        if let reason = Keywords.ignoredProxyKeywords[k] {
            warning("'\(k)' is ignored: \(reason)", at: keyword)
            return
        }
        if let removal = Keywords.removedFromHAProxy[k] {
            error("'\(k)' was removed in HAProxy \(removal.version); \(removal.advice)", at: keyword)
            return
        }
        if Keywords.proxyUnsupported.contains(k) {
            error("'\(k)' is not supported by Weir yet", at: keyword)
            return
        }
        if Keywords.global.contains(k) || Keywords.globalUnsupported.contains(k) || Keywords.ignoredGlobalReason(k) != nil
            || Keywords.removedGlobals[k] != nil {
            error("'\(k)' is not allowed in a '\(kind.rawValue)' section", at: keyword)
            return
        }
        let candidates = Keywords.proxy.map(\.keyword).filter { Keywords.proxyKeywordAllowed($0, in: kind) == true }
        error("unknown keyword '\(k)' in '\(kind.rawValue)' section" + Keywords.didYouMean(k, among: candidates),
              at: keyword)
    }
}
