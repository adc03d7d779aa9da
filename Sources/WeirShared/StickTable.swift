import Atomics
import Glibc
import WeirConfig

/// What a stick table's layout says of it: enough for any process mapping the
/// segment to find and read the table without the configuration.
public struct StickTableInfo: Sendable, Hashable {
    /// The table's name: its backend's.
    public var name: String
    public var type: StickKeyType
    /// Bytes a key may take (4 for ip, 16 for ipv6, 8 for integer, `len` for string).
    public var keyLength: Int
    /// `size`: the most entries the table holds.
    public var size: Int
    /// `expire` in milliseconds; 0 when entries never expire.
    public var expire: Int
    public var noPurge: Bool
    /// The data types stored (`store`), in `StickDataType` order; server_id
    /// has its word in the entry's header whether listed or not.
    public var stores: [StickStore]
    /// Byte offset of the table in the segment.
    public var offset: Int

    public init(name: String, type: StickKeyType, keyLength: Int, size: Int, expire: Int, noPurge: Bool,
                stores: [StickStore] = [], offset: Int = 0) {
        self.name = name
        self.type = type
        self.keyLength = keyLength
        self.size = size
        self.expire = expire
        self.noPurge = noPurge
        self.stores = StickDataType.allCases.compactMap { t in stores.first { $0.type == t } }
        self.offset = offset
    }

    /// Where each data type lives in an entry, by `StickDataType` index: a
    /// word index (a rate takes three words), -1 when not stored. server_id
    /// always has its header word.
    var dataSlots: [Int] {
        var slots = [Int](repeating: -1, count: StickDataType.allCases.count)
        var word = 6 + (keyLength + 7) / 8
        for store in stores where store.type != .serverID {
            slots[store.type.index] = word
            word += store.type.isRate ? 3 : 1
        }
        return slots
    }

    /// Words of stored data after the key.
    var dataWords: Int { stores.reduce(0) { $0 + ($1.type == .serverID ? 0 : $1.type.isRate ? 3 : 1) } }

    /// Entries per bucket: one lock guards them all.
    static let bucketEntries = 8
    static let bucketHeader = 64
    static let entryHeader = 48

    var entryStride: Int { StickTableInfo.entryHeader + ((keyLength + 7) & ~7) + dataWords * 8 }
    var bucketCount: Int { max(1, (size + StickTableInfo.bucketEntries - 1) / StickTableInfo.bucketEntries) }
    var bucketStride: Int { (StickTableInfo.bucketHeader + StickTableInfo.bucketEntries * entryStride + 63) & ~63 }
    /// Bytes the table takes: a 64-byte header, then its buckets.
    var byteCount: Int { 64 + bucketCount * bucketStride }

    func encoded() -> String {
        [name, type.rawValue, String(keyLength), String(size), String(expire), noPurge ? "1" : "0", String(offset),
         stores.map { "\($0.type.rawValue):\($0.period)" }.joined(separator: ",")]
            .joined(separator: "\t")
    }

    static func decode(_ line: Substring) -> StickTableInfo? {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 7 || f.count == 8, let type = StickKeyType(rawValue: f[1]), let keyLength = Int(f[2]), keyLength > 0,
              let size = Int(f[3]), size > 0, let expire = Int(f[4]), let offset = Int(f[6]) else { return nil }
        var stores: [StickStore] = []
        if f.count == 8 {
            for item in f[7].split(separator: ",") {
                let parts = item.split(separator: ":")
                guard parts.count == 2, let t = StickDataType(rawValue: String(parts[0])), let period = Int(parts[1]) else {
                    return nil
                }
                stores.append(StickStore(type: t, period: period))
            }
        }
        return StickTableInfo(name: f[0], type: type, keyLength: keyLength, size: size, expire: expire,
                              noPurge: f[5] == "1", stores: stores, offset: offset)
    }
}

