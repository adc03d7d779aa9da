// The parser's working state: what defaults and proxy sections hold while
// they are read, and how diagnostics are recorded.

/// Settings a `defaults` section carries and every proxy starts from.
struct ProxySettings: Sendable {
    var mode: ProxyMode = .tcp
    var timeouts = Timeouts()
    var maxconn = 0
    /// `rate-limit sessions N`.
    var sessionRateLimit = 0
    /// `fullconn N`; nil: computed from the frontends' `maxconn`.
    var fullconn: Int?
    /// `backlog N` of the frontend's binds.
    var backlog: Int?
    var retries = 3
    /// `load-server-state-from-file`, and the backend's `server-state-file-name`.
    var loadServerState: ServerStateSource = .none
    var serverStateFileName: String?
    var redispatch = false
    var redispatchInterval = -1
    var retryOn: RetryOn = .connFailure
    var retryOnLocation: SourceLocation?
    var balance: BalanceAlgorithm = .roundRobin
    var logs: [LogEntry] = []
    var tcpLog = false
    var httpLog: SourceLocation?
    var dontLogNull = false
    var logASAP = false
    var serverDefaults = ServerDefaults()
    var defaultBackend: NamedReference?
    /// `tcp-request inspect-delay` (ms), inherited from `defaults`.
    var tcpInspectDelay: Int?
    var emailAlert = EmailAlertDraft()

    // HTTP mode.
    var forwardFor: ForwardedHeader?
    var originalTo: ForwardedHeader?
    var connectionMode: HTTPConnectionMode = .keepAlive
    var httpReuse: HTTPReuse = .safe
    var compression: HTTPCompression?
    var compressionLocation: SourceLocation?
    /// Which of `option tcplog`, `option httplog` and `log-format` was written last.
    var logChoice = LogChoice.none
    var uniqueIDFormat: LogFormat?
    var uniqueIDHeader: String?
    var dontLogNormal = false
    var logSeparateErrors = false
    /// `option http-buffer-request`.
    var buffersRequestBody = false
    var errorPages: [Int: ErrorPage] = [:]
    /// `errorfiles NAME [CODE...]` lines, resolved when the file is read.
    var errorFilesImports: [ErrorFilesImport] = []
    var hashType = HashType()
    var cookie: CookiePersistence?
    var cookieLocation: SourceLocation?
    var persist = false

    // Health checks.
    /// `option httpchk` or `option tcp-check`, whichever was written last.
    var checkKind = CheckKindChoice.connect
    var checkKindLocation: SourceLocation?
    /// `option httpchk` arguments, `http-check send` and `http-check expect`.
    var httpCheck = HTTPCheck()
    var httpCheckLocation: SourceLocation?
    var tcpCheckSteps: [TCPCheckStep] = []
    /// `external-check command` and `external-check path`, and where the command was given.
    var externalCheckCommand: String?
    var externalCheckCommandLocation: SourceLocation?
    var externalCheckPath: String?
    /// The `http-check` and `tcp-check` rules are the defaults' ones: a
    /// proxy's first rule of each kind replaces them.
    var httpCheckRulesInherited = false
    var tcpCheckRulesInherited = false
    var tcpCheckLocation: SourceLocation?
    var logHealthChecks = false
    var allBackups = false

    /// `stats enable|uri|auth|…`: the HTML stats page (inherited from `defaults`).
    var statsPage: StatsPage?
    /// `option clitcpka` / `srvtcpka` (both with `tcpka`), and the
    /// `clitcpka-*` / `srvtcpka-*` probe settings.
    /// `option nolinger`: sockets are closed with a reset.
    var noLinger = false
    /// `option http-ignore-probes`.
    var ignoreProbes = false
    /// `option abortonclose`.
    var abortOnClose = false
    /// `option http-pretend-keepalive`, `option prefer-last-server`.
    var pretendKeepAlive = false
    var preferLastServer = false
    /// `source` in the proxy: for its servers without their own.
    var source: SourceAddress?
    /// `disabled` (`enabled` clears it): the proxy is checked but not started.
    var disabled = false
    var clientTCPKeepAlive = false
    var serverTCPKeepAlive = false
    var clientKeepAliveProbes = TCPKeepAlive()
    var serverKeepAliveProbes = TCPKeepAlive()
    /// `http-send-name-header NAME`, and where it was written.
    var serverNameHeader: String?
    var serverNameHeaderLocation: SourceLocation?
    /// `monitor-uri URI`, and where it was written.
    var monitorURI: String?
    var monitorURILocation: SourceLocation?
}

