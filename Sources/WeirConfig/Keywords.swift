// Which keywords exist, where they may be written, which HAProxy keywords
// Weir does not support yet, and the nearest keyword for a typo.

enum SectionKind: String, Sendable {
    case global, defaults, frontend, backend, listen

    var hasFrontend: Bool { self == .frontend || self == .listen }
    var hasBackend: Bool { self == .backend || self == .listen }
}

enum Keywords {
    static let sections: [String] = ["global", "defaults", "frontend", "backend", "listen"]

    /// HAProxy sections Weir does not have yet; their contents are skipped.
    static let unsupportedSections: Set<String> = [
        "program", "ring", "cache", "fcgi-app",
        "log-forward", "crt-store", "traces", "acme", "namespace_list",
    ]

    static let global: [String] = [
        "maxconn", "nbthread", "log", "pidfile", "stats", "daemon", "user", "group", "chroot", "tune.bufsize", "node",
        "uid", "gid", "cpu-map", "tune.http.logurilen", "tune.rcvbuf.client", "tune.sndbuf.client",
        "tune.rcvbuf.server", "tune.sndbuf.server", "setenv", "presetenv", "unsetenv", "resetenv", "spread-checks", "zero-warning", "quiet",
        "log-send-hostname", "log-tag", "localpeer",
        "description", "hard-stop-after", "mworker-max-reloads", "master-worker", "ulimit-n", "tune.http.maxhdr",
        "tune.maxrewrite", "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-options",
        "ssl-default-bind-curves", "ssl-default-bind-sigalgs", "crt-base", "ca-base", "ssl-dh-param-file",
        "tune.ssl.cachesize", "tune.ssl.lifetime", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
        "ssl-default-server-options", "ssl-server-verify", "maxconnrate", "maxsessrate", "maxsslrate",
        "strict-limits", "set-dumpable", "nosplice", "nopoll", "tune.comp.maxlevel", "unix-bind", "noreuseport",
        "external-check", "insecure-fork-wanted",
    ]

    /// Global keywords accepted with a warning because they change nothing in
    /// Weir; the reason is the warning's. Every `tune.h2.` keyword too
    /// (`ignoredGlobalReason`).
    static let globalIgnored: [String: String] = [
        "tune.ssl.default-dh-param": "Weir sizes DH parameters to the certificate's key; set them with 'ssl-dh-param-file'",
        "tune.maxaccept": schedulerTuning, "tune.maxpollevents": schedulerTuning,
        "tune.runqueue-depth": schedulerTuning, "tune.idletimer": schedulerTuning, "tune.recv_enough": schedulerTuning,
        "busy-polling": "Weir's workers sleep in epoll_wait when they have nothing to do; they never spin",
        "noepoll": "Weir's event loop always uses epoll",
        "maxpipes": noSplice, "tune.pipesize": noSplice,
        "maxzlibmem": compressionLimits, "maxcomprate": compressionLimits, "maxcompcpuusage": compressionLimits,
    ]

    private static let schedulerTuning = "it sizes the batches of HAProxy's scheduler; Weir's event loop sizes its own"
    private static let noSplice = "Weir moves data through its own buffers, never with splice(2), so it uses no pipes"
    private static let compressionLimits = "Weir does not throttle compression by memory, rate or CPU use; "
        + "it compresses every eligible response at the fastest level"

    /// Why a global keyword is ignored, nil when it is not.
    static func ignoredGlobalReason(_ keyword: String) -> String? {
        if keyword.hasPrefix("tune.h2.") {
            return "Weir speaks HTTP/1.1 to clients and servers (ALPN h2 is not offered)"
        }
        return globalIgnored[keyword]
    }

    static let globalUnsupported: Set<String> = [
        "maxsslconn",
        "lua-load", "lua-load-per-thread",
        "lua-prepend-path",
        "expose-experimental-directives", "default-path",
        "h1-case-adjust", "h1-case-adjust-file", "ssl-engine", "ssl-mode-async",
        "ssl-load-extra-files", "ssl-load-extra-del-ext", "ssl-propquery", "ssl-provider", "numa-cpu-mapping",
        "thread-groups", "thread-group", "profiling.tasks", "profiling.memory",
        "nogetaddrinfo", "pp2-never-send-local", "stats-file", "fd-hard-limit", "grace",
        "setcap", "cluster-secret", "debug", "dns-accept-family", "harden.reject-privileged-ports.tcp",
        "httpclient.resolvers.id", "httpclient.resolvers.prefer", "httpclient.ssl.verify", "httpclient.ssl.ca-file",
        "issuers-chain-path", "limited-quic", "ocsp-update.mode",
        "tune.lua.maxmem",
    ]

