import Glibc
import WeirConfig
import WeirHTTP

// The per-request view of the compiled rules: what `applyRequestRules`,
// `applyResponseRules`, `run` and `chooseBackend` walk for every request,
// laid out once per worker in flat, trivial storage. Compiled rules, ACLs
// and proxies are classes held in arrays; walking those arrays retains and
// releases every element and every nested array. Here they are reached
// through unmanaged references (the `CompiledRuleSet` the engine holds keeps
// them alive), and conditions are flat lists of ACL lines, so evaluating a
// rule does no reference counting at all. The generic paths
// (`evaluate(CompiledCondition)`, `run([CompiledHTTPRule])`) stay for
// everything else.

/// One ACL line of a planned condition.
struct PlannedACL {
    let acl: Unmanaged<CompiledACL>
    /// Index just past the last line of this line's term, and of its AND-group.
    let termEnd: Int
    let groupEnd: Int
    /// The term is negated (`!acl`).
    let negated: Bool
    /// How the line is matched without the generic path.
    let fast: FastACL
    let method: MatchMethod
    let ignoreCase: Bool
    /// The string patterns (lowercase when `ignoreCase`; sorted for `str`).
    let patterns: UnsafeBufferPointer<UnsafeRawBufferPointer>
    /// How a fast line's sample is tried against `patterns`.
    let test: PatternTest
    /// The test is `.equal` to a pattern without a comma or a blank at its
    /// ends: a header value equal to it is one list element, no split needed.
    let patternIsListElement: Bool
}

/// A fast line's test of its sample: one pattern and a method most ACLs
/// use are one direct comparison.
enum PatternTest {
    /// Every pattern by `method` (a binary search over many `str` patterns).
    case any
    /// The sample is the one pattern (`str`).
    case equal(UnsafeRawBufferPointer)
    /// The sample begins with the one pattern (`beg`).
    case prefix(UnsafeRawBufferPointer)
}

/// String ACLs without converters: the fetch read directly.
enum FastACL {
    /// The generic path (`matches(CompiledACL)`).
    case none
    /// The request's path, read in place.
    case path
    /// A fetch with one value (`method`, `url`, `req.ver`, …).
    case single(CompiledFetch)
    /// Every value of the named request or response header (`hdr(name)`
    /// split at commas, `fhdr(name)` whole lines); `name` is lowercase.
    /// A name the parser knows is told by `knownName` alone.
    case headerValues(name: UnsafeRawBufferPointer, knownName: KnownFieldName, splits: Bool, inResponse: Bool)
}

/// A condition as the plan evaluates it.
struct PlannedCondition {
    /// Folded when the configuration was read; nil: evaluate `lines`.
    let constant: Bool?
    let negated: Bool
    let lines: UnsafeBufferPointer<PlannedACL>
}

/// What a planned rule does without the generic `apply`.
enum FastAction {
    /// The generic path: `rule.action`.
    case none
    /// `set-header NAME VALUE` with a constant value.
    case setHeader(name: UnsafeRawBufferPointer, lowercaseName: UnsafeRawBufferPointer, knownName: KnownFieldName,
                   value: UnsafeRawBufferPointer)
    /// `add-header NAME VALUE` with a constant value.
    case addHeader(name: UnsafeRawBufferPointer, knownName: KnownFieldName, value: UnsafeRawBufferPointer)
}

struct PlannedRule {
    let rule: Unmanaged<CompiledHTTPRule>
    let condition: PlannedCondition
    let fast: FastAction
}

struct PlannedBackendRule {
    let backend: Int
    /// `use_backend %[…]`: the name is rendered from the compiled rule (by index).
    let isDynamic: Bool
    let condition: PlannedCondition
}

/// One frontend's or backend's rules, planned.
struct ProxyPlan {
    let proxy: Unmanaged<ProxyRules>
    var hasTCPContentRules: Bool
    let hasStatsPage: Bool
    /// A frontend with `monitor-uri`.
    let hasMonitor: Bool
    let ownBackend: Int
    var defaultBackend: Int
    let isHTTP: Bool
    let requestRules: UnsafeBufferPointer<PlannedRule>
    let redirectRules: UnsafeBufferPointer<PlannedRule>
    let responseRules: UnsafeBufferPointer<PlannedRule>
    let afterResponseRules: UnsafeBufferPointer<PlannedRule>
    var backendRules: UnsafeBufferPointer<PlannedBackendRule>
    let hasRequestCaptures: Bool
    let hasResponseCaptures: Bool
    /// A backend with `stick` rules.
    let hasStickRules: Bool
    /// A backend with `use-server` rules.
    let hasServerRules: Bool
    /// A backend with `use-server` rules or `option prefer-last-server`:
    /// a server may be picked before balancing.
    let picksBeforeBalancing: Bool
}

