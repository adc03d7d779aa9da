/// The hash functions of `hash-type` (configuration.txt, `hash-type`), with
/// HAProxy's definitions, so a key hashes to the same 32-bit value here as in
/// HAProxy's `sdbm`, `djb2`, `wt6` and `crc32` converters. The worker hashes
/// the key bytes of `balance uri|url_param|hdr|hash` with the backend's
/// function and passes the result to `Balancer.pick(hashKey:)`.
///
/// Every function is pure, fixed (no seed) and allocation-free.
public enum KeyHash: Sendable, Hashable, CaseIterable {
    /// The ndbm rehash, `h = byte + (h << 6) + (h << 16) - h` from 0.
    /// HAProxy's default.
    case sdbm
    /// Bernstein's `h = h * 33 + byte` from 5381.
    case djb2
    /// Willy Tarreau's wt6: two 32-bit states, each rotated by an amount the
    /// previous byte decided.
    case wt6
    /// CRC-32 as in zlib and Ethernet: reflected, polynomial 0xEDB88320,
    /// initial value and final xor 0xFFFFFFFF.
    case crc32
    /// HAProxy's `none`: no hashing; the key is read as a decimal integer
    /// (an optional sign, then digits up to the first other byte, clamped to
    /// 64-bit signed range) and its low 32 bits are the hash. Meant for a key
    /// already hashed by a converter.
    case identity

    /// The 32-bit hash of `bytes`; with `avalanche`, mixed once more by
    /// `fullAvalanche` (HAProxy's `avalanche` modifier).
    public static func hash(_ bytes: UnsafeRawBufferPointer, function: KeyHash, avalanche: Bool) -> UInt32 {
        let h: UInt32
        switch function {
        case .sdbm: h = sdbm(bytes)
        case .djb2: h = djb2(bytes)
        case .wt6: h = wt6(bytes)
        case .crc32: h = crc32(bytes)
        case .identity: h = decimalValue(bytes)
        }
        return avalanche ? fullAvalanche(h) : h
    }

    /// Bob Jenkins' 6-shift integer hash followed by a multiplication by
    /// 3221225473 (a prime near 3/4 of 2^32), which spreads small integers
    /// over the whole 32-bit space. HAProxy's `full_hash`: its `avalanche`
    /// modifier, and how it places consistent-hash points on the ring.
    static func fullAvalanche(_ x: UInt32) -> UInt32 {
        var a = x
        a = (a &+ 0x7ed5_5d16) &+ (a << 12)
        a = (a ^ 0xc761_c23c) ^ (a >> 19)
        a = (a &+ 0x1656_67b1) &+ (a << 5)
        a = (a &+ 0xd3a2_646c) ^ (a << 9)
        a = (a &+ 0xfd70_46c5) &+ (a << 3)
        a = (a ^ 0xb55a_4f09) ^ (a >> 16)
        return a &* 3_221_225_473
    }

    private static func sdbm(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0
        for byte in bytes { h = UInt32(byte) &+ (h << 6) &+ (h << 16) &- h }
        return h
    }

    private static func djb2(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 5381
        for byte in bytes { h = h &* 33 &+ UInt32(byte) }
        return h
    }

    private static func wt6(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h0: UInt32 = 0xa53c_965a
        var h1: UInt32 = 0x5ca6_953a
        var rotation0: UInt32 = 6
        var rotation1: UInt32 = 18
        for byte in bytes {
            let mixed0 = ~(h0 ^ UInt32(byte))
            let mixed1 = ~(h1 &+ UInt32(byte))
            // The states swap places as they rotate.
            h0 = mixed1.rotatedLeft(rotation0)
            h1 = mixed0.rotatedLeft(rotation1)
            let selector = ((h0 >> 16) ^ h1) & 0xffff
            rotation0 = selector & 0x1f
            rotation1 = selector >> 11
        }
        return h0 ^ h1
    }

    private static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                // All ones when the low bit is set, else zero: no branch.
                let lowBitMask = 0 &- (crc & 1)
                crc = (crc >> 1) ^ (0xedb8_8320 & lowBitMask)
            }
        }
        return ~crc
    }

    private static func decimalValue(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        var magnitude: UInt64 = 0
        for byte in digits {
            let digit = byte &- UInt8(ascii: "0")
            guard digit <= 9 else { break }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1 && !overflow2 else {
                magnitude = .max
                break
            }
            magnitude = sum
        }
        let value: Int64
        if negative {
            value = magnitude > UInt64(Int64.max) + 1 ? .min : Int64(truncatingIfNeeded: 0 &- magnitude)
        } else {
            value = magnitude > UInt64(Int64.max) ? .max : Int64(magnitude)
        }
        return UInt32(truncatingIfNeeded: value)
    }
}

extension UInt32 {
    /// Rotation by 0...31; by 0 it is the identity.
    @inline(__always)
    func rotatedLeft(_ k: UInt32) -> UInt32 { (self &<< k) | (self &>> (32 &- k)) }
}
