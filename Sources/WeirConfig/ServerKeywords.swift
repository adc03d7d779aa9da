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
        var server = Server(name: name.text, address: parsed.address, id: 0, location: location(name))
        server.portOffset = parsed.portOffset
        var options = proxies[index].settings.serverDefaults
        var explicitID: Int?
        guard parseServerOptions(words, from: 3, into: &options, id: &explicitID, keyword: "server") else { return }
        server.weight = options.weight
        server.maxconn = options.maxconn
        server.backup = options.backup
        server.disabled = options.disabled
        server.cookie = options.cookie
        server.check = options.check
        server.tls = options.tls
        server.sendProxyV1 = options.sendProxyV1
        server.sendProxyV2 = options.sendProxyV2
        proxies[index].servers.append(server)
        proxies[index].serverIDs.append(explicitID)
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
            case "id":
                if keyword == "default-server" {
                    error("'id' is not allowed in 'default-server': each server needs its own", at: option)
                    return false
                }
                guard let n = integer(words, i + 1, keyword: "id", range: 1...Int(Int32.max), anchor: option) else { return false }
                id = n
                i += 2
            case "backup":
                options.backup = true
                i += 1
            case "cookie":
                if keyword == "default-server" {
                    error("'cookie' is not allowed in 'default-server': each server needs its own", at: option)
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
            default:
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
