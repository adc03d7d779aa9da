// Proxy keywords of HTTP mode other than rules: forwarded headers,
// connection modes, captures, log formats, unique ids, error pages,
// cookie persistence, hashing and connection reuse.

extension ParserState {
    // MARK: option forwardfor / originalto

    /// `option forwardfor [except NET] [header NAME] [if-none]`,
    /// `option originalto [except NET] [header NAME]`.
    mutating func parseForwardedOption(_ words: [Word], negated: Bool) {
        let name = words[1].text
        let isForwardFor = name == "forwardfor"
        if negated {
            expectAtMost(2, words, after: "no option \(name)")
            if isForwardFor { settings.forwardFor = nil } else { settings.originalTo = nil }
            return
        }
        var header = ForwardedHeader(header: isForwardFor ? "X-Forwarded-For" : "X-Original-To")
        var i = 2
        while i < words.count {
            let w = words[i]
            switch w.text {
            case "except", "header":
                guard i + 1 < words.count else {
                    error("option \(name): '\(w.text)' expects \(w.text == "except" ? "a network like 10.0.0.0/8" : "a header name")",
                          at: w)
                    return
                }
                if w.text == "header" {
                    header.header = words[i + 1].text
                } else {
                    switch Self.network(Substring(words[i + 1].text)) {
                    case .success(let n): header.except.append(n)
                    case .failure(let m):
                        error("option \(name) except: \(m.text)", at: words[i + 1])
                        return
                    }
                }
                i += 2
            case "if-none" where isForwardFor:
                header.ifNone = true
                i += 1
            default:
                let options = isForwardFor ? ["except", "header", "if-none"] : ["except", "header"]
                error("option \(name): unexpected '\(w.text)'; expected \(isForwardFor ? "except, header or if-none" : "except or header")"
                      + Keywords.didYouMean(w.text, among: options).replacingDidYouMean(), at: w)
                return
            }
        }
        if isForwardFor { settings.forwardFor = header } else { settings.originalTo = header }
    }

    /// `option http-keep-alive|http-server-close|httpclose`; `no option X`
    /// returns to keep-alive when X is the mode in force.
    mutating func parseConnectionModeOption(_ words: [Word], negated: Bool) {
        let name = words[1].text
        expectAtMost(2, words, after: "\(negated ? "no option" : "option") \(name)")
        let mode: HTTPConnectionMode = switch name {
        case "http-server-close": .serverClose
        case "httpclose": .close
        default: .keepAlive
        }
        if !negated {
            settings.connectionMode = mode
        } else if settings.connectionMode == mode {
            settings.connectionMode = .keepAlive
        }
    }

    // MARK: http-reuse

    mutating func parseHTTPReuse(_ words: [Word]) {
        let modes = ["never", "safe", "aggressive", "always"]
        guard words.count > 1 else {
            error("http-reuse: expected never, safe, aggressive or always", at: words[0])
            return
        }
        guard let reuse = HTTPReuse(rawValue: words[1].text) else {
            error("http-reuse: expected never, safe, aggressive or always, got '\(words[1].text)'"
                  + Keywords.didYouMean(words[1].text, among: modes).replacingDidYouMean(), at: words[1])
            return
        }
        if expectAtMost(2, words, after: "http-reuse \(words[1].text)") { settings.httpReuse = reuse }
    }

    // MARK: compression