enum CheckKindChoice: Sendable, Equatable {
    case connect, http, tcp
    /// `option ssl-hello-chk`.
    case sslHello
    /// `option redis-check`, `smtpchk`, `pgsql-check`, `mysql-check`,
    /// `ldap-check`: a protocol's exchange as tcp-check steps.
    case protocolCheck(option: String, steps: [TCPCheckStep])
    /// `option external-check`.
    case external
}

/// The log line format a proxy asked for.
enum LogChoice: Sendable {
    case none
    case tcplog
    case httplog(clf: Bool)
    case custom(LogFormat)
}

/// A `use_backend` line before backend names are resolved.
struct BackendRuleDraft: Sendable {
    /// A fixed name; nil when `dynamicName` is set.
    var reference: NamedReference?
    var dynamicName: LogFormat?
    var condition: Condition
    var location: SourceLocation
}

/// What `default-server` sets for the servers that follow.
struct ServerDefaults: Sendable {
    var weight = 1
    var maxconn = 0
    var maxqueue = 0
    var minconn = 0
    var track: ServerTrack?
    var backup = false
    var disabled = false
    var check = ServerCheck()
    var tls = ServerTLS()
    var sendProxyV1 = false
    var sendProxyV2 = false
    var source: SourceAddress?
    /// Only on `server` lines.
    var cookie: String?
    var resolution = ResolutionOptions()
}

/// A `log` line before `log global` is resolved against the global section.
enum LogEntry: Sendable {
    case global(SourceLocation)
    case target(LogTarget)
}

/// A proxy name written somewhere, resolved once every section is read.
struct NamedReference: Sendable {
    var name: String
    var location: SourceLocation
}

/// A `frontend`, `backend` or `listen` section being read.
struct ProxyDraft: Sendable {
    var kind: SectionKind
    var name: String
    /// Where the section's name is written.
    var location: SourceLocation
    var settings: ProxySettings
    var binds: [Bind] = []
    /// Whether a `bind` line was written, even one with errors.
    var hasBindLine = false
    var useBackends: [BackendRuleDraft] = []
    /// ACL lines by name, and names in the order first defined.
    var acls: [String: [ACL]] = [:]
    var aclOrder: [String] = []
    /// Named ACLs used by conditions, checked when the section ends.
    var aclReferences: [NamedReference] = []
    var httpRequestRules: [HTTPRule] = []
    var httpResponseRules: [HTTPRule] = []
    var httpAfterResponseRules: [HTTPRule] = []
    var redirectRules: [HTTPRule] = []
    var tcpRequestConnectionRules: [TCPRule] = []
    var tcpRequestContentRules: [TCPRule] = []
    var requestCaptures: [HeaderCapture] = []
    var responseCaptures: [HeaderCapture] = []
    var cookieCapture: HeaderCapture?
    var cookieCaptureLocation: SourceLocation?
    var persistRules: [PersistRule] = []
    var serverRules: [ServerRule] = []
    var stickTable: StickTableSpec?
    var stickRules: [StickRule] = []
    var servers: [Server] = []
    /// `monitor fail if|unless COND` lines, and where the first is written.
    var monitorFail: [Condition] = []
    var monitorFailLocation: SourceLocation?
    /// The `id` given explicitly, per server (nil: assign one).
    var serverIDs: [Int?] = []
    /// `id N`: the proxy's own id, and where it is written.
    var id: Int?
    var idLocation: SourceLocation?
}

