// Keywords of the `global` section. Repeated `global` sections merge: a
// later value replaces an earlier one, `log` and `stats socket` lines add up.

extension ParserState {
    mutating func globalKeyword(_ words: [Word]) {
        let keyword = words[0]
        let k = keyword.text
        switch k {
        case "maxconn":
            if let n = integer(words, 1, keyword: "maxconn", range: 0...Int.max) { global.maxconn = n }
            expectAtMost(2, words, after: "maxconn")
        case "maxconnrate", "maxsessrate", "maxsslrate":
            // HAProxy keeps them in an int; 0 is no limit.
            if let n = integer(words, 1, keyword: k, range: 0...Int(Int32.max)) {
                switch k {
                case "maxconnrate": global.maxConnectionRate = n
                case "maxsessrate": global.maxSessionRate = n
                default: global.maxSSLRate = n
                }
            }
            expectAtMost(2, words, after: k)
        case "nbthread":
            if let n = integer(words, 1, keyword: "nbthread", range: 1...4096) { global.nbthread = n }
            expectAtMost(2, words, after: "nbthread")
        case "log":
            if words.count > 1, words[1].text == "global" {
                error("'log global' is only meaningful in a proxy section", at: words[1])
                return
            }
            if let target = parseLogTarget(words) { global.logs.append(target) }
        case "strict-limits":
            global.strictLimits = true
            expectAtMost(1, words, after: k)
        case "set-dumpable":
            global.setDumpable = true
            expectAtMost(1, words, after: k)
        case "noreuseport":
            global.noReusePort = true
            expectAtMost(1, words, after: k)
        case "nosplice", "nopoll":
            // They turn off what Weir never uses (splice(2), poll(2)).
            expectAtMost(1, words, after: k)
        case "tune.comp.maxlevel":
            if let n = integer(words, 1, keyword: k, range: 1...9), n > 1 {
                warning("'tune.comp.maxlevel \(n)' is ignored: Weir compresses at level 1, HAProxy's default", at: keyword)
            }
            expectAtMost(2, words, after: k)
        case "no":
            parseGlobalNo(words)
        case "unix-bind":
            parseUnixBind(words)
        case "ulimit-n":
            if let n = integer(words, 1, keyword: "ulimit-n", range: 1...(1 << 30)) { global.fileLimit = n }
            expectAtMost(2, words, after: "ulimit-n")
        case "hard-stop-after":
            if let ms = duration(words, 1, keyword: "hard-stop-after") { global.hardStopAfter = ms > 0 ? ms : nil }
            expectAtMost(2, words, after: "hard-stop-after")
        case "mworker-max-reloads":
            if let n = integer(words, 1, keyword: "mworker-max-reloads", range: 0...Int.max) { global.maxReloads = n }
            expectAtMost(2, words, after: "mworker-max-reloads")
        case "master-worker":
            // Weir always runs a master unless -d: the keyword changes nothing.
            expectAtMost(2, words, after: "master-worker")
        case "server-state-file":
            if let value = singleArgument(words, what: "a file path") { global.serverStateFile = value }
        case "server-state-base":
            if let value = singleArgument(words, what: "a directory") { global.serverStateBase = value }
        case "pidfile":
            if let value = singleArgument(words, what: "a file path") { global.pidfile = value }
        case "user":
            if let value = singleArgument(words, what: "a user name") {
                global.user = value
            }
        case "group":
            if let value = singleArgument(words, what: "a group name") {
                global.group = value
            }
        case "uid", "gid":
            if let n = integer(words, 1, keyword: k, range: 0...Int(UInt32.max - 1)) {
                if k == "uid" { global.uid = UInt32(n) } else { global.gid = UInt32(n) }
            }
            expectAtMost(2, words, after: k)
        case "setenv", "presetenv":
            guard words.count == 3 else {
                error("\(k): expected a variable name and a value, as in '\(k) NAME value'", at: words[min(words.count - 1, 1)])
                return
            }
            if k == "setenv" || environment[words[1].text] == nil { environment[words[1].text] = words[2].text }
            global.environment = environment
        case "unsetenv":
            for name in words.dropFirst() { environment[name.text] = nil }
            global.environment = environment
        case "resetenv":
            let kept = Set(words.dropFirst().map(\.text))
            environment = environment.filter { kept.contains($0.key) }
            global.environment = environment
        case "tune.http.logurilen":
            if let n = integer(words, 1, keyword: k, range: 1...65535) { global.logURILength = n }
            expectAtMost(2, words, after: k)
        case "tune.rcvbuf.client", "tune.sndbuf.client", "tune.rcvbuf.server", "tune.sndbuf.server":
            guard let n = integer(words, 1, keyword: k, range: 1...(1 << 30)) else { return }
            expectAtMost(2, words, after: k)
            switch k {
            case "tune.rcvbuf.client": global.clientReceiveBuffer = n
            case "tune.sndbuf.client": global.clientSendBuffer = n
            case "tune.rcvbuf.server": global.serverReceiveBuffer = n
            default: global.serverSendBuffer = n
            }
        case "cpu-map":
            if let mapping = parseCPUMap(words) { global.cpuMaps.append(mapping) }
        case "spread-checks":
            if let n = integer(words, 1, keyword: "spread-checks", range: 0...50) { global.spreadChecks = n }
            expectAtMost(2, words, after: "spread-checks")
        case "external-check", "insecure-fork-wanted":
            if k == "external-check" { global.externalCheck = true } else { global.insecureForkWanted = true }
            expectAtMost(1, words, after: k)
        case "zero-warning", "quiet":
            if k == "quiet" { global.quiet = true } else { global.zeroWarning = true }
            expectAtMost(1, words, after: k)
        case "chroot":
            if let value = singleArgument(words, what: "a directory") {
                global.chroot = value
            }
        case "daemon":
            if expectAtMost(1, words, after: "daemon") {
                global.daemon = true
            }
        case "tune.bufsize":
            guard words.count > 1 else {
                error("tune.bufsize: expected a size like 16k", at: keyword)
                return
            }
            if let size = Units.size(words[1].text), size >= 1024, size <= 1 << 30 {
                global.bufferSize = size
            } else if let size = Units.size(words[1].text) {
                error("tune.bufsize: expected a size between 1k and 1g, got '\(words[1].text)' (\(size) bytes)", at: words[1])
            } else {
                error("tune.bufsize: expected a size like 16k, got '\(words[1].text)'", at: words[1])
            }
            expectAtMost(2, words, after: "tune.bufsize")
        case "tune.http.maxhdr":
            if let n = integer(words, 1, keyword: "tune.http.maxhdr", range: 1...32767) { global.maxHeaders = n }
            expectAtMost(2, words, after: "tune.http.maxhdr")
        case "tune.maxrewrite":
            if let n = integer(words, 1, keyword: "tune.maxrewrite", range: 0...(1 << 29)) {
                global.maxRewrite = n
                maxRewriteLocation = location(words[1])
            }
            expectAtMost(2, words, after: "tune.maxrewrite")
        case "tune.wakeup-coalesce":
            if words.count < 2 {
                error("tune.wakeup-coalesce: expected a duration from 0 to 1ms like 30us", at: keyword)
            } else if let micro = Units.microseconds(words[1].text, limit: 1000) {
                global.wakeupCoalesceMicroseconds = micro
            } else {
                error("tune.wakeup-coalesce: expected a duration from 0 to 1ms like 30us, got '\(words[1].text)'", at: words[1])
            }
            expectAtMost(2, words, after: "tune.wakeup-coalesce")
        case "tune.ssl.cachesize":
            if let n = integer(words, 1, keyword: "tune.ssl.cachesize", range: 0...(1 << 24)) { global.sslCacheSize = n }
            expectAtMost(2, words, after: "tune.ssl.cachesize")
        case "tune.ssl.lifetime":
            if let seconds = lifetimeSeconds(words) { global.sslLifetime = seconds }
            expectAtMost(2, words, after: "tune.ssl.lifetime")
        case "stats":
            parseGlobalStats(words)
        case "description":
            global.description = words.dropFirst().map(\.text).joined(separator: " ")
        case "log-send-hostname":
            expectAtMost(2, words, after: "log-send-hostname")
            global.logSendHostname = words.count > 1 ? words[1].text : ""
        case "log-tag":
            guard words.count == 2, !words[1].text.isEmpty else {
                error("log-tag: expected one tag, as in 'log-tag haproxy'", at: words.count > 1 ? words[1] : words[0])
                return
            }
            global.logTag = words[1].text
        case "node":
            guard words.count == 2, !words[1].text.isEmpty, words[1].text.allSatisfy({
                $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".")
            }) else {
                error("node: expected one name of letters, digits, '-', '_' and '.'", at: words.count > 1 ? words[1] : words[0])
                return
            }
            global.node = words[1].text
        case "localpeer":
            // The name of this instance in `peers` sections: Weir exchanges
            // nothing with peers, so the name is only checked.
            guard words.count == 2, !words[1].text.isEmpty else {
                error("localpeer: expected the name of this instance among its peers", at: words.count > 1 ? words[1] : words[0])
                return
            }
        case "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
             "ssl-default-bind-sigalgs", "crt-base", "ca-base", "ssl-dh-param-file",
             "ssl-default-server-ciphers", "ssl-default-server-ciphersuites":
            guard words.count > 1 else {
                error("\(k): expected a value", at: keyword)
                return
            }
            let value = words[1].text
            switch k {
            case "crt-base": global.certificateBase = value
            case "ca-base": global.caBase = value
            case "ssl-dh-param-file":
                global.dhParamFile = value
                global.dhParamFileLocation = location(words[1])
            case "ssl-default-server-ciphers": global.defaultServerTLS.ciphers = value
            case "ssl-default-server-ciphersuites": global.defaultServerTLS.ciphersuites = value
            default:
                let option = String(k.dropFirst("ssl-default-bind-".count))
                var options = BindTLS.Options()
                if let problem = BindTLSOptions.set(option, value, in: &options) {
                    error("\(k): " + problem, at: words[1])
                }
                let defaults = global.defaultBindTLS
                global.defaultBindTLS.ciphers = options.ciphers ?? defaults.ciphers
                global.defaultBindTLS.ciphersuites = options.ciphersuites ?? defaults.ciphersuites
                global.defaultBindTLS.curves = options.curves ?? defaults.curves
                global.defaultBindTLS.sigalgs = options.sigalgs ?? defaults.sigalgs
                global.defaultBindTLS.locations[option] = location(words[1])
            }
            expectAtMost(2, words, after: k)
        case "ssl-default-bind-options":
            parseDefaultBindOptions(words)
        case "ssl-default-server-options":
            parseDefaultServerOptions(words)
        case "ssl-server-verify":
            parseServerVerify(words)
        default:
            if let reason = Keywords.ignoredGlobalReason(k) {
                warning("'\(k)' is ignored: \(reason)", at: keyword)
                return
            }
            if let removal = Keywords.removedGlobals[k] {
                error("'\(k)' was removed in HAProxy \(removal.version); \(removal.advice)", at: keyword)
                return
            }
            if Keywords.globalUnsupported.contains(k) || k.hasPrefix("tune.") || k.hasPrefix("ssl-") {
                error("'\(k)' is not supported by Weir yet", at: keyword)
                return
            }
            if Keywords.proxyKeywordAllowed(k, in: .frontend) != nil || Keywords.proxyKeywordAllowed(k, in: .backend) != nil
                || Keywords.proxyUnsupported.contains(k) {
                error("'\(k)' is not allowed in a 'global' section", at: keyword)
                return
            }
            error("unknown keyword '\(k)' in 'global' section" + Keywords.didYouMean(k, among: Keywords.global), at: keyword)
        }
    }

    /// `unix-bind [prefix PATH] [mode OCTAL] [user NAME] [uid N] [group NAME] [gid N]`.
    private mutating func parseUnixBind(_ words: [Word]) {
        guard words.count > 1 else {
            error("unix-bind: expected settings, as in 'unix-bind prefix /var/lib/weir mode 660'", at: words[0])
            return
        }
        var index = 1
        while index < words.count {
            let option = words[index]
            guard ["prefix", "mode", "user", "uid", "group", "gid"].contains(option.text) else {
                error("unix-bind: unknown setting '\(option.text)'; expected 'prefix', 'mode', 'user', 'uid', 'group' or 'gid'",
                      at: option)
                return
            }
            guard index + 1 < words.count else {
                error("unix-bind: '\(option.text)' expects a value", at: option)
                return
            }
            let value = words[index + 1]
            if option.text == "prefix" {
                global.unixBindPrefix = value.text
            } else {
                var access = global.unixBindAccess
                guard parseUnixAccessOption(option, value, into: &access, context: "unix-bind") else { return }
                global.unixBindAccess = access
            }
            index += 2
        }
    }

    /// `no KEYWORD`: the global keywords HAProxy lets one turn off.
    private mutating func parseGlobalNo(_ words: [Word]) {
        guard words.count >= 2 else {
            error("'no' expects a keyword after it, as in 'no strict-limits'", at: words[0])
            return
        }
        let k = words[1].text
        switch k {
        case "strict-limits": global.strictLimits = false
        case "set-dumpable": global.setDumpable = false
        case "busy-polling": break
        default:
            error("'no \(k)' is not supported in a 'global' section (only 'no strict-limits', 'no set-dumpable' "
                  + "and 'no busy-polling')", at: words[1])
            return
        }
        expectAtMost(2, words, after: "no \(k)")
    }

    /// `cpu-map [auto:]GROUP[/THREADS] CPU-SET...`. GROUP is the thread
    /// group, of which Weir has one (`1`, `all` and `odd` name it; an old
    /// process number 1 reads the same); THREADS are worker numbers.
    private mutating func parseCPUMap(_ words: [Word]) -> CPUMapping? {
        let usage = "as in 'cpu-map 1/1 0' or 'cpu-map auto:1/1-4 0-3'"
        guard words.count >= 3 else {
            error("cpu-map: expected the workers and their CPUs, \(usage)", at: words[min(1, words.count - 1)])
            return nil
        }
        var target = Substring(words[1].text)
        let oneEach = target.hasPrefix("auto:")
        if oneEach { target = target.dropFirst(5) }
        let parts = target.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let group = Self.numberSet(parts[0], allowingParity: true) else {
            error("cpu-map: expected a thread group such as 1 or all, got '\(parts[0])'", at: words[1])
            return nil
        }
        var workers: [Int]?
        if parts.count == 2 {
            guard let set = Self.numberSet(parts[1], allowingParity: false), set.list?.allSatisfy({ $0 >= 1 }) ?? true else {
                error("cpu-map: expected worker numbers from 1 such as 1, 1-4 or all, got '\(parts[1])'", at: words[1])
                return nil
            }
            workers = set.list
        }
        var cpus: [Int] = []
        for word in words.dropFirst(2) {
            for piece in word.text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let list = Self.numberSet(piece, allowingParity: false)?.list else {
                    error("cpu-map: expected CPU numbers such as 0, 0-3 or 0,2, got '\(word.text)'", at: word)
                    return nil
                }
                cpus += list
            }
        }
        // Only group 1 exists: a line for other groups changes nothing.
        if let groups = group.list, !groups.contains(1) {
            warning("cpu-map: Weir has one thread group; this line names none of its workers", at: words[1])
            return nil
        }
        if oneEach, cpus.count > 1, let workers, workers.count != cpus.count {
            error("cpu-map: 'auto:' gives each of the \(workers.count) workers one of the \(cpus.count) CPUs: "
                  + "name as many CPUs as workers", at: words[1])
            return nil
        }
        return CPUMapping(workers: workers, cpus: cpus, oneEach: oneEach)
    }

    /// A set of thread groups, workers or CPUs in `cpu-map`.
    private enum NumberSet {
        case all
        case listed([Int])

        /// The numbers, nil for all.
        var list: [Int]? {
            if case .listed(let numbers) = self { numbers } else { nil }
        }
    }

    /// A number, a range `A-B`, `all`, or with `allowingParity` `odd` or
    /// `even`, which among thread groups name group 1 or none; nil when the
    /// text is none of these.
    private static func numberSet(_ text: Substring, allowingParity: Bool) -> NumberSet? {
        switch text {
        case "all": return .all
        case "odd" where allowingParity: return .listed([1])
        case "even" where allowingParity: return .listed([])
        default: break
        }
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let low = Int(bounds[0]), low >= 0 else { return nil }
        guard bounds.count == 2 else { return .listed([low]) }
        guard let high = Int(bounds[1]), high >= low, high - low < 4096 else { return nil }
        return .listed(Array(low...high))
    }

    /// Exactly one argument; reports what was expected otherwise.
    private mutating func singleArgument(_ words: [Word], what: String) -> String? {
        guard words.count > 1 else {
            error("\(words[0].text): expected \(what)", at: words[0])
            return nil
        }
        guard expectAtMost(2, words, after: "\(words[0].text) \(words[1].text)") else { return nil }
        return words[1].text
    }

    /// `tune.ssl.lifetime 300` or `5m`: seconds unless a unit says otherwise
    /// (HAProxy's default unit here), rounded up, at least 1.
    private mutating func lifetimeSeconds(_ words: [Word]) -> Int? {
        let keyword = "tune.ssl.lifetime"
        guard words.count > 1 else {
            error("\(keyword): expected a duration like 300 (seconds) or 5m", at: words[0])
            return nil
        }
        let text = words[1].text
        let seconds: Int
        if let n = Units.integer(text) {
            seconds = n
        } else if case .success(let ms) = Units.duration(text) {
            seconds = (ms + 999) / 1000
        } else {
            error("\(keyword): expected a duration like 300 (seconds) or 5m, got '\(text)'", at: words[1])
            return nil
        }
        guard seconds >= 1, seconds <= Units.maxDurationMs / 1000 else {
            error("\(keyword): expected between 1 second and 24 days, got '\(text)'", at: words[1])
            return nil
        }
        return seconds
    }

    private mutating func parseGlobalStats(_ words: [Word]) {
        guard words.count > 1 else {
            error("stats: expected 'socket' or 'timeout'", at: words[0])
            return
        }
        switch words[1].text {
        case "socket":
            parseStatsSocket(words)
        case "timeout":
            if let ms = duration(words, 2, keyword: "stats timeout") {
                expectAtMost(3, words, after: "stats timeout")
                global.statsTimeout = ms
            }
        case "maxconn", "bind-process":
            warning("'stats \(words[1].text)' is ignored: Weir does not limit stats socket connections", at: words[0])
        default:
            error("stats: unknown keyword '\(words[1].text)'; expected 'socket' or 'timeout'"
                  + Keywords.didYouMean(words[1].text, among: ["socket", "timeout"]).replacingDidYouMean(), at: words[1])
        }
    }
}

