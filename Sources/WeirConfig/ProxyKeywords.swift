// Keywords of `defaults`, `frontend`, `backend` and `listen` sections:
// mode, bind, backend switching, balance, timeouts, options and logs.

extension ParserState {
    /// A location `offset` characters into `word`, when the word is written
    /// unquoted (so its text matches the line); the word's start otherwise.
    func location(_ word: Word, offset: Int) -> SourceLocation {
        var loc = location(word)
        let chars = Array(line.text)
        let start = word.column - 1
        if offset > 0, start >= 0, start + word.text.count <= chars.count,
           String(chars[start..<(start + word.text.count)]) == word.text {
            loc.column += offset
        }
        return loc
    }

    var proxyIndex: Int? {
        if case .proxy(let i) = section { return i }
        return nil
    }

    // MARK: mode

    mutating func parseMode(_ words: [Word]) {
        guard words.count > 1 else {
            error("mode: expected 'tcp' or 'http'", at: words[0])
            return
        }
        switch words[1].text {
        case "tcp": settings.mode = .tcp
        case "http": settings.mode = .http
        default:
            error("mode: expected 'tcp' or 'http', got '\(words[1].text)'"
                  + Keywords.didYouMean(words[1].text, among: ["tcp", "http"]).replacingDidYouMean(), at: words[1])
        }
        expectAtMost(2, words, after: "mode \(words[1].text)")
    }

    // MARK: bind

