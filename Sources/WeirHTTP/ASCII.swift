// Byte classes of RFC 9110 §5.6 and RFC 9112: branch-light tests on one
// byte, and tests on sixteen at once for the loops that scan runs of bytes.

/// Byte values and character classes the HTTP/1 grammar is written in.
enum ASCII {
    static let horizontalTab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let numberSign: UInt8 = 0x23
    static let comma: UInt8 = 0x2C
    static let hyphen: UInt8 = 0x2D
    static let period: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B

    /// `tchar` for bytes 0–63, one bit per byte value.
    private static let tokenCharsBelow64: UInt64 = 0x03FF_6CFA_0000_0000
    /// `tchar` for bytes 64–127, one bit per byte value minus 64.
    private static let tokenCharsFrom64: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// `tchar` (RFC 9110 §5.6.2): the bytes of a method, a field name, a token.
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        if byte < 64 { return tokenCharsBelow64 >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return tokenCharsFrom64 >> UInt64(byte &- 64) & 1 != 0 }
        return false
    }

    /// A byte allowed inside a field value, a reason phrase or a chunk
    /// extension: HTAB, SP, VCHAR and obs-text; never a CTL or DEL.
    @inline(__always)
    static func isFieldValueChar(_ byte: UInt8) -> Bool {
        byte >= space ? byte != 0x7F : byte == horizontalTab
    }

    /// A request-target byte (RFC 9112 §3.2, no fragment): VCHAR but `#`.
    @inline(__always)
    static func isTargetChar(_ byte: UInt8) -> Bool {
        byte &- 0x21 < 0x5E && byte != numberSign
    }

    /// SP or HTAB: optional whitespace (OWS, BWS, RWS).
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == horizontalTab
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- zero < 10
    }

    // Eight bytes at a time (SWAR), for `lowercased(word:)`: a word loaded
    // little-endian, so its low byte comes first.
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    // Sixteen bytes at a time, on a vector (SSE2 on x86-64: a `pminub` and
    // a `pcmpeqb` per comparison). Each test gives the bytes it finds as
    // 0xFF in two words (`foundWords`). The constants are
    // spelled `SIMD16<UInt8>(repeating: literal)`: built from a named
    // constant, the comparisons went lane by lane.

    /// The bytes of `chunk` a field value may not hold, and HTAB, which it
    /// may: every CTL (below SP) and DEL. Bytes from 0x80 (obs-text) are
    /// left out.
    @inline(__always)
    static func controlBytes(of chunk: SIMD16<UInt8>) -> SIMD2<UInt64> {
        let found = (chunk .< SIMD16<UInt8>(repeating: 0x20)) .| (chunk .== SIMD16<UInt8>(repeating: 0x7F))
        return foundWords(found)
    }

    /// The bytes of `chunk` that are neither an ASCII letter nor `-`: where
    /// the common run of a field name ends (the colon, or a rarer tchar).
    /// `| 0x20` maps exactly the letters of either case to `a`–`z`.
    @inline(__always)
    static func nonNameLetterBytes(of chunk: SIMD16<UInt8>) -> SIMD2<UInt64> {
        let folded = chunk | SIMD16<UInt8>(repeating: 0x20)
        let letters = folded &- SIMD16<UInt8>(repeating: 0x61) .< SIMD16<UInt8>(repeating: 26)
        let found = .!(letters .| (chunk .== SIMD16<UInt8>(repeating: 0x2D)))
        return foundWords(found)
    }

    /// The bytes of `chunk` a request-target may not hold (`target` class):
    /// SP and the CTLs below it, DEL and above, `#`.
    @inline(__always)
    static func nonTargetBytes(of chunk: SIMD16<UInt8>) -> SIMD2<UInt64> {
        let found = (chunk .<= SIMD16<UInt8>(repeating: 0x20)) .| (chunk .>= SIMD16<UInt8>(repeating: 0x7F))
            .| (chunk .== SIMD16<UInt8>(repeating: 0x23))
        return foundWords(found)
    }

    /// The lanes `found` marks as 0xFF bytes in two words, the first lane in
    /// the low byte of the first word whatever the byte order.
    @inline(__always)
    private static func foundWords(_ found: SIMDMask<SIMD16<Int8>>) -> SIMD2<UInt64> {
        let words = unsafeBitCast(SIMD16<UInt8>(repeating: 0).replacing(with: 0xFF, where: found), to: SIMD2<UInt64>.self)
        return SIMD2(UInt64(littleEndian: words[0]), UInt64(littleEndian: words[1]))
    }

    /// The offset of the first byte a sixteen-byte test found, 16 if none.
    @inline(__always)
    static func firstFound(_ found: SIMD2<UInt64>) -> Int {
        if found[0] != 0 { return found[0].trailingZeroBitCount &>> 3 }
        if found[1] != 0 { return 8 &+ found[1].trailingZeroBitCount &>> 3 }
        return 16
    }

    /// `found` without the bytes it found among its first `count` (0 to 15).
    @inline(__always)
    static func droppingFirst(_ count: Int, of found: SIMD2<UInt64>) -> SIMD2<UInt64> {
        let bits = UInt64(truncatingIfNeeded: count &* 8)
        if count < 8 { return SIMD2(found[0] & (~0 &<< bits), found[1]) }
        return SIMD2(0, found[1] & (~0 &<< (bits &- 64)))
    }

    /// Each byte of `word` lowercased: `A`–`Z` to `a`–`z`, others unchanged.
    @inline(__always)
    static func lowercased(word: UInt64) -> UInt64 {
        let low = word & lowBits
        let fromA = low &+ ones &* 0x3F
        let pastZ = low &+ ones &* 0x25
        let upper = fromA & ~pastZ & ~word & highBits
        return word | upper &>> 2
    }

    /// `A`–`Z` mapped to `a`–`z`; every other byte unchanged.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// The value of a hexadecimal digit (either case), or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        if byte &- zero < 10 { return byte &- zero }
        let letter = byte | 0x20
        if letter &- 0x61 < 6 { return letter &- 0x61 &+ 10 }
        return nil
    }
}
