import WeirConfig

/// What the rules keep for a session between rules and until its exchange
/// is logged: variables, captures, the log level set by `set-log-level`, and
/// a pending tarpit. One fixed-size record per session slot, in a table
/// that grows only when the session slab does; `proc` variables have one
/// record for the whole worker.
///
/// Record layout: a 16-byte header (log level, tarpit status and answer,
/// `set-timeout` server and tunnel), then each
/// variable (a 16-byte header: kind, length, integer; then its bytes), then
/// each capture (a 2-byte length, then its bytes), then the unique id (a
/// 2-byte length, 0xffff before it is generated, then its bytes), then the
/// PROXY protocol header's unique id (a 2-byte length, then its bytes),
/// then the key a `stick on`/`store-request` rule keeps until the session
/// has a server (`StickKeyBytes`, 8-byte aligned).
struct SessionRuleTable: ~Copyable {
    /// Longest value a variable holds; a longer one is not stored (as when
    /// HAProxy's variable size limits are reached).
    static let variableCapacity = 512

    enum Kind: UInt8 {
        case unset = 0
        case bytes, integer, boolean, address
    }

    static let logLevelUnset: UInt8 = 0xff
    static let logLevelSilent: UInt8 = 0xfe

    private let variableCount: Int
    /// Per variable: `sess` ones outlive the exchange.
    private let outlivesExchange: [Bool]
    private let captureOffsets: [Int]
    private let captureLengths: [Int]
    private let uniqueIDOffset: Int
    /// Longest unique id kept (HAProxy's UNIQUEID_LEN); 0: no frontend has a `unique-id-format`.
    let uniqueIDCapacity: Int
    private static let uniqueIDUnset = UInt16.max
    private let proxyUniqueIDOffset: Int
    /// Longest PROXY protocol unique id kept (the TLV's 128); 0: no sample reads `fc_pp_unique_id`.
    let proxyUniqueIDCapacity: Int
    /// Where a record keeps its pending stick key; -1: no backend has a
    /// rule that stores one (the bytes are then not in the records at all).
    private let stickKeyOffset: Int
    private let variablesOffset = 16
    let stride: Int
    private var records: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private let processRecord: UnsafeMutableRawPointer

    init(variableScopes: [VariableScope], processVariableCount: Int, captureLengths: [Int], uniqueIDCapacity: Int = 0,
         proxyUniqueIDCapacity: Int = 0, keepsStickKeys: Bool = false, initialCapacity: Int) {
        variableCount = variableScopes.count
        outlivesExchange = variableScopes.map { $0 == .sess }
        self.captureLengths = captureLengths
        var offset = 16 + variableScopes.count * (16 + Self.variableCapacity)
        var offsets: [Int] = []
        for length in captureLengths {
            offsets.append(offset)
            offset = (offset + 2 + length + 7) & ~7
        }
        captureOffsets = offsets
        uniqueIDOffset = offset
        self.uniqueIDCapacity = uniqueIDCapacity
        if uniqueIDCapacity > 0 { offset += 2 + uniqueIDCapacity }
        proxyUniqueIDOffset = offset
        self.proxyUniqueIDCapacity = proxyUniqueIDCapacity
        if proxyUniqueIDCapacity > 0 { offset += 2 + proxyUniqueIDCapacity }
        offset = (offset + 7) & ~7
        stickKeyOffset = keepsStickKeys ? offset : -1
        if keepsStickKeys { offset += MemoryLayout<StickKeyBytes>.stride }
        stride = (offset + 7) & ~7
        capacity = max(initialCapacity, 1)
        records = .allocate(byteCount: max(stride * capacity, 1), alignment: 8)
        records.initializeMemory(as: UInt8.self, repeating: 0, count: stride * capacity)
        let processSize = 16 + processVariableCount * (16 + Self.variableCapacity)
        processRecord = .allocate(byteCount: processSize, alignment: 8)
        processRecord.initializeMemory(as: UInt8.self, repeating: 0, count: processSize)
    }

    deinit {
        records.deallocate()
        processRecord.deallocate()
    }

    /// Makes room for `slot` (allocates only when the session slab grew).
    mutating func ensure(_ slot: UInt32) {
        guard Int(slot) >= capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity <= Int(slot) { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: stride * newCapacity, alignment: 8)
        grown.initializeMemory(as: UInt8.self, repeating: 0, count: stride * newCapacity)
        grown.copyMemory(from: records, byteCount: stride * capacity)
        records.deallocate()
        records = grown
        capacity = newCapacity
    }

    private func record(_ slot: UInt32) -> UnsafeMutableRawPointer? {
        Int(slot) < capacity ? records + Int(slot) * stride : nil
    }

    /// A new session on `slot`: nothing set.
    mutating func startSession(_ slot: UInt32) {
        ensure(slot)
        guard let r = record(slot) else { return }
        r.initializeMemory(as: UInt8.self, repeating: 0, count: stride)
        r.storeBytes(of: Self.logLevelUnset, as: UInt8.self)
        if uniqueIDCapacity > 0 { (r + uniqueIDOffset).storeBytes(of: Self.uniqueIDUnset, as: UInt16.self) }
    }

