// Byte classes of RFC 9110 §5.6 and RFC 9112, as branch-light tests on one
// byte: no tables to initialise, nothing allocated.

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

    /// SP or HTAB: optional whitespace (OWS, BWS, RWS).
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == horizontalTab
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- zero < 10
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
