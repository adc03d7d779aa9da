// Stick tables (`stick-table`, `stick on|match|store-request|store-response`):
//
// * after the request's rules put it in a backend (`analyseStickRules`), the
//   `match`/`on` rules look their key up in the table in shared memory; the
//   server found (by its `id`) is remembered for `assignServer`, which uses
//   it before the balancer unless it is in maintenance (or down, without
//   `option persist`), full, or a redispatch moves the session;
// * the first `on`/`store-request` rule that applies keeps its key in the
//   session; once the connection to the assigned server is established,
//   the key is stored with the server's id;
// * `store-response` rules store their key when the response arrives.
//
// Keys are normalised per table type into the session's fixed key bytes:
// nothing is allocated per request.

import WeirBalance
import WeirConfig
import WeirShared
import WeirSystem

/// A compiled `stick` line.
struct CompiledStickRule {
    let kind: StickRule.Kind
    let sample: CompiledSample
    let condition: CompiledCondition
    /// The backend whose table the rule uses.
    let table: Int
}

/// The key a `stick on`/`store-request` rule keeps until its session has a
/// server: in the rules' session records (`SessionRuleTable`), not in the
/// session, which every connection holds whether a backend sticks or not.
struct StickKeyBytes {
    /// `StickTableSpec.maxStringLength` bytes.
    var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    var length: Int16 = 0
    /// The backend whose table takes the key; -1: nothing to store.
    var table: Int16 = -1
}

/// A session's stick state for its current request.
struct StickState {
    /// The server a `match`/`on` rule found, -1: none.
    var server: Int32 = -1
    /// A key waits in the session's rule record to be stored.
    var keyPending = false
}

extension RuleCompiler {
    /// Each backend's `stick` lines, in order.
    mutating func stickRules(_ backends: [Backend]) throws(StartupError) -> [[CompiledStickRule]] {
        var all: [[CompiledStickRule]] = []
        for backend in backends {
            var rules: [CompiledStickRule] = []
            for rule in backend.stickRules where rule.table >= 0 {
                rules.append(CompiledStickRule(kind: rule.kind, sample: try sample(rule.sample),
                                               condition: try condition(rule.condition), table: rule.table))
            }
            all.append(rules)
        }
        return all
    }
}