    mutating func parseBind(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        proxies[index].hasBindLine = true
        guard words.count > 1 else {
            error("bind: expected an address like ':80' or '127.0.0.1:80'", at: words[0])
            return
        }
        let spec = words[1]
        let before = proxies[index].binds.count
        var offset = 0
        guard let specText = expandedAddress(spec) else { return }
        for element in specText.split(separator: ",", omittingEmptySubsequences: false) {
            let at = location(spec, offset: offset)
            offset += element.count + 1
            if element.isEmpty {
                report(.error, "bind: empty address in '\(spec.text)'", at: at)
                continue
            }
            switch Addresses.parseBind(element) {
            case .success(let addresses):
                for a in addresses { proxies[index].binds.append(Bind(address: a, location: at)) }
            case .failure(let message):
                report(.error, message.text, at: at)
            }
        }
        var tls: BindTLS?
        var tlsWords: [Word] = []
        var socketOptions = BindOptions()
        var i = 2
        while i < words.count {
            let option = words[i]
            func value() -> Word? {
                guard i + 1 < words.count else {
                    error("bind: '\(option.text)' expects a value", at: option)
                    return nil
                }
                return words[i + 1]
            }
            switch option.text {
            case "name":
                guard value() != nil else {
                    i = words.count
                    continue
                }
                i += 2
                continue
            case "ssl":
                if tls == nil { tls = BindTLS(location: location(option)) }
                i += 1
                continue
            case "v4v6", "v6only", "defer-accept", "tfo":
                switch option.text {
                // `v6only` wins over `v4v6`, wherever each is written.
                case "v4v6": if socketOptions.v6only == nil { socketOptions.v6only = false }
                case "v6only": socketOptions.v6only = true
                case "defer-accept": socketOptions.deferAccept = true
                default: socketOptions.fastOpen = true
                }
                i += 1
                continue
            case "backlog", "maxconn", "mss", "interface":
                guard let v = value() else {
                    i = words.count
                    continue
                }
                parseBindSocketOption(option, v, into: &socketOptions)
                i += 2
                continue
            case "mode", "user", "uid", "group", "gid":
                guard let v = value() else {
                    i = words.count
                    continue
                }
                if !parseUnixAccessOption(option, v, into: &socketOptions.unixAccess, context: "bind") {
                    i = words.count
                    continue
                }
                if proxies[index].binds[before...].contains(where: { if case .unix = $0.address { false } else { true } }) {
                    warning("bind: '\(option.text)' applies to UNIX sockets only; ignored for '\(spec.text)'", at: option)
                }
                i += 2
                continue
            case "accept-proxy":
                for b in before..<proxies[index].binds.count { proxies[index].binds[b].acceptProxy = true }
                i += 1
                continue
            case "strict-sni", "no-tls-tickets", "prefer-client-ciphers":
                tlsWords.append(option)
                i += 1
                continue
            case let text where TLSVersionToggle(text) != nil:
                tlsWords.append(option)
                i += 1
                continue
            case "crt", "crt-list", "alpn", "ssl-min-ver", "ssl-max-ver", "ciphers", "ciphersuites", "curves", "sigalgs",
                 "verify", "ca-file", "ca-verify-file", "crl-file", "ca-ignore-err", "crt-ignore-err", "tls-ticket-keys":
                guard let v = value() else {
                    i = words.count
                    continue
                }
                tlsWords.append(option)
                tlsWords.append(v)
                i += 2
                continue
            default:
                break
            }
            if i >= words.count { break }
            let supported = ["name", "ssl", "accept-proxy", "crt", "crt-list", "strict-sni", "no-tls-tickets",
                             "prefer-client-ciphers", "verify", "ca-file", "ca-verify-file", "crl-file", "ca-ignore-err",
                             "crt-ignore-err",
                             "tls-ticket-keys", "backlog", "maxconn", "mss", "interface", "v4v6", "v6only", "defer-accept", "tfo",
                             "mode", "user", "uid", "group", "gid"]
                + BindTLSOptions.valueKeywords + TLSVersionToggle.keywords
            let hint = Keywords.bindOptionsUnsupported.contains(option.text)
                ? "" : Keywords.didYouMean(option.text, among: supported)
            error("unsupported bind option '\(option.text)'" + hint, at: option)
            // Which words after it are its values is unknown: stop at the first.
            break
        }
        for b in before..<proxies[index].binds.count { proxies[index].binds[b].options = socketOptions }
        guard !tlsWords.isEmpty || tls != nil else { return }
        guard var settings = tls else {
            // HAProxy accepts TLS settings on a plain bind; they change nothing there.
            warning("bind: '\(tlsWords[0].text)' has no effect without 'ssl' on the same line", at: tlsWords[0])
            return
        }
        var options = BindTLS.Options()
        var j = 0
        var verifyWord: Word?
        var disabledVersions: Set<BindTLS.Version> = []
        var firstToggle: Word?
        while j < tlsWords.count {
            let option = tlsWords[j]
            switch option.text {
            case let text where TLSVersionToggle(text) != nil:
                switch TLSVersionToggle(text)! {
                case .disable(let version):
                    disabledVersions.insert(version)
                    if firstToggle == nil { firstToggle = option }
                case .force(let version):
                    options.minVersion = version
                    options.maxVersion = version
                case .disableSSLv3: break
                case .forceSSLv3: error("bind: " + TLSVersionToggle.sslv3Refused, at: option)
                }
            case "strict-sni": settings.strictSNI = true
            case "no-tls-tickets": settings.noTLSTickets = true
            case "prefer-client-ciphers": settings.preferClientCiphers = true
            default:
                let v = tlsWords[j + 1]
                j += 1
                switch option.text {
                case "crt":
                    settings.certificates.append(BindTLS.Certificate(path: certificatePath(v.text), location: location(v)))
                case "crt-list":
                    settings.certificates += crtListCertificates(v)
                case "tls-ticket-keys":
                    settings.ticketKeys = BindTLS.TicketKeys(path: v.text, location: location(v))
                case "verify", "ca-file", "ca-verify-file", "crl-file", "ca-ignore-err", "crt-ignore-err":
                    if option.text == "verify" { verifyWord = option }
                    parseClientVerificationOption(option, v, into: &settings.clientVerification)
                default:
                    if let problem = BindTLSOptions.set(option.text, v.text, in: &options) {
                        error("bind: " + problem, at: v)
                    }
                    settings.optionLocations[option.text] = location(v)
                }
            }
            j += 1
        }
        checkClientVerification(settings.clientVerification, verifyWord: verifyWord)
        // The line's options, then the `global` defaults for what it does not say.
        settings = settings.applying(options)
        let defaults = global.defaultBindTLS
        for (name, value) in [("ciphers", options.ciphers), ("ciphersuites", options.ciphersuites),
                              ("curves", options.curves), ("sigalgs", options.sigalgs)] where value == nil {
            settings.optionLocations[name] = defaults.locations[name]
        }
        if settings.ciphers == nil { settings.ciphers = defaults.ciphers }
        if settings.ciphersuites == nil { settings.ciphersuites = defaults.ciphersuites }
        if settings.curves == nil { settings.curves = defaults.curves }
        if settings.sigalgs == nil { settings.sigalgs = defaults.sigalgs }
        if settings.minVersion == nil { settings.minVersion = defaults.minVersion }
        if settings.maxVersion == nil { settings.maxVersion = defaults.maxVersion }
        let disabled = disabledVersions.union(defaults.disabledVersions)
        if !disabled.isEmpty {
            switch TLSVersionToggle.resolve(min: settings.minVersion, max: settings.maxVersion, disabled: disabled) {
            case .range(let min, let max):
                settings.minVersion = min
                settings.maxVersion = max
            case .flagsIgnored(let versions, _, _):
                warning("bind: \(TLSVersionToggle.names(versions)) ignored: 'ssl-min-ver' or 'ssl-max-ver' (or a "
                        + "'force-*' option) sets the versions, as in HAProxy; use only those", at: firstToggle ?? words[0])
            case .allDisabled:
                error("bind: all SSL/TLS versions are disabled (\(TLSVersionToggle.names(disabled.sorted { $0.rawValue < $1.rawValue })))",
                      at: firstToggle ?? words[0])
            }
        }
        settings.noTLSTickets = settings.noTLSTickets || defaults.noTLSTickets
        settings.preferClientCiphers = settings.preferClientCiphers || defaults.preferClientCiphers
        if settings.certificates.isEmpty {
            if !tlsWords.contains(where: { $0.text == "crt-list" }) {
                error("bind: 'ssl' needs at least one certificate ('crt FILE' or 'crt-list FILE')", at: words[0])
            }
            return
        }
        if let problem = BindTLSOptions.checkVersions(settings.minVersion, settings.maxVersion) {
            error("bind: " + problem, at: words[0])
        } else {
            // A crt-list line's version with the bind line's other one.
            for certificate in settings.certificates where certificate.options != BindTLS.Options() {
                let effective = settings.applying(certificate.options)
                if let problem = BindTLSOptions.checkVersions(effective.minVersion, effective.maxVersion) {
                    report(.error, "\(certificate.origin ?? certificate.path): \(problem) (with the bind line's options)",
                           at: certificate.location)
                }
            }
        }
        // A crt-list line's `verify` with the bind line's `ca-file`, or its own.
        for certificate in settings.certificates where certificate.options.verify != nil {
            let verification = settings.applying(certificate.options).clientVerification
            if verification.mode != .none, verification.caFile == nil, verification.caVerifyFile == nil {
                report(.error, "\(certificate.origin ?? certificate.path): verify is enabled but no CA file specified: "
                       + "'verify \(verification.mode.rawValue)' needs 'ca-file FILE' on the line or on the bind line",
                       at: certificate.location)
            }
        }
        for b in before..<proxies[index].binds.count { proxies[index].binds[b].tls = settings }
    }