/// Every proxy's plan, and the memory it lives in (freed with the plan's owner).
struct RulePlan: ~Copyable {
    let frontends: UnsafeMutableBufferPointer<ProxyPlan>
    let backends: UnsafeMutableBufferPointer<ProxyPlan>
    private var blocks: [UnsafeMutableRawPointer] = []

    init(_ compiled: borrowing CompiledRuleSet) {
        frontends = .allocate(capacity: max(compiled.frontends.count, 1))
        backends = .allocate(capacity: max(compiled.backends.count, 1))
        for (i, proxy) in compiled.frontends.enumerated() {
            let plan = plan(proxy, hasStatsPage: i < compiled.frontendStatsPages.count && compiled.frontendStatsPages[i] != nil,
                            hasMonitor: i < compiled.frontendMonitors.count && compiled.frontendMonitors[i] != nil,
                            hasStickRules: false, hasServerRules: false, prefersLastServer: false)
            (frontends.baseAddress! + i).initialize(to: plan)
            // A mode tcp frontend's plan serves the sessions its backend
            // upgraded to HTTP: its content rules and its backend choice ran
            // once, on the connection, so it runs none and chooses none
            // (`applyRequestRules` then keeps the session's backend).
            if !proxy.isHTTP {
                frontends[i].hasTCPContentRules = false
                frontends[i].defaultBackend = -1
                frontends[i].backendRules = UnsafeBufferPointer(start: nil, count: 0)
            }
        }
        for (i, proxy) in compiled.backends.enumerated() {
            let plan = plan(proxy, hasStatsPage: i < compiled.backendStatsPages.count && compiled.backendStatsPages[i] != nil,
                            hasMonitor: false, hasStickRules: i < compiled.stickRules.count && !compiled.stickRules[i].isEmpty,
                            hasServerRules: i < compiled.serverRules.count && !compiled.serverRules[i].isEmpty,
                            prefersLastServer: i < compiled.prefersLastServer.count && compiled.prefersLastServer[i])
            (backends.baseAddress! + i).initialize(to: plan)
        }
    }

    /// Frontend `i`'s plan, in place: the per-request path reads it
    /// without copying it out.
    func frontend(_ i: Int) -> UnsafePointer<ProxyPlan> { UnsafePointer(frontends.baseAddress! + i) }

    func backend(_ i: Int) -> UnsafePointer<ProxyPlan> { UnsafePointer(backends.baseAddress! + i) }

    deinit {
        for block in blocks { block.deallocate() }
        frontends.deallocate()
        backends.deallocate()
    }

    private mutating func store<T>(_ values: [T]) -> UnsafeBufferPointer<T> {
        guard !values.isEmpty else { return UnsafeBufferPointer(start: nil, count: 0) }
        let block = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        block.initialize(from: values, count: values.count)
        blocks.append(UnsafeMutableRawPointer(block))
        return UnsafeBufferPointer(start: block, count: values.count)
    }

    private mutating func plan(_ proxy: ProxyRules, hasStatsPage: Bool, hasMonitor: Bool, hasStickRules: Bool,
                               hasServerRules: Bool, prefersLastServer: Bool) -> ProxyPlan {
        ProxyPlan(proxy: .passUnretained(proxy), hasTCPContentRules: !proxy.tcpContentRules.isEmpty,
                  hasStatsPage: hasStatsPage, hasMonitor: hasMonitor, ownBackend: proxy.ownBackend, defaultBackend: proxy.defaultBackend,
                  isHTTP: proxy.isHTTP,
                  requestRules: store(proxy.requestRules.map { plan($0) }),
                  redirectRules: store(proxy.redirectRules.map { plan($0) }),
                  responseRules: store(proxy.responseRules.map { plan($0) }),
                  afterResponseRules: store(proxy.afterResponseRules.map { plan($0) }),
                  backendRules: store(proxy.backendRules.map {
                      PlannedBackendRule(backend: $0.backend, isDynamic: $0.dynamicName != nil, condition: plan($0.condition))
                  }),
                  hasRequestCaptures: !proxy.requestHeaderCaptures.isEmpty || proxy.cookieCapture != nil,
                  hasResponseCaptures: !proxy.responseHeaderCaptures.isEmpty || proxy.cookieCapture != nil,
                  hasStickRules: hasStickRules, hasServerRules: hasServerRules,
                  picksBeforeBalancing: hasServerRules || prefersLastServer)
    }

