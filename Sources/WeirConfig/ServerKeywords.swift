// `server`, `default-server`, `http-request return`, and the checks made
// when a proxy section ends.

extension ParserState {
    // MARK: server / default-server

    mutating func parseServer(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("server: expected a name and an address like 10.0.0.1:80", at: words[0])
            return
        }
        let name = words[1]
        guard words.count > 2 else {
            error("server '\(name.text)': expected an address like 10.0.0.1:80", at: name)
            return
        }
        let parsed: (address: ServerAddress, portOffset: Int?)
        guard let addressText = expandedAddress(words[2]) else { return }
        switch Addresses.parseServer(Substring(addressText)) {
        case .success(let a): parsed = a
        case .failure(let message):
            error(message.text, at: words[2])
            return
        }
        var options = proxies[index].settings.serverDefaults
        var explicitID: Int?
        guard parseServerOptions(words, from: 3, into: &options, id: &explicitID, keyword: "server"),
              agentHasPort(options.check, words, server: name, keyword: "server") else { return }
        guard serviceNameHasResolvers(parsed.address, options, keyword: "server", at: words[2]) else { return }
        var server = makeServer(name.text, parsed.address, options, at: location(name))
        server.portOffset = parsed.portOffset
        proxies[index].servers.append(server)
        proxies[index].serverIDs.append(explicitID)
    }

    /// `server-template <prefix> <num>|<low>-<high> <fqdn>[:<port>] [options]`:
    /// servers `<prefix><n>` that share the options; with `resolvers`, the
    /// records of the name's answer are spread over them.
    mutating func parseServerTemplate(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 3 else {
            error("server-template: expected a prefix, a number or range, and an address like app.example:80",
                  at: words[min(words.count - 1, 1)])
            return
        }
        let prefix = words[1], count = words[2]
        let numbers: ClosedRange<Int>
        let bounds = count.text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low >= 1, high >= low {
            numbers = low...high
        } else if bounds.count == 1, let n = Int(bounds[0]), n >= 1 {
            numbers = 1...n
        } else {
            error("server-template: expected a number of servers or a range like 1-5, got '\(count.text)'", at: count)
            return
        }
        guard numbers.count <= 4096 else {
            error("server-template: \(numbers.count) servers is too many (4096 at most)", at: count)
            return
        }
        guard let addressText = expandedAddress(words[3]) else { return }
        let parsed: (address: ServerAddress, portOffset: Int?)
        switch Addresses.parseServer(Substring(addressText)) {
        case .success(let a): parsed = a
        case .failure(let message):
            let text = message.text.hasPrefix("server:") ? "server-template:" + message.text.dropFirst(7) : message.text
            error(text, at: words[3])
            return
        }
        var options = proxies[index].settings.serverDefaults
        var ignoredID: Int?
        guard parseServerOptions(words, from: 4, into: &options, id: &ignoredID, keyword: "server-template"),
              agentHasPort(options.check, words, server: prefix, keyword: "server-template") else { return }
        guard serviceNameHasResolvers(parsed.address, options, keyword: "server-template", at: words[3]) else { return }
        let template = proxies[index].servers.count
        for n in numbers {
            var server = makeServer(prefix.text + String(n), parsed.address, options, at: location(prefix))
            server.portOffset = parsed.portOffset
            server.template = template
            proxies[index].servers.append(server)
            proxies[index].serverIDs.append(nil)
        }
    }

    /// An SRV name is only ever resolved by a `resolvers` section (the
    /// system resolver knows no SRV records): false after an error.
    private mutating func serviceNameHasResolvers(_ address: ServerAddress, _ options: ServerDefaults, keyword: String,
                                                  at word: Word) -> Bool {
        guard address.isServiceName, options.resolution.resolvers == nil else { return true }
        error("\(keyword): '\(word.text)' names DNS SRV records, which only a 'resolvers' section resolves; "
              + "add 'resolvers <section>'", at: word)
        return false
    }

    /// `source ADDR[:PORT]` at `words[i]`: the address of `words[i + 1]`;
    /// nil after an error.
    mutating func parseSource(_ words: [Word], at i: Int) -> SourceAddress? {
        guard i + 1 < words.count else {
            error("source: expected an address like 10.0.0.1 or 10.0.0.1:0", at: words[i])
            return nil
        }
        let word = words[i + 1]
        guard let text = expandedAddress(word) else { return nil }
        // A bare IPv6 address has colons but no port.
        guard let split = Addresses.splitHostPort(Substring(text), preferBareIPv6: true) else {
            error("source: expected an IP address, got '\(text)'", at: word)
            return nil
        }
        let ip: IPAddress
        if split.host.isEmpty || split.host == "*" {
            ip = .anyV4
        } else if let parsed = Addresses.parseIP(split.host, family: .any) {
            ip = parsed
        } else {
            error("source: expected an IP address, got '\(split.host)'", at: word)
            return nil
        }
        var port: UInt16 = 0
        if let portText = split.port {
            if portText.contains("-") {
                error("source: port ranges are not supported by Weir yet; give one port, or none", at: word)
                return nil
            }
            guard let p = portText == "0" ? 0 : Addresses.parsePort(portText) else {
                error("source: expected a port between 0 and 65535, got '\(portText)'", at: word)
                return nil
            }
            port = p
        }
        return SourceAddress(ip: ip, port: port)
    }

    private func makeServer(_ name: String, _ address: ServerAddress, _ options: ServerDefaults,
                            at location: SourceLocation) -> Server {
        var server = Server(name: name, address: address, id: 0, location: location)
        server.weight = options.weight
        server.maxconn = options.maxconn
        server.maxqueue = options.maxqueue
        server.minconn = options.minconn
        server.track = options.track
        server.backup = options.backup
        server.disabled = options.disabled
        server.cookie = options.cookie
        server.check = options.check
        server.tls = options.tls
        server.sendProxyV1 = options.sendProxyV1
        server.sendProxyV2 = options.sendProxyV2
        server.source = options.source
        if let resolvers = options.resolution.resolvers {
            var resolution = ServerResolution(resolvers: resolvers,
                                              location: options.resolution.resolversLocation ?? location)
            resolution.prefer = options.resolution.prefer
            resolution.networks = options.resolution.networks
            resolution.ignoreWeight = options.resolution.ignoreWeight
            server.resolution = resolution
        }
        return server
    }

    mutating func parseDefaultServer(_ words: [Word]) {
        var options = settings.serverDefaults
        var id: Int?
        if parseServerOptions(words, from: 1, into: &options, id: &id, keyword: "default-server") {
            settings.serverDefaults = options
        }
    }

    /// Options after a server's address (or after `default-server`).
    private mutating func parseServerOptions(_ words: [Word], from start: Int, into options: inout ServerDefaults,
                                             id: inout Int?, keyword: String) -> Bool {
        var i = start
        var ok = true
        while i < words.count {
            let option = words[i]
            switch option.text {
            case "weight":
                guard let n = integer(words, i + 1, keyword: "weight", range: 0...256, anchor: option) else { return false }
                options.weight = n
                i += 2
            case "maxconn":
                guard let n = integer(words, i + 1, keyword: "maxconn", range: 0...Int.max, anchor: option) else { return false }
                options.maxconn = n
                i += 2
            case "maxqueue":
                guard let n = integer(words, i + 1, keyword: "maxqueue", range: 0...Int(Int32.max), anchor: option) else { return false }
                options.maxqueue = n
                i += 2
            case "minconn":
                guard let n = integer(words, i + 1, keyword: "minconn", range: 0...Int(Int32.max), anchor: option) else { return false }
                options.minconn = n
                i += 2
            case "track":
                guard i + 1 < words.count, !words[i + 1].text.isEmpty else {
                    error("track: expected a server name, or a backend and server like app/web1", at: option)
                    return false
                }
                let target = words[i + 1]
                let parts = target.text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.allSatisfy({ !$0.isEmpty }) else {
                    error("track: expected a server name, or a backend and server like app/web1, got '\(target.text)'",
                          at: target)
                    return false
                }
                options.track = ServerTrack(backendName: parts.count == 2 ? String(parts[0]) : nil,
                                            serverName: String(parts[parts.count - 1]), location: location(target))
                i += 2
            case "id":
                if keyword != "server" {
                    error("'id' is not allowed in '\(keyword)': each server needs its own", at: option)
                    return false
                }
                guard let n = integer(words, i + 1, keyword: "id", range: 1...Int(Int32.max), anchor: option) else { return false }
                id = n
                i += 2
            case "backup":
                options.backup = true
                i += 1
            case "cookie":
                if keyword != "server" {
                    error("'cookie' is not allowed in '\(keyword)': each server needs its own", at: option)
                    return false
                }
                guard i + 1 < words.count else {
                    error("cookie: expected a value", at: option)
                    return false
                }
                options.cookie = words[i + 1].text
                i += 2
            case "disabled":
                options.disabled = true
                i += 1
            case "enabled":
                options.disabled = false
                i += 1
            case "send-proxy":
                options.sendProxyV1 = true
                i += 1
            case "send-proxy-v2":
                options.sendProxyV2 = true
                i += 1
            case "no-send-proxy":
                options.sendProxyV1 = false
                i += 1
            case "no-send-proxy-v2":
                options.sendProxyV2 = false
                i += 1
            case "source":
                guard let source = parseSource(words, at: i) else { return false }
                options.source = source
                i += 2
            default:
                if let parsed = parseResolutionOption(words, &i, into: &options.resolution) {
                    if !parsed { return false }
                    continue
                }
                if let parsed = parseServerTLSOption(words, &i, into: &options.tls, check: &options.check,
                                                     keyword: keyword) {
                    if !parsed { return false }
                    continue
                }
                if let parsed = parseServerCheckOption(words, &i, into: &options.check, keyword: keyword) {
                    if !parsed { return false }
                    continue
                }
                if Keywords.serverOptionsUnsupported.contains(option.text) {
                    error("\(keyword) option '\(option.text)' is not supported by Weir yet", at: option)
                } else {
                    error("unknown \(keyword) option '\(option.text)'"
                          + Keywords.didYouMean(option.text, among: Keywords.serverOptions + Self.serverTLSOptions),
                          at: option)
                }
                // Its arguments cannot be told apart from the next option.
                ok = false
                i = words.count
            }
        }
        return ok
    }

    // MARK: End of a proxy section

    mutating func finishProxy(_ index: Int) {
        resolveConditions(index)
        var draft = proxies[index]
        let label = "\(draft.kind.rawValue) '\(draft.name)'"

        if draft.settings.mode != .http {
            for rule in draft.httpRequestRules {
                if case .returnResponse = rule.action {
                    report(.error, "'http-request return' needs 'mode http' in \(label)", at: rule.location)
                }
            }
            let ignored: [(String, SourceLocation?)] = [
                ("http-request", draft.httpRequestRules.first?.location),
                ("http-response", draft.httpResponseRules.first?.location),
                ("http-after-response", draft.httpAfterResponseRules.first?.location),
                ("redirect", draft.redirectRules.first?.location),
            ]
            for (keyword, at) in ignored {
                guard let at else { continue }
                if keyword == "http-request", draft.httpRequestRules.contains(where: {
                    if case .returnResponse = $0.action { return true }
                    return false
                }) { continue }
                report(.warning, "'\(keyword)' rules are ignored in \(label): they need 'mode http'", at: at)
            }
            draft.httpRequestRules = []
            draft.httpResponseRules = []
            draft.httpAfterResponseRules = []
            draft.redirectRules = []
            // HAProxy: "monitor-uri will be ignored for frontend 'x' (needs 'mode http')".
            if let at = draft.settings.monitorURILocation, draft.kind.hasFrontend {
                report(.warning, "'monitor-uri' is ignored in \(label): it needs 'mode http'", at: at)
                draft.settings.monitorURI = nil
            }
            if let at = draft.settings.serverNameHeaderLocation, draft.kind.hasBackend {
                report(.warning, "'http-send-name-header' is ignored in \(label): it needs 'mode http'", at: at)
                draft.settings.serverNameHeader = nil
            }
            if let at = draft.monitorFailLocation {
                report(.warning, "'monitor fail' is ignored in \(label): it needs 'mode http'", at: at)
                draft.monitorFail = []
            }
            if let page = draft.settings.statsPage, draft.kind != .defaults {
                report(.warning, "'stats' is ignored in \(label): the statistics page needs 'mode http'", at: page.location)
                draft.settings.statsPage = nil
            }
            // HAProxy: "cookie will be ignored for backend 'x' (needs 'mode http')".
            if draft.settings.cookie != nil, draft.kind.hasBackend {
                report(.warning, "'cookie' is ignored in \(label): it needs 'mode http'",
                       at: draft.settings.cookieLocation ?? draft.location)
            }
        }
        // Rules that run before the data their conditions look at exists.
        let early: [(String, [Condition], FetchSource)] = [
            ("tcp-request connection", draft.tcpRequestConnectionRules.map(\.condition), .connection),
            ("http-request", draft.httpRequestRules.map(\.condition), .request),
            ("redirect", draft.redirectRules.map(\.condition), .request),
            ("use_backend", draft.useBackends.map(\.condition), .request),
            ("monitor fail", draft.monitorFail, .request),
            ("force-persist", draft.persistRules.filter { $0.kind == .force }.map(\.condition), .request),
            ("ignore-persist", draft.persistRules.filter { $0.kind == .ignore }.map(\.condition), .request),
            ("use-server", draft.serverRules.map(\.condition), .request),
        ]
        for (keyword, conditions, maximum) in early {
            var warned: Set<SourceLocation> = []
            for condition in conditions {
                for group in condition.alternatives {
                    for term in group {
                        for acl in term.acls where acl.sample.fetch.source > maximum && warned.insert(acl.location).inserted {
                            let what = acl.name.isEmpty ? "this anonymous ACL" : "ACL '\(acl.name)'"
                            let needs = acl.sample.fetch.source.needs
                            report(.warning, "\(what) never matches in '\(keyword)' rules: it needs \(needs), "
                                   + "which is not available yet there", at: acl.location)
                        }
                    }
                }
            }
        }
        // HAProxy: "some 'tcp-request content' rules explicitly depending on request contents without any
        // 'tcp-request inspect-delay' setting".
        if draft.settings.mode == .tcp, draft.settings.tcpInspectDelay == nil,
           let at = (draft.tcpRequestContentRules.map(\.condition) + draft.useBackends.map(\.condition))
            .lazy.compactMap(\.firstContentACL).first {
            report(.warning, "\(label) has rules reading the request's contents but no 'tcp-request inspect-delay': "
                   + "they only see what arrived with the connection (usually nothing)", at: at)
        }
        if let at = draft.settings.httpLog, draft.kind.hasFrontend, draft.settings.mode == .tcp {
            report(.warning, "'option httplog' is ignored in tcp mode: \(label) logs in tcplog format instead", at: at)
            draft.settings.tcpLog = true
        }

        // Server ids: explicit ones must be unique; the others get the lowest free id.
        var used: [Int: String] = [:]
        for (i, id) in draft.serverIDs.enumerated() {
            guard let id else { continue }
            if let other = used[id] {
                report(.error, "server id \(id) is already used by server '\(other)' in \(label)",
                       at: draft.servers[i].location)
            } else {
                used[id] = draft.servers[i].name
            }
        }
        var next = 1
        for (i, id) in draft.serverIDs.enumerated() {
            if let id {
                draft.servers[i].id = id
                continue
            }
            while used[next] != nil { next += 1 }
            draft.servers[i].id = next
            used[next] = draft.servers[i].name
        }
        proxies[index] = draft
    }
}
