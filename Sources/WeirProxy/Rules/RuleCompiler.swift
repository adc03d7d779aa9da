import Glibc
import WeirBalance
import WeirConfig
import WeirShared

/// Everything the rules engine needs, compiled from the configuration once,
/// when the worker starts.
struct CompiledRuleSet {
    let constants: ConstantStore
    let frontends: [ProxyRules]
    let backends: [ProxyRules]
    let userlists: [CompiledUserlist]
    /// Backend names sorted bytewise with their indices, for `use_backend %[…]`.
    let backendsByName: [(name: UnsafeRawBufferPointer, index: Int)]
    let serverNames: [[UnsafeRawBufferPointer]]
    /// The scope of each per-session variable (`sess`, `txn`, `req`, `res`),
    /// by index; `proc` ones are per worker.
    let sessionVariableScopes: [VariableScope]
    let processVariableCount: Int
    /// Bytes of every capture slot, by slot index.
    let captureLengths: [Int]
    /// Whether any user list holds a crypt(3) hash.
    let needsCrypt: Bool
    /// Whether a rule reads `nbsrv`, so the worker counts usable servers.
    var countsServers: Bool
    /// Statuses rules answer with the proxy's error page (deny, tarpit, return).
    let errorStatuses: Set<Int>
    /// Per backend: the expression of `balance hash EXPR`, nil for other algorithms.
    let balanceSamples: [CompiledSample?]
    /// Whether a rule tracks stick counters (`track-sc*`): the worker keeps
    /// per-session trackers only then.
    var tracksStickCounters = false
    /// Each backend's `force-persist`/`ignore-persist` lines (CookiePersistence.swift).
    var persistRules: [[CompiledPersistRule]] = []
    /// Each backend's `use-server` lines (ServerRules.swift).
    var serverRules: [[CompiledServerRule]] = []
    /// Per backend: `option prefer-last-server`.
    var prefersLastServer: [Bool] = []
    /// Each backend's `stick` lines (StickPersistence.swift).
    var stickRules: [[CompiledStickRule]] = []
    /// Per frontend: its log line and unique id (`HTTPLog.swift`).
    var frontendLogging: [FrontendLogging] = []
    /// Each frontend's and backend's statistics page (`stats …`), if any.
    var frontendStatsPages: [CompiledStatsPage?] = []
    var backendStatsPages: [CompiledStatsPage?] = []
    /// Each frontend's `monitor-uri`, if any (Monitor.swift).
    var frontendMonitors: [CompiledMonitor?] = []
    /// Each backend's `http-send-name-header`, if any (HTTPHeads.swift).
    var serverNameHeaders: [CompiledServerNameHeader?] = []
    /// Per backend, per server: the `sni` expression (ServerTLS.swift), nil without.
    var serverSNI: [[CompiledSample?]] = []
    /// Per backend, per server: which distinct `sni` expression of the
    /// backend it has (servers with the same one share a name), -1 without.
    var serverSNIGroups: [[Int]] = []
    /// Per backend, per server: its `sni` reads the request.
    var serverSNIByRequest: [[Bool]] = []
    /// The custom answers of `tarpit` rules, by the index their action holds.
    var tarpitAnswers: [CompiledReturn] = []
    /// Whether a rule has `set-timeout`, so that timeouts look for it.
    var setsTimeouts = false
    /// Whether a sample reads the request body (`req.body*`), so that the
    /// engine is shown the body bytes read with each request head.
    var readsRequestBody = false
    /// Whether a sample reads `fc_pp_unique_id`, so that sessions keep it.
    var readsProxyUniqueID = false
}

