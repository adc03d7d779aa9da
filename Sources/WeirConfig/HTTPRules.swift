// `http-request`, `http-response`, `redirect` and `tcp-request` rules: an
// action, its arguments, and an optional `if`/`unless` condition.

enum RuleDirection {
    case request, response
    /// `http-after-response`: every response, the proxy's own answers too.
    case afterResponse

    var keyword: String {
        switch self {
        case .request: "http-request"
        case .response: "http-response"
        case .afterResponse: "http-after-response"
        }
    }
}

enum HTTPRuleSyntax {
    static let requestActions = [
        "allow", "deny", "tarpit", "auth", "redirect", "return", "set-header", "add-header", "del-header",
        "replace-header", "replace-value", "set-path", "set-pathq", "set-query", "set-uri", "set-method", "set-var",
        "unset-var", "set-var-fmt", "set-log-level", "capture", "replace-path", "replace-pathq", "replace-uri", "use-service",
        "disable-l7-retry", "reject", "silent-drop", "set-timeout",
    ]
    static let responseActions = [
        "allow", "deny", "redirect", "return", "set-header", "add-header", "del-header", "replace-header",
        "replace-value", "set-status", "set-var", "set-var-fmt", "unset-var", "set-log-level", "silent-drop",
    ]
    /// `http-after-response` edits a response; it cannot replace one.
    static let afterResponseActions = [
        "allow", "set-header", "add-header", "del-header", "replace-header", "replace-value", "set-status", "set-var",
        "set-var-fmt", "unset-var", "set-log-level",
    ]
    /// HAProxy actions Weir does not have yet, in either direction.
    static let unsupportedActions: Set<String> = [
        "add-acl", "del-acl", "set-map", "del-map", "cache-use", "cache-store", "do-resolve",
        "early-hint", "normalize-uri", "sc-add-gpc",
        "sc-inc-gpc", "sc-set-gpt", "send-spoe-group",
        "set-bandwidth-limit", "set-dst", "set-dst-port", "set-mark", "set-nice", "set-priority-class",
        "set-priority-offset", "set-src", "set-src-port", "set-tos", "strict-mode",
        "wait-for-body", "wait-for-handshake",
        "set-fc-mark", "set-fc-tos", "attach-srv", "set-retries", "pause", "lua",
    ]
    static let statusCodes: Set<Int> = [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504]
}

extension ParserState {
    // MARK: http-request / http-response

