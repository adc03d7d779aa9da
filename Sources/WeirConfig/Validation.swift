// After every file is read: resolve names to indices and `log global` to
// the global targets, then check what only the whole configuration shows.

extension ParserState {
    /// `unix-bind`: its prefix goes before every UNIX socket path (not the
    /// abstract namespace's), and its access settings fill in what the
    /// socket's own line does not give.
    private mutating func applyUnixBind() {
        let prefix = global.unixBindPrefix ?? ""
        func prefixed(_ address: ListenAddress) -> ListenAddress {
            guard case .unix(let path) = address, !path.hasPrefix("\0") else { return address }
            return .unix(path: prefix + path)
        }
        for p in proxies.indices {
            for b in proxies[p].binds.indices {
                proxies[p].binds[b].address = prefixed(proxies[p].binds[b].address)
                proxies[p].binds[b].options.unixAccess = proxies[p].binds[b].options.unixAccess.filled(from: global.unixBindAccess)
            }
        }
        for s in global.statsSockets.indices {
            global.statsSockets[s].address = prefixed(global.statsSockets[s].address)
            global.statsSockets[s].access = global.statsSockets[s].access.filled(from: global.unixBindAccess)
        }
    }

    mutating func build() -> Configuration {
        var config = Configuration()
        if global.maxRewrite > global.bufferSize / 2 {
            report(.warning, "tune.maxrewrite \(global.maxRewrite) is more than half of tune.bufsize \(global.bufferSize): "
                   + "reduced to \(global.bufferSize / 2)", at: maxRewriteLocation)
            global.maxRewrite = global.bufferSize / 2
        }
        applyUnixBind()
        config.global = global
        resolveErrorFilesBodies()
        checkProxyIDs()

        // Backends, including the backend half of each listen section.
        var backendIndex: [String: Int] = [:]
        var backendDraft: [Int] = []
        var frontendSeen: [String: SourceLocation] = [:]
        var fullconnGiven: Set<Int> = []
        for (i, draft) in proxies.enumerated() where !draft.name.isEmpty {
            if draft.kind.hasBackend {
                if let existing = backendIndex[draft.name] {
                    let first = proxies[backendDraft[existing]]
                    report(.error, "\(draft.kind.rawValue) '\(draft.name)' has the same name as \(first.kind.rawValue) "
                           + "'\(first.name)' declared at \(first.location)", at: draft.location)
                    continue
                }
                backendIndex[draft.name] = config.backends.count
                backendDraft.append(i)
                var backend = Backend(name: draft.name, location: draft.location)
                backend.mode = draft.settings.mode
                backend.balance = draft.settings.balance
                backend.servers = draft.servers
                // A server without its own `source` takes its backend's.
                for s in backend.servers.indices {
                    if backend.servers[s].source == nil { backend.servers[s].source = draft.settings.source }
                    guard let source = backend.servers[s].source, case .ip(let ip, _) = backend.servers[s].address,
                          ip.isV6 != source.ip.isV6 else { continue }
                    if source.ip.bytes.allSatisfy({ $0 == 0 }) {
                        // `source *` or `:PORT`: any address of the server's family.
                        backend.servers[s].source?.ip = ip.isV6 ? .anyV6 : .anyV4
                    } else {
                        report(.error, "server '\(draft.name)/\(backend.servers[s].name)': source \(source.ip) is "
                               + "\(source.ip.isV6 ? "IPv6" : "IPv4") but the server's address is \(ip.isV6 ? "IPv6" : "IPv4")",
                               at: backend.servers[s].location)
                    }
                }
                backend.timeouts = draft.settings.timeouts
                backend.retries = draft.settings.retries
                backend.emailAlert = emailAlert(draft.settings.emailAlert, proxy: draft.name)
                if let fullconn = draft.settings.fullconn {
                    backend.fullconn = fullconn
                    fullconnGiven.insert(config.backends.count)
                }
                normalizeConnectionLimits(&backend.servers)
                backend.serverStateFile = serverStateFile(of: draft, global: config.global)
                backend.redispatch = draft.settings.redispatch
                backend.redispatchInterval = draft.settings.redispatchInterval
                backend.retryOn = draft.settings.retryOn
                if backend.mode == .tcp && backend.retryOn.needsReplay, let location = draft.settings.retryOnLocation {
                    report(.warning, "retry-on: only 'conn-failure' applies in mode tcp; the other failures are "
                           + "retried in mode http only", at: location)
                }
                backend.healthCheck = checkKind(of: draft)
                checkMappedPorts(of: draft, healthCheck: backend.healthCheck)
                backend.logHealthChecks = draft.settings.logHealthChecks
                backend.allBackups = draft.settings.allBackups
                backend.httpRequestRules = draft.httpRequestRules
                backend.httpResponseRules = draft.httpResponseRules
                backend.httpAfterResponseRules = draft.httpAfterResponseRules
                backend.redirectRules = draft.redirectRules
                backend.tcpRequestContentRules = draft.tcpRequestContentRules
                backend.tcpInspectDelay = draft.settings.tcpInspectDelay
                backend.forwardFor = draft.settings.forwardFor
                backend.originalTo = draft.settings.originalTo
                backend.connectionMode = draft.settings.connectionMode
                backend.httpReuse = draft.settings.httpReuse
                backend.compression = draft.settings.compression
                warnCompressionInTCPMode(draft)
                backend.errorPages = resolvedErrorPages(draft.settings)
                backend.hashType = draft.settings.hashType
                backend.cookie = draft.settings.cookie
                backend.persist = draft.settings.persist
                backend.persistRules = draft.persistRules
                backend.buffersRequestBody = draft.settings.buffersRequestBody && draft.settings.mode == .http
                backend.serverRules = resolvedServerRules(draft)
                backend.statsPage = draft.settings.statsPage
                backend.stickTable = draft.stickTable
                backend.stickRules = draft.stickRules
                backend.serverNameHeader = draft.settings.serverNameHeader
                backend.noLinger = draft.settings.noLinger
                backend.abortOnClose = draft.settings.abortOnClose
                backend.pretendKeepAlive = draft.settings.pretendKeepAlive && draft.settings.mode == .http
                backend.preferLastServer = draft.settings.preferLastServer && draft.settings.mode == .http
                    && !backend.balance.isDeterministic
                backend.id = draft.id
                if draft.settings.disabled {
                    backend.disabled = true
                    for s in backend.servers.indices { backend.servers[s].disabled = true }
                }
                if draft.settings.serverTCPKeepAlive { backend.serverTCPKeepAlive = draft.settings.serverKeepAliveProbes }
                resolveServerTLS(&backend)
                config.backends.append(backend)

                var seen: [String: SourceLocation] = [:]
                for server in draft.servers {
                    if let first = seen[server.name] {
                        report(.error, "server '\(server.name)' is already defined in \(draft.kind.rawValue) "
                               + "'\(draft.name)' at \(first)", at: server.location)
                    } else {
                        seen[server.name] = server.location
                    }
                }
                let t = draft.settings.timeouts
                var missing: [String] = []
                if draft.kind == .listen, t.client == nil { missing.append("'client'") }
                if t.connect == nil { missing.append("'connect'") }
                if t.server == nil { missing.append("'server'") }
                if !missing.isEmpty {
                    report(.warning, missingTimeoutsMessage(draft, missing), at: draft.location)
                }
            }
        }

        for draft in proxies where draft.kind.hasFrontend && !draft.name.isEmpty {
            if let first = frontendSeen[draft.name] {
                report(.error, "\(draft.kind.rawValue) '\(draft.name)' has the same name as a frontend declared at \(first)",
                       at: draft.location)
                continue
            }
            frontendSeen[draft.name] = draft.location
            var frontend = Frontend(name: draft.name, location: draft.location)
            frontend.mode = draft.settings.mode
            frontend.binds = draft.binds
            frontend.maxconn = draft.settings.maxconn
            frontend.sessionRateLimit = draft.settings.sessionRateLimit
            frontend.backlog = draft.settings.backlog
            frontend.timeouts = draft.settings.timeouts
            frontend.tcpLog = draft.settings.tcpLog
            frontend.httpLog = draft.settings.httpLog != nil && draft.settings.mode == .http
            frontend.dontLogNull = draft.settings.dontLogNull
            frontend.logASAP = draft.settings.logASAP
            frontend.logs = resolveLogs(draft.settings.logs)
            if draft.kind == .listen { frontend.ownBackend = backendIndex[draft.name] }
            frontend.httpRequestRules = draft.httpRequestRules
            frontend.httpResponseRules = draft.httpResponseRules
            frontend.httpAfterResponseRules = draft.httpAfterResponseRules
            frontend.redirectRules = draft.redirectRules
            frontend.forwardFor = draft.settings.forwardFor
            frontend.originalTo = draft.settings.originalTo
            frontend.connectionMode = draft.settings.connectionMode
            frontend.compression = draft.settings.compression
            if draft.kind == .frontend { warnCompressionInTCPMode(draft) }
            frontend.requestCaptures = draft.requestCaptures
            frontend.responseCaptures = draft.responseCaptures
            frontend.cookieCapture = draft.cookieCapture
            switch draft.settings.logChoice {
            case .none: frontend.logFormat = nil
            case .tcplog: frontend.logFormat = .tcplog
            case .httplog(let clf):
                frontend.logFormat = draft.settings.mode == .http ? (clf ? .httplogCLF : .httplog) : .tcplog
            case .custom(let format): frontend.logFormat = format
            }
            frontend.uniqueIDFormat = draft.settings.uniqueIDFormat
            frontend.uniqueIDHeader = draft.settings.uniqueIDHeader
            frontend.dontLogNormal = draft.settings.dontLogNormal
            frontend.logSeparateErrors = draft.settings.logSeparateErrors
            frontend.errorPages = resolvedErrorPages(draft.settings)
            frontend.tcpRequestConnectionRules = draft.tcpRequestConnectionRules
            frontend.tcpRequestContentRules = draft.tcpRequestContentRules
            frontend.tcpInspectDelay = draft.settings.tcpInspectDelay
            frontend.statsPage = draft.settings.statsPage
            frontend.monitorURI = draft.settings.monitorURI
            frontend.monitorFail = draft.monitorFail
            frontend.noLinger = draft.settings.noLinger
            frontend.ignoreProbes = draft.settings.ignoreProbes && draft.settings.mode == .http
            frontend.id = draft.id
            frontend.disabled = draft.settings.disabled
            if draft.settings.clientTCPKeepAlive { frontend.clientTCPKeepAlive = draft.settings.clientKeepAliveProbes }
            if draft.kind == .frontend { frontend.stickTable = draft.stickTable }
            let label = "\(draft.kind.rawValue) '\(draft.name)'"

            if !draft.hasBindLine {
                report(.error, "\(label) has no 'bind' line: declare it as a backend if it should not listen",
                       at: draft.location)
            }
            if let reference = draft.settings.defaultBackend {
                frontend.defaultBackend = resolve(reference, keyword: "default_backend", from: draft, in: config, backendIndex)
            } else if draft.kind == .listen {
                frontend.defaultBackend = backendIndex[draft.name]
            }
            for rule in draft.useBackends {
                if let reference = rule.reference {
                    if let b = resolve(reference, keyword: "use_backend", from: draft, in: config, backendIndex) {
                        frontend.useBackends.append(BackendRule(backend: b, condition: rule.condition,
                                                                location: rule.location))
                    }
                } else {
                    frontend.useBackends.append(BackendRule(backend: -1, condition: rule.condition,
                                                            dynamicName: rule.dynamicName, location: rule.location))
                }
            }
            // The body is read before the frontend's rules, so a backend's
            // option applies to every frontend that may choose it.
            let reachable = frontend.useBackends.contains { $0.backend < 0 }
                ? Array(config.backends.indices)
                : frontend.useBackends.map(\.backend) + [frontend.defaultBackend].compactMap { $0 }
            frontend.buffersRequestBody = (draft.settings.mode == .http && draft.settings.buffersRequestBody)
                || reachable.contains { config.backends[$0].buffersRequestBody }
            frontend.upgradesToHTTP = draft.settings.mode == .tcp && reachable.contains { config.backends[$0].mode == .http }
            if draft.settings.timeouts.client == nil, draft.kind == .frontend {
                report(.warning, missingTimeoutsMessage(draft, ["'client'"]), at: draft.location)
            }
            if draft.settings.defaultBackend == nil, draft.useBackends.isEmpty,
               draft.kind == .frontend, !draft.answersLocally {
                report(.warning, "\(label) has no default_backend, use_backend or 'http-request return': "
                       + "it will reject every connection", at: draft.location)
            }
            config.frontends.append(frontend)
        }

        // Names only known now: backends in nbsrv(), user lists in http_auth().
        let nbsrvIndex = backendReferences.map { reference -> Int in
            if let b = backendIndex[reference.name] { return b }
            report(.error, "nbsrv: no backend named '\(reference.name)'"
                   + Keywords.didYouMean(reference.name, among: backendIndex.keys.sorted()), at: reference.location)
            return -1
        }
        let userlistIndex = resolveUserlists(into: &config)
        resolveServerResolvers(&config)
        checkPeersReferences()
        if !nbsrvIndex.isEmpty || !userlistIndex.isEmpty {
            let rewrite: (inout Fetch) -> Void = { fetch in
                switch fetch {
                case .nbsrv(let k): fetch = .nbsrv(backend: nbsrvIndex[k])
                case .httpAuth(let k): fetch = .httpAuth(userlist: userlistIndex[k])
                case .httpAuthGroup(let k): fetch = .httpAuthGroup(userlist: userlistIndex[k])
                default: break
                }
            }
            for i in config.frontends.indices { config.frontends[i].rewriteFetches(rewrite) }
            for i in config.backends.indices { config.backends[i].rewriteFetches(rewrite) }
        }
        resolveStickTables(&config, backendIndex: backendIndex)
        resolveStickCounters(&config)
        resolveServerTracks(&config, backendIndex: backendIndex)
        defaultFullconn(&config, given: fullconnGiven)
        return config
    }

