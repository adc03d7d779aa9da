// Byte classes of RFC 9110 §5.6 and RFC 9112: branch-light tests on one
// byte, and one 256-entry table for the loops that scan runs of bytes.

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

    /// One entry per byte value: which of the `ByteClass` classes it is in.
    /// Built once, never freed; the scanning loops index it without bounds
    /// checks (a byte is always below 256).
    nonisolated(unsafe) static let classes: UnsafePointer<ByteClass> = {
        let table = UnsafeMutablePointer<ByteClass>.allocate(capacity: 256)
        for value in 0..<256 {
            let byte = UInt8(value)
            var c: ByteClass = []
            if isTokenChar(byte) { c.insert(.token) }
            if isFieldValueChar(byte) { c.insert(.fieldValue) }
            if byte > space && byte < 0x7F && byte != numberSign { c.insert(.target) }
            table[value] = c
        }
        return UnsafePointer(table)
    }()

    // Eight bytes at a time (SWAR): a word loaded little-endian, so its low
    // byte comes first. Each test below sets the high bit of exactly the
    // bytes it finds (no carry crosses a byte: every sum stays below 0x100),
    // so `trailingZeroBitCount / 8` is the offset of the first one.
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The bytes of `word` equal to `byte` (below 0x80).
    @inline(__always)
    static func bytes(of word: UInt64, equalTo byte: UInt8) -> UInt64 {
        let difference = word ^ (ones &* UInt64(byte))
        return ~(((difference & lowBits) &+ lowBits) | difference) & highBits
    }

    /// The bytes of `word` a field value may not hold, and HTAB, which it
    /// may: every CTL (below SP) and DEL. Adding 1 to the low seven bits
    /// takes DEL to 0 and CTLs to 1–0x20, so one comparison (below 0x21)
    /// finds both; bytes from 0x80 (obs-text) are left out.
    @inline(__always)
    static func controlBytes(of word: UInt64) -> UInt64 {
        let rotated = ((word & lowBits) &+ ones) & lowBits
        return ~(rotated &+ ones &* 0x5F) & ~word & highBits
    }

    /// The bytes of `word` that are neither an ASCII letter nor `-`: where
    /// the common run of a field name ends (the colon, or a rarer tchar).
    @inline(__always)
    static func nonNameLetterBytes(of word: UInt64) -> UInt64 {
        let folded = (word | ones &* 0x20) & lowBits
        let fromA = folded &+ ones &* 0x1F
        let pastZ = folded &+ ones &* 0x05
        let letters = fromA & ~pastZ & ~word & highBits
        return ~(letters | bytes(of: word, equalTo: hyphen)) & highBits
    }

    /// The bytes of `word` a request-target may not hold (`target` class):
    /// SP and the CTLs below it, DEL and above, `#`. Exact for the first one
    /// found (a borrow only flags bytes after a true one), which is all a
    /// scan reads.
    @inline(__always)
    static func nonTargetBytes(of word: UInt64) -> UInt64 {
        let belowBang = (word &- ones &* 0x21) & ~word
        let delOrAbove = ((word & lowBits) &+ ones) | word
        return (belowBang | delOrAbove | bytes(of: word, equalTo: numberSign)) & highBits
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

/// Classes of a byte, as `ASCII.classes` records them.
struct ByteClass: OptionSet {
    let rawValue: UInt8

    /// `tchar`: method, field name, token.
    static let token = ByteClass(rawValue: 1)
    /// HTAB, SP, VCHAR, obs-text: a field value or reason phrase byte.
    static let fieldValue = ByteClass(rawValue: 2)
    /// VCHAR but `#`: a request-target byte (RFC 9112 §3.2, no fragment).
    static let target = ByteClass(rawValue: 4)
}