extension ParserState {
    /// `stats socket PATH|ipv4@ADDR:PORT|fd@N [mode M] [level user|operator|admin]`.
    mutating func parseStatsSocket(_ words: [Word]) {
        guard words.count > 2 else {
            error("stats socket: expected a path or an address", at: words[1])
            return
        }
        let address: ListenAddress
        switch Addresses.parseBind(Substring(words[2].text)) {
        case .success(let addresses):
            guard addresses.count == 1, let only = addresses.first else {
                error("stats socket: expected one address, not a port range: '\(words[2].text)'", at: words[2])
                return
            }
            address = only
        case .failure(let failure):
            error(failure.text.hasPrefix("bind:") ? "stats socket:" + failure.text.dropFirst(5) : failure.text, at: words[2])
            return
        }
        var socket = StatsSocket(address: address, location: location(words[0]))
        var index = 3
        while index < words.count {
            let option = words[index]
            guard index + 1 < words.count else {
                error("stats socket: '\(option.text)' expects an argument", at: option)
                return
            }
            let value = words[index + 1]
            switch option.text {
            case "mode", "user", "uid", "group", "gid":
                guard parseUnixAccessOption(option, value, into: &socket.access, context: "stats socket") else { return }
            case "level":
                guard let level = StatsLevel(name: value.text) else {
                    error("stats socket: 'level' expects 'user', 'operator' or 'admin', got '\(value.text)'", at: value)
                    return
                }
                socket.level = level
            case "name", "process", "expose-fd", "maxconn", "backlog":
                warning("stats socket: '\(option.text)' is ignored", at: option)
            default:
                error("stats socket: unsupported option '\(option.text)'; expected 'mode', 'user', 'group', 'uid', 'gid' "
                      + "or 'level'", at: option)
                return
            }
            index += 2
        }
        global.statsSockets.append(socket)
    }
}