    /// `use-server NAME`: each name resolved to one of the section's servers.
    private mutating func resolvedServerRules(_ draft: ProxyDraft) -> [ServerRule] {
        var rules = draft.serverRules
        let names = draft.servers.map(\.name)
        for i in rules.indices {
            if let server = names.firstIndex(of: rules[i].serverName) {
                rules[i].server = server
            } else {
                report(.error, "use-server: no server '\(rules[i].serverName)' in \(draft.kind.rawValue) "
                       + "'\(draft.name)'" + Keywords.didYouMean(rules[i].serverName, among: names), at: rules[i].location)
            }
        }
        return rules
    }

    /// `stick … table NAME`: the backend holding the table; a rule without
    /// one uses its own backend's.
    private mutating func resolveStickTables(_ config: inout Configuration, backendIndex: [String: Int]) {
        let withTables = config.backends.filter { $0.stickTable != nil }.map(\.name)
        for b in config.backends.indices {
            for r in config.backends[b].stickRules.indices {
                let rule = config.backends[b].stickRules[r]
                let context = "stick \(rule.kind.rawValue)"
                if let name = rule.tableName {
                    guard let target = backendIndex[name] else {
                        report(.error, "\(context): no backend named '\(name)'"
                               + Keywords.didYouMean(name, among: backendIndex.keys.sorted()), at: rule.location)
                        continue
                    }
                    guard config.backends[target].stickTable != nil else {
                        report(.error, "\(context): backend '\(name)' has no stick-table"
                               + Keywords.didYouMean(name, among: withTables), at: rule.location)
                        continue
                    }
                    config.backends[b].stickRules[r].table = target
                } else {
                    guard config.backends[b].stickTable != nil else {
                        report(.error, "\(context): backend '\(config.backends[b].name)' has no stick-table; "
                               + "declare one or name another backend's with 'table'", at: rule.location)
                        continue
                    }
                    config.backends[b].stickRules[r].table = b
                }
            }
        }
    }

