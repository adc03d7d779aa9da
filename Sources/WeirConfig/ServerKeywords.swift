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
        let address: ServerAddress
        switch Addresses.parseServer(Substring(words[2].text)) {
        case .success(let a): address = a
        case .failure(let message):
            error(message.text, at: words[2])
            return
        }
        var server = Server(name: name.text, address: address, id: 0, location: location(name))
        var options = proxies[index].settings.serverDefaults
        var explicitID: Int?
        guard parseServerOptions(words, from: 3, into: &options, id: &explicitID, keyword: "server") else { return }
        server.weight = options.weight
        server.maxconn = options.maxconn
        server.backup = options.backup
        server.disabled = options.disabled
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
            case "disabled":
                options.disabled = true
                i += 1
            case "enabled":
                options.disabled = false
                i += 1
            default:
                if Keywords.serverOptionsUnsupported.contains(option.text) {
                    error("\(keyword) option '\(option.text)' is not supported by Weir yet", at: option)
                } else {
                    error("unknown \(keyword) option '\(option.text)'"
                          + Keywords.didYouMean(option.text, among: Keywords.serverOptions), at: option)
                }
                // Its arguments cannot be told apart from the next option.
                ok = false
                i = words.count
            }
        }
        return ok
    }

    // MARK: http-request

    mutating func parseHTTPRequest(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("http-request: expected an action", at: words[0])
            return
        }
        let action = words[1]
        guard action.text == "return" else {
            error("'http-request \(action.text)' is not supported by Weir yet: it arrives with HTTP mode", at: action)
            return
        }
        if proxies[index].kind == .backend {
            error("'http-request return' is only supported in 'frontend' and 'listen' sections until HTTP mode lands",
                  at: words[0])
            return
        }
        var response = LocalResponse()
        var bodyWord: Word?
        var i = 2
        while i < words.count {
            let w = words[i]
            func value() -> Word? {
                guard i + 1 < words.count else {
                    error("http-request return: '\(w.text)' expects a value", at: w)
                    return nil
                }
                return words[i + 1]
            }
            switch w.text {
            case "status":
                guard let n = integer(words, i + 1, keyword: "http-request return status", range: 200...599, anchor: w) else {
                    return
                }
                response.status = n
            case "content-type":
                guard let v = value() else { return }
                response.contentType = v.text
            case "string", "lf-string":
                guard let v = value() else { return }
                response.body = Array(v.text.utf8)
                bodyWord = w
                if w.text == "lf-string", v.text.contains("%") {
                    warning("http-request return: log-format expressions in 'lf-string' are not expanded yet; "
                            + "the text is sent as written", at: v)
                }
            case "if", "unless":
                error("'http-request return' with a condition arrives with HTTP mode", at: w)
                return
            case "file", "lf-file", "errorfile", "errorfiles", "hdr", "default-errorfiles":
                error("http-request return: '\(w.text)' is not supported by Weir yet", at: w)
                return
            default:
                error("http-request return: unexpected '\(w.text)'; expected status, content-type, string or lf-string",
                      at: w)
                return
            }
            i += 2
        }
        if let bodyWord, response.contentType == nil {
            error("http-request return: 'content-type' is required with '\(bodyWord.text)'", at: bodyWord)
            return
        }
        if proxies[index].localResponse != nil {
            warning("this 'http-request return' is never reached: an earlier one answers every request", at: words[0])
            return
        }
        proxies[index].localResponse = response
        proxies[index].localResponseLocation = location(words[0])
    }

    // MARK: End of a proxy section

    mutating func finishProxy(_ index: Int) {
        var draft = proxies[index]
        let label = "\(draft.kind.rawValue) '\(draft.name)'"

        if let at = draft.localResponseLocation, draft.settings.mode != .http {
            report(.error, "'http-request return' needs 'mode http' in \(label)", at: at)
            draft.localResponse = nil
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