/// One entry as `show table` reads it.
public struct StickEntry: Sendable, Hashable {
    public var key: [UInt8]
    /// Milliseconds before it expires; nil when it never does.
    public var expiresIn: Int?
    public var serverID: Int
    /// Where the entry lives in the segment (HAProxy prints its address).
    public var address: Int
    /// Sessions tracking it (`use=`).
    public var use: Int = 0
    /// The stored data, one value per `StickTableInfo.stores` item (a rate
    /// read at the time of the listing; server_id's own).
    public var data: [Int64] = []
    /// The data words as stored, so a reload carries the counters over exactly.
    var raw: [Int64] = []
}

/// A stick table in the shared segment: a fixed number of buckets of
/// `bucketEntries` entries, each bucket behind a spin lock (an atomic word
/// holding the owner's PID), so every worker reads and writes the same
/// entries. Nothing is allocated on lookup or store. Expiry is checked
/// when an entry is met; a full bucket (or table) gives its least recently
/// used entry to a new key unless the table is `nopurge`.
///
/// Entry words: 0 in use, 1 key length, 2 expiry (monotonic ms, 0: none),
/// 3 last use (monotonic ms), 4 server_id, 5 sessions tracking it; then the
/// key bytes, then the stored data (`StickTableInfo.dataSlots`).
public struct StickTable: @unchecked Sendable {
    public let info: StickTableInfo
    let base: UnsafeMutableRawPointer
    let bucketCount: Int
    let bucketStride: Int
    let entryStride: Int
    let dataSlots: [Int]
    /// A rate's period in milliseconds, by `StickDataType` index.
    let periods: [Int]

    init(info: StickTableInfo, base: UnsafeMutableRawPointer) {
        self.info = info
        self.base = base
        bucketCount = info.bucketCount
        bucketStride = info.bucketStride
        entryStride = info.entryStride
        dataSlots = info.dataSlots
        var periods = [Int](repeating: 0, count: StickDataType.allCases.count)
        for store in info.stores { periods[store.type.index] = store.period }
        self.periods = periods
    }

    /// Entries in use, all buckets.
    public var used: Int { usedCounter.load(ordering: .relaxed) }