    /// `compression algo ALGO…`, `compression type MIME…`, `compression
    /// offload`. Algorithms and types add to the ones before (the defaults'
    /// too); `offload` is ignored in `defaults`, as HAProxy does.
    mutating func parseCompression(_ words: [Word]) {
        let kinds = ["algo", "type", "offload"]
        guard words.count > 1 else {
            error("compression: expected algo, type or offload", at: words[0])
            return
        }
        var compression = settings.compression ?? HTTPCompression()
        switch words[1].text {
        case "algo":
            guard words.count > 2 else {
                error("compression algo: expected at least one of identity, gzip, deflate or raw-deflate", at: words[1])
                return
            }
            for word in words.dropFirst(2) {
                guard let algorithm = HTTPCompression.Algorithm(rawValue: word.text) else {
                    error("compression algo: '\(word.text)' is not a supported algorithm (identity, gzip, deflate or "
                          + "raw-deflate)" + Keywords.didYouMean(word.text, among: HTTPCompression.Algorithm.allCases.map(\.rawValue))
                            .replacingDidYouMean(), at: word)
                    return
                }
                compression.algorithms.insert(algorithm, at: 0)
            }
        case "type":
            guard words.count > 2 else {
                error("compression type: expected at least one MIME type", at: words[1])
                return
            }
            compression.types.append(contentsOf: words.dropFirst(2).map(\.text))
        case "offload":
            guard expectAtMost(2, words, after: "compression offload") else { return }
            if sectionKind == .defaults {
                warning("'compression offload' is ignored in a 'defaults' section", at: words[1])
                return
            }
            compression.offload = true
        default:
            error("compression: unexpected '\(words[1].text)'; expected algo, type or offload"
                  + Keywords.didYouMean(words[1].text, among: kinds).replacingDidYouMean(), at: words[1])
            return
        }
        settings.compression = compression
        settings.compressionLocation = location(words[0])
    }

    // MARK: retry-on

    /// `retry-on KEYWORD…`: replaces what an earlier `retry-on` (or the
    /// defaults) set, as HAProxy does; `none` only alone.
    mutating func parseRetryOn(_ words: [Word]) {
        let names = ["none", "conn-failure", "empty-response", "junk-response", "response-timeout", "0rtt-rejected",
                     "all-retryable-errors"] + RetryOn.retryableStatuses.map(String.init)
        guard words.count > 1 else {
            error("retry-on: expected at least one of \(names.joined(separator: ", "))", at: words[0])
            return
        }
        var retryOn: RetryOn = []
        for word in words.dropFirst() {
            switch word.text {
            case "none":
                guard words.count == 2 else {
                    error("retry-on: 'none' may only be used alone", at: word)
                    return
                }
            case "conn-failure": retryOn.insert(.connFailure)
            case "empty-response": retryOn.insert(.emptyResponse)
            case "junk-response": retryOn.insert(.junkResponse)
            case "response-timeout": retryOn.insert(.responseTimeout)
            case "0rtt-rejected": retryOn.insert(.zeroRTTRejected)
            case "all-retryable-errors": retryOn.formUnion(.allRetryableErrors)
            default:
                if let code = Int(word.text), let bit = RetryOn.status(code) {
                    retryOn.insert(bit)
                } else if let code = Int(word.text), (100...599).contains(code) {
                    error("retry-on: status \(code) is not retryable (expected one of "
                          + RetryOn.retryableStatuses.map(String.init).joined(separator: ", ") + ")", at: word)
                    return
                } else {
                    error("retry-on: unknown keyword '\(word.text)'"
                          + Keywords.didYouMean(word.text, among: names).replacingDidYouMean(), at: word)
                    return
                }
            }
        }
        settings.retryOn = retryOn
        settings.retryOnLocation = location(words[0])
    }

    // MARK: capture