extension String {
    /// `; did you mean 'x'?` becomes ` (did you mean 'x'?)` for messages that already end with a list.
    func replacingDidYouMean() -> String {
        guard hasPrefix("; ") else { return self }
        return " (" + dropFirst(2) + ")"
    }
}

extension ParserState {
    /// The version after the `ssl-min-ver` or `ssl-max-ver` at `words[i]` of
    /// an `ssl-default-*-options` line; nil once the problem is reported.
    mutating func defaultOptionsVersion(_ words: [Word], _ i: Int) -> BindTLS.Version? {
        let keyword = words[0].text
        guard i + 1 < words.count else {
            error("\(keyword): '\(words[i].text)' expects a version", at: words[i])
            return nil
        }
        guard let version = BindTLS.Version(rawValue: words[i + 1].text) else {
            error("\(keyword): '\(words[i].text)' expects TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, "
                  + "got '\(words[i + 1].text)'", at: words[i + 1])
            return nil
        }
        return version
    }

    /// `ssl-default-bind-options`: `ssl-min-ver V`, `ssl-max-ver V`,
    /// `no-tls-tickets`, `prefer-client-ciphers`, and the version toggles
    /// (`no-tlsv1x`, `force-tlsv1x`).
    mutating func parseDefaultBindOptions(_ words: [Word]) {
        parseDefaultTLSOptions(words, minVersion: \.defaultBindTLS.minVersion, maxVersion: \.defaultBindTLS.maxVersion,
                               disabled: \.defaultBindTLS.disabledVersions,
                               flags: [("no-tls-tickets", \.defaultBindTLS.noTLSTickets),
                                       ("prefer-client-ciphers", \.defaultBindTLS.preferClientCiphers)])
    }