extension ProxyDraft {
    /// Whether some rule may answer requests without a backend.
    var answersLocally: Bool {
        !redirectRules.isEmpty || httpRequestRules.contains {
            switch $0.action {
            case .deny, .tarpit, .auth, .redirect, .returnResponse, .useService, .reject, .silentDrop: return true
            default: return false
            }
        } || settings.statsPage != nil || settings.monitorURI != nil
    }

    /// Every condition of the section's rules, for resolving ACL names.
    mutating func forEachCondition(_ body: (inout Condition) -> Void) {
        for i in useBackends.indices { body(&useBackends[i].condition) }
        for i in httpRequestRules.indices { body(&httpRequestRules[i].condition) }
        for i in httpResponseRules.indices { body(&httpResponseRules[i].condition) }
        for i in httpAfterResponseRules.indices { body(&httpAfterResponseRules[i].condition) }
        for i in redirectRules.indices { body(&redirectRules[i].condition) }
        for i in tcpRequestConnectionRules.indices { body(&tcpRequestConnectionRules[i].condition) }
        for i in tcpRequestContentRules.indices { body(&tcpRequestContentRules[i].condition) }
        for i in persistRules.indices { body(&persistRules[i].condition) }
        for i in serverRules.indices { body(&serverRules[i].condition) }
        if settings.statsPage?.admin != nil { body(&settings.statsPage!.admin!) }
        for i in stickRules.indices { body(&stickRules[i].condition) }
        for i in monitorFail.indices { body(&monitorFail[i]) }
    }
}

/// The section the current line belongs to.
enum CurrentSection {
    case none
    case global
    case defaults(name: String?, location: SourceLocation)
    case proxy(index: Int)
    /// A section Weir does not support: its lines are skipped.
    case unsupported
    /// A `userlist` section: an index into `userlists`.
    case userlist(index: Int)
    /// An `http-errors` section: an index into `httpErrorSections`.
    case httpErrors(index: Int)
    /// A `resolvers` section: an index into `resolversSections`.
    case resolvers(index: Int)
    /// A `peers` section: an index into `peersSections`.
    case peers(index: Int)
    /// A `mailers` section: an index into `mailersSections`.
    case mailers(index: Int)
}

struct ParserState {
    var environment: [String: String]
    var diagnostics: [Diagnostic] = []
    /// Every file's lines, for showing the line under a diagnostic.
    var sources: [String: [String]] = [:]

    var global = GlobalSettings()
    /// The settings of the last `defaults` section read.
    var lastDefaults = ProxySettings()
    /// The settings of the `defaults` section being read.
    var defaultsDraft = ProxySettings()
    var namedDefaults: [String: (settings: ProxySettings, location: SourceLocation)] = [:]
    var proxies: [ProxyDraft] = []
    var section = CurrentSection.none

    /// Files read by `acl -f`, maps, `errorfile`…, by path.
    var fileCache: [String: [UInt8]] = [:]
    /// Backend names in `nbsrv(NAME)`: `Fetch.nbsrv` holds an index into this
    /// list until `build` replaces it with the backend's index.
    var backendReferences: [NamedReference] = []
    /// Stick tables named by `track-sc*` actions and stick-counter fetches,
    /// resolved the same way (`resolveStickCounters`).
    var stickTableReferences: [NamedReference] = []
    /// User-list names in `http_auth(NAME)`, resolved the same way.
    var userlistReferences: [NamedReference] = []
    /// `userlist` sections read so far, and where each one's users and
    /// groups are written (in the same order).
    var userlists: [Userlist] = []
    var userlistLocations: [(users: [SourceLocation], groups: [SourceLocation])] = []
    /// `http-errors` sections read so far.
    var httpErrorSections: [HTTPErrorsSection] = []
    /// `resolvers` sections read so far.
    var resolversSections: [ResolversSection] = []
    var peersSections: [PeersSection] = []
    var mailersSections: [MailersSection] = []
    /// `stick-table … peers NAME`, checked once every section is read.
    var peersReferences: [(name: String, location: SourceLocation)] = []
    /// Where `tune.maxrewrite` is written, to check it against `tune.bufsize`.
    var maxRewriteLocation: SourceLocation?
    /// Where names met in the expression being parsed are written.
    var currentReferenceLocation: SourceLocation?

