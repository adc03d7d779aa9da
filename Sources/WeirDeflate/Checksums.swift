/// CRC-32 as gzip uses it (ISO 3309, polynomial 0xEDB88320 reflected),
/// updated a buffer at a time.
public enum CRC32 {
    /// The checksum of nothing; `update` continues from any earlier result.
    public static let initial: UInt32 = 0

    /// The CRC-32 of the bytes so far (`crc`) followed by `bytes`.
    @inlinable
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        guard let base = bytes.baseAddress else { return crc }
        let count = bytes.count
        table.withUnsafeBufferPointer { t in
            // Four bytes per step through four tables ("slicing by four").
            var i = 0
            while i &+ 4 <= count {
                c ^= UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                c = t[768 &+ Int(c & 0xFF)] ^ t[512 &+ Int((c >> 8) & 0xFF)]
                    ^ t[256 &+ Int((c >> 16) & 0xFF)] ^ t[Int(c >> 24)]
                i &+= 4
            }
            while i < count {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i &+= 1
            }
        }
        return ~c
    }

    /// Four 256-entry tables: the first is the classic byte table, table k
    /// gives the effect of a byte followed by k zero bytes.
    @usableFromInline
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 1024)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            for k in 1..<4 {
                let previous = t[(k - 1) * 256 + n]
                t[k * 256 + n] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()
}

/// Adler-32 as zlib's stream trailer uses it (RFC 1950 §8.2).
public enum Adler32 {
    /// The checksum of nothing.
    public static let initial: UInt32 = 1

    @inlinable
    public static func update(_ adler: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var a = adler & 0xFFFF
        var b = adler >> 16
        var i = 0
        let count = bytes.count
        while i < count {
            // 5552 bytes is the most that cannot overflow 32 bits before the modulo.
            let end = min(count, i &+ 5552)
            while i < end {
                a &+= UInt32(bytes[i])
                b &+= a
                i &+= 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }
}