/// Compiles the configuration's HTTP model into `CompiledRuleSet`.
struct RuleCompiler {
    private let configuration: Configuration
    let constants = ConstantStore()
    private var sessionVariables: [String: Int] = [:]
    private var sessionVariableScopes: [VariableScope] = []
    private var processVariables: [String: Int] = [:]
    private var captureLengths: [Int] = []
    private var countsServers = false
    private var tracksStickCounters = false
    private var errorStatuses: Set<Int> = []
    private var tarpitAnswers: [CompiledReturn] = []
    private var setsTimeouts = false
    private var readsRequestBody = false
    private var readsProxyUniqueID = false

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    static func compile(_ configuration: Configuration) throws(StartupError) -> CompiledRuleSet {
        var compiler = RuleCompiler(configuration)
        var compiled = try compiler.compileAll()
        compiled.persistRules = try compiler.persistRules(configuration.backends)
        compiled.serverRules = try compiler.serverRules(configuration.backends)
        compiled.prefersLastServer = configuration.backends.map(\.preferLastServer)
        for frontend in configuration.frontends {
            compiled.frontendStatsPages.append(try frontend.statsPage.map { page throws(StartupError) in
                try compiler.statsPage(page, proxy: frontend.name)
            })
        }
        for frontend in configuration.frontends {
            compiled.frontendMonitors.append(try frontend.monitorURI.map { uri throws(StartupError) in
                CompiledMonitor(uri: compiler.constants.intern(uri),
                                failConditions: try frontend.monitorFail.map { c throws(StartupError) in try compiler.condition(c) })
            })
        }
        for backend in configuration.backends {
            compiled.backendStatsPages.append(try backend.statsPage.map { page throws(StartupError) in
                try compiler.statsPage(page, proxy: backend.name)
            })
        }
        compiled.stickRules = try compiler.stickRules(configuration.backends)
        compiled.serverNameHeaders = configuration.backends.map { backend in
            backend.serverNameHeader.map { name in
                let longest = backend.servers.map(\.name).max { $0.utf8.count < $1.utf8.count } ?? ""
                return CompiledServerNameHeader(name: compiler.constants.intern(name),
                                                lowercaseName: compiler.constants.intern(name.lowercased()),
                                                longestServerName: compiler.constants.intern(longest))
            }
        }
        for backend in configuration.backends {
            var samples: [CompiledSample?] = []
            var groups: [Int] = []
            var distinct: [Sample] = []
            for server in backend.servers {
                guard server.tls.enabled, let sni = server.tls.sni else {
                    samples.append(nil)
                    groups.append(-1)
                    continue
                }
                samples.append(try compiler.sample(sni))
                if let known = distinct.firstIndex(of: sni) {
                    groups.append(known)
                } else {
                    groups.append(distinct.count)
                    distinct.append(sni)
                }
            }
            compiled.serverSNI.append(samples)
            compiled.serverSNIGroups.append(groups)
            compiled.serverSNIByRequest.append(backend.servers.map { $0.tls.enabled && $0.tls.sniDependsOnRequest })
        }
        compiled.tarpitAnswers = compiler.tarpitAnswers
        // Conditions compiled after the rules (stats admin, monitor fail) may read nbsrv too.
        compiled.countsServers = compiler.countsServers
        compiled.setsTimeouts = compiler.setsTimeouts
        compiled.readsRequestBody = compiler.readsRequestBody
        compiled.readsProxyUniqueID = compiler.readsProxyUniqueID
        return compiled
    }