    mutating func parseHTTPRule(_ words: [Word], direction: RuleDirection) {
        guard let index = proxyIndex else { return }
        let keyword = direction.keyword
        guard words.count > 1 else {
            error("\(keyword): expected an action", at: words[0])
            return
        }
        let actionWord = words[1]
        // `set-var(txn.x)` and `unset-var(txn.x)` carry their argument.
        var actionName = actionWord.text
        var actionArgument: String?
        if let open = actionWord.text.firstIndex(of: "("), actionWord.text.hasSuffix(")") {
            actionName = String(actionWord.text[..<open])
            actionArgument = String(actionWord.text[actionWord.text.index(after: open)..<actionWord.text.index(before: actionWord.text.endIndex)])
        }
        let supported = switch direction {
        case .request: HTTPRuleSyntax.requestActions
        case .response: HTTPRuleSyntax.responseActions
        case .afterResponse: HTTPRuleSyntax.afterResponseActions
        }
        if direction == .request, StickCounterSyntax.isAction(actionName) {
            let context = "\(keyword) \(actionName)"
            guard let (action, next) = stickCounterAction(words, at: 1, context: context, maximum: .request),
                  let condition = optionalCondition(words, at: next, keyword: context) else { return }
            proxies[index].httpRequestRules.append(HTTPRule(action: .stickCounter(action), condition: condition,
                                                            location: location(words[0])))
            return
        }
        guard supported.contains(actionName) else {
            let other = direction == .request ? HTTPRuleSyntax.responseActions : HTTPRuleSyntax.requestActions
            if direction == .afterResponse, HTTPRuleSyntax.responseActions.contains(actionName) {
                error("'\(actionName)' is not an action of '\(keyword)': it may edit a response, not replace "
                      + "or drop it", at: actionWord)
            } else if direction != .request, actionName == "capture" {
                error("'http-response capture' (with 'declare capture') is not supported by Weir yet", at: actionWord)
            } else if other.contains(actionName) {
                error("'\(actionName)' is not an action of '\(keyword)'"
                      + (direction == .request ? " (it is one of 'http-response')" : " (it is one of 'http-request')"),
                      at: actionWord)
            } else if HTTPRuleSyntax.unsupportedActions.contains(actionName) || actionName.hasPrefix("lua.")
                        || actionName.hasPrefix("sc-") || actionName.hasPrefix("track-sc") {
                error("'\(keyword) \(actionName)' is not supported by Weir yet", at: actionWord)
            } else {
                error("\(keyword): unknown action '\(actionName)'" + Keywords.didYouMean(actionName, among: supported),
                      at: actionWord)
            }
            return
        }
        let context = "\(keyword) \(actionName)"
        let maximum: FetchSource = direction == .request ? .request : .response
        guard let (action, next) = httpAction(actionName, argument: actionArgument, words: words, direction: direction,
                                              context: context, maximum: maximum) else { return }
        guard let condition = optionalCondition(words, at: next, keyword: context) else { return }
        let rule = HTTPRule(action: action, condition: condition, location: location(words[0]))

        let existing = switch direction {
        case .request: proxies[index].httpRequestRules
        case .response: proxies[index].httpResponseRules
        case .afterResponse: proxies[index].httpAfterResponseRules
        }
        if let blocker = existing.first(where: { $0.condition == .always && $0.action.endsEvaluation }) {
            warning("this '\(context)' is never reached: the rule at \(blocker.location) applies to every "
                    + (direction == .request ? "request" : "response"), at: words[0])
        }
        switch direction {
        case .request: proxies[index].httpRequestRules.append(rule)
        case .response: proxies[index].httpResponseRules.append(rule)
        case .afterResponse: proxies[index].httpAfterResponseRules.append(rule)
        }
    }

