import Glibc
import WeirConfig
import WeirSystem

/// What a sample fetch or a converter yields. Bytes are a view: into the
/// message head, into the engine's arenas, or into compiled constants; they
/// are valid until the engine rewinds its arenas (at the next rule).
enum SampleValue {
    /// The sample does not exist (no such header, no query string…).
    case none
    case bytes(UnsafeRawBufferPointer)
    case integer(Int64)
    case address(IPValue)
    case boolean(Bool)

    var exists: Bool {
        if case .none = self { return false }
        return true
    }
}

/// An IPv4 or IPv6 address as two 64-bit halves (an IPv4 address is the low
/// 32 bits of `low`), so masks are shifts, not loops over bytes.
struct IPValue: Equatable {
    var high: UInt64
    var low: UInt64
    var isV6: Bool

    init(high: UInt64, low: UInt64, isV6: Bool) {
        self.high = high
        self.low = low
        self.isV6 = isV6
    }

    /// From 4 or 16 bytes in network order; nil for any other count.
    init?(bytes: UnsafeRawBufferPointer) {
        func load(_ from: Int, _ count: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in from..<(from + count) { value = value << 8 | UInt64(bytes[i]) }
            return value
        }
        switch bytes.count {
        case 4: self.init(high: 0, low: load(0, 4), isV6: false)
        case 16: self.init(high: load(0, 8), low: load(8, 8), isV6: true)
        default: return nil
        }
    }

    init(_ address: IPAddress) {
        self = address.bytes.withUnsafeBytes { IPValue(bytes: $0)! }
    }

    /// The client or local address of a socket; nil for a UNIX socket.
    init?(_ address: SocketAddress) {
        guard let value = address.withIPBytes({ IPValue(bytes: $0) }) else { return nil }
        self = value
    }

    /// A client's address; nil for a UNIX socket.
    init?(_ address: PeerAddress) {
        guard let value = address.withIPBytes({ IPValue(bytes: $0) }) else { return nil }
        self = value
    }

    /// An IPv6 address of the form `::ffff:a.b.c.d` as the IPv4 address it carries.
    var unmappedV4: IPValue? {
        guard isV6, high == 0, low >> 32 == 0xffff else { return nil }
        return IPValue(high: 0, low: low & 0xffff_ffff, isV6: false)
    }

    /// The address with only its first `bits` bits kept.
    func masked(_ bits: Int) -> IPValue {
        if !isV6 {
            let keep: UInt64 = bits >= 32 ? 0xffff_ffff : bits <= 0 ? 0 : (0xffff_ffff << UInt64(32 - bits)) & 0xffff_ffff
            return IPValue(high: 0, low: low & keep, isV6: false)
        }
        let highKeep: UInt64 = bits >= 64 ? .max : bits <= 0 ? 0 : .max << UInt64(64 - bits)
        let lowBits = bits - 64
        let lowKeep: UInt64 = lowBits >= 64 ? .max : lowBits <= 0 ? 0 : .max << UInt64(64 - lowBits)
        return IPValue(high: high & highKeep, low: low & lowKeep, isV6: true)
    }

    /// Parses `1.2.3.4` or an IPv6 text; nil when it is neither.
    static func parse(_ text: UnsafeRawBufferPointer) -> IPValue? {
        guard text.count > 0, text.count < 46 else { return nil }
        var stored = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var address = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &stored) { cText -> IPValue? in
            cText.copyMemory(from: text)
            let c = cText.baseAddress!.assumingMemoryBound(to: CChar.self)
            let isV6 = text.contains(UInt8(ascii: ":"))
            return withUnsafeMutableBytes(of: &address) { out -> IPValue? in
                guard inet_pton(isV6 ? AF_INET6 : AF_INET, c, out.baseAddress) == 1 else { return nil }
                return IPValue(bytes: UnsafeRawBufferPointer(rebasing: out[0..<(isV6 ? 16 : 4)]))
            }
        }
    }

    /// Writes the address as text (`1.2.3.4`, `::1`); nil when the arena is full.
    func format(into arena: inout ByteArena) -> UnsafeRawBufferPointer? {
        var raw = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &raw) { out in
            if isV6 {
                for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) }
                for i in 0..<8 { out[8 + i] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * i)) }
            } else {
                for i in 0..<4 { out[i] = UInt8(truncatingIfNeeded: low >> UInt64(24 - 8 * i)) }
            }
        }
        guard let text = arena.reserve(46) else { return nil }
        let start = arena.mark - 46
        let written = withUnsafeBytes(of: &raw) { source -> Int in
            let c = text.assumingMemoryBound(to: CChar.self)
            guard inet_ntop(isV6 ? AF_INET6 : AF_INET, source.baseAddress, c, 46) != nil else { return 0 }
            return strlen(c)
        }
        arena.rewind(to: start + written)
        return UnsafeRawBufferPointer(start: text, count: written)
    }
}

/// A network of an ACL or a map, ready to test addresses against.
struct IPNetworkMatcher {
    let network: IPValue
    let prefixLength: Int

    init(_ network: IPNetwork) {
        prefixLength = network.prefixLength
        self.network = IPValue(network.address).masked(network.prefixLength)
    }

    /// Whether `address` is in the network; an IPv4 address and its
    /// IPv4-mapped IPv6 form are the same address.
    func contains(_ address: IPValue) -> Bool {
        var candidate = address
        if network.isV6 != candidate.isV6 {
            if network.isV6 {
                candidate = IPValue(high: 0, low: 0xffff_0000_0000 | candidate.low, isV6: true)
            } else if let v4 = candidate.unmappedV4 {
                candidate = v4
            } else {
                return false
            }
        }
        return candidate.masked(prefixLength) == network
    }
}