    private var usedCounter: UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: base.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always)
    private func bucket(_ index: Int) -> UnsafeMutableRawPointer { base + 64 + index * bucketStride }

    @inline(__always)
    private func lockWord(_ bucket: UnsafeMutableRawPointer) -> UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: bucket.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always)
    private func entry(_ bucket: UnsafeMutableRawPointer, _ index: Int) -> UnsafeMutablePointer<Int64> {
        (bucket + StickTableInfo.bucketHeader + index * entryStride).assumingMemoryBound(to: Int64.self)
    }

    /// Takes a bucket's lock (see `ProcessLock`: a dead owner's lock is taken over).
    @inline(__always)
    private func lock(_ bucket: UnsafeMutableRawPointer) { ProcessLock.lock(lockWord(bucket)) }

    @inline(__always)
    private func unlock(_ bucket: UnsafeMutableRawPointer) { ProcessLock.unlock(lockWord(bucket)) }

    /// FNV-1a over the key: fixed, so every process finds the same bucket.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h ^ (h >> 29)
    }

    @inline(__always)
    private func keyEquals(_ e: UnsafeMutablePointer<Int64>, _ key: UnsafeRawBufferPointer) -> Bool {
        guard e[1] == Int64(key.count) else { return false }
        guard key.count > 0 else { return true }
        return memcmp(UnsafeRawPointer(e + 6), key.baseAddress!, key.count) == 0
    }

    @inline(__always)
    private func isExpired(_ e: UnsafeMutablePointer<Int64>, now: Int64) -> Bool {
        // An entry a session tracks stays, as in HAProxy.
        e[2] != 0 && e[2] - now <= 0 && e[5] <= 0
    }

    /// Frees an entry (under its bucket's lock).
    @inline(__always)
    private func release(_ e: UnsafeMutablePointer<Int64>) {
        e[0] = 0
        usedCounter.wrappingDecrement(ordering: .relaxed)
    }

    /// The key as the table holds it: cut to its key length.
    @inline(__always)
    private func clipped(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        key.count <= info.keyLength ? key : UnsafeRawBufferPointer(rebasing: key[0..<info.keyLength])
    }

    /// The server_id stored for `key`, or nil (none, or expired: then the
    /// entry is freed). A hit counts as a use for eviction.
    public func lookup(_ key: UnsafeRawBufferPointer, now: Int64) -> Int? {
        let key = clipped(key)
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        lock(b)
        defer { unlock(b) }
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            guard e[0] != 0, keyEquals(e, key) else { continue }
            if isExpired(e, now: now) {
                release(e)
                return nil
            }
            e[3] = now
            return Int(e[4])
        }
        return nil
    }

    /// Stores `serverID` for `key`, creating the entry or updating it, and
    /// (re)arms its expiry. False when there is no room (`nopurge`, or a
    /// full table whose bucket holds no entry to give up).
    @discardableResult
    public func store(_ key: UnsafeRawBufferPointer, serverID: Int, now: Int64) -> Bool {
        withCounters(key, create: true, now: now) { $0.serverID = Int64(serverID) } != nil
    }

    /// Runs `body` on the counters of `key`'s entry under its bucket's lock,
    /// first creating the entry when `create` (with every counter at 0) and
    /// re-arming its expiry when `touch`. Nil when there is no entry (or no
    /// room for a new one). Allocates nothing.
    public func withCounters<R>(_ key: UnsafeRawBufferPointer, create: Bool, touch: Bool = true, now: Int64,
                                _ body: (inout StickCounters) -> R) -> R? {
        let key = clipped(key)
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        lock(b)
        defer { unlock(b) }
        guard let e = find(b, key, create: create, now: now) else { return nil }
        if touch {
            e[2] = info.expire > 0 ? max(1, now + Int64(info.expire)) : 0
            e[3] = now
        }
        var counters = StickCounters(entry: e, slots: dataSlots, periods: periods)
        return body(&counters)
    }

    /// `key`'s entry in bucket `b` (under its lock), created when `create`
    /// and there is room: a free entry, an expired one, or the bucket's
    /// least recently used one that no session tracks.
    private func find(_ b: UnsafeMutableRawPointer, _ key: UnsafeRawBufferPointer, create: Bool,
                      now: Int64) -> UnsafeMutablePointer<Int64>? {
        var free: UnsafeMutablePointer<Int64>?
        var oldest: UnsafeMutablePointer<Int64>?
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            if e[0] == 0 {
                if free == nil { free = e }
                continue
            }
            if keyEquals(e, key) {
                if isExpired(e, now: now) {
                    release(e)
                    if free == nil { free = e }
                    continue
                }
                return e
            }
            if isExpired(e, now: now) {
                release(e)
                if free == nil { free = e }
                continue
            }
            if e[5] <= 0, oldest == nil || e[3] < oldest![3] { oldest = e }
        }
        guard create else { return nil }
        var target = free
        if target != nil && usedCounter.load(ordering: .relaxed) >= info.size { target = nil }
        if target == nil {
            // Full: the bucket's least recently used entry makes room, as
            // HAProxy purges the oldest entries of a full table.
            guard !info.noPurge, let victim = oldest else { return nil }
            release(victim)
            target = victim
        }
        let e = target!
        UnsafeMutableRawPointer(e).initializeMemory(as: UInt8.self, repeating: 0, count: entryStride)
        e[1] = Int64(key.count)
        e[3] = now
        if key.count > 0 { UnsafeMutableRawPointer(e + 6).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        e[0] = 1
        usedCounter.wrappingIncrement(ordering: .relaxed)
        return e
    }

    /// Removes `key`'s entry unless a session tracks it; false when none was removed.
    @discardableResult
    public func remove(_ key: UnsafeRawBufferPointer) -> Bool {
        let key = clipped(key)
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        lock(b)
        defer { unlock(b) }
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            // An entry a session tracks stays, as in HAProxy.
            if e[0] != 0 && keyEquals(e, key) && e[5] <= 0 {
                release(e)
                return true
            }
        }
        return false
    }

    /// Every live entry (expired ones are freed on the way), bucket by
    /// bucket. A scan writes every bucket's lock, so the whole table's pages
    /// become resident: an empty table is not scanned.
    public func entries(now: Int64) -> [StickEntry] {
        var result: [StickEntry] = []
        guard used > 0 else { return result }
        for index in 0..<bucketCount {
            let b = bucket(index)
            lock(b)
            for i in 0..<StickTableInfo.bucketEntries {
                let e = entry(b, i)
                guard e[0] != 0 else { continue }
                if isExpired(e, now: now) {
                    release(e)
                    continue
                }
                result.append(view(e, now: now))
            }
            unlock(b)
        }
        return result
    }

    /// An entry as listings see it (under its bucket's lock).
    private func view(_ e: UnsafeMutablePointer<Int64>, now: Int64) -> StickEntry {
        let key = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(e + 6), count: Int(e[1])))
        var result = StickEntry(key: key, expiresIn: e[2] == 0 ? nil : Int(e[2] - now), serverID: Int(e[4]),
                                address: Int(bitPattern: UnsafeRawPointer(e)))
        result.use = Int(e[5])
        let counters = StickCounters(entry: e, slots: dataSlots, periods: periods)
        result.data = info.stores.map { counters.value($0.type, now: now) ?? 0 }
        let first = 6 + (info.keyLength + 7) / 8
        result.raw = (0..<info.dataWords).map { e[first + $0] }
        return result
    }

    /// Removes every entry `matching` accepts that no session tracks; returns how many.
    @discardableResult
    public func removeAll(where matching: (StickEntry) -> Bool = { _ in true }, now: Int64) -> Int {
        var removed = 0
        guard used > 0 else { return 0 }
        for index in 0..<bucketCount {
            let b = bucket(index)
            lock(b)
            for i in 0..<StickTableInfo.bucketEntries {
                let e = entry(b, i)
                guard e[0] != 0 else { continue }
                if isExpired(e, now: now) || (e[5] <= 0 && matching(view(e, now: now))) {
                    release(e)
                    removed += 1
                }
            }
            unlock(b)
        }
        return removed
    }

    /// Copies the live entries of `old` (a table of the same name and type
    /// in the previous generation) into this one, keeping their remaining
    /// lifetimes, and their counters when both store the same data.
    public func takeOver(from old: StickTable, now: Int64) {
        guard old.info.type == info.type else { return }
        let sameData = old.info.stores == info.stores
        let first = 6 + (info.keyLength + 7) / 8
        for entry in old.entries(now: now) {
            entry.key.withUnsafeBytes { key in
                _ = withCounters(key, create: true, now: now) { counters in
                    counters.serverID = Int64(entry.serverID)
                    if sameData {
                        for (i, word) in entry.raw.enumerated() { counters.entry[first + i] = word }
                    }
                    // One kept past its expiry by a tracking session gets a full lifetime.
                    if let left = entry.expiresIn, info.expire > 0, left > 0 {
                        counters.entry[2] = max(1, now + Int64(min(left, info.expire)))
                    }
                }
            }
        }
    }
}