    /// `ssl-default-server-options`: `ssl-min-ver V`, `ssl-max-ver V`,
    /// `no-ssl-reuse`, `no-tls-tickets`, and the version toggles.
    mutating func parseDefaultServerOptions(_ words: [Word]) {
        parseDefaultTLSOptions(words, minVersion: \.defaultServerTLS.minVersion, maxVersion: \.defaultServerTLS.maxVersion,
                               disabled: \.defaultServerTLS.disabledVersions,
                               flags: [("no-ssl-reuse", \.defaultServerTLS.noReuse),
                                       ("no-tls-tickets", \.defaultServerTLS.noTickets)])
    }

    /// An `ssl-default-*-options` line: the version bounds, the `flags`
    /// this side knows, and the version toggles (TLSVersionToggles.swift),
    /// whose `no-tlsv1x` flags apply with each line's own.
    private mutating func parseDefaultTLSOptions(_ words: [Word], minVersion: WritableKeyPath<GlobalSettings, BindTLS.Version?>,
                                                 maxVersion: WritableKeyPath<GlobalSettings, BindTLS.Version?>,
                                                 disabled: WritableKeyPath<GlobalSettings, Set<BindTLS.Version>>,
                                                 flags: [(name: String, setting: WritableKeyPath<GlobalSettings, Bool>)]) {
        var i = 1
        while i < words.count {
            let option = words[i]
            if option.text == "ssl-min-ver" || option.text == "ssl-max-ver" {
                guard let version = defaultOptionsVersion(words, i) else { return }
                global[keyPath: option.text == "ssl-min-ver" ? minVersion : maxVersion] = version
                i += 2
            } else if let flag = flags.first(where: { $0.name == option.text }) {
                global[keyPath: flag.setting] = true
                i += 1
            } else if let toggle = TLSVersionToggle(option.text) {
                switch toggle {
                case .disable(let version): global[keyPath: disabled].insert(version)
                case .force(let version):
                    global[keyPath: minVersion] = version
                    global[keyPath: maxVersion] = version
                case .disableSSLv3: break
                case .forceSSLv3:
                    error("\(words[0].text): " + TLSVersionToggle.sslv3Refused, at: option)
                    return
                }
                i += 1
            } else {
                let supported = ["ssl-min-ver", "ssl-max-ver"] + flags.map(\.name) + TLSVersionToggle.keywords
                error("\(words[0].text): '\(option.text)' is not supported by Weir yet; "
                      + "supported: \(supported.joined(separator: ", "))", at: option)
                return
            }
        }
    }
}