    /// Proxy keywords Weir parses, with the sections that allow them.
    static let proxy: [(keyword: String, defaults: Bool, frontend: Bool, listen: Bool, backend: Bool)] = [
        ("mode", true, true, true, true),
        ("bind", false, true, true, false),
        ("default_backend", true, true, true, false),
        ("use_backend", false, true, true, false),
        ("server", false, false, true, true),
        ("server-template", false, false, true, true),
        ("default-server", true, false, true, true),
        ("balance", true, false, true, true),
        ("source", true, false, true, true),
        ("timeout", true, true, true, true),
        ("maxconn", true, true, true, false),
        // On the wrong side these two are ignored with a warning, as in HAProxy.
        ("backlog", true, true, true, true),
        ("fullconn", true, true, true, true),
        ("rate-limit", true, true, true, true),
        ("http-send-name-header", true, true, true, true),
        ("id", false, true, true, true),
        ("disabled", true, true, true, true),
        ("enabled", true, true, true, true),
        ("retries", true, false, true, true),
        ("load-server-state-from-file", true, false, true, true),
        ("server-state-file-name", false, false, true, true),
        ("retry-on", true, false, true, true),
        ("email-alert", true, true, true, true),
        ("option", true, true, true, true),
        ("no", true, true, true, true),
        ("log", true, true, true, true),
        ("http-request", false, true, true, true),
        ("description", true, true, true, true),
        ("acl", false, true, true, true),
        ("http-response", false, true, true, true),
        ("http-after-response", false, true, true, true),
        ("redirect", false, true, true, true),
        ("tcp-request", true, true, true, true),
        ("http-reuse", true, false, true, true),
        ("compression", true, true, true, true),
        ("capture", false, true, true, false),
        ("log-format", true, true, true, false),
        ("unique-id-format", true, true, true, false),
        ("unique-id-header", true, true, true, false),
        ("errorfile", true, true, true, true),
        ("errorfiles", true, true, true, true),
        ("errorloc", true, true, true, true),
        ("errorloc302", true, true, true, true),
        ("errorloc303", true, true, true, true),
        ("http-error", true, true, true, true),
        ("cookie", true, false, true, true),
        ("hash-type", true, false, true, true),
        ("force-persist", false, true, true, true),
        ("ignore-persist", false, true, true, true),
        ("http-check", true, false, true, true),
        ("external-check", true, false, true, true),
        ("tcp-check", true, false, true, true),
        ("stats", true, true, true, true),
        ("stick-table", false, true, true, true),
        ("stick", false, false, true, true),
        ("use-server", false, false, true, true),
        // In a backend both are ignored with a warning, as in HAProxy.
        ("monitor-uri", true, true, true, true),
        ("monitor", false, true, true, true),
        // On the wrong side they are ignored with a warning, as in HAProxy.
        ("clitcpka-cnt", true, true, true, true),
        ("clitcpka-idle", true, true, true, true),
        ("clitcpka-intvl", true, true, true, true),
        ("srvtcpka-cnt", true, true, true, true),
        ("srvtcpka-idle", true, true, true, true),
        ("srvtcpka-intvl", true, true, true, true),
    ]

    static func proxyKeywordAllowed(_ keyword: String, in section: SectionKind) -> Bool? {
        guard let k = proxy.first(where: { $0.keyword == keyword }) else { return nil }
        switch section {
        case .defaults: return k.defaults
        case .frontend: return k.frontend
        case .listen: return k.listen
        case .backend: return k.backend
        case .global: return false
        }
    }