    /// An action and the index of the first word after its arguments.
    private mutating func httpAction(_ name: String, argument: String?, words: [Word], direction: RuleDirection,
                                     context: String, maximum: FetchSource) -> (HTTPAction, Int)? {
        let actionWord = words[1]
        func isConditionStart(_ i: Int) -> Bool { i < words.count && (words[i].text == "if" || words[i].text == "unless") }
        /// The word at `i`, which must exist and not start the condition.
        func arg(_ i: Int, _ what: String) -> Word? {
            guard i < words.count, !isConditionStart(i) else {
                error("\(context): expected \(what)", at: words[i - 1])
                return nil
            }
            return words[i]
        }
        if argument != nil, name != "set-var", name != "set-var-fmt", name != "unset-var" {
            error("\(context): unexpected '(' in the action name", at: actionWord)
            return nil
        }
        switch name {
        case "allow":
            return (.allow, 2)
        case "reject":
            return (.reject, 2)
        case "silent-drop":
            return (.silentDrop, 2)
        case "set-timeout":
            // HAProxy 2.6 has `server` and `tunnel`; `client` came later.
            guard let which = arg(2, "'server' or 'tunnel'") else { return nil }
            guard which.text == "server" || which.text == "tunnel" else {
                error("\(context): expected 'server' or 'tunnel', got '\(which.text)'"
                      + Keywords.didYouMean(which.text, among: ["server", "tunnel"]).replacingDidYouMean(), at: which)
                return nil
            }
            guard let valueWord = arg(3, "a timeout like 5s or a sample expression") else { return nil }
            let value: TimeoutValue
            switch Units.duration(valueWord.text) {
            case .success(let ms):
                guard ms > 0 else {
                    error("\(context): the timeout must not be null", at: valueWord)
                    return nil
                }
                value = .milliseconds(ms)
            case .failure(.tooLarge):
                error("\(context): duration '\(valueWord.text)' is too large (the maximum is 2147483647ms, about 24.8 days)",
                      at: valueWord)
                return nil
            case .failure(.invalid):
                guard let parsed = sampleValue(valueWord, context: context, maximum: maximum) else { return nil }
                value = .expression(parsed.sample)
            }
            return (.setTimeout(tunnel: which.text == "tunnel", value), 4)
        case "deny", "tarpit":
            // HAProxy 2.2+: the answer is built as for `return`, the proxy's error page by default.
            let status = name == "tarpit" ? 500 : (direction == .request ? 403 : 502)
            guard let (spec, next) = returnArguments(words, from: 2, context: context, maximum: maximum,
                                                     defaultStatus: status, isDeny: true) else { return nil }
            let answer: ReturnSpec? = spec.body == .defaultErrorFiles ? nil : spec
            return (name == "deny" ? .deny(status: spec.status, answer: answer)
                                   : .tarpit(status: spec.status, answer: answer), next)
        case "auth":
            if words.count > 2, words[2].text == "realm" {
                guard let realm = arg(3, "a realm after 'realm'") else { return nil }
                return (.auth(realm: realm.text), 4)
            }
            return (.auth(realm: nil), 2)
        case "redirect":
            guard let (redirect, next) = redirectArguments(words, from: 2, context: context, dynamic: true,
                                                           maximum: maximum) else { return nil }
            return (.redirect(redirect), next)
        case "use-service":
            guard let service = arg(2, "a service name ('prometheus-exporter')") else { return nil }
            guard let known = HTTPService(rawValue: service.text) else {
                error("\(context): unknown service '\(service.text)'; Weir only has 'prometheus-exporter'"
                      + Keywords.didYouMean(service.text, among: ["prometheus-exporter"]).replacingDidYouMean(), at: service)
                return nil
            }
            return (.useService(known), 3)
        case "return":
            guard let (spec, next) = returnArguments(words, from: 2, context: context, maximum: maximum) else { return nil }
            return (.returnResponse(spec), next)
        case "set-header", "add-header":
            guard let header = arg(2, "a header name"), let valueWord = arg(3, "a value after the header name"),
                  let value = logFormat(valueWord, context: context, maximumSource: maximum) else { return nil }
            return (name == "set-header" ? .setHeader(name: header.text, value: value)
                                         : .addHeader(name: header.text, value: value), 4)
        case "del-header":
            guard let header = arg(2, "a header name") else { return nil }
            if words.count > 3, words[3].text == "-m" {
                guard let m = arg(4, "a match method after '-m' (str, beg, end, sub or reg)") else { return nil }
                guard let method = MatchMethod(rawValue: m.text), [.str, .beg, .end, .sub, .reg].contains(method) else {
                    error("\(context): expected str, beg, end, sub or reg after '-m', got '\(m.text)'", at: m)
                    return nil
                }
                if method == .reg, let problem = Regex.check(header.text) {
                    error("\(context): invalid regular expression '\(header.text)': \(problem)", at: header)
                    return nil
                }
                return (.delHeader(name: header.text, method: method), 5)
            }
            return (.delHeader(name: header.text, method: .str), 3)
        case "replace-header", "replace-value":
            guard let header = arg(2, "a header name"), let regex = arg(3, "a regular expression"),
                  let replacementWord = arg(4, "a replacement") else { return nil }
            if let problem = Regex.check(regex.text) {
                error("\(context): invalid regular expression '\(regex.text)': \(problem)", at: regex)
                return nil
            }
            guard let replacement = logFormat(replacementWord, context: context, maximumSource: maximum) else { return nil }
            return (name == "replace-header"
                    ? .replaceHeader(name: header.text, regex: regex.text, replacement: replacement)
                    : .replaceValue(name: header.text, regex: regex.text, replacement: replacement), 5)
        case "replace-path", "replace-pathq", "replace-uri":
            guard let regex = arg(2, "a regular expression"), let replacementWord = arg(3, "a replacement") else {
                return nil
            }
            if let problem = Regex.check(regex.text) {
                error("\(context): invalid regular expression '\(regex.text)': \(problem)", at: regex)
                return nil
            }
            guard let replacement = logFormat(replacementWord, context: context, maximumSource: maximum) else { return nil }
            let part: RequestTargetPart = name == "replace-path" ? .path : name == "replace-pathq" ? .pathAndQuery : .uri
            return (.replaceTarget(part: part, regex: regex.text, replacement: replacement), 4)
        case "set-path", "set-pathq", "set-query", "set-uri", "set-method":
            guard let w = arg(2, "a value"), let value = logFormat(w, context: context, maximumSource: maximum) else {
                return nil
            }
            let action: HTTPAction = switch name {
            case "set-path": .setPath(value)
            case "set-pathq": .setPathQuery(value)
            case "set-query": .setQuery(value)
            case "set-uri": .setURI(value)
            default: .setMethod(value)
            }
            return (action, 3)
        case "set-var", "set-var-fmt", "unset-var":
            guard let argument else {
                error("\(context): expected a variable, as in \(name)(txn.name)", at: actionWord)
                return nil
            }
            let scope: VariableScope
            let variable: String
            switch Self.variable(argument) {
            case .success(let (s, n)):
                scope = s
                variable = n
            case .failure(let m):
                error("\(context): \(m.text)", at: actionWord)
                return nil
            }
            if name == "unset-var" { return (.unsetVar(scope: scope, name: variable), 2) }
            if name == "set-var-fmt" {
                guard let w = arg(2, "a log-format string"),
                      let format = logFormat(w, context: context, maximumSource: maximum) else { return nil }
                return (.setVarFormat(scope: scope, name: variable, format: format), 3)
            }
            guard let expression = self.argumentWord(words, 2, context: context, what: "a sample expression"),
                  let parsed = sampleValue(expression, context: context, maximum: maximum) else { return nil }
            return (.setVar(scope: scope, name: variable, sample: parsed.sample), 3)
        case "disable-l7-retry":
            return (.disableL7Retry, 2)
        case "set-log-level":
            guard let w = arg(2, "a log level or 'silent'") else { return nil }
            if w.text == "silent" { return (.setLogLevel(nil), 3) }
            guard let level = Self.levels.firstIndex(of: w.text) else {
                error("\(context): expected a level like info or 'silent', got '\(w.text)'"
                      + Keywords.didYouMean(w.text, among: Self.levels + ["silent"]), at: w)
                return nil
            }
            return (.setLogLevel(LogLevel(rawValue: level)), 3)
        case "set-status":
            guard let status = integer(words, 2, keyword: context, range: 100...999) else { return nil }
            if words.count > 3, words[3].text == "reason" {
                guard let reason = arg(4, "a reason after 'reason'") else { return nil }
                return (.setStatus(status: status, reason: reason.text), 5)
            }
            return (.setStatus(status: status, reason: nil), 3)
        case "capture":
            guard let expression = arg(2, "a sample expression"),
                  let parsed = sampleValue(expression, context: context, maximum: maximum) else { return nil }
            guard words.count > 3, !isConditionStart(3) else {
                error("\(context): expected 'len' and a length after the sample", at: expression)
                return nil
            }
            if words[3].text == "id" {
                error("\(context): 'id' (with 'declare capture') is not supported by Weir yet", at: words[3])
                return nil
            }
            guard words[3].text == "len" else {
                error("\(context): expected 'len' after the sample, got '\(words[3].text)'", at: words[3])
                return nil
            }
            guard let length = integer(words, 4, keyword: "\(context) len", range: 1...65535, anchor: words[3]) else {
                return nil
            }
            return (.capture(sample: parsed.sample, length: length), 5)
        default:
            error("'\(context)' is not supported by Weir yet", at: actionWord)
            return nil
        }
    }

