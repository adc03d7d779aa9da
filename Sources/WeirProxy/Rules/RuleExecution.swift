import WeirConfig
import WeirHTTP

/// What running a list of rules decided.
enum RuleVerdict {
    /// Go on: no rule stopped the message (or `allow` ended the list).
    case proceed
    case deny(status: Int, answer: CompiledReturn?)
    case tarpit(status: Int, answer: Int)
    case auth(realm: UnsafeRawBufferPointer)
    case redirect(CompiledRedirect)
    case answer(CompiledReturn)
    case service(HTTPService)
    /// `reject`, `silent-drop`: the connection ends without an answer.
    case reject
    case silentDrop
    /// A rewrite did not fit (the edit arena or the field table is full).
    case failed
}

extension RuleEngine {
    /// Runs `rules` in order over the current message: each one whose
    /// condition holds acts; the first allow, deny, tarpit, auth, redirect
    /// or return ends the list.
    mutating func run(_ rules: [CompiledHTTPRule]) -> RuleVerdict {
        for rule in rules {
            scratch.reset()
            output.reset()
            guard evaluate(rule.condition) else { continue }
            if let verdict = act(rule.action) { return verdict }
        }
        return .proceed
    }

    /// Carries out the action of a rule whose condition holds: the verdict
    /// when it ends the list, nil when the list goes on.
    mutating func act(_ action: CompiledAction) -> RuleVerdict? {
        switch action {
        case .allow: return .proceed
        case .deny(let status, let answer): return .deny(status: status, answer: answer)
        case .tarpit(let status, let answer): return .tarpit(status: status, answer: answer)
        case .auth(let realm): return .auth(realm: realm)
        case .redirect(let redirect):
            if redirect.ignoreEmpty, let value = render(redirect.value, into: .output), value.count == 0 { return nil }
            return .redirect(redirect)
        case .answer(let answer): return .answer(answer)
        case .service(let service): return .service(service)
        case .reject: return .reject
        case .silentDrop: return .silentDrop
        default:
            return apply(action) ? nil : .failed
        }
    }

    /// Applies an action that changes the message or the session; false when
    /// a rewrite did not fit.
    private mutating func apply(_ action: CompiledAction) -> Bool {
        switch action {
        case .setHeader(let name, let lowercaseName, let format):
            // The value first: it may read the fields it replaces.
            guard let value = render(format, into: .edits) else { return false }
            removeFields(named: lowercaseName, match: .exact)
            return appendField(name: name, value: value)
        case .addHeader(let name, let format):
            guard let value = render(format, into: .edits) else { return false }
            return appendField(name: name, value: value)
        case .deleteHeader(let name, let match):
            removeFields(named: name, match: match)
            return true
        case .replaceHeader(let name, let regex, let replacement, let eachValue):
            guard let template = render(replacement, into: .output) else { return false }
            return replaceFields(named: name, regex: regex, template: template, eachValue: eachValue)
        case .setMethod(let format):
            guard kind == .request else { return true }
            guard let value = render(format, into: .edits) else { return false }
            method = value
        case .setPath(let format):
            guard kind == .request else { return true }
            guard let value = render(format, into: .edits) else { return false }
            path = value
            targetEdited = true
        case .setQuery(let format):
            guard kind == .request else { return true }
            guard let value = render(format, into: .edits) else { return false }
            query = value
            hasQuery = true
            targetEdited = true
        case .setPathQuery(let format):
            guard kind == .request else { return true }
            guard let value = render(format, into: .edits) else { return false }
            setPathAndQuery(value)
        case .setURI(let format):
            guard kind == .request else { return true }
            guard let value = render(format, into: .edits) else { return false }
            setTarget(value)
        case .replaceTarget(let part, let regex, let replacement):
            guard kind == .request else { return true }
            return replaceTarget(part, regex: regex, replacement: replacement)
        case .setVariable(let variable, let sample):
            sessions.set(input.slot, variable, sampleValue(sample))
        case .unsetVariable(let variable):
            sessions.unset(input.slot, variable)
        case .setVariableFormat(let variable, let format):
            guard let value = render(format, into: .output) else { return false }
            sessions.set(input.slot, variable, .bytes(value))
        case .disableL7Retry:
            l7RetryDisabled = true
        case .setLogLevel(let level):
            sessions.setLogLevel(input.slot, level.map { UInt8($0.rawValue) } ?? SessionRuleTable.logLevelSilent)
        case .setStatus(let code, let newReason):
            guard kind == .response else { return true }
            status = code
            if let newReason {
                reason = newReason
            } else {
                let text = HTTPStatus.reason(code)
                reason = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
            }
            statusEdited = true
        case .capture(let sample, let slot):
            if let bytes = bytes(of: sampleValue(sample)) { sessions.capture(input.slot, slot, bytes) }
        case .setTimeout(let tunnel, let fixed, let sample):
            var ms = Int64(fixed)
            if let sample { ms = integer(of: sampleValue(sample)) ?? 0 }
            if ms > 0 { sessions.setTimeout(input.slot, tunnel: tunnel, milliseconds: Int(min(ms, Int64(Int32.max)))) }
        case .stickCounter(let stickAction):
            self.stickAction(stickAction)
        case .allow, .reject, .silentDrop, .deny, .tarpit, .auth, .redirect, .answer, .service:
            break
        }
        return true
    }