    private mutating func plan(_ rule: CompiledHTTPRule) -> PlannedRule {
        var fast = FastAction.none
        switch rule.action {
        case .setHeader(let name, let lowercaseName, let format):
            if let value = Self.constant(format) {
                fast = .setHeader(name: name, lowercaseName: lowercaseName, knownName: KnownFieldName(name), value: value)
            }
        case .addHeader(let name, let format):
            if let value = Self.constant(format) { fast = .addHeader(name: name, knownName: KnownFieldName(name), value: value) }
        default:
            break
        }
        return PlannedRule(rule: .passUnretained(rule), condition: plan(rule.condition), fast: fast)
    }

    /// The bytes of a format made of one literal (or nothing), else nil.
    private static func constant(_ format: CompiledLogFormat) -> UnsafeRawBufferPointer? {
        if format.nodes.isEmpty { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard format.nodes.count == 1, case .literal(let bytes) = format.nodes[0] else { return nil }
        return bytes
    }

    private mutating func plan(_ condition: CompiledCondition) -> PlannedCondition {
        var lines: [PlannedACL] = []
        for group in condition.alternatives {
            let groupStart = lines.count
            let groupSize = group.reduce(0) { $0 + $1.acls.count }
            for term in group {
                let termEnd = lines.count + term.acls.count
                for acl in term.acls {
                    lines.append(PlannedACL(acl: .passUnretained(acl), termEnd: termEnd, groupEnd: groupStart + groupSize,
                                            negated: term.negated, fast: Self.fast(acl), method: acl.method,
                                            ignoreCase: acl.ignoreCase, patterns: store(acl.strings),
                                            test: Self.test(acl), patternIsListElement: Self.isListElement(acl)))
                }
            }
        }
        return PlannedCondition(constant: condition.constant, negated: condition.negated, lines: store(lines))
    }

    private static func fast(_ acl: CompiledACL) -> FastACL {
        guard acl.sample.converters.isEmpty else { return .none }
        switch acl.method {
        case .str, .beg, .end, .sub, .dom, .dir: break
        default: return .none
        }
        switch acl.sample.fetch {
        case .header(let selector):
            guard let name = selector.name, selector.occurrence == nil else { return .none }
            return .headerValues(name: name, knownName: KnownFieldName(name), splits: selector.splitsValues,
                                 inResponse: selector.inResponse)
        case .path:
            return .path
        case let fetch where !fetch.isMultiValued:
            return .single(fetch)
        default:
            return .none
        }
    }

    private static func isListElement(_ acl: CompiledACL) -> Bool {
        guard case .equal(let pattern) = test(acl), let last = pattern.last else { return false }
        return !RuleEngine.isWhitespace(pattern[0]) && !RuleEngine.isWhitespace(last) && !pattern.contains(UInt8(ascii: ","))
    }

    private static func test(_ acl: CompiledACL) -> PatternTest {
        guard acl.strings.count == 1 else { return .any }
        switch acl.method {
        case .str: return .equal(acl.strings[0])
        case .beg: return .prefix(acl.strings[0])
        default: return .any
        }
    }
}

extension RuleEngine {
    /// Whether a planned condition holds: an OR of AND-groups of (possibly
    /// negated) terms, each term holding when any of its lines matches.
    /// A constant one (a rule without `if`) costs no call.
    @inline(__always)
    mutating func evaluate(_ condition: PlannedCondition) -> Bool {
        if let constant = condition.constant { return constant }
        return evaluateLines(condition)
    }

    private mutating func evaluateLines(_ condition: PlannedCondition) -> Bool {
        guard let lines = condition.lines.baseAddress else { return condition.negated }
        let count = condition.lines.count
        var i = 0
        while i < count {
            let groupEnd = lines[i].groupEnd
            var all = true
            while i < groupEnd {
                let termEnd = lines[i].termEnd
                var matched = false
                var j = i
                while j < termEnd {
                    if matches(lines + j) {
                        matched = true
                        break
                    }
                    j += 1
                }
                if matched == lines[i].negated {
                    all = false
                    break
                }
                i = termEnd
            }
            if all { return !condition.negated }
            i = groupEnd
        }
        return condition.negated
    }

    private mutating func matches(_ line: UnsafePointer<PlannedACL>) -> Bool {
        switch line.pointee.fast {
        case .none:
            return line.pointee.acl._withUnsafeGuaranteedRef { matches($0) }
        case .single(let fetch):
            let mark = scratch.mark
            defer { scratch.rewind(to: mark) }
            guard let bytes = bytes(of: self.fetch(fetch, valueIndex: nil)) else { return false }
            return Self.matches(bytes, line)
        case .path:
            return kind == .request && Self.matches(path, line)
        case .headerValues(let name, let knownName, let splits, let inResponse):
            guard kind == (inResponse ? .response : .request) else { return false }
            // Names are classified exactly (by the parser, or `appendField`):
            // a known name matches by its kind alone, another by its bytes.
            for i in 0..<fieldCount where !fields[i].removed && fields[i].knownName == knownName
                && (knownName != .other || ByteMatching.equal(fields[i].name, name, ignoreCase: true)) {
                let value = fields[i].value
                // As `forEachHeaderValue`: an empty field is one empty value.
                if !splits || value.count == 0 {
                    if Self.matches(value, line) { return true }
                    continue
                }
                if line.pointee.patternIsListElement && Self.matches(value, line) { return true }
                if let single = Self.singleElement(value) {
                    if Self.matches(single, line) { return true }
                    continue
                }
                for element in ListElements(value) where Self.matches(element, line) { return true }
            }
            return false
        }
    }