    /// The word at `i`, or an error saying `what` was expected.
    private mutating func argumentWord(_ words: [Word], _ i: Int, context: String, what: String) -> Word? {
        guard i < words.count, words[i].text != "if", words[i].text != "unless" else {
            error("\(context): expected \(what)", at: words[i - 1])
            return nil
        }
        return words[i]
    }

    /// A sample expression used as a value (no derived ACL keyword), usable where `maximum` data is available.
    mutating func sampleValue(_ word: Word, context: String, maximum: FetchSource) -> ParsedSample? {
        guard let parsed = sample(word.text, at: word, context: context) else { return nil }
        if parsed.source > maximum {
            error("\(context): \(Self.unavailable(parsed, maximum))", at: word)
            return nil
        }
        return parsed
    }

    // MARK: return

    /// `[status N] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|errorfiles NAME|default-errorfiles] [hdr N V]…`.
    /// `isDeny`: the arguments of `deny` and `tarpit`, which also take
    /// `deny_status` and whose default body is the proxy's error page.
    mutating func returnArguments(_ words: [Word], from start: Int, context: String, maximum: FetchSource,
                                  defaultStatus: Int = 200, isDeny: Bool = false) -> (ReturnSpec, Int)? {
        var spec = ReturnSpec(status: defaultStatus, body: isDeny ? .defaultErrorFiles : .none)
        var bodyWord: Word?
        var i = start
        while i < words.count, words[i].text != "if", words[i].text != "unless" {
            let w = words[i]
            func value() -> Word? {
                guard i + 1 < words.count else {
                    error("\(context): '\(w.text)' expects a value", at: w)
                    return nil
                }
                return words[i + 1]
            }
            func setBody(_ body: ReturnBody) -> Bool {
                if let previous = bodyWord {
                    error("\(context): '\(w.text)' and '\(previous.text)' both give the body; keep one", at: w)
                    return false
                }
                spec.body = body
                bodyWord = w
                return true
            }
            switch w.text {
            case "deny_status" where isDeny, "status":
                guard let n = integer(words, i + 1, keyword: "\(context) \(w.text)", range: 200...599, anchor: w) else {
                    return nil
                }
                spec.status = n
                i += 2
            case "content-type":
                guard let v = value() else { return nil }
                spec.contentType = v.text
                i += 2
            case "string":
                guard let v = value(), setBody(.bytes(Array(v.text.utf8))) else { return nil }
                i += 2
            case "lf-string":
                guard let v = value(), let format = logFormat(v, context: context, maximumSource: maximum),
                      setBody(.logFormat(format)) else { return nil }
                i += 2
            case "file", "lf-file", "errorfile":
                guard let v = value() else { return nil }
                let bytes: [UInt8]
                switch referencedFile(v.text) {
                case .success(let b): bytes = b
                case .failure(let e):
                    error("\(context): \(w.text): \(e)", at: v)
                    return nil
                }
                switch w.text {
                case "file":
                    guard setBody(.bytes(bytes)) else { return nil }
                case "lf-file":
                    let text = Word(text: String(decoding: bytes, as: UTF8.self), column: v.column)
                    guard let format = logFormat(text, context: "\(context) lf-file '\(v.text)'", maximumSource: maximum),
                          setBody(.logFormat(format)) else { return nil }
                default:
                    if let problem = Self.httpResponseProblem(bytes) {
                        error("\(context): errorfile '\(v.text)' is not a valid HTTP response: \(problem)", at: v)
                        return nil
                    }
                    guard setBody(.rawResponse(bytes)) else { return nil }
                }
                i += 2
            case "default-errorfiles":
                guard setBody(.defaultErrorFiles) else { return nil }
                i += 1
            case "errorfiles":
                guard let v = value(), setBody(.errorFiles(section: v.text, location: location(v))) else { return nil }
                i += 2
            case "hdr":
                guard i + 2 < words.count else {
                    error("\(context): 'hdr' expects a header name and a value", at: w)
                    return nil
                }
                guard let value = logFormat(words[i + 2], context: context, maximumSource: maximum) else { return nil }
                spec.headers.append(ReturnHeader(name: words[i + 1].text, value: value))
                i += 3
            default:
                error("\(context): unexpected '\(w.text)'; expected \(isDeny ? "deny_status" : "status"), content-type, "
                      + "string, lf-string, file, lf-file, errorfile, errorfiles, default-errorfiles or hdr", at: w)
                return nil
            }
        }
        if bodyWord == nil {
            // As HAProxy: a content type without a body means nothing, and
            // `hdr` without one makes an empty answer carrying the fields.
            if spec.contentType != nil {
                warning("\(context): 'content-type' is ignored without a body ('string', 'lf-string', 'file' or 'lf-file')",
                        at: words[start - 1])
                spec.contentType = nil
            }
            if isDeny && !spec.headers.isEmpty { spec.body = .none }
        }
        if let bodyWord {
            switch spec.body {
            case .rawResponse, .defaultErrorFiles, .errorFiles:
                if spec.contentType != nil || !spec.headers.isEmpty {
                    error("\(context): 'content-type' and 'hdr' cannot be used with '\(bodyWord.text)', which gives a whole response",
                          at: bodyWord)
                    return nil
                }
            default:
                if spec.contentType == nil {
                    error("\(context): 'content-type' is required with '\(bodyWord.text)'", at: bodyWord)
                    return nil
                }
            }
        }
        return (spec, i)
    }

