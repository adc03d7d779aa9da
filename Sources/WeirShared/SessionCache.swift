import Atomics
import Glibc

/// The TLS session cache every worker shares (`tune.ssl.cachesize`):
/// session-ID resumption, and TLS 1.3 stateful tickets when tickets are off.
/// Fixed slots keyed by session ID, each holding one session as
/// `i2d_SSL_SESSION` encodes it, up to `maxSessionBytes` (a larger session
/// is simply not cached). Slots come in buckets of `bucketEntries` behind a
/// `ProcessLock`, as a stick table's entries do: a worker killed while
/// holding one does not block the others. Nothing is allocated on lookup
/// or store; the caller brings the buffer.
///
/// When the cache (or the session's bucket) is full, the bucket's least
/// recently used entry makes room, as HAProxy purges its most idle
/// sessions. An entry expires `lifetime` after it was stored.
///
/// Layout: a 64-byte header (word 0: entries in use; word 1: the size
/// asked for), then the buckets: a 64-byte lock line, then the entries.
/// Entry words: 0 session length (0: free), 1 ID length, 2 expiry
/// (monotonic ms), 3 last use (monotonic ms); bytes 32..<64 the ID; then
/// the session bytes.
public struct SessionCache: @unchecked Sendable {
    /// The longest session ID (SSL_MAX_SSL_SESSION_ID_LENGTH).
    public static let maxIDLength = 32
    /// The largest encoded session a slot holds: a session without a client
    /// certificate takes ~100–250 bytes, one with it ~1 KiB.
    public static let maxSessionBytes = 1536
    static let bucketEntries = 8
    static let entryHeader = 64
    static let entryStride = entryHeader + maxSessionBytes
    static let bucketStride = (64 + bucketEntries * entryStride + 63) & ~63

    /// Bytes a cache of `size` entries takes.
    static func byteCount(size: Int) -> Int { 64 + bucketCount(size: size) * bucketStride }
    static func bucketCount(size: Int) -> Int { max(1, (size + bucketEntries - 1) / bucketEntries) }

    let base: UnsafeMutableRawPointer
    /// The most entries in use at once (`tune.ssl.cachesize`).
    public let size: Int
    let bucketCount: Int

    /// A view of the cache at `base`, laid out (zero-filled) for `size`
    /// entries by whoever created the segment.
    init(base: UnsafeMutableRawPointer, size: Int) {
        self.base = base
        self.size = size
        bucketCount = SessionCache.bucketCount(size: size)
    }

    /// Entries in use, all buckets.
    public var used: Int { usedCounter.load(ordering: .relaxed) }

