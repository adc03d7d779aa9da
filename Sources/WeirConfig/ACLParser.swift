// `acl` lines, anonymous `{ … }` ACLs, HAProxy's predefined ACLs, and the
// `if`/`unless` conditions that use them. Named ACLs are resolved when the
// proxy section ends, so a condition sees every line of an ACL.

extension ParserState {
    // MARK: acl

    mutating func parseACL(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard words.count > 1 else {
            error("acl: expected a name and a criterion, as in 'acl is_api path_beg /api'", at: words[0])
            return
        }
        let name = words[1]
        if let bad = name.text.first(where: { !Self.isACLNameCharacter($0) }) {
            error("acl: character '\(bad)' is not permitted in ACL name '\(name.text)'", at: name)
            return
        }
        guard words.count > 2 else {
            error("acl '\(name.text)': expected a criterion like path_beg or hdr(host)", at: name)
            return
        }
        guard let acl = aclBody(words[2...], name: name.text, location: location(name)) else { return }
        if proxies[index].acls[name.text] == nil { proxies[index].aclOrder.append(name.text) }
        proxies[index].acls[name.text, default: []].append(acl)
    }

    static func isACLNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == "." || c == ":")
    }

    /// `CRITERION [FLAGS] [PATTERNS…]`, for an `acl` line or inside `{ … }`.
    mutating func aclBody(_ words: ArraySlice<Word>, name: String, location: SourceLocation) -> ACL? {
        let context = name.isEmpty ? "acl" : "acl '\(name)'"
        let criterion = words[words.startIndex]
        guard let parsed = sample(criterion.text, at: criterion, context: context, acl: true) else { return nil }
        var match = Match(method: parsed.derivedMatch ?? parsed.type.defaultMatch)
        var files: [Word] = []
        var i = words.startIndex + 1
        let flags = ["-i", "-f", "-m", "-n", "-u", "-M", "--"]
        flagLoop: while i < words.endIndex, words[i].text.hasPrefix("-"), words[i].text.count > 1 {
            let flag = words[i]
            func value() -> Word? {
                guard i + 1 < words.endIndex else {
                    error("\(context): '\(flag.text)' expects a value", at: flag)
                    return nil
                }
                return words[i + 1]
            }
            switch flag.text {
            case "-i", "-n", "-M":
                if flag.text == "-i" { match.ignoreCase = true }
                i += 1
            case "--":
                i += 1
                break flagLoop
            case "-f":
                guard let v = value() else { return nil }
                files.append(v)
                i += 2
            case "-u":
                guard value() != nil else { return nil }
                i += 2
            case "-m":
                guard let v = value() else { return nil }
                let methods = ["found", "bool", "int", "ip", "len", "str", "sub", "reg", "beg", "end", "dir", "dom", "bin"]
                if let m = MatchMethod(rawValue: v.text) {
                    match.method = m
                } else {
                    error("\(context): unknown match method '\(v.text)'; expected one of \(methods.joined(separator: ", "))"
                          + Keywords.didYouMean(v.text, among: methods).replacingDidYouMean(), at: v)
                    return nil
                }
                i += 2
            default:
                if Int64(flag.text) != nil, [.int, .len].contains(match.method) {
                    // A negative number: a pattern, as HAProxy reads it after its flags.
                    break flagLoop
                }
                error("\(context): unknown flag '\(flag.text)'; put '--' before a pattern that starts with '-'"
                      + Keywords.didYouMean(flag.text, among: flags).replacingDidYouMean(), at: flag)
                return nil
            }
        }

        // Patterns: on the line, then from each file.
        var patterns: [(text: String, at: SourceLocation)] = words[i...].map { ($0.text, self.location($0)) }
        for file in files {
            switch patternLines(file.text) {
            case .success(let lines):
                patterns += lines.map { ($0.text, SourceLocation(file: file.text, line: $0.line, column: $0.column)) }
            case .failure(let e):
                error("\(context): -f: \(e)", at: file)
                return nil
            }
        }
        guard addPatterns(patterns, to: &match, context: context, dottedVersion: parsed.dottedVersion) else { return nil }
        switch match.method {
        case .found, .bool:
            break
        default:
            if patterns.isEmpty, files.isEmpty {
                report(.warning, "\(context) has no pattern: it never matches (use '-m found' to test that the sample exists)",
                       at: self.location(criterion))
            }
        }
        return ACL(name: name, sample: parsed.sample, match: match, location: location)
    }

    /// Parses patterns for the match's method; errors are reported where each pattern is written.
    private mutating func addPatterns(_ patterns: [(text: String, at: SourceLocation)], to match: inout Match,
                                      context: String, dottedVersion: Bool = false) -> Bool {
        var ok = true
        var pendingOperator: (String, SourceLocation)?
        for (text, at) in patterns {
            switch match.method {
            case .found, .bool:
                report(.error, "\(context): '-m \(match.method.rawValue)' takes no pattern, got '\(text)'", at: at)
                return false
            case .ip:
                switch Self.network(Substring(text)) {
                case .success(let n): match.networks.append(n)
                case .failure(let m):
                    report(.error, "\(context): \(m.text)", at: at)
                    ok = false
                }
            case .int, .len:
                if ["eq", "ge", "gt", "le", "lt"].contains(text) {
                    if let (op, opAt) = pendingOperator {
                        report(.error, "\(context): expected a number after '\(op)', got '\(text)'", at: opAt)
                        ok = false
                    }
                    pendingOperator = (text, at)
                    continue
                }
                var text = text
                if dottedVersion, match.method == .int, let version = ContentFetchSyntax.dottedVersion(text) {
                    switch version {
                    case .success(let integer): text = integer
                    case .failure(let m):
                        report(.error, "\(context): \(m.text)", at: at)
                        ok = false
                        pendingOperator = nil
                        continue
                    }
                }
                switch Self.integerRange(text, operator: pendingOperator?.0) {
                case .success(let r): match.integers.append(r)
                case .failure(let m):
                    report(.error, "\(context): \(m.text)", at: at)
                    ok = false
                }
                pendingOperator = nil
            case .reg:
                if let problem = Regex.check(text, ignoreCase: match.ignoreCase) {
                    report(.error, "\(context): invalid regular expression '\(text)': \(problem)", at: at)
                    ok = false
                } else {
                    match.strings.append(text)
                }
            case .str, .beg, .end, .sub, .dom, .dir:
                match.strings.append(text)
            case .bin:
                guard Self.hexBytes(text) != nil else {
                    report(.error, "\(context): '-m bin' expects bytes in hexadecimal like 0A1B2C, got '\(text)'", at: at)
                    ok = false
                    continue
                }
                match.strings.append(text)
            }
        }
        if let (op, at) = pendingOperator {
            report(.error, "\(context): expected a number after '\(op)'", at: at)
            ok = false
        }
        return ok
    }

    /// `N`, `N:M`, `N:`, `:M`, or `N` after an operator (eq, ge, gt, le, lt).
    static func integerRange(_ text: String, operator op: String?) -> Result<ClosedRange<Int64>, ParseFailure> {
        let expected = ParseFailure("expected an integer or a range like 10:20, got '\(text)'")
        if let op {
            guard let n = Int64(text) else { return .failure(expected) }
            switch op {
            case "eq": return .success(n...n)
            case "ge": return .success(n...Int64.max)
            case "gt": return n == Int64.max ? .failure(expected) : .success((n + 1)...Int64.max)
            case "le": return .success(Int64.min...n)
            default: return n == Int64.min ? .failure(expected) : .success(Int64.min...(n - 1))
            }
        }
        if let colon = text.firstIndex(of: ":") {
            let lowText = text[..<colon]
            let highText = text[text.index(after: colon)...]
            let low = lowText.isEmpty ? Int64.min : Int64(lowText)
            let high = highText.isEmpty ? Int64.max : Int64(highText)
            guard let low, let high, !(lowText.isEmpty && highText.isEmpty) else { return .failure(expected) }
            guard low <= high else {
                return .failure(ParseFailure("invalid range '\(text)': the first number is higher than the last"))
            }
            return .success(low...high)
        }
        guard let n = Int64(text) else { return .failure(expected) }
        return .success(n...n)
    }

    // MARK: Predefined ACLs

    static let predefinedACLNames = [
        "TRUE", "FALSE", "HTTP", "HTTP_1.0", "HTTP_1.1", "HTTP_CONTENT", "HTTP_URL_ABS", "HTTP_URL_SLASH", "HTTP_URL_STAR",
        "LOCALHOST", "METH_CONNECT", "METH_DELETE", "METH_GET", "METH_HEAD", "METH_OPTIONS", "METH_POST", "METH_PUT",
        "METH_TRACE", "RDP_COOKIE", "REQ_CONTENT", "WAIT_END",
    ]

    /// HAProxy's predefined ACLs, as ACLs on supported fetches.
    static func predefinedACL(_ name: String, at location: SourceLocation) -> ACL? {
        func acl(_ fetch: Fetch, _ match: Match) -> ACL {
            ACL(name: name, sample: Sample(fetch: fetch), match: match, location: location)
        }
        switch name {
        // `always_true`/`always_false` are fetches; older configurations use them as names too.
        case "TRUE", "always_true": return acl(.alwaysTrue, Match(method: .bool))
        case "FALSE", "always_false": return acl(.alwaysFalse, Match(method: .bool))
        case "HTTP": return acl(.content(.protoHTTP), Match(method: .bool))
        case "HTTP_1.0": return acl(.reqVer, Match(method: .str, strings: ["1.0"]))
        case "HTTP_1.1": return acl(.reqVer, Match(method: .str, strings: ["1.1"]))
        case "HTTP_CONTENT":
            return acl(.hdr(name: "content-length", occurrence: nil), Match(method: .int, integers: [1...Int64.max]))
        case "HTTP_URL_ABS": return acl(.url, Match(method: .reg, strings: ["^[^/:]*://"]))
        case "HTTP_URL_SLASH": return acl(.url, Match(method: .beg, strings: ["/"]))
        case "HTTP_URL_STAR": return acl(.url, Match(method: .str, strings: ["*"]))
        case "LOCALHOST":
            return acl(.src, Match(method: .ip, networks: [
                IPNetwork(address: IPAddress(bytes: [127, 0, 0, 1]), prefixLength: 8),
                IPNetwork(address: IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1]), prefixLength: 128),
            ]))
        case "RDP_COOKIE": return acl(.content(.rdpCookieCount(name: nil)), Match(method: .int, integers: [1...Int64.max]))
        case "REQ_CONTENT": return acl(.content(.length), Match(method: .int, integers: [1...Int64.max]))
        case "WAIT_END": return acl(.content(.waitEnd), Match(method: .bool))
        case "METH_GET": return acl(.method, Match(method: .str, strings: ["GET", "HEAD"]))
        case "METH_CONNECT", "METH_DELETE", "METH_HEAD", "METH_OPTIONS", "METH_POST", "METH_PUT", "METH_TRACE":
            return acl(.method, Match(method: .str, strings: [String(name.dropFirst(5))]))
        default: return nil
        }
    }

    // MARK: Conditions

    /// `if|unless TERMS`, where `words` starts at `if` or `unless`. Named ACLs
    /// are recorded for the end of the section; nil after an error.
    mutating func condition(_ words: ArraySlice<Word>, keyword: String) -> Condition? {
        guard let index = proxyIndex else { return nil }
        let head = words[words.startIndex]
        guard head.text == "if" || head.text == "unless" else {
            error("\(keyword): expected 'if' or 'unless', got '\(head.text)'", at: head)
            return nil
        }
        var alternatives: [[ConditionTerm]] = [[]]
        var pendingNegation: Word?
        var negate = false
        var i = words.startIndex + 1
        if i == words.endIndex {
            error("\(keyword): expected a condition after '\(head.text)'", at: head)
            return nil
        }
        while i < words.endIndex {
            let w = words[i]
            if w.text == "||" || w.text.lowercased() == "or" {
                if alternatives[alternatives.count - 1].isEmpty || pendingNegation != nil {
                    error("\(keyword): expected an ACL before '\(w.text)'", at: w)
                    return nil
                }
                alternatives.append([])
                i += 1
                continue
            }
            var text = Substring(w.text)
            while text.hasPrefix("!") {
                negate.toggle()
                text = text.dropFirst()
            }
            if text.isEmpty {
                pendingNegation = w
                i += 1
                continue
            }
            if text == "{" {
                guard let close = words[(i + 1)...].firstIndex(where: { $0.text == "}" }) else {
                    error("\(keyword): missing '}' after this anonymous ACL", at: w)
                    return nil
                }
                guard close > i + 1 else {
                    error("\(keyword): empty anonymous ACL '{ }'", at: w)
                    return nil
                }
                guard let acl = aclBody(words[(i + 1)..<close], name: "", location: location(words[i + 1])) else {
                    return nil
                }
                alternatives[alternatives.count - 1].append(ConditionTerm(negated: negate, name: "", acls: [acl]))
                i = close + 1
            } else if text.hasPrefix("{") || text == "}" {
                error("\(keyword): braces of an anonymous ACL must be separate words, as in '{ path_beg /api }'", at: w)
                return nil
            } else {
                if let bad = text.first(where: { !Self.isACLNameCharacter($0) }) {
                    error("\(keyword): character '\(bad)' is not permitted in ACL name '\(text)'", at: w)
                    return nil
                }
                alternatives[alternatives.count - 1].append(ConditionTerm(negated: negate, name: String(text), acls: []))
                proxies[index].aclReferences.append(NamedReference(name: String(text), location: location(w)))
                i += 1
            }
            negate = false
            pendingNegation = nil
        }
        if let pendingNegation {
            error("\(keyword): expected a condition after '!'", at: pendingNegation)
            return nil
        }
        if alternatives[alternatives.count - 1].isEmpty {
            error("\(keyword): expected an ACL after '\(words[words.endIndex - 1].text)'", at: words[words.endIndex - 1])
            return nil
        }
        return Condition(alternatives: alternatives, negated: head.text == "unless")
    }

    /// The condition starting at `words[at]` when there is one, `.always` when
    /// the words end there, nil after an error (including a word that is not
    /// `if`/`unless`, reported as unexpected after `after`).
    mutating func optionalCondition(_ words: [Word], at index: Int, keyword: String) -> Condition? {
        guard index < words.count else { return .always }
        guard words[index].text == "if" || words[index].text == "unless" else {
            error("\(keyword): unexpected '\(words[index].text)'; expected 'if' or 'unless' and a condition", at: words[index])
            return nil
        }
        return condition(words[index...], keyword: keyword)
    }

    /// Fills every named term of the proxy's conditions with the ACL's lines
    /// and folds constants; reports names that are not defined.
    mutating func resolveConditions(_ index: Int) {
        var draft = proxies[index]
        for reference in draft.aclReferences where draft.acls[reference.name] == nil
            && Self.predefinedACL(reference.name, at: reference.location) == nil {
            report(.error, "unknown ACL '\(reference.name)'"
                   + Keywords.didYouMean(reference.name, among: draft.aclOrder + Self.predefinedACLNames),
                   at: reference.location)
        }
        let acls = draft.acls
        var referenceLocations: [String: SourceLocation] = [:]
        for reference in draft.aclReferences where referenceLocations[reference.name] == nil {
            referenceLocations[reference.name] = reference.location
        }
        draft.forEachCondition { condition in
            for a in condition.alternatives.indices {
                for t in condition.alternatives[a].indices where !condition.alternatives[a][t].name.isEmpty {
                    let name = condition.alternatives[a][t].name
                    if let lines = acls[name] {
                        condition.alternatives[a][t].acls = lines
                    } else if let at = referenceLocations[name], let acl = Self.predefinedACL(name, at: at) {
                        condition.alternatives[a][t].acls = [acl]
                    }
                }
            }
            condition = condition.folded()
        }
        proxies[index] = draft
    }
}