    /// `replace-header`: each matching line becomes the template with its
    /// `\N` filled from the line; `replace-value`: the same for each
    /// comma-separated value, the values then joined with `, `.
    private mutating func replaceFields(named name: UnsafeRawBufferPointer, regex: CompiledRegex,
                                        template: UnsafeRawBufferPointer, eachValue: Bool) -> Bool {
        let groupCount = min(regex.groupCount + 1, Self.regexGroupCount)
        for i in 0..<fieldCount where !fields[i].removed && ByteMatching.equal(fields[i].name, name, ignoreCase: true) {
            let value = fields[i].value
            let start = scratch.mark
            var changed = false
            if eachValue {
                var first = true
                for element in ListElements(value) {
                    if !first { guard scratch.append(", ") else { return false } }
                    first = false
                    if regex.firstMatch(element, from: 0, groups: regexGroups, count: groupCount) {
                        changed = true
                        guard appendExpanded(template, source: element, groupCount: groupCount) else { return false }
                    } else {
                        guard scratch.append(element) else { return false }
                    }
                }
            } else if regex.firstMatch(value, from: 0, groups: regexGroups, count: groupCount) {
                changed = true
                guard appendExpanded(template, source: value, groupCount: groupCount) else { return false }
            }
            if changed {
                guard let replaced = edits.copy(scratch.bytes(since: start)) else { return false }
                fields[i].value = replaced
            }
            scratch.rewind(to: start)
        }
        return true
    }

    /// `replace-path|pathq|uri`: the part of the target as it stands, and
    /// where the regex matches it, the template with its `\N` filled in.
    private mutating func replaceTarget(_ part: RequestTargetPart, regex: CompiledRegex,
                                        replacement: CompiledLogFormat) -> Bool {
        guard let template = render(replacement, into: .output) else { return false }
        let start = scratch.mark
        defer { scratch.rewind(to: start) }
        let subject: UnsafeRawBufferPointer
        switch part {
        case .path:
            subject = path
        case .pathAndQuery:
            guard scratch.append(path), !hasQuery || (scratch.append(UInt8(ascii: "?")) && scratch.append(query)) else {
                return false
            }
            subject = scratch.bytes(since: start)
        case .uri:
            guard let target = currentTarget() else { return false }
            subject = target
        }
        let groupCount = min(regex.groupCount + 1, Self.regexGroupCount)
        guard regex.firstMatch(subject, from: 0, groups: regexGroups, count: groupCount) else { return true }
        let expanded = scratch.mark
        guard appendExpanded(template, source: subject, groupCount: groupCount),
              let replaced = edits.copy(scratch.bytes(since: expanded)) else { return false }
        switch part {
        case .path:
            path = replaced
            targetEdited = true
        case .pathAndQuery:
            setPathAndQuery(replaced)
        case .uri:
            setTarget(replaced)
        }
        return true
    }

    // MARK: - Backend selection and layer 4 rules

    /// The backend for the current request (or connection): the first
    /// `use_backend` whose condition holds and, for a `%[…]` name, whose
    /// name is a backend of the frontend's mode; else the default backend.
    /// -1 when there is none.
    mutating func chooseBackend(frontend: Int) -> Int {
        let rules = compiled.frontends[frontend]
        for rule in rules.backendRules {
            scratch.reset()
            output.reset()
            guard evaluate(rule.condition) else { continue }
            if let backend = dynamicBackend(rule, isHTTP: rules.isHTTP) { return backend }
        }
        return rules.defaultBackend
    }

    /// The backend a `use_backend` rule whose condition holds names: its
    /// own, or for a `%[…]` name the backend of that name unless it is in
    /// mode tcp and the frontend in mode http; nil for none.
    mutating func dynamicBackend(_ rule: CompiledBackendRule, isHTTP: Bool) -> Int? {
        guard let dynamicName = rule.dynamicName else { return rule.backend }
        guard let name = render(dynamicName, into: .output),
              let index = backendIndex(named: name), compiled.backends[index].isHTTP || !isHTTP else { return nil }
        return index
    }

    /// The index of the backend named `name`, or nil.
    func backendIndex(named name: UnsafeRawBufferPointer) -> Int? {
        var low = 0
        var high = compiled.backendsByName.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let order = ByteMatching.compare(name, compiled.backendsByName[middle].name, ignoreCase: false)
            if order == 0 { return compiled.backendsByName[middle].index }
            if order < 0 { high = middle - 1 } else { low = middle + 1 }
        }
        return nil
    }

    /// `tcp-request connection|content accept|reject|silent-drop`: the first
    /// rule whose condition holds decides; with none, the connection is accepted.
    mutating func tcpVerdict(_ rules: [CompiledTCPRule]) -> TCPVerdict {
        for rule in rules {
            scratch.reset()
            guard evaluate(rule.condition) else { continue }
            if let stick = rule.stick {
                stickAction(stick)
                continue
            }
            if rule.expectsProxy {
                connectionExpectsProxy = true
                continue
            }
            return rule.verdict
        }
        return .accept
    }
}