    // MARK: bind … backlog, maxconn, mss, interface

    /// A socket option of a bind line that takes a value.
    /// `mode OCTAL`, `user NAME`, `uid N`, `group NAME` or `gid N` of a UNIX
    /// socket (`bind`, `stats socket`, `unix-bind`); false after an error.
    mutating func parseUnixAccessOption(_ option: Word, _ v: Word, into access: inout UnixSocketAccess,
                                        context: String) -> Bool {
        switch option.text {
        case "mode":
            guard let mode = UInt32(v.text, radix: 8), mode <= 0o7777 else {
                error("\(context): 'mode' expects an octal permission like 660, got '\(v.text)'", at: v)
                return false
            }
            access.mode = mode
        case "uid", "gid":
            guard let id = UInt32(v.text), id < UInt32.max else {
                error("\(context): '\(option.text)' expects a number, got '\(v.text)'", at: v)
                return false
            }
            if option.text == "uid" { (access.uid, access.user) = (id, nil) } else { (access.gid, access.group) = (id, nil) }
        default:
            guard !v.text.isEmpty else {
                error("\(context): '\(option.text)' expects a name", at: v)
                return false
            }
            if option.text == "user" { (access.user, access.uid) = (v.text, nil) } else { (access.group, access.gid) = (v.text, nil) }
        }
        return true
    }

