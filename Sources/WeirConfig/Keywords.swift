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
        "peers", "resolvers", "mailers", "program", "ring", "cache", "fcgi-app",
        "log-forward", "crt-store", "traces", "acme", "namespace_list",
    ]

    static let global: [String] = [
        "maxconn", "nbthread", "log", "pidfile", "stats", "daemon", "user", "group", "chroot", "tune.bufsize",
        "description", "hard-stop-after", "mworker-max-reloads", "master-worker", "ulimit-n", "tune.http.maxhdr",
        "tune.maxrewrite", "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-options",
        "ssl-default-bind-curves", "ssl-default-bind-sigalgs", "crt-base", "ca-base", "ssl-dh-param-file",
        "tune.ssl.cachesize", "tune.ssl.lifetime", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
        "ssl-default-server-options", "ssl-server-verify",
    ]

    /// Global keywords accepted with a warning because they change nothing in
    /// Weir (DH parameters follow the certificate's key, or ssl-dh-param-file).
    static let globalIgnored: Set<String> = [
        "tune.ssl.default-dh-param",
    ]

    static let globalUnsupported: Set<String> = [
        "nbproc", "cpu-map", "maxconnrate", "maxsessrate", "maxsslconn", "maxsslrate",
        "maxpipes", "maxzlibmem", "maxcomprate", "maxcompcpuusage", "lua-load", "lua-load-per-thread",
        "lua-prepend-path", "setenv", "presetenv", "resetenv", "unsetenv", "node", "uid", "gid", "localpeer",
        "log-send-hostname", "log-tag", "spread-checks",
        "quiet", "zero-warning", "busy-polling", "set-dumpable", "strict-limits",
        "external-check", "insecure-fork-wanted", "expose-experimental-directives", "default-path",
        "h1-case-adjust", "h1-case-adjust-file", "ssl-engine", "ssl-mode-async",
        "ssl-load-extra-files", "ssl-load-extra-del-ext", "ssl-propquery", "ssl-provider", "numa-cpu-mapping",
        "thread-groups", "thread-group", "profiling.tasks", "profiling.memory", "noepoll", "nopoll", "nosplice",
        "nogetaddrinfo", "noreuseport", "pp2-never-send-local", "stats-file", "fd-hard-limit", "grace",
        "unix-bind", "setcap", "cluster-secret", "debug", "dns-accept-family", "harden.reject-privileged-ports.tcp",
        "httpclient.resolvers.id", "httpclient.resolvers.prefer", "httpclient.ssl.verify", "httpclient.ssl.ca-file",
        "issuers-chain-path", "limited-quic", "ocsp-update.mode",
        "tune.maxaccept", "tune.rcvbuf.client", "tune.sndbuf.client",
        "tune.rcvbuf.server", "tune.sndbuf.server", "tune.idletimer", "tune.pipesize", "tune.h2.max-concurrent-streams",
        "tune.lua.maxmem", "tune.comp.maxlevel", "tune.http.logurilen", "tune.maxpollevents", "tune.runqueue-depth",
    ]

    /// Proxy keywords Weir parses, with the sections that allow them.
    static let proxy: [(keyword: String, defaults: Bool, frontend: Bool, listen: Bool, backend: Bool)] = [
        ("mode", true, true, true, true),
        ("bind", false, true, true, false),
        ("default_backend", true, true, true, false),
        ("use_backend", false, true, true, false),
        ("server", false, false, true, true),
        ("default-server", true, false, true, true),
        ("balance", true, false, true, true),
        ("timeout", true, true, true, true),
        ("maxconn", true, true, true, false),
        ("retries", true, false, true, true),
        ("load-server-state-from-file", true, false, true, true),
        ("server-state-file-name", false, false, true, true),
        ("retry-on", true, false, true, true),
        ("option", true, true, true, true),
        ("no", true, true, true, true),
        ("log", true, true, true, true),
        ("http-request", false, true, true, true),
        ("description", true, true, true, true),
        ("acl", false, true, true, true),
        ("http-response", false, true, true, true),
        ("redirect", false, true, true, true),
        ("tcp-request", true, true, true, true),
        ("http-reuse", true, false, true, true),
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
        ("tcp-check", true, false, true, true),
        ("stats", true, true, true, true),
        ("stick-table", false, true, true, true),
        ("stick", false, false, true, true),
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
        "http-after-response", "tcp-response", "compression", "monitor-uri",
        "monitor", "hash-balance-factor", "hash-key", "fullconn", "backlog", "rate-limit", "log-format-sd",
        "error-log-format", "log-tag", "log-steps", "external-check", "email-alert",
        "persist", "server-template", "use-server",
        "dynamic-cookie-key", "filter", "http-send-name-header", "source", "id", "disabled", "enabled",
        "bind-process", "declare", "guid", "max-keep-alive-queue", "max-session-srv-conns",
        "use-fcgi-app", "clitcpka-cnt", "clitcpka-idle", "clitcpka-intvl", "srvtcpka-cnt", "srvtcpka-idle",
        "srvtcpka-intvl", "grace", "http-restrict-req-hdr-names", "reqadd", "reqdel", "reqrep", "rspadd", "rspdel",
        "rsprep", "block", "log-bufsize", "balance-random", "option-forwardfor",
    ]

    static let supportedOptions: [String] = [
        "redispatch", "tcplog", "dontlognull", "httplog", "forwardfor", "originalto", "http-keep-alive",
        "http-server-close", "httpclose", "dontlog-normal", "log-separate-errors", "persist", "httpchk", "tcp-check",
        "log-health-checks", "allbackups",
    ]

    static let unsupportedOptions: Set<String> = [
        "tcpka", "clitcpka", "srvtcpka", "abortonclose", "splice-auto",
        "splice-request", "splice-response", "ssl-hello-chk", "mysql-check", "pgsql-check",
        "redis-check", "smtpchk", "ldap-check", "spop-check", "logasap", "prefer-last-server", "socket-stats",
        "independent-streams", "nolinger", "http-buffer-request", "http-pretend-keepalive",
        "accept-invalid-http-request", "accept-invalid-http-response", "checkcache", "h1-case-adjust-bogus-client",
        "h1-case-adjust-bogus-server", "http-use-proxy-header", "http-no-delay", "http-ignore-probes",
        "tcp-smart-accept", "tcp-smart-connect", "transparent", "external-check", "disable-h2-upgrade", "contstats",
        "forceclose", "idle-close-on-response", "http-use-htx", "http-drop-request-trailers",
        "http-drop-response-trailers", "accept-unsafe-violations-in-http-request",
        "accept-unsafe-violations-in-http-response", "httpslog", "log-error-via-logformat",
    ]

    static let bindOptionsUnsupported: Set<String> = [
        "npn",
        "ecdhe", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13", "accept-netscaler-cip", "backlog", "maxconn", "transparent", "v4v6",
        "v6only", "interface", "namespace", "mode", "user", "group", "uid", "gid", "level", "severity-output",
        "process", "thread", "shards", "tfo", "mss", "defer-accept", "nice", "id", "expose-fd", "proto",
        "tcp-ut", "allow-0rtt", "quic-cc-algo", "quic-socket", "generate-certificates", "ca-sign-file",
        "no-ca-names", "label",
        "idle-ping", "guid-prefix",
    ]

    static let serverOptions: [String] = [
        "weight", "maxconn", "backup", "disabled", "enabled", "id", "cookie", "check", "no-check", "inter", "fastinter",
        "downinter", "rise", "fall", "port", "addr", "init-addr", "observe", "error-limit", "on-error",
        "on-marked-down", "on-marked-up", "slowstart", "send-proxy", "send-proxy-v2", "no-send-proxy",
        "no-send-proxy-v2", "check-send-proxy",
    ]

    static let serverOptionsUnsupported: Set<String> = [
        "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "no-send-proxy-v2-ssl", "no-send-proxy-v2-ssl-cn",
        "resolvers", "resolve-prefer",
        "resolve-opts", "resolve-net", "maxqueue", "minconn", "agent-check", "agent-port", "agent-inter",
        "agent-addr", "agent-send", "track", "redir", "source", "namespace", "proto",
        "check-alpn", "check-proto", "check-via-socks4", "pool-max-conn",
        "pool-purge-delay", "pool-low-conn", "pool-conn-name", "tfo", "allow-0rtt", "ws",
        "shard", "tcp-ut", "usesrc", "non-stick", "socks4", "no-tlsv12", "no-tlsv13", "force-sslv3",
        "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "max-reuse", "npn", "curves", "sigalgs",
        "stick", "log-proto", "guid", "hash-key", "set-proxy-v2-tlv-fmt", "proxy-v2-options", "crl-file",
        "no-tls-tickets", "tls-tickets", "health-check-addr", "strict-maxconn",
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