    /// A new exchange on `slot`: its transaction variables, captures, log
    /// level and tarpit are forgotten; session variables stay. A few stores,
    /// inlined where each exchange begins and ends.
    @inline(__always)
    mutating func startExchange(_ slot: UInt32) {
        ensure(slot)
        guard let r = record(slot) else { return }
        r.storeBytes(of: Self.logLevelUnset, as: UInt8.self)
        r.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
        r.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
        for index in 0..<variableCount where !outlivesExchange[index] {
            (r + variablesOffset + index * (16 + Self.variableCapacity)).storeBytes(of: Kind.unset.rawValue, as: UInt8.self)
        }
        for offset in captureOffsets { (r + offset).storeBytes(of: UInt16(0), as: UInt16.self) }
        if uniqueIDCapacity > 0 { (r + uniqueIDOffset).storeBytes(of: Self.uniqueIDUnset, as: UInt16.self) }
    }

    // MARK: Pending stick key

    /// The key `Session.stick.keyPending` says is there.
    func pendingStickKey(_ slot: UInt32) -> StickKeyBytes {
        guard stickKeyOffset >= 0, let r = record(slot) else { return StickKeyBytes() }
        return (r + stickKeyOffset).load(as: StickKeyBytes.self)
    }

    mutating func setPendingStickKey(_ slot: UInt32, _ key: StickKeyBytes) {
        guard stickKeyOffset >= 0, let r = record(slot) else { return }
        (r + stickKeyOffset).storeBytes(of: key, as: StickKeyBytes.self)
    }

    // MARK: Log level and tarpit

    func logLevel(_ slot: UInt32) -> UInt8 {
        record(slot)?.load(as: UInt8.self) ?? Self.logLevelUnset
    }

    mutating func setLogLevel(_ slot: UInt32, _ level: UInt8) {
        record(slot)?.storeBytes(of: level, as: UInt8.self)
    }

    func tarpitStatus(_ slot: UInt32) -> Int {
        Int(record(slot)?.load(fromByteOffset: 2, as: UInt16.self) ?? 0)
    }

    mutating func setTarpitStatus(_ slot: UInt32, _ status: Int) {
        record(slot)?.storeBytes(of: UInt16(status), toByteOffset: 2, as: UInt16.self)
    }

    /// The custom answer of the pending tarpit (1 + its index in
    /// `tarpitAnswers`; 0: the error page); read only while a status is set.
    func tarpitAnswer(_ slot: UInt32) -> Int {
        Int(record(slot)?.load(fromByteOffset: 4, as: UInt16.self) ?? 0)
    }

    mutating func setTarpitAnswer(_ slot: UInt32, _ answer: Int) {
        record(slot)?.storeBytes(of: UInt16(answer), toByteOffset: 4, as: UInt16.self)
    }

    // MARK: set-timeout

    /// The exchange's `set-timeout server` (or `tunnel`) in ms; nil: none.
    func timeout(_ slot: UInt32, tunnel: Bool) -> Int? {
        guard let r = record(slot) else { return nil }
        let ms = r.load(fromByteOffset: tunnel ? 12 : 8, as: UInt32.self)
        return ms == 0 ? nil : Int(ms)
    }

    mutating func setTimeout(_ slot: UInt32, tunnel: Bool, milliseconds: Int) {
        record(slot)?.storeBytes(of: UInt32(milliseconds), toByteOffset: tunnel ? 12 : 8, as: UInt32.self)
    }

    // MARK: Variables

    private func variable(_ slot: UInt32, _ variable: VariableSlot) -> UnsafeMutableRawPointer? {
        if variable.scope == .proc { return processRecord + 16 + variable.index * (16 + Self.variableCapacity) }
        return record(slot).map { $0 + variablesOffset + variable.index * (16 + Self.variableCapacity) }
    }

    func value(_ slot: UInt32, _ slotOfVariable: VariableSlot) -> SampleValue {
        guard let v = variable(slot, slotOfVariable), let kind = Kind(rawValue: v.load(as: UInt8.self)) else { return .none }
        let length = Int(v.load(fromByteOffset: 2, as: UInt16.self))
        let integer = v.load(fromByteOffset: 8, as: Int64.self)
        switch kind {
        case .unset: return .none
        case .bytes: return .bytes(UnsafeRawBufferPointer(start: v + 16, count: length))
        case .integer: return .integer(integer)
        case .boolean: return .boolean(integer != 0)
        case .address:
            return .address(IPValue(high: v.load(fromByteOffset: 16, as: UInt64.self),
                                    low: v.load(fromByteOffset: 24, as: UInt64.self), isV6: integer != 0))
        }
    }