    private mutating func compileAll() throws(StartupError) -> CompiledRuleSet {
        var backends: [ProxyRules] = []
        for backend in configuration.backends {
            backends.append(try proxyRules(name: backend.name, mode: backend.mode, timeouts: backend.timeouts,
                                           requestRules: backend.httpRequestRules, responseRules: backend.httpResponseRules,
                                           afterResponseRules: backend.httpAfterResponseRules,
                                           redirectRules: backend.redirectRules, tcpConnectionRules: [],
                                           tcpContentRules: backend.tcpRequestContentRules, useBackends: [],
                                           defaultBackend: -1, ownBackend: -1, errorPages: backend.errorPages,
                                           requestCaptures: [], responseCaptures: []))
        }
        var frontends: [ProxyRules] = []
        for frontend in configuration.frontends {
            frontends.append(try proxyRules(name: frontend.name, mode: frontend.mode, timeouts: frontend.timeouts,
                                            requestRules: frontend.httpRequestRules,
                                            responseRules: frontend.httpResponseRules,
                                            afterResponseRules: frontend.httpAfterResponseRules,
                                            redirectRules: frontend.redirectRules,
                                            tcpConnectionRules: frontend.tcpRequestConnectionRules,
                                            tcpContentRules: frontend.tcpRequestContentRules,
                                            useBackends: frontend.useBackends, defaultBackend: frontend.defaultBackend ?? -1,
                                            ownBackend: frontend.ownBackend ?? -1, errorPages: frontend.errorPages,
                                            requestCaptures: frontend.requestCaptures,
                                            responseCaptures: frontend.responseCaptures))
        }
        var userlists: [CompiledUserlist] = []
        var needsCrypt = false
        for list in configuration.userlists {
            var users: [CompiledUser] = []
            for user in list.users {
                let password: StoredPassword
                switch user.password {
                case .insecure(let text): password = .plain(constants.intern(text))
                case .hashed(let hash):
                    needsCrypt = true
                    let stored = constants.intern(Array(hash.utf8) + [0])
                    password = .hashed(stored.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                users.append(CompiledUser(name: constants.intern(user.name), password: password,
                                          groups: user.groups.map { constants.intern($0) }))
            }
            userlists.append(CompiledUserlist(users: users))
        }
        let byName = configuration.backends.enumerated()
            .map { (name: Array($0.element.name.utf8), index: $0.offset) }
            .sorted { $0.name.lexicographicallyPrecedes($1.name) }
            .map { (name: constants.intern($0.name), index: $0.index) }
        let serverNames = configuration.backends.map { $0.servers.map { constants.intern($0.name) } }
        var balanceSamples: [CompiledSample?] = []
        for backend in configuration.backends {
            if case .hash(let expression) = backend.balance {
                balanceSamples.append(try sample(expression))
            } else {
                balanceSamples.append(nil)
            }
        }
        for (i, frontend) in configuration.frontends.enumerated() {
            frontends[i].cookieCapture = frontend.cookieCapture.map { cookieCapture($0) }
        }
        var logging: [FrontendLogging] = []
        for frontend in configuration.frontends { logging.append(try frontendLogging(frontend)) }
        var compiled = CompiledRuleSet(constants: constants, frontends: frontends, backends: backends, userlists: userlists,
                                       backendsByName: byName, serverNames: serverNames,
                                       sessionVariableScopes: sessionVariableScopes,
                                       processVariableCount: processVariables.count, captureLengths: captureLengths,
                                       needsCrypt: needsCrypt, countsServers: countsServers, errorStatuses: errorStatuses,
                                       balanceSamples: balanceSamples)
        compiled.frontendLogging = logging
        compiled.tracksStickCounters = tracksStickCounters
        return compiled
    }

    // MARK: - Proxies

    private mutating func proxyRules(
        name: String, mode: ProxyMode, timeouts: Timeouts, requestRules: [HTTPRule], responseRules: [HTTPRule],
        afterResponseRules: [HTTPRule], redirectRules: [HTTPRule], tcpConnectionRules: [TCPRule], tcpContentRules: [TCPRule], useBackends: [BackendRule],
        defaultBackend: Int, ownBackend: Int, errorPages: [Int: ErrorPage], requestCaptures: [HeaderCapture],
        responseCaptures: [HeaderCapture]
    ) throws(StartupError) -> ProxyRules {
        let requestHeaderCaptures = requestCaptures.map { headerCapture($0) }
        let responseHeaderCaptures = responseCaptures.map { headerCapture($0) }
        var requestSlots = requestHeaderCaptures.map(\.slot)
        var compiledRequest: [CompiledHTTPRule] = []
        for rule in requestRules {
            compiledRequest.append(try httpRule(rule, proxyName: name, captureSlots: &requestSlots))
        }
        var responseSlots = responseHeaderCaptures.map(\.slot)
        var compiledResponse: [CompiledHTTPRule] = []
        for rule in responseRules {
            compiledResponse.append(try httpRule(rule, proxyName: name, captureSlots: &responseSlots))
        }
        var compiledAfterResponse: [CompiledHTTPRule] = []
        for rule in afterResponseRules {
            compiledAfterResponse.append(try httpRule(rule, proxyName: name, captureSlots: &responseSlots))
        }
        var compiledRedirects: [CompiledHTTPRule] = []
        for rule in redirectRules {
            compiledRedirects.append(try httpRule(rule, proxyName: name, captureSlots: &requestSlots))
        }
        var connection: [CompiledTCPRule] = []
        for rule in tcpConnectionRules {
            connection.append(CompiledTCPRule(verdict: tcpVerdict(rule.action), condition: try condition(rule.condition),
                                              stick: try rule.stickAction.map { a throws(StartupError) in try stickAction(a) },
                                              expectsProxy: rule.action == .expectProxy))
        }
        var content: [CompiledTCPRule] = []
        for rule in tcpContentRules {
            content.append(CompiledTCPRule(verdict: tcpVerdict(rule.action), condition: try condition(rule.condition),
                                           stick: try rule.stickAction.map { a throws(StartupError) in try stickAction(a) }))
        }
        var backendRules: [CompiledBackendRule] = []
        for rule in useBackends {
            backendRules.append(CompiledBackendRule(backend: rule.backend,
                                                    dynamicName: try rule.dynamicName.map { f throws(StartupError) in try logFormat(f) },
                                                    condition: try condition(rule.condition)))
        }
        var pages: [Int: CompiledErrorPage] = [:]
        for (status, page) in errorPages {
            switch page {
            case .raw(let bytes): pages[status] = .raw(constants.intern(bytes))
            case .redirect(let code, let location): pages[status] = .redirect(code: code, location: constants.intern(location))
            case .response(let spec): pages[status] = .response(try returnSpec(spec))
            }
        }
        return ProxyRules(name: constants.intern(name), isHTTP: mode == .http, requestRules: compiledRequest,
                          responseRules: compiledResponse, afterResponseRules: compiledAfterResponse,
                          redirectRules: compiledRedirects,
                          tcpConnectionRules: connection, tcpContentRules: content, backendRules: backendRules,
                          defaultBackend: defaultBackend, ownBackend: ownBackend, errorPages: pages,
                          requestHeaderCaptures: requestHeaderCaptures, responseHeaderCaptures: responseHeaderCaptures,
                          requestCaptures: requestSlots, responseCaptures: responseSlots,
                          tarpitTimeout: timeouts.tarpit ?? timeouts.connect)
    }

    private mutating func headerCapture(_ capture: HeaderCapture) -> CompiledHeaderCapture {
        CompiledHeaderCapture(name: lowercase(capture.name), slot: newCaptureSlot(length: capture.length))
    }

    mutating func newCaptureSlot(length: Int) -> CaptureSlot {
        captureLengths.append(max(0, min(length, 65535)))
        return CaptureSlot(index: captureLengths.count - 1, length: captureLengths[captureLengths.count - 1])
    }

    // MARK: - Rules

    /// A stick-counter or `expect-proxy` rule decides nothing: its verdict is never read.
    private func tcpVerdict(_ action: TCPAction?) -> TCPVerdict {
        switch action {
        case .accept: return .accept
        case .silentDrop: return .silentDrop
        case .reject, .expectProxy, nil: return .reject
        }
    }

    private mutating func httpRule(_ rule: HTTPRule, proxyName: String,
                                   captureSlots: inout [CaptureSlot]) throws(StartupError) -> CompiledHTTPRule {
        let action: CompiledAction
        switch rule.action {
        case .allow: action = .allow
        case .reject: action = .reject
        case .silentDrop: action = .silentDrop
        case .deny(let status, let answer):
            errorStatuses.insert(status)
            if let answer {
                action = .deny(status: status, answer: try returnSpec(answer))
            } else {
                action = .deny(status: status, answer: nil)
            }
        case .tarpit(let status, let answer):
            errorStatuses.insert(status)
            if let answer {
                tarpitAnswers.append(try returnSpec(answer))
                action = .tarpit(status: status, answer: tarpitAnswers.count)
            } else {
                action = .tarpit(status: status, answer: 0)
            }
        case .auth(let realm): action = .auth(realm: constants.intern(realm ?? proxyName))
        case .redirect(let redirect): action = .redirect(try self.redirect(redirect))
        case .returnResponse(let spec): action = .answer(try returnSpec(spec))
        case .useService(let service): action = .service(service)
        case .setHeader(let name, let value):
            action = .setHeader(name: constants.intern(name), lowercaseName: lowercase(name), value: try logFormat(value))
        case .addHeader(let name, let value): action = .addHeader(name: constants.intern(name), value: try logFormat(value))
        case .delHeader(let name, let method):
            let match: HeaderNameMatch
            switch method {
            case .beg: match = .prefix
            case .end: match = .suffix
            case .sub: match = .substring
            case .reg: match = .regex(try regex(name, ignoreCase: true, capturing: false, at: rule.location))
            default: match = .exact
            }
            action = .deleteHeader(name: lowercase(name), match: match)
        case .replaceHeader(let name, let pattern, let replacement):
            action = .replaceHeader(name: lowercase(name), regex: try regex(pattern, ignoreCase: false, capturing: true, at: rule.location),
                                    replacement: try logFormat(replacement), eachValue: false)
        case .replaceValue(let name, let pattern, let replacement):
            action = .replaceHeader(name: lowercase(name), regex: try regex(pattern, ignoreCase: false, capturing: true, at: rule.location),
                                    replacement: try logFormat(replacement), eachValue: true)
        case .replaceTarget(let part, let pattern, let replacement):
            action = .replaceTarget(part: part, regex: try regex(pattern, ignoreCase: false, capturing: true, at: rule.location),
                                    replacement: try logFormat(replacement))
        case .setPath(let f): action = .setPath(try logFormat(f))
        case .setPathQuery(let f): action = .setPathQuery(try logFormat(f))
        case .setQuery(let f): action = .setQuery(try logFormat(f))
        case .setURI(let f): action = .setURI(try logFormat(f))
        case .setMethod(let f): action = .setMethod(try logFormat(f))
        case .setVar(let scope, let name, let sample):
            action = .setVariable(variable(scope, name), try self.sample(sample))
        case .unsetVar(let scope, let name): action = .unsetVariable(variable(scope, name))
        case .setVarFormat(let scope, let name, let format):
            action = .setVariableFormat(variable(scope, name), try logFormat(format))
        case .setLogLevel(let level): action = .setLogLevel(level)
        case .disableL7Retry: action = .disableL7Retry
        case .setTimeout(let tunnel, .milliseconds(let ms)):
            setsTimeouts = true
            action = .setTimeout(tunnel: tunnel, milliseconds: ms, sample: nil)
        case .setTimeout(let tunnel, .expression(let sample)):
            setsTimeouts = true
            action = .setTimeout(tunnel: tunnel, milliseconds: 0, sample: try self.sample(sample))
        case .setStatus(let status, let reason): action = .setStatus(status, reason: reason.map { constants.intern($0) })
        case .capture(let sample, let length):
            let slot = newCaptureSlot(length: length)
            captureSlots.append(slot)
            action = .capture(try self.sample(sample), slot)
        case .stickCounter(let stick): action = .stickCounter(try stickAction(stick))
        }
        return CompiledHTTPRule(condition: try condition(rule.condition), action: action)
    }

    private mutating func stickAction(_ action: StickCounterAction) throws(StartupError) -> CompiledStickAction {
        switch action {
        case .track(let t):
            tracksStickCounters = true
            return .track(counter: t.counter, key: try sample(t.key), table: t.table)
        case .increment(let counter, let type): return .increment(counter: counter, type: type)
        case .setGPT0(let counter, let value): return .setGPT0(counter: counter, value: value)
        }
    }

    private mutating func redirect(_ redirect: Redirect) throws(StartupError) -> CompiledRedirect {
        var cookie: UnsafeRawBufferPointer?
        if let set = redirect.setCookie {
            cookie = constants.intern(set + "; path=/;")
        } else if let clear = redirect.clearCookie {
            cookie = constants.intern(clear + "; path=/; Max-Age=0;")
        }
        return CompiledRedirect(kind: redirect.kind, value: try logFormat(redirect.value), code: redirect.code,
                                dropQuery: redirect.dropQuery, appendSlash: redirect.appendSlash, cookie: cookie,
                                ignoreEmpty: redirect.ignoreEmpty)
    }

    private mutating func returnSpec(_ spec: ReturnSpec) throws(StartupError) -> CompiledReturn {
        let body: CompiledReturnBody
        switch spec.body {
        case .none: body = .none
        case .bytes(let bytes): body = .bytes(constants.intern(bytes))
        case .logFormat(let format): body = .logFormat(try logFormat(format))
        case .rawResponse(let bytes): body = .rawResponse(constants.intern(bytes))
        case .defaultErrorFiles, .errorFiles:
            // `errorfiles` was resolved when the configuration was read.
            errorStatuses.insert(spec.status)
            body = .errorPage
        }
        var headers: [(name: UnsafeRawBufferPointer, value: CompiledLogFormat)] = []
        for header in spec.headers { headers.append((constants.intern(header.name), try logFormat(header.value))) }
        return CompiledReturn(status: spec.status, contentType: spec.contentType.map { constants.intern($0) }, body: body,
                              headers: headers, readsRequest: !spec.isConstant)
    }

    // MARK: - Conditions

    /// `proxy`: the name of the proxy serving the page, which `stats scope .` means.
    mutating func statsPage(_ page: StatsPage, proxy: String) throws(StartupError) -> CompiledStatsPage {
        var resolved = page
        resolved.scope = page.scope.map { $0 == "." ? proxy : $0 }
        // `stats show-node` and `show-desc` without a value show the global ones.
        if resolved.showNode == "" {
            var name = [UInt8](repeating: 0, count: 256)
            resolved.showNode = configuration.global.node
                ?? (gethostname(&name, name.count - 1) == 0 ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : "")
        }
        if resolved.showDescription == "" { resolved.showDescription = configuration.global.description }
        return CompiledStatsPage(page: resolved, uri: constants.intern(page.uri), realm: constants.intern(page.realmOrDefault),
                                 credentials: page.credentials.map { Array($0.utf8) },
                                 admin: try page.admin.map { condition throws(StartupError) in try self.condition(condition) })
    }

    mutating func condition(_ condition: Condition) throws(StartupError) -> CompiledCondition {
        if condition == .always { return .always }
        if condition == .never { return CompiledCondition(alternatives: [], negated: false, constant: false) }
        if condition.alternatives.isEmpty {
            return CompiledCondition(alternatives: [], negated: false, constant: condition.negated)
        }
        var groups: [[CompiledTerm]] = []
        for group in condition.alternatives {
            var terms: [CompiledTerm] = []
            for term in group {
                var acls: [CompiledACL] = []
                for acl in term.acls { acls.append(try self.acl(acl)) }
                terms.append(CompiledTerm(negated: term.negated, acls: acls))
            }
            groups.append(terms)
        }
        return CompiledCondition(alternatives: groups, negated: condition.negated, constant: nil)
    }

    mutating func acl(_ acl: ACL) throws(StartupError) -> CompiledACL {
        let match = acl.match
        var strings: [UnsafeRawBufferPointer] = []
        var regexes: [CompiledRegex] = []
        switch match.method {
        case .reg:
            for pattern in match.strings {
                regexes.append(try regex(pattern, ignoreCase: match.ignoreCase, capturing: false, at: acl.location))
            }
        case .str:
            let patterns = match.strings.map { match.ignoreCase ? Self.lowered(Array($0.utf8)) : Array($0.utf8) }
            strings = patterns.sorted { $0.lexicographicallyPrecedes($1) }.map { constants.intern($0) }
        case .bin:
            // Hexadecimal patterns (checked by the parser) as the bytes they spell, sorted.
            strings = match.binaryPatterns.sorted { $0.lexicographicallyPrecedes($1) }.map { constants.intern($0) }
        default:
            strings = match.strings.map { constants.intern(match.ignoreCase ? Self.lowered(Array($0.utf8)) : Array($0.utf8)) }
        }
        return CompiledACL(sample: try sample(acl.sample), method: match.method, ignoreCase: match.ignoreCase,
                           strings: strings, regexes: regexes, integers: match.integers,
                           networks: match.networks.map(IPNetworkMatcher.init))
    }

    // MARK: - Samples

    mutating func sample(_ sample: Sample) throws(StartupError) -> CompiledSample {
        var converters: [CompiledConverter] = []
        for converter in sample.converters { converters.append(try self.converter(converter)) }
        return CompiledSample(fetch: fetch(sample.fetch), converters: converters)
    }

    private mutating func fetch(_ fetch: Fetch) -> CompiledFetch {
        switch fetch {
        case .src: return .source
        case .srcPort: return .sourcePort
        case .dst: return .destination
        case .dstPort: return .destinationPort
        case .method: return .method
        case .path: return .path
        case .url: return .url
        case .query: return .query
        case .base: return .base
        case .reqVer: return .requestVersion
        case .urlParam(let name): return .urlParameter(constants.intern(name))
        case .requestBody:
            readsRequestBody = true
            return .requestBody
        case .requestBodyLength:
            readsRequestBody = true
            return .requestBodyLength
        case .requestBodySize:
            readsRequestBody = true
            return .requestBodySize
        case .requestBodyParam(let name, let ignoreCase):
            readsRequestBody = true
            return .requestBodyParameter(ignoreCase ? lowercase(name) : constants.intern(name), ignoreCase: ignoreCase)
        case .hdr(let name, let occurrence):
            return .header(HeaderSelector(name: lowercase(name), occurrence: occurrence, splitsValues: true, inResponse: false))
        case .fhdr(let name, let occurrence):
            return .header(HeaderSelector(name: lowercase(name), occurrence: occurrence, splitsValues: false, inResponse: false))
        case .hdrCount(let name):
            return .headerCount(HeaderSelector(name: name.map { lowercase($0) }, occurrence: nil, splitsValues: true, inResponse: false))
        case .fhdrCount(let name):
            return .headerCount(HeaderSelector(name: name.map { lowercase($0) }, occurrence: nil, splitsValues: false, inResponse: false))
        case .cookie(let name): return .cookie(name.map { constants.intern($0) })
        case .cookieCount(let name): return .cookieCount(name.map { constants.intern($0) })
        case .status: return .status
        case .resHdr(let name, let occurrence):
            return .header(HeaderSelector(name: lowercase(name), occurrence: occurrence, splitsValues: true, inResponse: true))
        case .resHdrCount(let name):
            return .headerCount(HeaderSelector(name: name.map { lowercase($0) }, occurrence: nil, splitsValues: true, inResponse: true))
        case .nbsrv(let backend):
            countsServers = true
            return .usableServers(backend: backend)
        case .variable(let scope, let name): return .variable(variable(scope, name))
        case .constant(let text): return .constant(constants.intern(text))
        case .date(let offset, let perSecond): return .date(offset: offset, unitsPerSecond: perSecond)
        case .random(let range): return .random(range: range)
        case .environment(let name):
            if let environment = configuration.global.environment {
                guard let value = environment[name] else { return .absent }
                return .constant(constants.intern(value))
            }
            guard let value = getenv(name) else { return .absent }
            return .constant(constants.intern(String(cString: value)))
        case .hostname:
            var name = [UInt8](repeating: 0, count: 256)
            guard gethostname(&name, name.count - 1) == 0 else { return .absent }
            return .constant(constants.intern(Array(name.prefix { $0 != 0 })))
        case .processID: return .processID
        case .uuid: return .uuid
        case .alwaysTrue: return .boolean(true)
        case .alwaysFalse: return .boolean(false)
        case .uniqueID: return .uniqueID
        case .proxyUniqueID:
            readsProxyUniqueID = true
            return .proxyUniqueID
        case .httpAuth(let userlist): return .httpAuth(userlist: userlist)
        case .httpAuthGroup(let userlist): return .httpAuthGroup(userlist: userlist)
        case .capturedRequestHeader(let index): return .capturedHeader(index: index, inResponse: false)
        case .capturedResponseHeader(let index): return .capturedHeader(index: index, inResponse: true)
        case .frontendName: return .frontendName
        case .backendName: return .backendName
        case .serverName: return .serverName
        case .sslFrontend: return .sslFrontend
        case .sslFrontendSNI: return .sslFrontendSNI
        case .sslFrontendProtocol: return .sslFrontendProtocol
        case .sslFrontendCipher: return .sslFrontendCipher
        case .sslFrontendALPN: return .sslFrontendALPN
        case .sslClientHasCertificate: return .sslClientHasCertificate
        case .sslClientUsed: return .sslClientUsed
        case .sslClientVerify(let field): return .sslClientVerify(field)
        case .sslCertificate(let field, let client): return .sslCertificate(certificateField(field), client: client)
        case .sslBackend: return .sslBackend
        case .sslBackendProtocol: return .sslBackendProtocol
        case .sslBackendCipher: return .sslBackendCipher
        case .sslBackendALPN: return .sslBackendALPN
        case .content(let fetch): return .content(fetch)
        case .stickCounter(let counter): return .stickCounter(counter)
        }
    }

    private func certificateField(_ field: SSLCertificateField) -> CompiledCertificateField {
        func dn(_ selection: DNSelection, issuer: Bool) -> CompiledCertificateField {
            let entry = selection.entry.map { constants.intern(Array($0.utf8) + [0]).baseAddress!.assumingMemoryBound(to: CChar.self) }
            return .distinguishedName(issuer: issuer, entry: entry, occurrence: selection.occurrence, rfc2253: selection.rfc2253)
        }
        switch field {
        case .subjectDN(let selection): return dn(selection, issuer: false)
        case .issuerDN(let selection): return dn(selection, issuer: true)
        case .serial: return .serial
        case .sha1: return .sha1
        case .der: return .der
        case .notBefore: return .notBefore
        case .notAfter: return .notAfter
        case .version: return .version
        case .signatureAlgorithm: return .signatureAlgorithm
        case .keyAlgorithm: return .keyAlgorithm
        }
    }

    private mutating func converter(_ converter: Converter) throws(StartupError) -> CompiledConverter {
        switch converter {
        case .lower: return .lower
        case .upper: return .upper
        case .map(let table): return .map(try map(table))
        case .field(let index, let delimiters):
            return .field(index: index, delimiters: constants.intern(delimiters), mergesRuns: false)
        case .word(let index, let delimiters):
            return .field(index: index, delimiters: constants.intern(delimiters), mergesRuns: true)
        case .regsub(let pattern, let replacement, let global, let ignoreCase):
            let at = SourceLocation(file: "regsub", line: 0, column: 0)
            return .regsub(try regex(pattern, ignoreCase: ignoreCase, capturing: true, at: at),
                           replacement: constants.intern(replacement), global: global)
        case .base64: return .base64
        case .hex: return .hex
        case .ipmask(let v4, let v6): return .ipmask(v4: v4, v6: v6)
        case .urlDecode: return .urlDecode
        case .length: return .length
        case .arithmetic(let op, .integer(let n)): return .arithmetic(op, .integer(n))
        case .arithmetic(let op, .variable(let v)): return .arithmetic(op, .variable(variable(v.scope, v.name)))
        case .integerFunction(let f): return .integerFunction(f)
        case .concat(let prefix, let v, let suffix):
            return .concat(prefix: constants.intern(prefix), variable: v.map { variable($0.scope, $0.name) },
                           suffix: constants.intern(suffix))
        case .trim(let characters, let leading): return .trim(characters: constants.intern(characters), leading: leading)
        case .bytes(let offset, let length): return .bytes(offset: offset, length: length)
        case .urlEncode: return .urlEncode
        case .json(let input): return .json(input)
        case .cutCRLF: return .cutCRLF
        case .hostOnly: return .hostOnly
        case .portOnly: return .portOnly
        case .iif(let yes, let no): return .iif(constants.intern(yes), constants.intern(no))
        case .strcmp(let v): return .strcmp(variable(v.scope, v.name))
        case .hash(let name, let avalanche):
            let function: KeyHash = switch name {
            case .crc32: .crc32
            case .djb2: .djb2
            case .sdbm: .sdbm
            case .wt6: .wt6
            }
            return .hash(function, avalanche: avalanche)
        case .digest(let bits): return .digest(bits: bits)
        case .time(let format, let offset, let utc):
            let stored = constants.intern(Array(format.utf8) + [0])
            return .time(format: stored.baseAddress!.assumingMemoryBound(to: CChar.self), offset: offset, utc: utc)
        case .httpDate(let offset, let perSecond): return .httpDate(offset: offset, unitsPerSecond: perSecond)
        case .hexToInteger: return .hexToInteger
        case .base64Decode: return .base64Decode
        }
    }

    private mutating func map(_ table: MapTable) throws(StartupError) -> CompiledMap {
        var entries = table.entries
        if table.method == .str {
            // Sorted for a binary search; the first of equal keys in the file wins.
            entries = entries.enumerated().sorted {
                let a = Array($0.element.key.utf8), b = Array($1.element.key.utf8)
                return a == b ? $0.offset < $1.offset : a.lexicographicallyPrecedes(b)
            }.map(\.element)
            var unique: [MapEntry] = []
            for entry in entries where unique.last?.key != entry.key { unique.append(entry) }
            entries = unique
        }
        var regexes: [CompiledRegex] = []
        if table.method == .reg {
            for entry in entries {
                regexes.append(try regex(entry.key, ignoreCase: false, capturing: false,
                                         at: SourceLocation(file: table.file, line: 0, column: 0)))
            }
        }
        return CompiledMap(method: table.method, keys: entries.map { constants.intern($0.key) },
                           values: entries.map { constants.intern($0.value) }, regexes: regexes,
                           networks: entries.compactMap { $0.network.map(IPNetworkMatcher.init) },
                           integers: entries.map { Int64($0.key) ?? 0 },
                           defaultValue: table.defaultValue.map { constants.intern($0) })
    }

    mutating func logFormat(_ format: LogFormat) throws(StartupError) -> CompiledLogFormat {
        var nodes: [CompiledLogNode] = []
        for node in format.nodes {
            switch node {
            case .literal(let bytes): nodes.append(.literal(constants.intern(bytes)))
            case .variable(let variable, let options): nodes.append(.variable(variable, options))
            case .sample(let sample, let options): nodes.append(.sample(try self.sample(sample), options))
            }
        }
        return CompiledLogFormat(nodes: nodes)
    }

    // MARK: - Helpers

    mutating func variable(_ scope: VariableScope, _ name: String) -> VariableSlot {
        let key = scope.rawValue + "." + name
        if scope == .proc {
            if let index = processVariables[key] { return VariableSlot(index: index, scope: scope) }
            processVariables[key] = processVariables.count
            return VariableSlot(index: processVariables.count - 1, scope: scope)
        }
        if let index = sessionVariables[key] { return VariableSlot(index: index, scope: scope) }
        sessionVariables[key] = sessionVariables.count
        sessionVariableScopes.append(scope)
        return VariableSlot(index: sessionVariables.count - 1, scope: scope)
    }

    private func regex(_ pattern: String, ignoreCase: Bool, capturing: Bool,
                       at location: SourceLocation) throws(StartupError) -> CompiledRegex {
        guard let compiled = CompiledRegex(pattern, ignoreCase: ignoreCase, capturing: capturing) else {
            throw StartupError("\(location): cannot compile regular expression '\(pattern)'")
        }
        return compiled
    }

    private func lowercase(_ text: String) -> UnsafeRawBufferPointer {
        constants.intern(Self.lowered(Array(text.utf8)))
    }

    static func lowered(_ bytes: [UInt8]) -> [UInt8] { bytes.map(ByteMatching.lower) }
}