    private var usedCounter: UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: base.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always)
    private func bucket(for id: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer {
        base + 64 + Int(StickTable.hash(id) % UInt64(bucketCount)) * SessionCache.bucketStride
    }

    @inline(__always)
    private func lockWord(_ bucket: UnsafeMutableRawPointer) -> UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: bucket.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always)
    private func entry(_ bucket: UnsafeMutableRawPointer, _ index: Int) -> UnsafeMutablePointer<Int64> {
        (bucket + 64 + index * SessionCache.entryStride).assumingMemoryBound(to: Int64.self)
    }

    @inline(__always)
    private func idEquals(_ e: UnsafeMutablePointer<Int64>, _ id: UnsafeRawBufferPointer) -> Bool {
        e[1] == Int64(id.count) && (id.count == 0 || memcmp(UnsafeRawPointer(e + 4), id.baseAddress!, id.count) == 0)
    }

    @inline(__always)
    private func release(_ e: UnsafeMutablePointer<Int64>) {
        e[0] = 0
        usedCounter.wrappingDecrement(ordering: .relaxed)
    }

    /// Stores `session` under `id`, replacing what the ID held. False when
    /// the ID or the session is too long for a slot, or `id` is empty.
    @discardableResult
    public func store(id: UnsafeRawBufferPointer, session: UnsafeRawBufferPointer, now: Int64, lifetime: Int64) -> Bool {
        guard id.count > 0, id.count <= SessionCache.maxIDLength, session.count > 0,
              session.count <= SessionCache.maxSessionBytes else { return false }
        let b = bucket(for: id)
        let lock = lockWord(b)
        ProcessLock.lock(lock)
        defer { ProcessLock.unlock(lock) }
        var target: UnsafeMutablePointer<Int64>?
        var free: UnsafeMutablePointer<Int64>?
        var oldest: UnsafeMutablePointer<Int64>?
        for i in 0..<SessionCache.bucketEntries {
            let e = entry(b, i)
            if e[0] == 0 {
                if free == nil { free = e }
                continue
            }
            if idEquals(e, id) {
                target = e
                break
            }
            if e[2] - now <= 0 {
                release(e)
                if free == nil { free = e }
                continue
            }
            if oldest == nil || e[3] < oldest![3] { oldest = e }
        }
        if target == nil {
            if let free, usedCounter.load(ordering: .relaxed) < size {
                target = free
            } else if let victim = oldest {
                // Full: the bucket's least recently used session makes room.
                release(victim)
                target = victim
            } else {
                // The cache is full and this bucket holds nothing to give up.
                return false
            }
            usedCounter.wrappingIncrement(ordering: .relaxed)
        }
        let e = target!
        // Free while it is rewritten: a writer killed halfway leaves an
        // empty slot for the next lock holder, never a torn session.
        e[0] = 0
        atomicMemoryFence(ordering: .releasing)
        e[1] = Int64(id.count)
        e[2] = now + max(1, lifetime)
        e[3] = now
        UnsafeMutableRawPointer(e + 4).copyMemory(from: id.baseAddress!, byteCount: id.count)
        UnsafeMutableRawPointer(e).advanced(by: SessionCache.entryHeader)
            .copyMemory(from: session.baseAddress!, byteCount: session.count)
        e[0] = Int64(session.count)
        return true
    }

    /// Runs `body` with the entry of `id` (nil when there is none) under
    /// its bucket's lock; nil for an ID no slot can hold.
    @inline(__always)
    private func withEntry<R>(_ id: UnsafeRawBufferPointer, _ body: (UnsafeMutablePointer<Int64>?) -> R) -> R? {
        guard id.count > 0, id.count <= SessionCache.maxIDLength else { return nil }
        let b = bucket(for: id)
        let lock = lockWord(b)
        ProcessLock.lock(lock)
        defer { ProcessLock.unlock(lock) }
        let found = (0..<SessionCache.bucketEntries).lazy.map { entry(b, $0) }.first { $0[0] != 0 && idEquals($0, id) }
        return body(found)
    }

    /// Copies the session stored under `id` into `buffer` (at least
    /// `maxSessionBytes`); returns its length, nil when there is none or it
    /// expired (then it is freed). A hit counts as a use for eviction.
    public func lookup(id: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawPointer, now: Int64) -> Int? {
        withEntry(id) { e -> Int? in
            guard let e else { return nil }
            if e[2] - now <= 0 {
                release(e)
                return nil
            }
            e[3] = now
            let length = Int(e[0])
            buffer.copyMemory(from: UnsafeRawPointer(e).advanced(by: SessionCache.entryHeader), byteCount: length)
            return length
        } ?? nil
    }

    /// Forgets the session stored under `id`; false when there was none.
    @discardableResult
    public func remove(id: UnsafeRawBufferPointer) -> Bool {
        withEntry(id) { e -> Bool in
            guard let e else { return false }
            release(e)
            return true
        } ?? false
    }

    /// Copies the live sessions of `old` (the previous generation's cache)
    /// into this one, keeping their expiry (master only, before any worker
    /// maps this cache). An empty cache is not scanned: a scan makes every
    /// bucket's page resident.
    public func takeOver(from old: SessionCache, now: Int64) {
        guard old.used > 0 else { return }
        for index in 0..<old.bucketCount {
            let b = old.base + 64 + index * SessionCache.bucketStride
            let lock = old.lockWord(b)
            ProcessLock.lock(lock)
            for i in 0..<SessionCache.bucketEntries {
                let e = old.entry(b, i)
                guard e[0] != 0, e[2] - now > 0 else { continue }
                let id = UnsafeRawBufferPointer(start: UnsafeRawPointer(e + 4), count: Int(e[1]))
                let session = UnsafeRawBufferPointer(start: UnsafeRawPointer(e).advanced(by: SessionCache.entryHeader),
                                                     count: Int(e[0]))
                store(id: id, session: session, now: now, lifetime: e[2] - now)
            }
            ProcessLock.unlock(lock)
        }
    }
}