    /// Why `bytes` is not a complete HTTP/1 response head (nil when it is).
    static func httpResponseProblem(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return "the file is empty" }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        var ended = false
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\n") {
                var end = i
                if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if end == start { ended = true; break }
                lines.append(bytes[start..<end])
                start = i + 1
            }
            i += 1
        }
        guard let statusLine = lines.first.map({ String(decoding: $0, as: UTF8.self) }) else {
            return "it must start with a status line like 'HTTP/1.1 503 Service Unavailable'"
        }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.0" || parts[0] == "HTTP/1.1", let code = Int(parts[1]),
              (100...999).contains(code), parts[1].count == 3 else {
            return "it must start with a status line like 'HTTP/1.1 503 Service Unavailable', got '\(statusLine)'"
        }
        for line in lines.dropFirst() {
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":"), colon != text.startIndex,
                  !text[..<colon].contains(" "), !text[..<colon].contains("\t") else {
                return "invalid header line '\(text)'"
            }
        }
        guard ended else { return "the headers must end with an empty line" }
        return nil
    }

    // MARK: redirect

    mutating func parseRedirect(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard let (redirect, next) = redirectArguments(words, from: 1, context: "redirect", dynamic: false,
                                                       maximum: .request) else { return }
        guard let condition = optionalCondition(words, at: next, keyword: "redirect") else { return }
        proxies[index].redirectRules.append(HTTPRule(action: .redirect(redirect), condition: condition,
                                                     location: location(words[0])))
    }

    /// `location|prefix|scheme VALUE [code N] [drop-query] [append-slash] [set-cookie C] [clear-cookie C]`;
    /// as in HAProxy, the options may also come before the kind.
    /// The value is a log-format string in `http-request redirect`, literal in `redirect`.
    mutating func redirectArguments(_ words: [Word], from start: Int, context: String, dynamic: Bool,
                                    maximum: FetchSource) -> (Redirect, Int)? {
        var redirect = Redirect(kind: .location, value: LogFormat(nodes: []))
        var i = start
        while i < words.count, RedirectKind(rawValue: words[i].text) == nil,
              words[i].text != "if", words[i].text != "unless" {
            guard let next = redirectOption(words, at: i, context: context, into: &redirect, expectingKind: true) else {
                return nil
            }
            i = next
        }
        guard i < words.count, words[i].text != "if", words[i].text != "unless" else {
            error("\(context): expected 'location', 'prefix' or 'scheme'", at: words[i - 1])
            return nil
        }
        let kindWord = words[i]
        let kind = RedirectKind(rawValue: kindWord.text)!
        guard i + 1 < words.count else {
            error("\(context) \(kind.rawValue): expected a value", at: kindWord)
            return nil
        }
        let valueWord = words[i + 1]
        let value: LogFormat
        if dynamic {
            guard let f = logFormat(valueWord, context: "\(context) \(kind.rawValue)", maximumSource: maximum) else {
                return nil
            }
            value = f
        } else {
            value = LogFormat(nodes: valueWord.text.isEmpty ? [] : [.literal(Array(valueWord.text.utf8))])
        }
        redirect.kind = kind
        redirect.value = value
        i += 2
        while i < words.count, words[i].text != "if", words[i].text != "unless" {
            guard let next = redirectOption(words, at: i, context: context, into: &redirect, expectingKind: false) else {
                return nil
            }
            i = next
        }
        return (redirect, i)
    }

    /// One option of a redirect at `i`: the index after it, nil after an error.
    private mutating func redirectOption(_ words: [Word], at i: Int, context: String, into redirect: inout Redirect,
                                         expectingKind: Bool) -> Int? {
        let w = words[i]
        switch w.text {
        case "code":
            guard let n = integer(words, i + 1, keyword: "\(context) code", anchor: w) else { return nil }
            guard [301, 302, 303, 307, 308].contains(n) else {
                error("\(context) code: expected 301, 302, 303, 307 or 308, got '\(n)'", at: words[i + 1])
                return nil
            }
            redirect.code = n
            return i + 2
        case "drop-query":
            redirect.dropQuery = true
            return i + 1
        case "append-slash":
            redirect.appendSlash = true
            return i + 1
        case "set-cookie", "clear-cookie":
            guard i + 1 < words.count else {
                error("\(context): '\(w.text)' expects a cookie name", at: w)
                return nil
            }
            if w.text == "set-cookie" { redirect.setCookie = words[i + 1].text } else { redirect.clearCookie = words[i + 1].text }
            return i + 2
        case "ignore-empty":
            redirect.ignoreEmpty = true
            return i + 1
        case "keep-query", "set-cookie-fmt":
            error("\(context): '\(w.text)' is not supported by Weir yet", at: w)
            return nil
        default:
            if expectingKind {
                error("\(context): expected 'location', 'prefix' or 'scheme', got '\(w.text)'"
                      + Keywords.didYouMean(w.text, among: ["location", "prefix", "scheme"]).replacingDidYouMean(), at: w)
                return nil
            }
            let options = ["code", "drop-query", "append-slash", "set-cookie", "clear-cookie", "ignore-empty"]
            error("\(context): unexpected '\(w.text)'; expected code, drop-query, append-slash, set-cookie, "
                  + "clear-cookie, ignore-empty, 'if' or 'unless'" + Keywords.didYouMean(w.text, among: options).replacingDidYouMean(),
                  at: w)
            return nil
        }
    }

    // MARK: tcp-request

    mutating func parseTCPRequest(_ words: [Word]) {
        guard words.count > 1 else {
            error("tcp-request: expected 'connection', 'content' or 'inspect-delay'", at: words[0])
            return
        }
        let kind = words[1]
        // `inspect-delay` is inherited from `defaults`; the rules are not.
        if kind.text == "inspect-delay" {
            guard let ms = duration(words, 2, keyword: "tcp-request inspect-delay") else { return }
            expectAtMost(3, words, after: "tcp-request inspect-delay \(words[2].text)")
            settings.tcpInspectDelay = ms
            return
        }
        guard let index = proxyIndex else {
            if case .defaults = section {
                error("'tcp-request \(kind.text)' is not allowed in a 'defaults' section; only 'tcp-request inspect-delay' is",
                      at: kind)
            }
            return
        }
        switch kind.text {
        case "connection", "content":
            break
        case "session":
            error("'tcp-request session' is not supported by Weir yet", at: kind)
            return
        default:
            error("tcp-request: expected 'connection', 'content' or 'inspect-delay', got '\(kind.text)'"
                  + Keywords.didYouMean(kind.text, among: ["connection", "content", "inspect-delay"]).replacingDidYouMean(),
                  at: kind)
            return
        }
        let context = "tcp-request \(kind.text)"
        if kind.text == "connection", proxies[index].kind == .backend {
            error("'tcp-request connection' is not allowed in a 'backend' section", at: kind)
            return
        }
        guard words.count > 2 else {
            error("\(context): expected 'accept', 'reject' or 'silent-drop'", at: kind)
            return
        }
        let actionWord = words[2]
        let stickName = actionWord.text.prefix { $0 != "(" }
        if StickCounterSyntax.isAction(String(stickName)) {
            let context = "\(context) \(stickName)"
            // In mode http the content rules run once the request head is parsed.
            let maximum: FetchSource = kind.text == "connection" ? .connection
                : proxies[index].settings.mode == .http ? .request : .content
            guard let (stick, next) = stickCounterAction(words, at: 2, context: context, maximum: maximum),
                  let condition = optionalCondition(words, at: next, keyword: context) else { return }
            var rule = TCPRule(action: nil, condition: condition, location: location(words[0]))
            rule.stickAction = stick
            if kind.text == "connection" {
                proxies[index].tcpRequestConnectionRules.append(rule)
            } else {
                proxies[index].tcpRequestContentRules.append(rule)
            }
            return
        }
        guard let action = TCPAction(rawValue: actionWord.text) else {
            let unsupported = ["expect-netscaler-cip", "capture", "set-src", "set-dst",
                               "set-mark", "set-tos", "set-var", "unset-var", "do-resolve", "set-priority-class",
                               "set-priority-offset", "switch-mode", "use-service", "send-spoe-group",
                               "set-bandwidth-limit", "set-log-level", "set-nice", "attach-srv", "set-dst-port",
                               "set-src-port", "set-fc-mark", "set-fc-tos", "sc-add-gpc", "sc-inc-gpc", "sc-set-gpt"]
            if unsupported.contains(actionWord.text) || actionWord.text.hasPrefix("set-var(")
                || actionWord.text.hasPrefix("lua.") {
                error("'\(context) \(actionWord.text)' is not supported by Weir yet", at: actionWord)
            } else {
                error("\(context): unknown action '\(actionWord.text)'; expected 'accept', 'reject' or 'silent-drop'"
                      + Keywords.didYouMean(actionWord.text, among: ["accept", "reject", "silent-drop"]).replacingDidYouMean(),
                      at: actionWord)
            }
            return
        }
        var conditionAt = 3
        if action == .expectProxy {
            guard kind.text == "connection" else {
                error("'\(context) expect-proxy' is not allowed: the PROXY header is read at layer 4, "
                      + "by 'tcp-request connection expect-proxy layer4'", at: actionWord)
                return
            }
            guard words.count > 3, words[3].text == "layer4" else {
                error("\(context) expect-proxy: expected 'layer4'", at: words.count > 3 ? words[3] : actionWord)
                return
            }
            conditionAt = 4
        }
        guard let condition = optionalCondition(words, at: conditionAt, keyword: "\(context) \(action.rawValue)") else { return }
        let rule = TCPRule(action: action, condition: condition, location: location(words[0]))
        if kind.text == "connection" {
            proxies[index].tcpRequestConnectionRules.append(rule)
        } else {
            proxies[index].tcpRequestContentRules.append(rule)
        }
    }
}

extension ReturnSpec {
    /// Whether the answer is the same for every request: no log-format field in it.
    public var isConstant: Bool {
        if case .logFormat(let format) = body, !format.isLiteral { return false }
        return headers.allSatisfy { $0.value.isLiteral }
    }
}

extension LogFormat {
    var isLiteral: Bool {
        nodes.allSatisfy { if case .literal = $0 { return true } else { return false } }
    }
}

extension HTTPAction {
    /// Whether later rules of the same list are skipped once this one applies.
    var endsEvaluation: Bool {
        switch self {
        case .allow, .deny, .tarpit, .auth, .redirect, .returnResponse, .useService, .reject, .silentDrop: return true
        default: return false
        }
    }
}