    /// `capture request header NAME len N`, `capture response header NAME len N`.
    mutating func parseCapture(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("capture: expected 'request header' or 'response header'", at: words[0])
            return
        }
        let side = words[1]
        switch side.text {
        case "request", "response":
            break
        case "cookie":
            parseCookieCapture(words, index: index)
            return
        default:
            error("capture: expected 'request header' or 'response header', got '\(side.text)'"
                  + Keywords.didYouMean(side.text, among: ["request", "response"]).replacingDidYouMean(), at: side)
            return
        }
        let context = "capture \(side.text) header"
        guard words.count > 2, words[2].text == "header" else {
            error("capture \(side.text): expected 'header'" + (words.count > 2 ? ", got '\(words[2].text)'" : ""),
                  at: words.count > 2 ? words[2] : side)
            return
        }
        guard words.count > 3 else {
            error("\(context): expected a header name", at: words[2])
            return
        }
        guard words.count > 4, words[4].text == "len" else {
            error("\(context): expected 'len' and a length after the header name", at: words.count > 4 ? words[4] : words[3])
            return
        }
        guard let length = integer(words, 5, keyword: "\(context) len", range: 1...65535, anchor: words[4]) else { return }
        guard expectAtMost(6, words, after: "\(context) \(words[3].text) len \(length)") else { return }
        let capture = HeaderCapture(name: words[3].text, length: length)
        if side.text == "request" {
            proxies[index].requestCaptures.append(capture)
        } else {
            proxies[index].responseCaptures.append(capture)
        }
    }

    /// `capture cookie NAME len N`: the first request cookie and the first
    /// response `Set-Cookie` whose `name=value` starts with NAME, kept for
    /// `%CC` and `%CS`. One per frontend, as in HAProxy.
    private mutating func parseCookieCapture(_ words: [Word], index: Int) {
        guard words.count > 2 else {
            error("capture cookie: expected a cookie name", at: words[1])
            return
        }
        guard words.count > 3, words[3].text == "len" else {
            error("capture cookie: expected 'len' and a length after the cookie name", at: words.count > 3 ? words[3] : words[2])
            return
        }
        guard let length = integer(words, 4, keyword: "capture cookie len", range: 1...65535, anchor: words[3]) else { return }
        guard expectAtMost(5, words, after: "capture cookie \(words[2].text) len \(length)") else { return }
        if let previous = proxies[index].cookieCaptureLocation {
            error("capture cookie: only one is allowed in a section; the first is at \(previous)", at: words[0])
            return
        }
        proxies[index].cookieCapture = HeaderCapture(name: words[2].text, length: length)
        proxies[index].cookieCaptureLocation = location(words[0])
    }

    // MARK: log-format / unique-id

    mutating func parseLogFormatKeyword(_ words: [Word]) {
        let keyword = words[0].text
        guard words.count > 1 else {
            error("\(keyword): expected a format string", at: words[0])
            return
        }
        guard expectAtMost(2, words, after: keyword) else {
            return
        }
        guard let format = logFormat(words[1], context: keyword) else { return }
        if keyword == "log-format" {
            settings.logChoice = .custom(format)
        } else {
            settings.uniqueIDFormat = format.nodes.isEmpty ? nil : format
        }
    }

    mutating func parseUniqueIDHeader(_ words: [Word]) {
        guard words.count > 1 else {
            error("unique-id-header: expected a header name", at: words[0])
            return
        }
        if expectAtMost(2, words, after: "unique-id-header \(words[1].text)") { settings.uniqueIDHeader = words[1].text }
    }

    // MARK: Error pages

    /// An error status that `errorfile`/`errorloc`/`http-error` may replace.
    mutating func errorStatus(_ words: [Word], _ index: Int, keyword: String) -> Int? {
        guard let code = integer(words, index, keyword: keyword, range: 100...599) else { return nil }
        guard HTTPRuleSyntax.statusCodes.contains(code) else {
            let list = HTTPRuleSyntax.statusCodes.sorted().map(String.init).joined(separator: ", ")
            error("\(keyword): status \(code) cannot be customised; expected one of \(list)", at: words[index])
            return nil
        }
        return code
    }

    /// `errorfile CODE FILE`: a complete HTTP response, checked now (an empty
    /// file, like /dev/null, sends nothing).
    mutating func parseErrorFile(_ words: [Word]) {
        guard let (code, bytes) = errorFileLine(words) else { return }
        settings.errorPages[code] = .raw(bytes)
    }

    /// `errorfile CODE FILE`, in a proxy or an `http-errors` section: the
    /// status and the file's bytes, a complete HTTP response.
    mutating func errorFileLine(_ words: [Word]) -> (Int, [UInt8])? {
        guard let code = errorStatus(words, 1, keyword: "errorfile") else { return nil }
        guard words.count > 2 else {
            error("errorfile: expected a file after the status", at: words[1])
            return nil
        }
        guard expectAtMost(3, words, after: "errorfile \(code) \(words[2].text)") else { return nil }
        let bytes: [UInt8]
        switch referencedFile(words[2].text) {
        case .success(let b): bytes = b
        case .failure(let e):
            error("errorfile: \(e)", at: words[2])
            return nil
        }
        if !bytes.isEmpty, let problem = Self.httpResponseProblem(bytes) {
            error("errorfile: '\(words[2].text)' is not a valid HTTP response: \(problem)", at: words[2])
            return nil
        }
        return (code, bytes)
    }

    /// `errorloc|errorloc302|errorloc303 CODE URL`.
    mutating func parseErrorLocation(_ words: [Word]) {
        let keyword = words[0].text
        guard let code = errorStatus(words, 1, keyword: keyword) else { return }
        guard words.count > 2 else {
            error("\(keyword): expected a URL after the status", at: words[1])
            return
        }
        guard expectAtMost(3, words, after: "\(keyword) \(code) \(words[2].text)") else { return }
        settings.errorPages[code] = .redirect(code: keyword == "errorloc303" ? 303 : 302, location: words[2].text)
    }

    /// `http-error status CODE [content-type T] [body] [hdr N V]…`.
    mutating func parseHTTPError(_ words: [Word]) {
        guard words.count > 1, words[1].text == "status" else {
            error("http-error: expected 'status' and a status code", at: words.count > 1 ? words[1] : words[0])
            return
        }
        guard let code = errorStatus(words, 2, keyword: "http-error status") else { return }
        guard let (parsed, next) = returnArguments(words, from: 3, context: "http-error", maximum: .response) else { return }
        var spec = parsed
        if next < words.count {
            error("http-error: unexpected '\(words[next].text)'; http-error takes no condition", at: words[next])
            return
        }
        spec.status = code
        settings.errorPages[code] = .response(spec)
    }

    // MARK: cookie

    mutating func parseCookie(_ words: [Word]) {
        guard words.count > 1 else {
            error("cookie: expected a cookie name", at: words[0])
            return
        }
        var cookie = CookiePersistence(name: words[1].text)
        var modeWord: Word?
        var i = 2
        let options = ["insert", "rewrite", "prefix", "indirect", "nocache", "postonly", "preserve", "httponly",
                       "secure", "domain", "maxidle", "maxlife", "attr"]
        while i < words.count {
            let w = words[i]
            switch w.text {
            case "insert", "rewrite", "prefix":
                if let modeWord {
                    error("cookie: '\(w.text)' conflicts with '\(modeWord.text)'; choose one of insert, rewrite and prefix",
                          at: w)
                    return
                }
                cookie.mode = CookieMode(rawValue: w.text)!
                modeWord = w
                i += 1
            case "indirect": cookie.indirect = true; i += 1
            case "nocache": cookie.noCache = true; i += 1
            case "postonly": cookie.postOnly = true; i += 1
            case "preserve": cookie.preserve = true; i += 1
            case "httponly": cookie.httpOnly = true; i += 1
            case "secure": cookie.secure = true; i += 1
            case "domain", "attr":
                guard i + 1 < words.count else {
                    error("cookie: '\(w.text)' expects a value", at: w)
                    return
                }
                let value = words[i + 1].text
                if w.text == "domain" {
                    cookie.domains.append(value)
                } else {
                    if value.contains(";") || value.contains(where: { $0.isASCII && $0.asciiValue! < 0x20 }) {
                        error("cookie attr: '\(value)' must not contain ';' or control characters", at: words[i + 1])
                        return
                    }
                    cookie.attributes.append(value)
                }
                i += 2
            case "maxidle", "maxlife":
                guard let ms = duration(words, i + 1, keyword: "cookie \(w.text)") else { return }
                if w.text == "maxidle" { cookie.maxIdle = ms == 0 ? nil : ms } else { cookie.maxLife = ms == 0 ? nil : ms }
                i += 2
            case "dynamic":
                error("cookie: 'dynamic' is not supported by Weir yet", at: w)
                return
            default:
                error("cookie: unknown option '\(w.text)'" + Keywords.didYouMean(w.text, among: options), at: w)
                return
            }
        }
        if cookie.preserve, cookie.mode != .insert {
            error("cookie: 'preserve' is only meaningful with 'insert'", at: words[1])
            return
        }
        if cookie.postOnly || cookie.noCache || cookie.maxIdle != nil || cookie.maxLife != nil, cookie.mode != .insert {
            error("cookie: 'nocache', 'postonly', 'maxidle' and 'maxlife' need 'insert'", at: words[1])
            return
        }
        settings.cookie = cookie
        settings.cookieLocation = location(words[0])
    }

    // MARK: hash-type

    /// `hash-type map-based|consistent [sdbm|djb2|wt6|crc32|none] [avalanche]`.
    mutating func parseHashType(_ words: [Word]) {
        guard words.count > 1 else {
            error("hash-type: expected 'map-based' or 'consistent'", at: words[0])
            return
        }
        guard let method = HashMethod(rawValue: words[1].text) else {
            error("hash-type: expected 'map-based' or 'consistent', got '\(words[1].text)'"
                  + Keywords.didYouMean(words[1].text, among: ["map-based", "consistent"]).replacingDidYouMean(), at: words[1])
            return
        }
        var type = HashType(method: method)
        var i = 2
        if i < words.count, let function = HashFunction(rawValue: words[i].text) {
            type.function = function
            i += 1
        }
        if i < words.count, words[i].text == "avalanche" {
            type.avalanche = true
            i += 1
        }
        if i < words.count {
            let functions = ["sdbm", "djb2", "wt6", "crc32", "none", "avalanche"]
            error("hash-type: unexpected '\(words[i].text)'; expected a function (sdbm, djb2, wt6, crc32, none) then "
                  + "'avalanche'" + Keywords.didYouMean(words[i].text, among: functions).replacingDidYouMean(), at: words[i])
            return
        }
        settings.hashType = type
    }

    // MARK: force-persist / ignore-persist

    mutating func parsePersistRule(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        let keyword = words[0].text
        if proxies[index].kind == .frontend {
            error("'\(keyword)' in a 'frontend' section is not supported by Weir yet; write it in the backend", at: words[0])
            return
        }
        guard words.count > 1 else {
            error("\(keyword): expected 'if' or 'unless' and a condition", at: words[0])
            return
        }
        guard let condition = condition(words[1...], keyword: keyword) else { return }
        proxies[index].persistRules.append(PersistRule(kind: keyword == "force-persist" ? .force : .ignore,
                                                       condition: condition))
    }

    // MARK: use-server

    mutating func parseServerRule(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("use-server: expected a server name and 'if' or 'unless' with a condition", at: words[0])
            return
        }
        let name = words[1]
        if name.text.contains("%[") {
            error("use-server: a server name built from a sample is not supported by Weir yet", at: name)
            return
        }
        guard words.count > 2, words[2].text == "if" || words[2].text == "unless" else {
            error("use-server: '\(name.text)' must be followed by 'if' or 'unless' and a condition",
                  at: words.count > 2 ? words[2] : name)
            return
        }
        guard let condition = condition(words[2...], keyword: "use-server") else { return }
        proxies[index].serverRules.append(ServerRule(serverName: name.text, condition: condition,
                                                     location: location(name)))
    }

    // MARK: http-send-name-header

    /// `http-send-name-header NAME`.
    mutating func parseServerNameHeader(_ words: [Word]) {
        guard words.count > 1, !words[1].text.isEmpty else {
            error("http-send-name-header: expected a header name like X-Server", at: words[0])
            return
        }
        let name = words[1]
        guard expectAtMost(2, words, after: "http-send-name-header \(name.text)") else { return }
        guard Self.isMethodToken(name.text) else {
            error("http-send-name-header: '\(name.text)' is not a valid header name", at: name)
            return
        }
        if sectionKind == .frontend {
            warning("'http-send-name-header' is ignored in a 'frontend' section: it applies to backends", at: words[0])
            return
        }
        settings.serverNameHeader = name.text
        settings.serverNameHeaderLocation = location(words[0])
    }
}
