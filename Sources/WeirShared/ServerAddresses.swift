import Atomics
import Glibc
import WeirSystem

/// A server's address as the master set it at run time (`set server …
/// addr`, DNS resolution), as read from shared memory.
public struct RuntimeAddress: Sendable, Hashable {
    /// Bumped at every store; 0: never set, the server keeps the address
    /// it started with.
    public var generation: Int
    /// 4 or 16 bytes in network order; empty: the server has no address.
    public var ip: [UInt8]
    public var port: UInt16
    /// Stored by a worker at its start: the address its system resolver
    /// gave a name, not one the master chose.
    public var initial = false

    public init(generation: Int = 0, ip: [UInt8], port: UInt16, initial: Bool = false) {
        self.generation = generation
        self.ip = ip
        self.port = port
        self.initial = initial
    }

    public var isSet: Bool { generation != 0 }

    /// The address to connect to; nil when there is none.
    public var socketAddress: SocketAddress? {
        ip.count == 4 || ip.count == 16 ? SocketAddress(ip: ip, port: port) : nil
    }

    /// The IP as HAProxy prints it (`1.2.3.4`, `::1`), or empty.
    public var hostText: String {
        guard let address = socketAddress else { return "" }
        var text = [CChar](repeating: 0, count: 64)
        let n = text.withUnsafeMutableBufferPointer { address.formatHost(into: $0.baseAddress!) }
        return String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The run-time form of `address` (IPv4 or IPv6 only).
    public init?(_ address: SocketAddress) {
        guard address.family == AF_INET || address.family == AF_INET6 else { return nil }
        self.init(ip: address.withIPBytes { Array($0) }, port: address.port)
    }
}

/// Per entity, a record of four words written by the master (and once, at
/// their start, by workers for a name they resolved) and read by every
/// worker: a sequence number (odd while a write is under way, a seqlock;
/// a writer claims it by compare-and-swap), then family, flags and port,
/// then the address's 16 bytes. A reader retries until it sees the same
/// even sequence before and after, so it never takes half of an old
/// address and half of a new one.
public struct ServerAddresses: @unchecked Sendable {
    static let recordSize = 32
    let base: UnsafeMutableRawPointer

    init(base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always)
    private func word(_ entity: Int, _ index: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic<UInt64>(at: (base + entity * Self.recordSize + index * 8)
            .assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// The record's generation alone: a worker compares it with the one it
    /// applied before reading the whole record.
    @inline(__always)
    public func generation(_ entity: Int) -> Int {
        Int(word(entity, 0).load(ordering: .acquiring) / 2)
    }

    public func load(_ entity: Int) -> RuntimeAddress {
        // The writer holds the record odd for a few stores: a bounded spin.
        for _ in 0..<10_000 {
            let before = word(entity, 0).load(ordering: .acquiring)
            if before & 1 != 0 { continue }
            let meta = word(entity, 1).load(ordering: .relaxed)
            let high = word(entity, 2).load(ordering: .relaxed)
            let low = word(entity, 3).load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            guard word(entity, 0).load(ordering: .relaxed) == before else { continue }
            let family = meta >> 16 & 0xff
            let count = family == 4 ? 4 : family == 6 ? 16 : 0
            var bytes: [UInt8] = []
            withUnsafeBytes(of: (high, low)) { bytes = Array($0.prefix(count)) }
            return RuntimeAddress(generation: Int(before / 2), ip: bytes, port: UInt16(truncatingIfNeeded: meta),
                                  initial: meta & Self.initialFlag != 0)
        }
        return RuntimeAddress(ip: [], port: 0)
    }

    static let initialFlag: UInt64 = 1 << 24

    /// Sets the entity's address; an empty `ip` says the server has none.
    /// An `initial` address is stored only into a record never written
    /// (false otherwise).
    @discardableResult
    public func store(_ address: RuntimeAddress, _ entity: Int) -> Bool {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: address.ip.prefix(16)) }
        let family: UInt64 = address.ip.count == 4 ? 4 : address.ip.count == 16 ? 6 : 0
        var sequence = word(entity, 0).load(ordering: .relaxed)
        // Claim the record: from an even sequence to the next odd one.
        while true {
            if address.initial && sequence != 0 { return false }
            if sequence & 1 == 0 {
                let (claimed, seen) = word(entity, 0).weakCompareExchange(expected: sequence, desired: sequence | 1,
                                                                          ordering: .acquiring)
                if claimed { break }
                sequence = seen
            } else {
                sequence = word(entity, 0).load(ordering: .relaxed)
            }
        }
        atomicMemoryFence(ordering: .releasing)
        let flags = address.initial ? Self.initialFlag : 0
        word(entity, 1).store(flags | family << 16 | UInt64(address.port), ordering: .relaxed)
        word(entity, 2).store(words.0, ordering: .relaxed)
        word(entity, 3).store(words.1, ordering: .relaxed)
        word(entity, 0).store((sequence | 1) &+ 1, ordering: .releasing)
        return true
    }
}

extension SharedSegment {
    /// Gives a server a new run-time address, or none (empty `ip`): then it
    /// is in resolution maintenance (HAProxy's RMAINT) until it gets one.
    /// Workers pick it up with the next state version. False when the
    /// address is unchanged.
    @discardableResult
    public func setAddress(ip: [UInt8], port: UInt16, _ entity: Int) -> Bool {
        guard let addresses else { return false }
        var admin = self.admin(entity)
        if ip.isEmpty { admin.insert(.resolution) } else { admin.remove(.resolution) }
        setAdmin(admin, entity)
        let current = addresses.load(entity)
        if current.isSet && current.ip == ip && current.port == port { return false }
        addresses.store(RuntimeAddress(ip: ip, port: port), entity)
        bumpStateVersion()
        return true
    }

    /// The server's run-time address; not set (generation 0) when nothing
    /// changed it since it started.
    public func runtimeAddress(_ entity: Int) -> RuntimeAddress {
        addresses?.load(entity) ?? RuntimeAddress(ip: [], port: 0)
    }
}