    /// A non-empty value without a comma and without surrounding whitespace
    /// (a value as parsed, most often) is its own single list element; nil
    /// otherwise (`ListElements` then splits it).
    @inline(__always)
    private static func singleElement(_ value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let base = value.baseAddress, value.count > 0,
              !Self.isWhitespace(value[0]), !Self.isWhitespace(value[value.count - 1]),
              memchr(base, Int32(UInt8(ascii: ",")), value.count) == nil else { return nil }
        return value
    }

    @inline(__always)
    fileprivate static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// A string sample against a line's patterns.
    @inline(__always)
    private static func matches(_ bytes: UnsafeRawBufferPointer, _ line: UnsafePointer<PlannedACL>) -> Bool {
        switch line.pointee.test {
        case .equal(let pattern): return ByteMatching.equal(bytes, pattern, ignoreCase: line.pointee.ignoreCase)
        case .prefix(let pattern): return ByteMatching.hasPrefix(bytes, pattern, ignoreCase: line.pointee.ignoreCase)
        case .any: return matchesAny(bytes, line)
        }
    }

    private static func matchesAny(_ bytes: UnsafeRawBufferPointer, _ line: UnsafePointer<PlannedACL>) -> Bool {
        let patterns = line.pointee.patterns
        let method = line.pointee.method, ignoreCase = line.pointee.ignoreCase
        if method == .str && patterns.count > 8 {
            var low = 0
            var high = patterns.count - 1
            while low <= high {
                let middle = (low + high) / 2
                let order = ByteMatching.compare(bytes, patterns[middle], ignoreCase: ignoreCase)
                if order == 0 { return true }
                if order < 0 { high = middle - 1 } else { low = middle + 1 }
            }
            return false
        }
        for pattern in patterns where matches(bytes, pattern, method: method, ignoreCase: ignoreCase) {
            return true
        }
        return false
    }

    /// Runs planned rules as `run(_:)` runs compiled ones. Most lists are
    /// empty: that costs no call.
    @inline(__always)
    mutating func run(_ rules: UnsafeBufferPointer<PlannedRule>) -> RuleVerdict {
        rules.isEmpty ? .proceed : runPlanned(rules)
    }

    /// Runs `first`, then `second` when `first` proceeds (`http-request`
    /// then `redirect` rules): one verdict, not one reassigned per list.
    @inline(__always)
    mutating func run(_ first: UnsafeBufferPointer<PlannedRule>, then second: UnsafeBufferPointer<PlannedRule>) -> RuleVerdict {
        if !first.isEmpty {
            let verdict = runPlanned(first)
            guard case .proceed = verdict else { return verdict }
        }
        return run(second)
    }

    private mutating func runPlanned(_ rules: UnsafeBufferPointer<PlannedRule>) -> RuleVerdict {
        for planned in rules {
            scratch.reset()
            output.reset()
            guard evaluate(planned.condition) else { continue }
            switch planned.fast {
            case .setHeader(let name, let lowercaseName, let knownName, let value):
                removeFields(named: lowercaseName, match: .exact)
                guard appendField(name: name, value: value, knownName: knownName) else { return .failed }
            case .addHeader(let name, let knownName, let value):
                guard appendField(name: name, value: value, knownName: knownName) else { return .failed }
            case .none:
                if let verdict = planned.rule._withUnsafeGuaranteedRef({ act($0.action) }) { return verdict }
            }
        }
        return .proceed
    }

    /// `chooseBackend(frontend:)` over the frontend's plan.
    @inline(__always)
    mutating func chooseBackend(_ plan: UnsafePointer<ProxyPlan>) -> Int {
        for (index, rule) in plan.pointee.backendRules.enumerated() {
            scratch.reset()
            output.reset()
            guard evaluate(rule.condition) else { continue }
            guard rule.isDynamic else { return rule.backend }
            if let backend = plan.pointee.proxy._withUnsafeGuaranteedRef({
                dynamicBackend($0.backendRules[index], isHTTP: $0.isHTTP)
            }) {
                return backend
            }
        }
        return plan.pointee.defaultBackend
    }
}