    /// The user lists, and the index of each name `http_auth()` refers to.
    private mutating func resolveUserlists(into config: inout Configuration) -> [Int] {
        config.userlists = userlists
        var index: [String: Int] = [:]
        for (i, list) in userlists.enumerated() where index[list.name] == nil { index[list.name] = i }
        return userlistReferences.map { reference -> Int in
            if let u = index[reference.name] { return u }
            report(.error, "no userlist named '\(reference.name)'"
                   + Keywords.didYouMean(reference.name, among: index.keys.sorted()), at: reference.location)
            return -1
        }
    }

    private func missingTimeoutsMessage(_ draft: ProxyDraft, _ missing: [String]) -> String {
        let kind = draft.kind == .listen ? "proxy" : draft.kind.rawValue
        let list = missing.count == 1 ? missing[0] : missing.dropLast().joined(separator: ", ") + " and " + missing.last!
        return "missing timeouts for \(kind) '\(draft.name)': \(list) \(missing.count == 1 ? "is" : "are") not set; "
            + "this is valid, but connections may then stay open forever: set them to non-zero values"
    }

    /// A backend name to its index, with an error (and a suggestion) when it does not exist
    /// or is in mode tcp for a frontend in mode http. A frontend in mode tcp may
    /// choose a backend in mode http, as in HAProxy: the session is upgraded to HTTP.
    private mutating func resolve(_ reference: NamedReference, keyword: String, from draft: ProxyDraft,
                                  in config: Configuration, _ index: [String: Int]) -> Int? {
        guard let b = index[reference.name] else {
            let names = index.keys.sorted()
            report(.error, "\(keyword): no backend named '\(reference.name)'"
                   + Keywords.didYouMean(reference.name, among: names), at: reference.location)
            return nil
        }
        let backend = config.backends[b]
        if backend.mode == .tcp && draft.settings.mode == .http {
            report(.error, "\(keyword): \(draft.kind.rawValue) '\(draft.name)' is in \(draft.settings.mode.rawValue) mode "
                   + "but backend '\(backend.name)' is in \(backend.mode.rawValue) mode", at: reference.location)
            return nil
        }
        return b
    }