/// The counters of one stick-table entry, reached under its bucket's lock
/// (`StickTable.withCounters`). A type the table does not store reads as
/// nil and ignores updates.
public struct StickCounters {
    let entry: UnsafeMutablePointer<Int64>
    let slots: [Int]
    let periods: [Int]

    public var serverID: Int64 {
        get { entry[4] }
        nonmutating set { entry[4] = newValue }
    }

    /// Sessions tracking the entry (`use=`).
    public var use: Int64 {
        get { entry[5] }
        nonmutating set { entry[5] = newValue }
    }

    public func stores(_ type: StickDataType) -> Bool { type == .serverID || slots[type.index] >= 0 }

    /// A counter's value; a rate's events over its period at `now`.
    public func value(_ type: StickDataType, now: Int64) -> Int64? {
        if type == .serverID { return entry[4] }
        let slot = slots[type.index]
        guard slot >= 0 else { return nil }
        guard type.isRate else { return entry[slot] }
        return FrequencyCounter(entry + slot).rate(now: now, period: Int64(periods[type.index]))
    }

    /// Adds `n` to a counter, or `n` events to a rate.
    public func add(_ type: StickDataType, _ n: Int64, now: Int64) {
        let slot = slots[type.index]
        guard slot >= 0 else { return }
        if type.isRate {
            var counter = FrequencyCounter(entry + slot)
            counter.add(n, now: now, period: Int64(periods[type.index]))
            counter.write(to: entry + slot)
        } else {
            entry[slot] = max(0, entry[slot] &+ n)
        }
    }