    static let proxyUnsupported: Set<String> = [
        "tcp-response",
        "hash-balance-factor", "hash-key", "log-format-sd",
        "error-log-format", "log-tag", "log-steps",
        "persist",
        "dynamic-cookie-key", "filter",
        "declare", "guid", "max-keep-alive-queue", "max-session-srv-conns",
        "use-fcgi-app", "grace", "http-restrict-req-hdr-names", "log-bufsize", "balance-random", "option-forwardfor",
    ]

    /// A keyword HAProxy removed: the release that removed it and what to
    /// do instead (the end of the error message).
    struct Removal {
        let version: String
        let advice: String
        init(_ version: String, _ advice: String) {
            self.version = version
            self.advice = advice
        }
        init(replacedBy replacement: String) {
            self.init("2.1", "use \(replacement) instead")
        }
    }

    /// Proxy keywords HAProxy removed (most of them the 1.x header rewriting
    /// that HAProxy 2.1 dropped), refused with what replaces them.
    static let removedFromHAProxy: [String: Removal] = [
        "reqadd": .init(replacedBy: "'http-request add-header'"), "reqdel": .init(replacedBy: "'http-request del-header'"),
        "reqidel": .init(replacedBy: "'http-request del-header'"),
        "reqrep": .init(replacedBy: "'http-request replace-header' or 'replace-path'"),
        "reqirep": .init(replacedBy: "'http-request replace-header' or 'replace-path'"),
        "reqdeny": .init(replacedBy: "'http-request deny'"), "reqideny": .init(replacedBy: "'http-request deny'"),
        "reqallow": .init(replacedBy: "'http-request allow'"), "reqiallow": .init(replacedBy: "'http-request allow'"),
        "reqpass": .init(replacedBy: "'http-request allow'"), "reqipass": .init(replacedBy: "'http-request allow'"),
        "reqtarpit": .init(replacedBy: "'http-request tarpit'"), "reqitarpit": .init(replacedBy: "'http-request tarpit'"),
        "rspadd": .init(replacedBy: "'http-response add-header'"), "rspdel": .init(replacedBy: "'http-response del-header'"),
        "rspidel": .init(replacedBy: "'http-response del-header'"),
        "rsprep": .init(replacedBy: "'http-response replace-header'"),
        "rspirep": .init(replacedBy: "'http-response replace-header'"),
        "rspdeny": .init(replacedBy: "'http-response deny'"), "rspideny": .init(replacedBy: "'http-response deny'"),
        "block": .init(replacedBy: "'http-request deny'"),
        "reqsetbe": .init(replacedBy: "'use_backend'"), "reqisetbe": .init(replacedBy: "'use_backend'"),
        "contimeout": .init(replacedBy: "'timeout connect'"), "clitimeout": .init(replacedBy: "'timeout client'"),
        "srvtimeout": .init(replacedBy: "'timeout server'"),
    ]

    /// Proxy keywords accepted with a warning, the reason being the warning's.
    static let ignoredProxyKeywords: [String: String] = [
        "bind-process": "every Weir worker process serves every 'bind' line (HAProxy 2.6 ignores it too)",
    ]

    /// Options HAProxy removed.
    static let removedOptions: [String: Removal] = [
        "forceclose": .init("2.0", "remove it, or use 'option httpclose' if the connection must close"),
        "http-tunnel": .init("2.1", "remove it: requests after the first are processed anyway"),
    ]

    /// Global keywords HAProxy removed.
    static let removedGlobals: [String: Removal] = [
        "nbproc": .init("2.5", "remove it, or set the number of worker processes with 'nbthread'"),
    ]

    static let supportedOptions: [String] = [
        "redispatch", "tcplog", "dontlognull", "httplog", "forwardfor", "originalto", "http-keep-alive",
        "http-server-close", "httpclose", "dontlog-normal", "log-separate-errors", "persist", "httpchk", "tcp-check",
        "log-health-checks", "allbackups", "http-buffer-request", "ssl-hello-chk", "redis-check", "smtpchk",
        "pgsql-check", "mysql-check", "ldap-check", "external-check", "tcpka", "clitcpka", "srvtcpka",
        "nolinger", "http-ignore-probes", "abortonclose", "logasap", "http-pretend-keepalive", "prefer-last-server",
    ]