    private func resolveLogs(_ entries: [LogEntry]) -> [LogTarget] {
        var out: [LogTarget] = []
        for entry in entries {
            switch entry {
            case .global: out.append(contentsOf: global.logs)
            case .target(let t): out.append(t)
            }
        }
        return out
    }
}

extension ParserState {
    /// A server whose port follows the client's has none of its own for its
    /// checks: they need `port`, or `tcp-check connect port` rules, as in HAProxy.
    mutating func checkMappedPorts(of draft: ProxyDraft, healthCheck: HealthCheckKind) {
        var connectsWithPorts = false
        if case .tcp(let steps) = healthCheck {
            connectsWithPorts = steps.allSatisfy { if case .connect(nil) = $0 { return false } else { return true } }
        }
        for server in draft.servers where server.check.enabled && server.portOffset != nil && server.check.port == nil
            && !connectsWithPorts {
            report(.error, "server '\(server.name)' in \(draft.kind.rawValue) '\(draft.name)' has neither service port "
                   + "nor check port: its checks need 'port N' (its traffic goes to the port the client connected to)",
                   at: server.location)
        }
    }

    /// `compression` works on HTTP responses: a proxy in mode tcp ignores it.
    mutating func warnCompressionInTCPMode(_ draft: ProxyDraft) {
        guard draft.settings.mode == .tcp, draft.settings.compression != nil,
              let location = draft.settings.compressionLocation else { return }
        report(.warning, "compression: ignored in \(draft.kind.rawValue) '\(draft.name)', which is in mode tcp; "
               + "it compresses HTTP responses", at: location)
    }
}
