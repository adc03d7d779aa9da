import CShims
import Glibc
import WeirConfig
import WeirHTTP
import WeirSystem

/// What an evaluation knows besides the message: the session's addresses
/// and where its exchange stands.
struct SampleInput {
    var slot: UInt32
    var peer: PeerAddress
    /// The client socket, read with getsockname for `dst` when `local` is nil; -1: none.
    var clientFD: Int32
    var local: SocketAddress?
    var frontend: Int
    /// The client side's TLS connection (`ssl_fc*`), nil when plain.
    var tls: OpaquePointer?
    /// The server side's TLS connection (`ssl_bc*`), nil when plain or not connected.
    var serverTLS: OpaquePointer?
    var backend = -1
    var server = -1
    /// Mode tcp: the bytes the client sent so far, none forwarded yet
    /// (`ContentSamples.swift`); nil outside content inspection.
    var content: UnsafeRawBufferPointer?
    /// No more bytes will be waited for: a value missing now is missing.
    var contentFinal = true
    /// Set by a content fetch whose value is missing or may still change
    /// because more bytes may come (HAProxy's SMP_F_MAY_CHANGE).
    var contentUndecided = false

    init(slot: UInt32, peer: PeerAddress, clientFD: Int32 = -1, local: SocketAddress? = nil, frontend: Int) {
        self.slot = slot
        self.peer = peer
        self.clientFD = clientFD
        self.local = local
        self.frontend = frontend
    }
}

/// One field of the message being analysed, as the rules left it. Views
/// point into the head, the engine's edit arena, or compiled constants.
struct FieldEntry {
    var name: UnsafeRawBufferPointer
    var value: UnsafeRawBufferPointer
    var removed: Bool
    /// What `name` is to the HTTP engine, found once (by the parser for a
    /// received field): the head writers skip hop-by-hop fields by it.
    var knownName: KnownFieldName
}

enum MessageKind {
    /// Layer 4 only: `tcp-request connection` and tcp-mode decisions.
    case connection
    case request
    case response
}

private var emptyBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

/// The per-worker rules engine: compiled rules, the view of the message
/// being analysed with the rules' edits, and the arenas samples and
/// rendered strings live in. Allocated once; evaluating never allocates.
///
/// Use: `beginRequest` (or `beginResponse`, `beginConnection`), then run
/// rules and conditions; the edits stay in the view until the next `begin…`,
/// for `writeRequestHead`/`writeResponseHead` to apply.
struct RuleEngine: ~Copyable {
    let compiled: CompiledRuleSet
    /// Intermediate sample values (converters), rewound after each ACL and each rule.
    var scratch: ByteArena
    /// Values the edited message keeps until it is written out.
    var edits: ByteArena
    /// Strings rendered for an answer or a backend name, rewound at each rule.
    var output: ByteArena
    var sessions: SessionRuleTable
    /// The sessions' tracked stick counters (`StickCounters.swift`).
    var stick: StickTrackers
    /// `nbsrv`: usable servers per backend, kept current by the worker.
    var usableServers: [Int]
    /// The compiled rules laid out for the per-request path (`RulePlan`).
    let plan: RulePlan

    let fields: UnsafeMutablePointer<FieldEntry>
    let fieldCapacity: Int
    var fieldCount = 0
    var kind = MessageKind.connection
    var input: SampleInput
    /// The session whose addresses `input` holds (`setInput`), as
    /// `generation << 32 | slot`; `.max`: none known.
    private var inputOwner: UInt64 = .max

    // The request line, as edited.
    var method = emptyBytes
    /// `scheme://authority` of an absolute target, else empty.
    var targetPrefix = emptyBytes
    var path = emptyBytes
    var query = emptyBytes
    var hasQuery = false
    var originalTarget = emptyBytes
    var targetEdited = false
    var versionMinor = 1

    // The status line, as edited.
    var status = 0
    var reason = emptyBytes
    var statusEdited = false

    /// The request body bytes read with its head, as received (chunked
    /// framing kept), shown only when a sample reads them (`req.body*`).
    var requestBody = emptyBytes
    /// The body's Content-Length; -1 for a chunked body.
    var requestBodyLength: Int64 = 0

    /// `http-request disable-l7-retry` acted on this request.
    var l7RetryDisabled = false