    /// Options accepted with a warning because what they ask for is what
    /// Weir does anyway, or only tunes how HAProxy moves its bytes; the
    /// reason is the warning's.
    static let ignoredOptions: [String: String] = [
        "splice-auto": "Weir forwards through its own buffers and never splices",
        "splice-request": "Weir forwards through its own buffers and never splices",
        "splice-response": "Weir forwards through its own buffers and never splices",
        "tcp-smart-accept": "the ACKs of the accept sequence are left to the kernel",
        "tcp-smart-connect": "the ACKs of the connect sequence are left to the kernel",
        "http-no-delay": "Weir never holds bytes back to merge them with later ones",
        "http-use-htx": "it chose HAProxy's internal HTTP representation, which has no counterpart in Weir "
            + "(HAProxy 2.1 made that representation the only one and 2.6 refuses the option)",
    ]

    static let unsupportedOptions: Set<String> = [
        "spop-check",
        "socket-stats", "independent-streams",
        "accept-invalid-http-request", "accept-invalid-http-response", "checkcache",
        "h1-case-adjust-bogus-client", "h1-case-adjust-bogus-server", "http-use-proxy-header", "transparent",
        "disable-h2-upgrade", "contstats", "idle-close-on-response",
        "http-drop-request-trailers", "http-drop-response-trailers", "accept-unsafe-violations-in-http-request",
        "accept-unsafe-violations-in-http-response", "httpslog", "log-error-via-logformat",
    ]

    static let bindOptionsUnsupported: Set<String> = [
        "npn",
        "ecdhe", "accept-netscaler-cip", "transparent",
        "namespace", "level", "severity-output",
        "process", "thread", "shards", "nice", "id", "expose-fd", "proto",
        "tcp-ut", "allow-0rtt", "quic-cc-algo", "quic-socket", "generate-certificates", "ca-sign-file",
        "no-ca-names", "label",
        "idle-ping", "guid-prefix",
    ]

    static let serverOptions: [String] = [
        "weight", "maxconn", "backup", "disabled", "enabled", "id", "cookie", "check", "no-check", "inter", "fastinter",
        "downinter", "rise", "fall", "port", "addr", "init-addr", "observe", "error-limit", "on-error",
        "on-marked-down", "on-marked-up", "slowstart", "send-proxy", "send-proxy-v2", "no-send-proxy",
        "no-send-proxy-v2", "check-send-proxy", "source", "resolvers", "resolve-prefer", "resolve-opts", "resolve-net",
        "agent-check", "no-agent-check", "agent-port", "agent-addr", "agent-inter", "agent-send",
        "track", "maxqueue", "minconn",
    ]

    static let serverOptionsUnsupported: Set<String> = [
        "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "no-send-proxy-v2-ssl", "no-send-proxy-v2-ssl-cn",
        "redir", "namespace", "proto",
        "check-alpn", "check-proto", "check-via-socks4", "pool-max-conn",
        "pool-purge-delay", "pool-low-conn", "pool-conn-name", "tfo", "allow-0rtt", "ws",
        "shard", "tcp-ut", "usesrc", "non-stick", "socks4", "max-reuse", "npn", "curves", "sigalgs",
        "stick", "log-proto", "guid", "hash-key", "set-proxy-v2-tlv-fmt", "proxy-v2-options", "crl-file",
        "health-check-addr", "strict-maxconn",
    ]

    static let balanceUnsupported: Set<String> = [
        "rdp-cookie", "url32", "url32+src", "log-hash", "sticky",
    ]

    /// The closest candidate within a small edit distance, if any.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let w = Array(word.lowercased().unicodeScalars)
        if w.isEmpty { return nil }
        let limit = w.count <= 3 ? 1 : (w.count <= 6 ? 2 : 3)
        var best: (String, Int)?
        for c in candidates where c != word {
            let d = distance(w, Array(c.lowercased().unicodeScalars))
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// Damerau-Levenshtein distance (optimal string alignment).
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev2 = [Int](repeating: 0, count: b.count + 1)
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    cur[j] = min(cur[j], prev2[j - 2] + 1)
                }
            }
            prev2 = prev
            prev = cur
        }
        return prev[b.count]
    }

    static func didYouMean(_ word: String, among candidates: [String]) -> String {
        if let s = suggestion(for: word, among: candidates) { return "; did you mean '\(s)'?" }
        return ""
    }
}