    // The line being read.
    var file = ""
    var line = LexedLine(number: 0, text: "", words: [])

    init(environment: [String: String]) {
        self.environment = environment
    }

    // MARK: Diagnostics

    func location(_ word: Word) -> SourceLocation {
        SourceLocation(file: file, line: line.number, column: word.column)
    }

    mutating func report(_ severity: Diagnostic.Severity, _ message: String, at location: SourceLocation?) {
        var text: String?
        if let location, let lines = sources[location.file], location.line >= 1, location.line <= lines.count {
            text = lines[location.line - 1]
        }
        diagnostics.append(Diagnostic(severity: severity, location: location, message: message, sourceLine: text))
    }

    mutating func error(_ message: String, at word: Word) {
        report(.error, message, at: location(word))
    }

    mutating func warning(_ message: String, at word: Word) {
        report(.warning, message, at: location(word))
    }

    /// Reports the first word past `count` as unexpected; true if there was none.
    @discardableResult
    mutating func expectAtMost(_ count: Int, _ words: [Word], after keyword: String) -> Bool {
        guard words.count > count else { return true }
        error("unexpected argument '\(words[count].text)' after '\(keyword)'", at: words[count])
        return false
    }

    /// A non-negative integer argument, or an error saying what was expected.
    mutating func integer(_ words: [Word], _ index: Int, keyword: String, range: ClosedRange<Int>? = nil,
                          anchor: Word? = nil) -> Int? {
        let expected: String
        if let range {
            if range.upperBound == Int.max {
                expected = range.lowerBound == 0 ? "a non-negative number" : "a number of at least \(range.lowerBound)"
            } else {
                expected = "a number between \(range.lowerBound) and \(range.upperBound)"
            }
        } else {
            expected = "a number"
        }
        guard index < words.count else {
            error("\(keyword): expected \(expected)", at: anchor ?? words[index - 1])
            return nil
        }
        guard let n = Units.integer(words[index].text), range?.contains(n) ?? true else {
            error("\(keyword): expected \(expected), got '\(words[index].text)'", at: words[index])
            return nil
        }
        return n
    }

    /// A duration argument in milliseconds (0 written as 0).
    mutating func duration(_ words: [Word], _ index: Int, keyword: String) -> Int? {
        guard index < words.count else {
            error("\(keyword): expected a duration like 5s", at: words[index - 1])
            return nil
        }
        switch Units.duration(words[index].text) {
        case .success(let ms): return ms
        case .failure(.invalid):
            error("\(keyword): expected a duration like 5s, got '\(words[index].text)'", at: words[index])
        case .failure(.tooLarge):
            error("\(keyword): duration '\(words[index].text)' is too large (the maximum is 2147483647ms, about 24.8 days)",
                  at: words[index])
        }
        return nil
    }

    // MARK: Where settings live

    var sectionKind: SectionKind? {
        switch section {
        case .global: return .global
        case .defaults: return .defaults
        case .proxy(let i): return proxies[i].kind
        case .none, .unsupported, .userlist, .httpErrors, .resolvers, .peers, .mailers: return nil
        }
    }

    var sectionLabel: String {
        switch section {
        case .global: return "global"
        case .defaults(let name, _): return name ?? ""
        case .proxy(let i): return proxies[i].name
        case .userlist(let i): return userlists[i].name
        case .httpErrors(let i): return httpErrorSections[i].name
        case .resolvers(let i): return resolversSections[i].name
        case .peers(let i): return peersSections[i].name
        case .mailers(let i): return mailersSections[i].name
        case .none, .unsupported: return ""
        }
    }

    /// The settings of the defaults or proxy section being read.
    var settings: ProxySettings {
        get {
            if case .proxy(let i) = section { return proxies[i].settings }
            return defaultsDraft
        }
        set {
            if case .proxy(let i) = section { proxies[i].settings = newValue } else { defaultsDraft = newValue }
        }
    }
}
