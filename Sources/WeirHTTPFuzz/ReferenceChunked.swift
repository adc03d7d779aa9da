import WeirHTTP

/// A second, independent reading of chunked framing (RFC 9112 §7.1 with the
/// strictness `BodyTracker` documents), written line by line over the whole
/// input for clarity rather than speed, to check the streaming tracker against.
enum ReferenceChunked {
    enum Verdict: Equatable {
        /// The body ends after this many bytes.
        case complete(Int)
        /// Every byte so far is valid, and more are needed.
        case incomplete
        /// The framing is broken.
        case invalid
    }

    private enum Line {
        case text(Range<Int>)
        case incomplete
        case invalid
    }

    static func verdict(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        var p = 0
        while true {
            let sizeLine: Range<Int>
            switch line(bytes, from: &p) {
            case .text(let range): sizeLine = range
            case .incomplete: return .incomplete
            case .invalid: return .invalid
            }
            guard let size = chunkSize(bytes, sizeLine) else { return .invalid }
            if size == 0 { break }
            let left = bytes.count - p
            if Int64(left) < size { return .incomplete }
            p += Int(size)
            if p == bytes.count { return .incomplete }
            if bytes[p] != 13 { return .invalid }
            if p + 1 == bytes.count { return .incomplete }
            if bytes[p + 1] != 10 { return .invalid }
            p += 2
        }
        while true {
            switch line(bytes, from: &p) {
            case .incomplete: return .incomplete
            case .invalid: return .invalid
            case .text(let range):
                if range.isEmpty { return .complete(p) }
                if !isTrailerField(bytes, range) { return .invalid }
            }
        }
    }

    /// The next line from `p`, which must end in CRLF; moves `p` past it.
    private static func line(_ bytes: UnsafeRawBufferPointer, from p: inout Int) -> Line {
        var end = p
        while end < bytes.count && bytes[end] != 13 && bytes[end] != 10 { end += 1 }
        if end == bytes.count { return .incomplete }
        if bytes[end] == 10 { return .invalid }
        if end + 1 == bytes.count { return .incomplete }
        if bytes[end + 1] != 10 { return .invalid }
        defer { p = end + 2 }
        return .text(p..<end)
    }

    /// `1*16HEXDIG` at most `Int64.max`, then nothing, or `*WSP ";" ext` with
    /// ext made of HTAB, SP, VCHAR and obs-text.
    private static func chunkSize(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Int64? {
        var digitsEnd = line.lowerBound
        while digitsEnd < line.upperBound && isHexDigit(bytes[digitsEnd]) { digitsEnd += 1 }
        let digits = digitsEnd - line.lowerBound
        guard digits >= 1 && digits <= 16 else { return nil }
        var size: UInt64 = 0
        for i in line.lowerBound..<digitsEnd { size = size << 4 | UInt64(hexValue(bytes[i])) }
        guard size <= UInt64(Int64.max) else { return nil }
        if digitsEnd < line.upperBound {
            var semicolon = digitsEnd
            while semicolon < line.upperBound && (bytes[semicolon] == 32 || bytes[semicolon] == 9) { semicolon += 1 }
            guard semicolon < line.upperBound && bytes[semicolon] == UInt8(ascii: ";") else { return nil }
            for i in (semicolon + 1)..<line.upperBound where !isValueByte(bytes[i]) { return nil }
        }
        return Int64(size)
    }

    private static func isTrailerField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Bool {
        var colon = line.lowerBound
        while colon < line.upperBound && HeadChecks.isTokenByte(bytes[colon]) { colon += 1 }
        guard colon > line.lowerBound, colon < line.upperBound, bytes[colon] == UInt8(ascii: ":") else { return false }
        for i in (colon + 1)..<line.upperBound where !isValueByte(bytes[i]) { return false }
        return true
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8 {
        byte <= 57 ? byte - 48 : (byte | 0x20) - 87
    }

    private static func isValueByte(_ byte: UInt8) -> Bool {
        byte == 9 || (byte >= 32 && byte != 127)
    }
}