    /// Stores `value`; false (and the variable left as it was) when it does not fit.
    @discardableResult
    mutating func set(_ slot: UInt32, _ slotOfVariable: VariableSlot, _ value: SampleValue) -> Bool {
        guard let v = variable(slot, slotOfVariable) else { return false }
        switch value {
        case .none:
            return false
        case .bytes(let bytes):
            guard bytes.count <= Self.variableCapacity else { return false }
            if bytes.count > 0 { (v + 16).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            v.storeBytes(of: UInt16(bytes.count), toByteOffset: 2, as: UInt16.self)
            v.storeBytes(of: Kind.bytes.rawValue, as: UInt8.self)
        case .integer(let n):
            v.storeBytes(of: n, toByteOffset: 8, as: Int64.self)
            v.storeBytes(of: Kind.integer.rawValue, as: UInt8.self)
        case .boolean(let b):
            v.storeBytes(of: Int64(b ? 1 : 0), toByteOffset: 8, as: Int64.self)
            v.storeBytes(of: Kind.boolean.rawValue, as: UInt8.self)
        case .address(let ip):
            v.storeBytes(of: Int64(ip.isV6 ? 1 : 0), toByteOffset: 8, as: Int64.self)
            v.storeBytes(of: ip.high, toByteOffset: 16, as: UInt64.self)
            v.storeBytes(of: ip.low, toByteOffset: 24, as: UInt64.self)
            v.storeBytes(of: Kind.address.rawValue, as: UInt8.self)
        }
        return true
    }

    mutating func unset(_ slot: UInt32, _ slotOfVariable: VariableSlot) {
        variable(slot, slotOfVariable)?.storeBytes(of: Kind.unset.rawValue, as: UInt8.self)
    }

    // MARK: Captures

    /// Keeps at most the slot's length of `bytes`.
    mutating func capture(_ slot: UInt32, _ capture: CaptureSlot, _ bytes: UnsafeRawBufferPointer) {
        guard let r = record(slot), capture.index < captureOffsets.count else { return }
        let c = r + captureOffsets[capture.index]
        let n = min(bytes.count, captureLengths[capture.index])
        if n > 0 { (c + 2).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        c.storeBytes(of: UInt16(n), as: UInt16.self)
    }

    /// The captured bytes, or nil when nothing was captured.
    func captured(_ slot: UInt32, _ index: Int) -> UnsafeRawBufferPointer? {
        guard let r = record(slot), index >= 0, index < captureOffsets.count else { return nil }
        let c = r + captureOffsets[index]
        let n = Int(c.load(as: UInt16.self))
        return n > 0 ? UnsafeRawBufferPointer(start: c + 2, count: n) : nil
    }

    // MARK: Unique id

    /// Whether the exchange's unique id was generated (it may be empty).
    func hasUniqueID(_ slot: UInt32) -> Bool {
        guard uniqueIDCapacity > 0, let r = record(slot) else { return false }
        return (r + uniqueIDOffset).load(as: UInt16.self) != Self.uniqueIDUnset
    }

    /// The exchange's unique id, nil before it is generated or when empty.
    func uniqueID(_ slot: UInt32) -> UnsafeRawBufferPointer? {
        guard uniqueIDCapacity > 0, let r = record(slot) else { return nil }
        let n = (r + uniqueIDOffset).load(as: UInt16.self)
        guard n != Self.uniqueIDUnset, n > 0 else { return nil }
        return UnsafeRawBufferPointer(start: r + uniqueIDOffset + 2, count: Int(n))
    }

    /// The unique id the session's PROXY protocol header carried, nil without one.
    func proxyUniqueID(_ slot: UInt32) -> UnsafeRawBufferPointer? {
        guard proxyUniqueIDCapacity > 0, let r = record(slot) else { return nil }
        let n = (r + proxyUniqueIDOffset).load(as: UInt16.self)
        guard n > 0 else { return nil }
        return UnsafeRawBufferPointer(start: r + proxyUniqueIDOffset + 2, count: Int(n))
    }

    /// Keeps the unique id of the session's PROXY protocol header (at most
    /// `proxyUniqueIDCapacity` bytes); `startSession` forgets it.
    mutating func setProxyUniqueID(_ slot: UInt32, _ bytes: UnsafeRawBufferPointer) {
        guard proxyUniqueIDCapacity > 0, let r = record(slot) else { return }
        let n = min(bytes.count, proxyUniqueIDCapacity)
        if n > 0 { (r + proxyUniqueIDOffset + 2).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        (r + proxyUniqueIDOffset).storeBytes(of: UInt16(n), as: UInt16.self)
    }

    /// Keeps at most `uniqueIDCapacity` bytes as the exchange's unique id.
    mutating func setUniqueID(_ slot: UInt32, _ bytes: UnsafeRawBufferPointer) {
        guard uniqueIDCapacity > 0, let r = record(slot) else { return }
        let n = min(bytes.count, uniqueIDCapacity)
        if n > 0 { (r + uniqueIDOffset + 2).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        (r + uniqueIDOffset).storeBytes(of: UInt16(n), as: UInt16.self)
    }
}