    /// `tcp-request connection expect-proxy layer4` applied to the
    /// connection being accepted.
    var connectionExpectsProxy = false

    /// `http_auth`: the user list checked for this request and the user found (-1: none).
    var authUserlist = -1
    var authUser = -1

    /// Group offsets of the last regular expression match.
    let regexGroups: UnsafeMutablePointer<regmatch_t>
    static let regexGroupCount = 10
    /// crypt_r's work area, when a user list holds hashed passwords.
    let cryptData: UnsafeMutableRawPointer?

    init(compiled: CompiledRuleSet, arenaSize: Int, maxHeaders: Int, sessionCapacity: Int) {
        self.compiled = compiled
        scratch = ByteArena(capacity: arenaSize)
        edits = ByteArena(capacity: arenaSize)
        output = ByteArena(capacity: arenaSize)
        sessions = SessionRuleTable(variableScopes: compiled.sessionVariableScopes,
                                    processVariableCount: compiled.processVariableCount,
                                    captureLengths: compiled.captureLengths,
                                    uniqueIDCapacity: compiled.frontendLogging.contains { $0.uniqueIDFormat != nil } ? 128 : 0,
                                    proxyUniqueIDCapacity: compiled.readsProxyUniqueID ? 128 : 0,
                                    keepsStickKeys: compiled.stickRules.contains { $0.contains { $0.kind.storesRequest } },
                                    initialCapacity: sessionCapacity)
        usableServers = Array(repeating: 0, count: compiled.backends.count)
        stick = StickTrackers(sessionCapacity: compiled.tracksStickCounters ? sessionCapacity : 0)
        plan = RulePlan(compiled)
        fieldCapacity = maxHeaders + 64
        fields = .allocate(capacity: fieldCapacity)
        input = SampleInput(slot: 0, peer: PeerAddress(), frontend: 0)
        regexGroups = .allocate(capacity: Self.regexGroupCount)
        if compiled.needsCrypt {
            let area = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<crypt_data>.size,
                                                        alignment: MemoryLayout<crypt_data>.alignment)
            area.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
            cryptData = area
        } else {
            cryptData = nil
        }
    }

    deinit {
        fields.deallocate()
        regexGroups.deallocate()
        cryptData?.deallocate()
    }

    // MARK: - Starting an evaluation

    private mutating func begin(_ kind: MessageKind, _ input: SampleInput) {
        replaceInput(input)
        begin(kind)
    }

    private mutating func replaceInput(_ input: SampleInput) {
        self.input = input
        inputOwner = .max
    }

    /// Starts an evaluation over the input already in place (`setInput`).
    private mutating func begin(_ kind: MessageKind) {
        self.kind = kind
        scratch.reset()
        edits.reset()
        output.reset()
        fieldCount = 0
        l7RetryDisabled = false
        authUserlist = -1
        authUser = -1
    }

    /// Fills `input` in place, field by field: the per-request path copies
    /// no whole `SampleInput` (two socket addresses).
    /// The session's addresses are copied once per session, not per
    /// message: `generation` tells a slot's sessions apart.
    /// Returns whether the session's addresses were copied in (its first
    /// message since another session's): a PROXY header's destination is
    /// then the caller's to set in `input.local`.
    @discardableResult
    mutating func setInput(slot: UInt32, generation: UInt32, peer: PeerAddress, clientFD: Int32,
                           frontend: Int, backend: Int, server: Int, tls: OpaquePointer?, serverTLS: OpaquePointer?) -> Bool {
        let owner = UInt64(generation) << 32 | UInt64(slot)
        let renewed = owner != inputOwner
        if renewed {
            input.peer = peer
            if input.local != nil { input.local = nil }
            inputOwner = owner
        }
        input.slot = slot
        input.clientFD = clientFD
        input.frontend = frontend
        input.tls = tls
        input.serverTLS = serverTLS
        input.backend = backend
        input.server = server
        return renewed
    }

    /// Layer 4 decisions: only addresses, constants and variables are known.
    mutating func beginConnection(_ input: SampleInput) {
        connectionExpectsProxy = false
        begin(.connection, input)
    }

    /// A request head was parsed into `headers`: the view starts as the
    /// request as received, the exchange's variables and captures are
    /// reset, and the frontend's header captures taken.
    mutating func beginRequest(head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, request: RequestHead,
                               input: SampleInput) {
        replaceInput(input)
        beginRequest(head: head, headers: headers, request: request)
    }

    /// `beginRequest` over the input already in place (`setInput`).
    mutating func beginRequest(head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, request: RequestHead) {
        begin(.request)
        loadFields(head, headers)
        method = head.slice(0, request.methodEnd)
        versionMinor = request.versionMinor
        originalTarget = head.slice(request.targetStart, request.targetEnd)
        targetEdited = false
        splitTarget(originalTarget)
        sessions.startExchange(input.slot)
        if plan.frontends[input.frontend].hasRequestCaptures {
            let proxy = compiled.frontends[input.frontend]
            for capture in proxy.requestHeaderCaptures { captureHeader(capture) }
            if let cookie = proxy.cookieCapture { captureRequestCookie(cookie) }
        }
    }

    /// A response head was parsed into `headers`.
    mutating func beginResponse(head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, response: ResponseHead,
                                input: SampleInput) {
        replaceInput(input)
        beginResponse(head: head, headers: headers, response: response)
    }

    /// `beginResponse` over the input already in place (`setInput`).
    mutating func beginResponse(head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, response: ResponseHead) {
        begin(.response)
        loadFields(head, headers)
        status = response.status
        reason = head.slice(response.reasonStart, response.reasonEnd)
        statusEdited = false
        if plan.frontends[input.frontend].hasResponseCaptures {
            let proxy = compiled.frontends[input.frontend]
            for capture in proxy.responseHeaderCaptures { captureHeader(capture) }
            if let cookie = proxy.cookieCapture { captureResponseCookie(cookie) }
        }
    }

    /// `beginResponse` for an answer the proxy wrote itself, over the input
    /// already in place: no header is captured from it.
    mutating func beginAnswer(head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, response: ResponseHead) {
        begin(.response)
        loadFields(head, headers)
        status = response.status
        reason = head.slice(response.reasonStart, response.reasonEnd)
        statusEdited = false
    }

    @inline(__always)
    private mutating func loadFields(_ head: UnsafeRawBufferPointer, _ headers: borrowing HeaderTable) {
        let count = min(headers.count, fieldCapacity)
        if let base = head.baseAddress {
            let source = headers.fields
            for i in 0..<count {
                let field = source[i]
                fields[i] = FieldEntry(
                    name: UnsafeRawBufferPointer(start: base + Int(field.nameStart), count: Int(field.nameEnd &- field.nameStart)),
                    value: UnsafeRawBufferPointer(start: base + Int(field.valueStart),
                                                  count: Int(field.valueEnd &- field.valueStart)),
                    removed: false, knownName: field.knownName)
            }
            fieldCount = count
            return
        }
        for i in 0..<count {
            let field = headers[i]
            fields[i] = FieldEntry(name: field.name(in: head), value: field.value(in: head), removed: false,
                                   knownName: field.knownName)
        }
        fieldCount = count
    }

    /// Splits a request target into `scheme://authority`, path and query.
    @inline(__always)
    private mutating func splitTarget(_ target: UnsafeRawBufferPointer) {
        var pathStart = 0
        if target.count > 0 && target[0] != UInt8(ascii: "/") && target[0] != UInt8(ascii: "*"),
           let scheme = ByteMatching.find(UnsafeRawBufferPointer(start: Self.schemeSeparator.utf8Start, count: 3),
                                          in: target, ignoreCase: false) {
            pathStart = scheme + 3
            while pathStart < target.count && target[pathStart] != UInt8(ascii: "/")
                && target[pathStart] != UInt8(ascii: "?") { pathStart += 1 }
        }
        targetPrefix = target.slice(0, pathStart)
        var queryMark = target.count
        if pathStart < target.count, let found = memchr(target.baseAddress! + pathStart, Int32(UInt8(ascii: "?")),
                                                       target.count - pathStart) {
            queryMark = target.baseAddress!.distance(to: UnsafeRawPointer(found))
        }
        path = target.slice(pathStart, queryMark)
        hasQuery = queryMark < target.count
        query = hasQuery ? target.slice(queryMark + 1, target.count) : emptyBytes
    }

    private static let schemeSeparator: StaticString = "://"

    private mutating func captureHeader(_ capture: CompiledHeaderCapture) {
        var last: UnsafeRawBufferPointer?
        for i in 0..<fieldCount where ByteMatching.equal(fields[i].name, capture.name, ignoreCase: true) {
            last = fields[i].value
        }
        if let last { sessions.capture(input.slot, capture.slot, last) }
    }

    // MARK: - The message as edited

    /// The request target as it will be sent.
    mutating func currentTarget() -> UnsafeRawBufferPointer? {
        guard targetEdited else { return originalTarget }
        let start = scratch.mark
        guard scratch.append(targetPrefix), scratch.append(path),
              !hasQuery || (scratch.append(UInt8(ascii: "?")) && scratch.append(query)) else {
            scratch.rewind(to: start)
            return nil
        }
        return scratch.bytes(since: start)
    }

    /// The value of the first field named `lowercaseName`, or nil.
    func firstValue(named lowercaseName: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        for i in 0..<fieldCount where !fields[i].removed
            && ByteMatching.equal(fields[i].name, lowercaseName, ignoreCase: true) {
            return fields[i].value
        }
        return nil
    }

    func firstValue(named lowercaseName: StaticString) -> UnsafeRawBufferPointer? {
        firstValue(named: UnsafeRawBufferPointer(start: lowercaseName.utf8Start, count: lowercaseName.utf8CodeUnitCount))
    }

    /// Adds a field at the end of the message; false when the table is full.
    mutating func appendField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        appendField(name: name, value: value, knownName: KnownFieldName(name))
    }

    mutating func appendField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                              knownName: KnownFieldName) -> Bool {
        guard fieldCount < fieldCapacity else { return false }
        fields[fieldCount] = FieldEntry(name: name, value: value, removed: false, knownName: knownName)
        fieldCount += 1
        return true
    }

    /// Removes every field whose name matches.
    mutating func removeFields(named lowercaseName: UnsafeRawBufferPointer, match: HeaderNameMatch) {
        for i in 0..<fieldCount where !fields[i].removed {
            let name = fields[i].name
            let hit: Bool
            switch match {
            case .exact: hit = ByteMatching.equal(name, lowercaseName, ignoreCase: true)
            case .prefix: hit = ByteMatching.hasPrefix(name, lowercaseName, ignoreCase: true)
            case .suffix: hit = ByteMatching.hasSuffix(name, lowercaseName, ignoreCase: true)
            case .substring: hit = ByteMatching.find(lowercaseName, in: name, ignoreCase: true) != nil
            case .regex(let regex): hit = regex.matches(name)
            }
            if hit { fields[i].removed = true }
        }
    }

    /// Replaces the request target with `uri` (already in the edit arena).
    mutating func setTarget(_ uri: UnsafeRawBufferPointer) {
        targetEdited = true
        splitTarget(uri)
    }

    /// Replaces the path and the query with `pathAndQuery` (already in the edit arena).
    mutating func setPathAndQuery(_ pathAndQuery: UnsafeRawBufferPointer) {
        targetEdited = true
        var mark = 0
        while mark < pathAndQuery.count && pathAndQuery[mark] != UInt8(ascii: "?") { mark += 1 }
        path = pathAndQuery.slice(0, mark)
        hasQuery = mark < pathAndQuery.count
        query = hasQuery ? pathAndQuery.slice(mark + 1, pathAndQuery.count) : emptyBytes
    }

    // MARK: - Session state the worker reads

    /// The log level `set-log-level` chose for the slot's exchange: nil when
    /// none did, `.silent` to log nothing.
    func exchangeLogLevel(_ slot: UInt32) -> ExchangeLogLevel? {
        let raw = sessions.logLevel(slot)
        if raw == SessionRuleTable.logLevelUnset { return nil }
        if raw == SessionRuleTable.logLevelSilent { return .silent }
        return LogLevel(rawValue: Int(raw)).map { .level($0) } ?? nil
    }
}

/// What `set-log-level` asked for.
enum ExchangeLogLevel: Equatable {
    case silent
    case level(LogLevel)
}

extension UnsafeRawBufferPointer {
    /// The bytes in `start..<end`, as a view over the same memory.
    @inline(__always)
    func slice(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[start..<end])
    }
}