extension Worker {
    /// Normalises `value` into `out` as a key of `table`; its length, or nil
    /// when the sample cannot be a key of that type.
    static func stickKey(_ value: SampleValue, table: StickTableInfo, into out: UnsafeMutableRawBufferPointer) -> Int? {
        func store(_ ip: IPValue, v6: Bool) -> Int {
            if v6 {
                for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: ip.high >> UInt64(56 - 8 * i)) }
                for i in 0..<8 { out[8 + i] = UInt8(truncatingIfNeeded: ip.low >> UInt64(56 - 8 * i)) }
                return 16
            }
            for i in 0..<4 { out[i] = UInt8(truncatingIfNeeded: ip.low >> UInt64(24 - 8 * i)) }
            return 4
        }
        func integer(_ n: Int64) -> Int {
            for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: n >> Int64(56 - 8 * i)) }
            return 8
        }
        /// A binary key: `count` bytes already written, zeros up to the key length.
        func padded(_ count: Int) -> Int {
            let length = min(table.keyLength, out.count)
            for i in min(count, length)..<length { out[i] = 0 }
            return length
        }
        switch (table.type, value) {
        case (_, .none):
            return nil
        case (.binary, .bytes(let text)):
            let count = min(text.count, table.keyLength, out.count)
            if count > 0 { out.baseAddress!.copyMemory(from: text.baseAddress!, byteCount: count) }
            return padded(count)
        case (.binary, .integer(let n)):
            return padded(integer(n))
        case (.binary, .address(let ip)):
            return padded(store(ip, v6: ip.isV6))
        case (.ip, .address(let ip)), (.ipv6, .address(let ip)):
            if table.type == .ipv6 {
                return store(ip.isV6 ? ip : IPValue(high: 0, low: 0xffff_0000_0000 | ip.low, isV6: true), v6: true)
            }
            if ip.isV6 {
                guard let v4 = ip.unmappedV4 else { return nil }
                return store(v4, v6: false)
            }
            return store(ip, v6: false)
        case (.ip, .bytes(let text)), (.ipv6, .bytes(let text)):
            guard let ip = IPValue.parse(text) else { return nil }
            return stickKey(.address(ip), table: table, into: out)
        case (.integer, .integer(let n)):
            return integer(n)
        case (.integer, .boolean(let b)):
            return integer(b ? 1 : 0)
        case (.integer, .bytes(let text)):
            var n: Int64 = 0
            var negative = false
            guard !text.isEmpty else { return nil }
            for (i, byte) in text.enumerated() {
                if i == 0 && byte == UInt8(ascii: "-") && text.count > 1 {
                    negative = true
                    continue
                }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                n = a
            }
            return integer(negative ? -n : n)
        case (.string, .bytes(let text)):
            let count = min(text.count, table.keyLength, out.count)
            if count > 0 { out.baseAddress!.copyMemory(from: text.baseAddress!, byteCount: count) }
            return count
        case (.string, .integer(let n)):
            var digits = n.magnitude
            var scratch: [UInt8] = []
            // Rare (an integer sample in a string table): a small array is fine.
            repeat {
                scratch.append(UInt8(ascii: "0") + UInt8(digits % 10))
                digits /= 10
            } while digits > 0
            if n < 0 { scratch.append(UInt8(ascii: "-")) }
            let count = min(scratch.count, table.keyLength, out.count)
            for i in 0..<count { out[i] = scratch[scratch.count - 1 - i] }
            return count
        default:
            return nil
        }
    }

    /// The server of `backend` whose `id` is `id`.
    func serverIndex(backend: Int, id: Int) -> Int? {
        backends[backend].serverIDs.firstIndex(of: id)
    }

    /// After the request's rules chose `backend` (the rules engine holds the
    /// request, or the connection in mode tcp): runs the `stick` rules that
    /// look up and keep keys.
    /// A backend without `stick` rules costs no call.
    @inline(__always)
    mutating func analyseStickRules(_ slot: UInt32, backend: Int) {
        sessions.pointer(slot).pointee.stick = StickState()
        guard rules.plan.backends[backend].hasStickRules else { return }
        runStickRules(slot, backend: backend)
    }

    private mutating func runStickRules(_ slot: UInt32, backend: Int) {
        let s = sessions.pointer(slot)
        let stickRules = rules.compiled.stickRules[backend]
        let mark = rules.scratch.mark
        defer { rules.scratch.rewind(to: mark) }
        var now: Int64 = 0
        var matched = false
        for rule in stickRules where rule.kind != .storeResponse {
            guard rule.kind.matches ? !matched || rule.kind.storesRequest : !s.pointee.stick.keyPending else { continue }
            guard let table = backends[rule.table].stickTable, rules.evaluate(rule.condition) else { continue }
            let value = rules.sampleValue(rule.sample)
            var key = StickKeyBytes()
            let length = withUnsafeMutableBytes(of: &key.bytes) { Worker.stickKey(value, table: table.info, into: $0) }
            guard let length else { continue }
            if now == 0 { now = Clock.monotonicMilliseconds() }
            if rule.kind.matches && !matched {
                let id = withUnsafeBytes(of: &key.bytes) { table.lookup(UnsafeRawBufferPointer(rebasing: $0[0..<length]), now: now) }
                if let id, let server = serverIndex(backend: backend, id: id) {
                    s.pointee.stick.server = Int32(server)
                    matched = true
                }
            }
            if rule.kind.storesRequest && !s.pointee.stick.keyPending {
                key.length = Int16(length)
                key.table = Int16(rule.table)
                rules.sessions.setPendingStickKey(slot, key)
                s.pointee.stick.keyPending = true
            }
        }
    }

    /// Called by `assignServer` before the balancer: the server a stick
    /// table names (`boundPick`), nil to balance.
    /// A session no stick table sent to a server costs no call.
    @inline(__always)
    mutating func stickPick(_ slot: UInt32, backend: Int, excluding: Int?) -> PickResult? {
        let server = Int(sessions.pointer(slot).pointee.stick.server)
        guard server >= 0 else { return nil }
        return stickPick(slot, server: server, backend: backend, excluding: excluding)
    }

    private mutating func stickPick(_ slot: UInt32, server: Int, backend: Int, excluding: Int?) -> PickResult? {
        let s = sessions.pointer(slot)
        if excluding != nil {
            s.pointee.stick.server = -1
            return nil
        }
        // A server in maintenance is never used; a down one only with
        // `option persist`. A draining one keeps its sticky clients.
        let entity = stats.server(backend, server)
        let admin = stats.segment.admin(entity)
        if admin.inMaintenance || (stats.segment.health(entity) == .down && !backends[backend].persist) {
            s.pointee.stick.server = -1
            return nil
        }
        return boundPick(slot, backend: backend, server: server)
    }

    /// Once the session's server connection is established (or reused):
    /// the kept key is stored with the server's id, once. A server that
    /// refused the connection is not stored; the retry's is.
    func storeStickKey(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        s.pointee.stick.keyPending = false
        let pending = rules.sessions.pendingStickKey(slot)
        let backend = Int(s.pointee.backend), server = Int(s.pointee.server)
        guard backend >= 0, server >= 0, pending.table >= 0, let table = backends[Int(pending.table)].stickTable else { return }
        var bytes = pending.bytes
        withUnsafeBytes(of: &bytes) {
            _ = table.store(UnsafeRawBufferPointer(rebasing: $0[0..<Int(pending.length)]),
                            serverID: backends[backend].serverIDs[server], now: Clock.monotonicMilliseconds())
        }
    }

    /// After the response rules (the rules engine holds the response):
    /// `stick store-response` stores its keys with the session's server.
    mutating func analyseStickResponse(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let server = Int(s.pointee.server)
        guard backend >= 0, server >= 0 else { return }
        let stickRules = rules.compiled.stickRules[backend]
        guard !stickRules.isEmpty else { return }
        let mark = rules.scratch.mark
        defer { rules.scratch.rewind(to: mark) }
        var now: Int64 = 0
        for rule in stickRules where rule.kind == .storeResponse {
            guard let table = backends[rule.table].stickTable, rules.evaluate(rule.condition) else { continue }
            let value = rules.sampleValue(rule.sample)
            var key = StickKeyBytes()
            let length = withUnsafeMutableBytes(of: &key.bytes) { Worker.stickKey(value, table: table.info, into: $0) }
            guard let length else { continue }
            if now == 0 { now = Clock.monotonicMilliseconds() }
            withUnsafeBytes(of: &key.bytes) {
                _ = table.store(UnsafeRawBufferPointer(rebasing: $0[0..<length]),
                                serverID: backends[backend].serverIDs[server], now: now)
            }
        }
    }
}