extension ACL {
    /// The ACL's result when it does not depend on the traffic.
    var constantValue: Bool? {
        guard sample.converters.isEmpty else { return nil }
        switch (sample.fetch, match.method) {
        case (.alwaysTrue, .bool), (.alwaysTrue, .found), (.alwaysFalse, .found): return true
        case (.alwaysFalse, .bool): return false
        default: return nil
        }
    }
}

extension ConditionTerm {
    var constantValue: Bool? {
        guard !acls.isEmpty else { return nil }
        let values = acls.map(\.constantValue)
        var value: Bool?
        if values.contains(true) {
            value = true
        } else if values.allSatisfy({ $0 == false }) {
            value = false
        }
        return value.map { $0 != negated }
    }
}

extension Condition {
    /// The same condition with constant terms removed, and ``always`` or
    /// ``never`` when nothing depends on the traffic.
    func folded() -> Condition {
        var groups: [[ConditionTerm]] = []
        for group in alternatives {
            var kept: [ConditionTerm] = []
            var dead = false
            for term in group {
                switch term.constantValue {
                case true?: continue
                case false?: dead = true
                case nil: kept.append(term)
                }
                if dead { break }
            }
            if dead { continue }
            if kept.isEmpty { return negated ? .never : .always }
            groups.append(kept)
        }
        if groups.isEmpty { return negated ? .always : .never }
        return Condition(alternatives: groups, negated: negated)
    }
}
