import Atomics
import Glibc

/// The master's session-ticket keys in shared memory, HAProxy's ring of
/// three: the newest key encrypts new tickets, it and the two before it
/// decrypt. One process writes (the master, or a `-d` process); every
/// worker reads the ring on each ticket it issues or opens.
///
/// No lock: the ring has one slot more than it has live keys, and a new key
/// is written into the slot no reader looks at (the one the oldest live key
/// will leave) before a single store publishes it. A reader notes the
/// number of keys published, copies what it needs, and starts again if that
/// number moved meanwhile (a rotation happens once every few minutes, so it
/// practically never does). A writer that dies halfway leaves a half-written
/// slot nobody reads; readers never wait for it.
///
/// Layout: a 64-byte header (word 0: keys published so far; word 1: the
/// monotonic milliseconds of the last publication), then `slots` slots of
/// `slotStride` bytes, key number `n` in slot `n % slots`.
public struct TicketKeyRing: @unchecked Sendable {
    /// A key: a 16-byte name, a 32-byte AES-256 key, then a 32-byte
    /// HMAC-SHA-256 key (HAProxy's 80-byte `tls-ticket-keys` layout).
    public static let keySize = 80
    public static let nameSize = 16
    /// Keys that decrypt: the newest and the two before it.
    public static let liveKeys = 3
    static let slots = liveKeys + 1
    static let slotStride = 128
    static let byteCount = 64 + slots * slotStride

    let base: UnsafeMutableRawPointer

    init(base: UnsafeMutableRawPointer) {
        self.base = base
    }

    private var publishedWord: UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: base.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    private var rotatedWord: UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: (base + 8).assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always)
    private func slot(_ number: Int) -> UnsafeMutableRawPointer {
        base + 64 + (number % TicketKeyRing.slots) * TicketKeyRing.slotStride
    }

    /// Keys published since the ring was made (0: none yet).
    public var published: Int { publishedWord.load(ordering: .acquiring) }

    /// When the newest key was published (monotonic ms), 0 before the first.
    public var rotatedAt: Int64 { Int64(rotatedWord.load(ordering: .relaxed)) }

    /// Makes `key` (`keySize` bytes) the one that encrypts; the previous two
    /// still decrypt. Writer only.
    public func publish(_ key: [UInt8], now: Int64) {
        precondition(key.count == TicketKeyRing.keySize)
        let next = publishedWord.load(ordering: .relaxed)
        key.withUnsafeBytes { slot(next).copyMemory(from: $0.baseAddress!, byteCount: TicketKeyRing.keySize) }
        rotatedWord.store(Int(now), ordering: .relaxed)
        publishedWord.store(next + 1, ordering: .releasing)
    }

    /// Copies the newest key (`keySize` bytes) into `out`; false when no key
    /// was published yet.
    @inline(__always)
    public func copyNewest(into out: UnsafeMutableRawPointer) -> Bool {
        while true {
            let seen = publishedWord.load(ordering: .acquiring)
            guard seen > 0 else { return false }
            out.copyMemory(from: slot(seen - 1), byteCount: TicketKeyRing.keySize)
            if unchanged(since: seen) { return true }
        }
    }

    /// Copies the live key whose name is the 16 bytes at `name` into `out`;
    /// returns its age (0: the newest, which encrypts; 1 or 2: an older
    /// one, whose tickets deserve renewal), nil when no live key has it.
    @inline(__always)
    public func copyKey(named name: UnsafeRawPointer, into out: UnsafeMutableRawPointer) -> Int? {
        while true {
            let seen = publishedWord.load(ordering: .acquiring)
            var found: Int?
            for age in 0..<min(seen, TicketKeyRing.liveKeys) {
                let key = slot(seen - 1 - age)
                if memcmp(key, name, TicketKeyRing.nameSize) == 0 {
                    out.copyMemory(from: key, byteCount: TicketKeyRing.keySize)
                    found = age
                    break
                }
            }
            if unchanged(since: seen) { return found }
        }
    }

    /// Whether no key was published since `seen` was read: then what was
    /// copied meanwhile is whole.
    @inline(__always)
    private func unchanged(since seen: Int) -> Bool {
        atomicMemoryFence(ordering: .acquiring)
        return publishedWord.load(ordering: .relaxed) == seen
    }

    /// Takes over `old`'s keys and schedule (master only, before any worker
    /// maps this ring): a reload keeps the tickets it issued readable.
    public func takeOver(from old: TicketKeyRing) {
        let count = old.published
        let first = max(0, count - TicketKeyRing.liveKeys)
        for number in first..<count {
            slot(number).copyMemory(from: old.slot(number), byteCount: TicketKeyRing.keySize)
        }
        rotatedWord.store(Int(old.rotatedAt), ordering: .relaxed)
        publishedWord.store(count, ordering: .releasing)
    }
}