    /// Sets a counter (not a rate).
    public func set(_ type: StickDataType, _ value: Int64) {
        let slot = slots[type.index]
        guard slot >= 0, !type.isRate else { return }
        entry[slot] = value
    }
}

/// HAProxy's frequency counter (`freq_ctr`): the events of the current
/// period and of the previous one. The rate at a time is the current count
/// plus the previous one weighted by the part of the period still ahead, so
/// it slides smoothly instead of dropping to 0 at each period's start.
/// Periods are aligned on multiples of their length.
public struct FrequencyCounter: Equatable, Sendable {
    /// Monotonic milliseconds at which the current period began.
    public var start: Int64
    public var current: Int64
    public var previous: Int64

    public init(start: Int64 = 0, current: Int64 = 0, previous: Int64 = 0) {
        self.start = start
        self.current = current
        self.previous = previous
    }

    init(_ words: UnsafeMutablePointer<Int64>) {
        self.init(start: words[0], current: words[1], previous: words[2])
    }

    func write(to words: UnsafeMutablePointer<Int64>) {
        words[0] = start
        words[1] = current
        words[2] = previous
    }

    /// Moves to the period holding `now`: the current count becomes the
    /// previous one if that period just ended, else both are forgotten.
    public mutating func rotate(now: Int64, period: Int64) {
        guard period > 0 else { return }
        let elapsed = now - start
        guard elapsed >= period else { return }
        let periods = elapsed / period
        previous = periods == 1 ? current : 0
        current = 0
        start += periods * period
    }

    public mutating func add(_ n: Int64, now: Int64, period: Int64) {
        rotate(now: now, period: period)
        current &+= n
    }

    /// Events per `period` at `now`.
    public func rate(now: Int64, period: Int64) -> Int64 {
        guard period > 0 else { return current }
        var c = self
        c.rotate(now: now, period: period)
        let ahead = max(0, period - (now - c.start))
        return c.current + c.previous * ahead / period
    }
}

extension StickKeyType {
    /// Bytes a key of this type takes; `length` is a string table's `len`.
    public func keyLength(_ length: Int) -> Int {
        switch self {
        case .ip: return 4
        case .ipv6: return 16
        case .integer: return 8
        case .string, .binary: return length
        }
    }

    /// A key as `show table` prints it.
    public func text(_ key: [UInt8]) -> String {
        switch self {
        case .ip, .ipv6:
            var out = [CChar](repeating: 0, count: 64)
            let family = self == .ip ? AF_INET : AF_INET6
            guard key.count == (self == .ip ? 4 : 16) else { return "?" }
            _ = key.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, 64) }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .integer:
            var value: Int64 = 0
            for byte in key.prefix(8) { value = value << 8 | Int64(byte) }
            return String(value)
        case .string:
            return String(decoding: key, as: UTF8.self)
        case .binary:
            return String(decoding: Hex.digits(key, uppercase: true), as: UTF8.self)
        }
    }

    /// A key typed on the stats socket (`clear table T key K`), as the table holds it.
    public func parse(_ text: String, length: Int) -> [UInt8]? {
        switch self {
        case .ip, .ipv6:
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                let bytes = withUnsafeBytes(of: &v4) { Array($0) }
                return self == .ip ? bytes : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + bytes
            }
            guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if self == .ipv6 { return bytes }
            guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return nil }
            return Array(bytes[12..<16])
        case .integer:
            guard let n = Int64(text) else { return nil }
            return (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * $0)) }
        case .string:
            return Array(text.utf8.prefix(length))
        case .binary:
            // Hexadecimal digits, padded with zeros to the key length.
            guard let bytes = Hex.bytes(text.utf8), bytes.count <= length else { return nil }
            return bytes + [UInt8](repeating: 0, count: length - bytes.count)
        }
    }
}
