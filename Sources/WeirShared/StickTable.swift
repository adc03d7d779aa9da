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
    /// Byte offset of the table in the segment.
    public var offset: Int

    public init(name: String, type: StickKeyType, keyLength: Int, size: Int, expire: Int, noPurge: Bool, offset: Int = 0) {
        self.name = name
        self.type = type
        self.keyLength = keyLength
        self.size = size
        self.expire = expire
        self.noPurge = noPurge
        self.offset = offset
    }

    /// Entries per bucket: one lock guards them all.
    static let bucketEntries = 8
    static let bucketHeader = 64
    static let entryHeader = 48

    var entryStride: Int { StickTableInfo.entryHeader + ((keyLength + 7) & ~7) }
    var bucketCount: Int { max(1, (size + StickTableInfo.bucketEntries - 1) / StickTableInfo.bucketEntries) }
    var bucketStride: Int { (StickTableInfo.bucketHeader + StickTableInfo.bucketEntries * entryStride + 63) & ~63 }
    /// Bytes the table takes: a 64-byte header, then its buckets.
    var byteCount: Int { 64 + bucketCount * bucketStride }

    func encoded() -> String {
        [name, type.rawValue, String(keyLength), String(size), String(expire), noPurge ? "1" : "0", String(offset)]
            .joined(separator: "\t")
    }

    static func decode(_ line: Substring) -> StickTableInfo? {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 7, let type = StickKeyType(rawValue: f[1]), let keyLength = Int(f[2]), keyLength > 0,
              let size = Int(f[3]), size > 0, let expire = Int(f[4]), let offset = Int(f[6]) else { return nil }
        return StickTableInfo(name: f[0], type: type, keyLength: keyLength, size: size, expire: expire,
                              noPurge: f[5] == "1", offset: offset)
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
}

/// A stick table in the shared segment: a fixed number of buckets of
/// `bucketEntries` entries, each bucket behind a spin lock (an atomic word
/// holding the owner's PID), so every worker reads and writes the same
/// entries. Nothing is allocated on lookup or store. Expiry is checked
/// when an entry is met; a full bucket (or table) gives its least recently
/// used entry to a new key unless the table is `nopurge`.
///
/// Entry words: 0 in use, 1 key length, 2 expiry (monotonic ms, 0: none),
/// 3 last use (monotonic ms), 4 server_id; then the key bytes.
public struct StickTable: @unchecked Sendable {
    public let info: StickTableInfo
    let base: UnsafeMutableRawPointer
    let bucketCount: Int
    let bucketStride: Int
    let entryStride: Int

    init(info: StickTableInfo, base: UnsafeMutableRawPointer) {
        self.info = info
        self.base = base
        bucketCount = info.bucketCount
        bucketStride = info.bucketStride
        entryStride = info.entryStride
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
        e[2] != 0 && e[2] - now <= 0
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
        let key = clipped(key)
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        let expiry = info.expire > 0 ? max(1, now + Int64(info.expire)) : 0
        lock(b)
        defer { unlock(b) }
        var free: UnsafeMutablePointer<Int64>?
        var oldest: UnsafeMutablePointer<Int64>?
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            if e[0] == 0 {
                if free == nil { free = e }
                continue
            }
            if keyEquals(e, key) {
                e[2] = expiry
                e[3] = now
                e[4] = Int64(serverID)
                return true
            }
            if isExpired(e, now: now) {
                release(e)
                if free == nil { free = e }
                continue
            }
            if oldest == nil || e[3] < oldest![3] { oldest = e }
        }
        var target = free
        if target != nil && usedCounter.load(ordering: .relaxed) >= info.size { target = nil }
        if target == nil {
            // Full: the bucket's least recently used entry makes room, as
            // HAProxy purges the oldest entries of a full table.
            guard !info.noPurge, let victim = oldest else { return false }
            release(victim)
            target = victim
        }
        let e = target!
        e[1] = Int64(key.count)
        e[2] = expiry
        e[3] = now
        e[4] = Int64(serverID)
        if key.count > 0 { UnsafeMutableRawPointer(e + 6).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        e[0] = 1
        usedCounter.wrappingIncrement(ordering: .relaxed)
        return true
    }

    /// Removes `key`'s entry; false when there was none.
    @discardableResult
    public func remove(_ key: UnsafeRawBufferPointer) -> Bool {
        let key = clipped(key)
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        lock(b)
        defer { unlock(b) }
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            if e[0] != 0 && keyEquals(e, key) {
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
                let key = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(e + 6), count: Int(e[1])))
                result.append(StickEntry(key: key, expiresIn: e[2] == 0 ? nil : Int(e[2] - now), serverID: Int(e[4]),
                                         address: Int(bitPattern: UnsafeRawPointer(e))))
            }
            unlock(b)
        }
        return result
    }

    /// Removes every entry `matching` accepts; returns how many.
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
                let key = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(e + 6), count: Int(e[1])))
                let view = StickEntry(key: key, expiresIn: e[2] == 0 ? nil : Int(e[2] - now), serverID: Int(e[4]),
                                      address: Int(bitPattern: UnsafeRawPointer(e)))
                if isExpired(e, now: now) || matching(view) {
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
    /// lifetimes.
    public func takeOver(from old: StickTable, now: Int64) {
        guard old.info.type == info.type else { return }
        for entry in old.entries(now: now) {
            entry.key.withUnsafeBytes { key in
                let keyView = clipped(key)
                _ = store(keyView, serverID: entry.serverID, now: now)
                if let left = entry.expiresIn, info.expire > 0 { restamp(keyView, expiry: now + Int64(min(left, info.expire))) }
            }
        }
    }

    private func restamp(_ key: UnsafeRawBufferPointer, expiry: Int64) {
        let b = bucket(Int(StickTable.hash(key) % UInt64(bucketCount)))
        lock(b)
        defer { unlock(b) }
        for i in 0..<StickTableInfo.bucketEntries {
            let e = entry(b, i)
            if e[0] != 0 && keyEquals(e, key) { e[2] = max(1, expiry) }
        }
    }
}

extension StickKeyType {
    /// Bytes a key of this type takes; `length` is a string table's `len`.
    public func keyLength(_ length: Int) -> Int {
        switch self {
        case .ip: return 4
        case .ipv6: return 16
        case .integer: return 8
        case .string: return length
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
        }
    }
}