    mutating func parseBindSocketOption(_ option: Word, _ v: Word, into options: inout BindOptions) {
        switch option.text {
        case "backlog", "maxconn":
            guard let n = Units.integer(v.text), n <= Int(Int32.max) else {
                error("bind: '\(option.text)' expects a non-negative number, got '\(v.text)'", at: v)
                return
            }
            // 0 is HAProxy's "not set": the frontend's value applies.
            if option.text == "backlog" { options.backlog = n == 0 ? nil : n } else { options.maxconn = n == 0 ? nil : n }
        case "mss":
            // Linux takes segment sizes up to 32767.
            guard let n = Int(v.text), n != 0, abs(n) <= 32767 else {
                error("bind: 'mss' expects a segment size between 1 and 32767, or a negative number to take off "
                      + "the default one, got '\(v.text)'", at: v)
                return
            }
            options.maxSegment = n
        default:
            // IFNAMSIZ is 16, the terminating NUL included.
            guard !v.text.isEmpty, v.text.utf8.count < 16, !v.text.contains("/") else {
                error("bind: 'interface' expects a network interface name like eth0, got '\(v.text)'", at: v)
                return
            }
            options.interface = v.text
        }
    }

    // MARK: bind … verify (client certificates)

    /// `verify`, `ca-file`, `ca-verify-file`, `crl-file`, `ca-ignore-err`, `crt-ignore-err`.
    mutating func parseClientVerificationOption(_ option: Word, _ v: Word, into settings: inout BindTLS.ClientVerification) {
        switch option.text {
        case "verify":
            guard let mode = BindTLS.Verify(rawValue: v.text) else {
                error("bind: 'verify' expects none, optional or required, got '\(v.text)'"
                      + Keywords.didYouMean(v.text, among: BindTLS.Verify.allCases.map(\.rawValue)), at: v)
                return
            }
            settings.verify = mode
        case "ca-file", "ca-verify-file", "crl-file":
            var path = v.text
            if let base = global.caBase, !path.hasPrefix("/") {
                path = base.hasSuffix("/") ? base + path : base + "/" + path
            }
            let file = BindTLS.File(path: path, location: location(v))
            switch option.text {
            case "ca-file": settings.caFile = file
            case "ca-verify-file": settings.caVerifyFile = file
            default: settings.crlFile = file
            }
        default:
            // ca-ignore-err, crt-ignore-err: `all` or a comma-separated list of ids.
            var ignored = BindTLS.IgnoredErrors()
            if v.text == "all" {
                ignored.all = true
            } else {
                for element in v.text.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let id = Int(element), id >= 1, id <= BindTLS.IgnoredErrors.maximumID else {
                        error("bind: '\(option.text)': ID '\(element)' out of range (1..\(BindTLS.IgnoredErrors.maximumID)) "
                              + "in error IDs list '\(v.text)'; expected 'all' or numeric X509 error ids like 10,23", at: v)
                        return
                    }
                    ignored.ids.insert(id)
                }
            }
            if option.text == "ca-ignore-err" { settings.caIgnoreErrors = ignored } else { settings.crtIgnoreErrors = ignored }
        }
    }

    /// HAProxy refuses `verify optional|required` without a `ca-file` (or
    /// `ca-verify-file`) to check with.
    mutating func checkClientVerification(_ settings: BindTLS.ClientVerification, verifyWord: Word?) {
        guard let verifyWord, settings.mode != .none, settings.caFile == nil, settings.caVerifyFile == nil else { return }
        error("bind: verify is enabled but no CA file specified: 'verify \(settings.mode.rawValue)' needs 'ca-file FILE'",
              at: verifyWord)
    }

    // MARK: backend switching

    mutating func parseDefaultBackend(_ words: [Word]) {
        guard words.count > 1 else {
            error("default_backend: expected a backend name", at: words[0])
            return
        }
        settings.defaultBackend = NamedReference(name: words[1].text, location: location(words[1]))
        expectAtMost(2, words, after: "default_backend \(words[1].text)")
    }

    mutating func parseUseBackend(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("use_backend: expected a backend name", at: words[0])
            return
        }
        let name = words[1]
        var rule = BackendRuleDraft(reference: nil, dynamicName: nil, condition: .always, location: location(name))
        if name.text.contains("%") {
            guard let format = logFormat(name, context: "use_backend", maximumSource: .request) else { return }
            if let literal = format.literal {
                rule.reference = NamedReference(name: String(decoding: literal, as: UTF8.self), location: location(name))
            } else {
                rule.dynamicName = format
            }
        } else {
            rule.reference = NamedReference(name: name.text, location: location(name))
        }
        if words.count > 2 {
            let word = words[2]
            guard word.text == "if" || word.text == "unless" else {
                error("use_backend: expected 'if' or 'unless' after the backend name, got '\(word.text)'", at: word)
                return
            }
            guard let condition = condition(words[2...], keyword: "use_backend") else { return }
            rule.condition = condition
        }
        proxies[index].useBackends.append(rule)
    }

    // MARK: balance

    mutating func parseBalance(_ words: [Word]) {
        let algorithms = ["roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri", "url_param", "hdr",
                          "hash"]
        let expected = "roundrobin, static-rr, leastconn, first, source, random, uri, url_param, hdr(NAME) or hash"
        guard words.count > 1 else {
            error("balance: expected an algorithm (\(expected))", at: words[0])
            return
        }
        let w = words[1]
        let base = w.text.split(separator: "(", maxSplits: 1).first.map(String.init) ?? w.text
        var consumed = 2
        switch w.text {
        case "roundrobin": settings.balance = .roundRobin
        case "static-rr": settings.balance = .staticRoundRobin
        case "leastconn": settings.balance = .leastConn
        case "first": settings.balance = .first
        case "source": settings.balance = .source
        case "random": settings.balance = .random(draws: 2)
        case "uri":
            var whole = false
            var length: Int?
            var depth: Int?
            var i = 2
            while i < words.count {
                switch words[i].text {
                case "whole":
                    whole = true
                    i += 1
                case "len", "depth":
                    guard let n = integer(words, i + 1, keyword: "balance uri \(words[i].text)", range: 1...Int.max,
                                          anchor: words[i]) else { return }
                    if words[i].text == "len" { length = n } else { depth = n }
                    i += 2
                case "path-only":
                    error("balance uri: 'path-only' is not supported by Weir yet", at: words[i])
                    return
                default:
                    error("balance uri: unexpected '\(words[i].text)'; expected whole, len or depth"
                          + Keywords.didYouMean(words[i].text, among: ["whole", "len", "depth"]).replacingDidYouMean(),
                          at: words[i])
                    return
                }
            }
            settings.balance = .uri(whole: whole, length: length, depth: depth)
            consumed = i
        case "url_param":
            guard words.count > 2 else {
                error("balance url_param: expected a parameter name", at: w)
                return
            }
            let checkPost = words.count > 3 && words[3].text == "check_post"
            consumed = checkPost ? 4 : 3
            // `check_post <max_wait>`: HAProxy 2.6 reads and ignores the number.
            if checkPost, words.count > 4 {
                guard integer(words, 4, keyword: "balance url_param check_post", anchor: words[3]) != nil else { return }
                consumed = 5
            }
            settings.balance = .urlParam(words[2].text, checkPost: checkPost)
        case "hash":
            guard words.count > 2 else {
                error("balance hash: expected a sample expression, as in 'balance hash req.cook(id)'", at: w)
                return
            }
            guard let parsed = sampleValue(words[2], context: "balance hash", maximum: .request) else { return }
            settings.balance = .hash(parsed.sample)
            consumed = 3
        default:
            if base == "random", w.text.hasPrefix("random("), w.text.hasSuffix(")") {
                let inner = String(w.text.dropFirst(7).dropLast())
                guard let n = Units.integer(inner), n >= 1, n <= 1000 else {
                    error("balance random: expected a number of draws between 1 and 1000, got '\(inner)'", at: w)
                    return
                }
                settings.balance = .random(draws: n)
            } else if base == "hdr" {
                guard w.text.hasPrefix("hdr("), w.text.hasSuffix(")"), w.text.count > 5 else {
                    error("balance hdr: expected a header name, as in hdr(host)", at: w)
                    return
                }
                let domainOnly = words.count > 2 && words[2].text == "use_domain_only"
                settings.balance = .header(String(w.text.dropFirst(4).dropLast()), domainOnly: domainOnly)
                if domainOnly { consumed = 3 }
            } else if Keywords.balanceUnsupported.contains(base) {
                error("balance '\(base)' is not supported by Weir yet", at: w)
                return
            } else {
                error("balance: unknown algorithm '\(w.text)'; expected \(expected)"
                      + Keywords.didYouMean(base, among: algorithms).replacingDidYouMean(), at: w)
                return
            }
        }
        expectAtMost(consumed, words, after: "balance \(w.text)")
    }

    // MARK: timeout

    /// `a, b or c`: every timeout name, for the messages.
    static func timeoutNames(_ names: [String]) -> String {
        names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }

    mutating func parseTimeout(_ words: [Word]) {
        let stored = ["connect", "client", "server", "queue", "tunnel", "client-fin", "server-fin", "http-request",
                      "http-keep-alive", "tarpit", "check", "client-hs"]
        let ignored: [String] = []
        guard words.count > 1 else {
            error("timeout: expected a timeout name (\(Self.timeoutNames(stored)))", at: words[0])
            return
        }
        let name = words[1]
        guard stored.contains(name.text) || ignored.contains(name.text) else {
            error("timeout: unknown timeout '\(name.text)'; expected \(Self.timeoutNames(stored))"
                  + Keywords.didYouMean(name.text, among: stored + ignored).replacingDidYouMean(),
                  at: name)
            return
        }
        let keyword = "timeout \(name.text)"
        guard let ms = duration(words, 2, keyword: keyword) else { return }
        expectAtMost(3, words, after: "\(keyword) \(words[2].text)")
        if ignored.contains(name.text) {
            warning("'\(keyword)' is ignored until a later release", at: name)
            return
        }
        let frontendSide = ["client", "client-fin", "http-request", "http-keep-alive", "client-hs"].contains(name.text)
        if let kind = sectionKind, name.text != "tarpit" {
            if kind == .frontend, !frontendSide {
                warning("'\(keyword)' is ignored in a 'frontend' section: it applies to backends", at: name)
                return
            }
            if kind == .backend, frontendSide {
                warning("'\(keyword)' is ignored in a 'backend' section: it applies to frontends", at: name)
                return
            }
        }
        let value: Int? = ms == 0 ? nil : ms
        switch name.text {
        case "connect": settings.timeouts.connect = value
        case "client": settings.timeouts.client = value
        case "server": settings.timeouts.server = value
        case "queue": settings.timeouts.queue = value
        case "tunnel": settings.timeouts.tunnel = value
        case "client-fin": settings.timeouts.clientFin = value
        case "http-request": settings.timeouts.httpRequest = value
        case "http-keep-alive": settings.timeouts.httpKeepAlive = value
        case "tarpit": settings.timeouts.tarpit = value
        case "check": settings.timeouts.check = value
        case "client-hs": settings.timeouts.clientHandshake = value
        default: settings.timeouts.serverFin = value
        }
    }

    // MARK: option / no

    mutating func parseOption(_ words: [Word], negated: Bool) {
        let prefix = negated ? "no option" : "option"
        guard words.count > 1 else {
            error("\(prefix): expected an option name", at: words[0])
            return
        }
        let name = words[1]
        switch name.text {
        case "redispatch":
            if sectionKind == .frontend {
                warning("'option redispatch' is ignored in a 'frontend' section: it applies to backends", at: name)
            }
            settings.redispatch = !negated
            settings.redispatchInterval = -1
            if words.count > 2 && !negated {
                // `option redispatch N`: every Nth retry; -N: the Nth before the last.
                guard let n = Int(words[2].text), n != 0 else {
                    error("option redispatch: expected a non-zero number of retries, got '\(words[2].text)'", at: words[2])
                    return
                }
                settings.redispatchInterval = n
                expectAtMost(3, words, after: "option redispatch \(words[2].text)")
            } else {
                expectAtMost(2, words, after: "\(prefix) redispatch")
            }
        case "tcplog":
            settings.tcpLog = !negated
            if !negated {
                settings.logChoice = .tcplog
            } else if case .tcplog = settings.logChoice {
                settings.logChoice = .none
            }
            expectAtMost(2, words, after: "\(prefix) tcplog")
        case "dontlognull":
            settings.dontLogNull = !negated
            expectAtMost(2, words, after: "\(prefix) dontlognull")
        case "httplog":
            settings.httpLog = negated ? nil : location(name)
            if words.count > 2, words[2].text == "clf", !negated {
                expectAtMost(3, words, after: "option httplog clf")
                settings.logChoice = .httplog(clf: true)
            } else {
                expectAtMost(2, words, after: "\(prefix) httplog")
                if !negated {
                    settings.logChoice = .httplog(clf: false)
                } else if case .httplog = settings.logChoice {
                    settings.logChoice = .none
                }
            }
        case "forwardfor", "originalto":
            parseForwardedOption(words, negated: negated)
        case "http-keep-alive", "http-server-close", "httpclose":
            parseConnectionModeOption(words, negated: negated)
        case "http-buffer-request":
            settings.buffersRequestBody = !negated
            expectAtMost(2, words, after: "\(prefix) http-buffer-request")
        case "dontlog-normal":
            settings.dontLogNormal = !negated
            expectAtMost(2, words, after: "\(prefix) dontlog-normal")
        case "log-separate-errors":
            settings.logSeparateErrors = !negated
            expectAtMost(2, words, after: "\(prefix) log-separate-errors")
        case "persist":
            settings.persist = !negated
            expectAtMost(2, words, after: "\(prefix) persist")
        case "httpchk", "tcp-check", "ssl-hello-chk", "log-health-checks", "allbackups",
             "redis-check", "smtpchk", "pgsql-check", "mysql-check", "ldap-check", "external-check":
            parseCheckOption(words, negated: negated)
        case "tcpka", "clitcpka", "srvtcpka":
            parseTCPKeepAliveOption(words, negated: negated)
        case "nolinger":
            settings.noLinger = !negated
            expectAtMost(2, words, after: "\(prefix) nolinger")
        case let option where Self.oneSidedOptions[option] != nil:
            guard expectAtMost(2, words, after: "\(prefix) \(option)") else { return }
            let (side, flag) = Self.oneSidedOptions[option]!
            if sectionKind == (side == .frontend ? .backend : .frontend) {
                warning("'option \(option)' is ignored in a '\(sectionKind!.rawValue)' section: it applies to \(side.rawValue)s",
                        at: name)
                return
            }
            settings[keyPath: flag] = !negated
        default:
            if let reason = Keywords.ignoredOptions[name.text] {
                if expectAtMost(2, words, after: "\(prefix) \(name.text)") {
                    warning("'\(prefix) \(name.text)' is ignored: \(reason)", at: name)
                }
            } else if let removal = Keywords.removedOptions[name.text] {
                error("'option \(name.text)' was removed in HAProxy \(removal.version); \(removal.advice)", at: name)
            } else if Keywords.unsupportedOptions.contains(name.text) {
                error("'option \(name.text)' is not supported by Weir yet", at: name)
            } else {
                error("unknown option '\(name.text)'"
                      + Keywords.didYouMean(name.text, among: Keywords.supportedOptions), at: name)
            }
        }
    }

    /// Options for one side of a proxy, ignored with a warning in a section
    /// of the other kind, as HAProxy does.
    static let oneSidedOptions: [String: (side: SectionKind, flag: WritableKeyPath<ProxySettings, Bool> & Sendable)] = [
        "logasap": (.frontend, \.logASAP), "http-ignore-probes": (.frontend, \.ignoreProbes),
        "abortonclose": (.backend, \.abortOnClose), "http-pretend-keepalive": (.backend, \.pretendKeepAlive),
        "prefer-last-server": (.backend, \.preferLastServer),
    ]

    mutating func parseNo(_ words: [Word]) {
        guard words.count > 1 else {
            error("no: expected 'option' or 'log'", at: words[0])
            return
        }
        switch words[1].text {
        case "option":
            parseOption(Array(words.dropFirst()), negated: true)
        case "log":
            settings.logs = []
            expectAtMost(2, words, after: "no log")
        default:
            error("no: expected 'option' or 'log', got '\(words[1].text)'", at: words[1])
        }
    }

    // MARK: log

    mutating func parseProxyLog(_ words: [Word]) {
        if words.count > 1, words[1].text == "global" {
            expectAtMost(2, words, after: "log global")
            settings.logs.append(.global(location(words[0])))
            return
        }
        if let target = parseLogTarget(words) { settings.logs.append(.target(target)) }
    }

    static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
        "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]

    static let levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// `log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`.
    mutating func parseLogTarget(_ words: [Word]) -> LogTarget? {
        guard words.count > 1 else {
            error("log: expected a target (stdout, stderr, a path or an address) and a facility", at: words[0])
            return nil
        }
        let destination: LogDestination
        guard let targetText = expandedAddress(words[1]) else { return nil }
        switch Addresses.parseLog(Substring(targetText)) {
        case .success(.destination(let d)): destination = d
        case .success(.name(let host, let port, let family)):
            switch Addresses.resolveDatagramHost(host, family: family) {
            case .success(let ip): destination = .udp(ip, port: port)
            case .failure(let reason):
                error("log: could not resolve address '\(host)': \(reason.text)", at: words[1])
                return nil
            }
        case .failure(let message):
            error(message.text, at: words[1])
            return nil
        }
        var target = LogTarget(destination: destination, facility: 0, location: location(words[0]))
        var i = 2
        options: while i < words.count {
            switch words[i].text {
            case "len":
                guard let n = integer(words, i + 1, keyword: "log len", range: 80...65535, anchor: words[i]) else { return nil }
                target.maxLength = n
                i += 2
            case "format":
                guard i + 1 < words.count else {
                    error("log format: expected raw, rfc3164 or rfc5424", at: words[i])
                    return nil
                }
                let f = words[i + 1].text
                if let format = SyslogFormat(rawValue: f) {
                    target.format = format
                } else if ["short", "priority", "iso", "timed", "local"].contains(f) {
                    error("log format '\(f)' is not supported by Weir yet", at: words[i + 1])
                    return nil
                } else {
                    error("log format: expected raw, rfc3164 or rfc5424, got '\(f)'", at: words[i + 1])
                    return nil
                }
                i += 2
            case "sample", "profile":
                error("log: '\(words[i].text)' is not supported by Weir yet", at: words[i])
                return nil
            default:
                break options
            }
        }
        guard i < words.count else {
            error("log: expected a syslog facility like local0", at: words[words.count - 1])
            return nil
        }
        guard let facility = Self.facilities.firstIndex(of: words[i].text) else {
            error("log: expected a syslog facility like local0, got '\(words[i].text)'"
                  + Keywords.didYouMean(words[i].text, among: Self.facilities), at: words[i])
            return nil
        }
        target.facility = facility
        i += 1
        if i < words.count {
            guard let level = Self.levels.firstIndex(of: words[i].text) else {
                error("log: expected a level like info, got '\(words[i].text)'"
                      + Keywords.didYouMean(words[i].text, among: Self.levels), at: words[i])
                return nil
            }
            target.maxLevel = LogLevel(rawValue: level)
            i += 1
        }
        if i < words.count {
            guard let level = Self.levels.firstIndex(of: words[i].text) else {
                error("log: expected a minimum level like emerg, got '\(words[i].text)'"
                      + Keywords.didYouMean(words[i].text, among: Self.levels), at: words[i])
                return nil
            }
            target.minLevel = LogLevel(rawValue: level)
            i += 1
        }
        guard expectAtMost(i, words, after: "log \(words[1].text)") else { return nil }
        return target
    }
}
