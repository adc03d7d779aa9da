/// Pure helpers over field names and values, all working on offsets or
/// buffers into a head: nothing here allocates.
public enum HTTPField {
    /// Whether `a` and `b` are the same bytes, ignoring ASCII case.
    public static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return equalsIgnoringCase(x, y, count: a.count, lowercasingBoth: true)
    }

    /// Whether `bytes` spell `lowercaseText` in any ASCII case.
    @inline(__always)
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseText: StaticString) -> Bool {
        guard lowercaseText.hasPointerRepresentation else {
            return lowercaseText.withUTF8Buffer { equalsIgnoringCase(bytes, UnsafeRawBufferPointer($0)) }
        }
        guard bytes.count == lowercaseText.utf8CodeUnitCount else { return false }
        guard let x = bytes.baseAddress else { return true }
        return equalsIgnoringCase(x, UnsafeRawPointer(lowercaseText.utf8Start), count: bytes.count,
                                  lowercasingBoth: false)
    }

    /// Whether `count` bytes at `a`, lowercased, equal those at `b`, also
    /// lowercased when `lowercasingBoth` (else taken as they are). Eight
    /// bytes at a time, the last word overlapping the one before; shorter
    /// runs in two overlapping halves.
    @inline(__always)
    static func equalsIgnoringCase(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int,
                                   lowercasingBoth: Bool) -> Bool {
        @inline(__always)
        func same<Word: FixedWidthInteger & UnsignedInteger>(_: Word.Type, at offset: Int) -> Bool {
            let x = UInt64(a.loadUnaligned(fromByteOffset: offset, as: Word.self))
            let y = UInt64(b.loadUnaligned(fromByteOffset: offset, as: Word.self))
            return ASCII.lowercased(word: x) == (lowercasingBoth ? ASCII.lowercased(word: y) : y)
        }
        if count >= 8 {
            var offset = 0
            while offset &+ 8 < count {
                guard same(UInt64.self, at: offset) else { return false }
                offset &+= 8
            }
            return same(UInt64.self, at: count &- 8)
        }
        if count >= 4 { return same(UInt32.self, at: 0) && same(UInt32.self, at: count &- 4) }
        if count >= 2 { return same(UInt16.self, at: 0) && same(UInt16.self, at: count &- 2) }
        return count == 0 || same(UInt8.self, at: 0)
    }

    /// The elements of a comma-separated field value (RFC 9110 §5.6.1),
    /// each trimmed of OWS, empty elements skipped. For `Connection`,
    /// `Transfer-Encoding`, `Upgrade` and the like, whose elements are tokens.
    public static func elements(_ value: UnsafeRawBufferPointer) -> ListElements {
        ListElements(value)
    }

    /// Whether the comma-separated `value` has an element equal to
    /// `lowercaseElement` in any ASCII case (e.g. `close` in `Connection`).
    public static func containsElement(_ value: UnsafeRawBufferPointer, _ lowercaseElement: StaticString) -> Bool {
        for element in ListElements(value) where equalsIgnoringCase(element, lowercaseElement) {
            return true
        }
        return false
    }

    /// Whether the field `name` is hop-by-hop: it describes one connection and
    /// a proxy removes it before forwarding (RFC 9110 §7.6.1). These are
    /// `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE` and `Upgrade` (kept
    /// only when the proxy tunnels an upgraded connection), plus any field the
    /// message's `Connection` nominates (`HeaderTable.isNominatedByConnection`).
    ///
    /// `Transfer-Encoding` is not among them here: the proxy forwards a body
    /// byte for byte, a chunked body stays chunked, so the field that says so
    /// must travel with it. `Trailer` is not either: it announces the trailer
    /// section, which is forwarded inside the body.
    public static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        KnownFieldName(name).isHopByHop
    }

    /// The length a `Content-Length` value announces, or nil when it is not
    /// one or more comma-separated decimal numbers (OWS around each), all the
    /// same (RFC 9110 §8.6), and at most `Int64.max`.
    public static func parseContentLength(_ value: UnsafeRawBufferPointer) -> Int64? {
        if case .length(let length) = contentLength(value) { return length }
        return nil
    }

    /// What a `Content-Length` value says: a length, a malformed number, or
    /// several numbers that differ.
    enum ContentLength: Equatable {
        case length(Int64)
        case invalid
        case conflicting
    }

    static func contentLength(_ value: UnsafeRawBufferPointer) -> ContentLength {
        // The usual value first: one number of at most 18 digits, which
        // cannot overflow, and nothing else.
        if let base = value.baseAddress, value.count > 0, value.count <= 18 {
            var length: Int64 = 0
            var i = 0
            while i < value.count {
                let digit = base.load(fromByteOffset: i, as: UInt8.self) &- ASCII.zero
                guard digit < 10 else { break }
                length = length &* 10 &+ Int64(digit)
                i &+= 1
            }
            if i == value.count { return .length(length) }
        }
        var result: Int64 = -1
        var i = 0
        let end = value.count
        while true {
            while i < end && ASCII.isWhitespace(value[i]) { i += 1 }
            let digitsStart = i
            var length: Int64 = 0
            while i < end && ASCII.isDigit(value[i]) {
                let (times10, overflowTimes) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflowPlus) = times10.addingReportingOverflow(Int64(value[i] &- ASCII.zero))
                if overflowTimes || overflowPlus { return .invalid }
                length = sum
                i += 1
            }
            if i == digitsStart { return .invalid }
            if result >= 0 && result != length { return .conflicting }
            result = length
            while i < end && ASCII.isWhitespace(value[i]) { i += 1 }
            if i == end { return .length(result) }
            if value[i] != ASCII.comma { return .invalid }
            i += 1
        }
    }
}

/// The field names the HTTP/1 engine and the proxy tell apart: those that
/// frame the body, describe the connection or are hop-by-hop. The parser
/// finds each field's once (`HeaderField.knownName`), so the code that
/// forwards a head compares no names.
public enum KnownFieldName: UInt8, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case upgrade
    case expect

    /// The known name `name` spells, in any ASCII case, or `.other`: a
    /// dispatch on the length and first byte, then one comparison.
    @inline(__always)
    public init(_ name: UnsafeRawBufferPointer) {
        guard let base = name.baseAddress, name.count > 0 else {
            self = .other
            return
        }
        self.init(base, count: name.count)
    }

    /// The known name the `count` bytes at `name` spell. Most names are
    /// none, and most of those are told at once by a hash of their first
    /// letter (either case) and length; the others go to `classify`.
    @inline(__always)
    init(_ name: UnsafeRawPointer, count: Int) {
        let letter = Int(name.load(as: UInt8.self) & 31)
        guard Self.hashes &>> UInt64(truncatingIfNeeded: (letter &+ count &* 38) & 63) & 1 != 0 else {
            self = .other
            return
        }
        self = Self.classify(name, count: count)
    }

    /// The known names' hashes (`letter + 38 × length`, modulo 64), as bits.
    /// The factor leaves out the usual other names: Date, Server, ETag,
    /// User-Agent, Accept*, Content-Type, Cache-Control, Cookie, Referer...
    private static let hashes: UInt64 = 1 << 7 | 1 << 23 | 1 << 26 | 1 << 31 | 1 << 32 | 1 << 41 | 1 << 48 | 1 << 63

    /// The known name of `count` bytes at `name`, told by the length, then
    /// one to three word comparisons.
    private static func classify(_ name: UnsafeRawPointer, count: Int) -> KnownFieldName {
        // Each name as little-endian words of its bytes (the first and
        // last word, overlapping, and the middle one past 16 bytes), and
        // the same words read from `name` with the case bit of the
        // literal's letters set: `| 0x20` lowercases a letter and maps no
        // other byte to one.
        switch count {
        case 2:  // te
            return word16(name, 0) | 0x2020 == 0x6574 ? .te : .other
        case 4:  // host
            return word32(name, 0) | 0x2020_2020 == 0x7473_6F68 ? .host : .other
        case 6:  // expect
            return word32(name, 0) | 0x2020_2020 == 0x6570_7865
                && word32(name, 2) | 0x2020_2020 == 0x7463_6570 ? .expect : .other
        case 7:  // upgrade
            return word32(name, 0) | 0x2020_2020 == 0x7267_7075
                && word32(name, 3) | 0x2020_2020 == 0x6564_6172 ? .upgrade : .other
        case 10:
            if name.load(as: UInt8.self) | 0x20 == UInt8(ascii: "c") {  // connection
                return word64(name, 0) | 0x2020_2020_2020_2020 == 0x6974_6365_6E6E_6F63
                    && word64(name, 2) | 0x2020_2020_2020_2020 == 0x6E6F_6974_6365_6E6E ? .connection : .other
            } else {  // keep-alive
                return word64(name, 0) | 0x2020_2000_2020_2020 == 0x696C_612D_7065_656B
                    && word64(name, 2) | 0x2020_2020_2000_2020 == 0x6576_696C_612D_7065 ? .keepAlive : .other
            }
        case 14:  // content-length
            return word64(name, 0) | 0x0020_2020_2020_2020 == 0x2D74_6E65_746E_6F63
                && word64(name, 6) | 0x2020_2020_2020_0020 == 0x6874_676E_656C_2D74 ? .contentLength : .other
        case 16:  // proxy-connection
            return word64(name, 0) | 0x2020_0020_2020_2020 == 0x6F63_2D79_786F_7270
                && word64(name, 8) | 0x2020_2020_2020_2020 == 0x6E6F_6974_6365_6E6E ? .proxyConnection : .other
        case 17:  // transfer-encoding
            return word64(name, 0) | 0x2020_2020_2020_2020 == 0x7265_6673_6E61_7274
                && word64(name, 8) | 0x2020_2020_2020_2000 == 0x6E69_646F_636E_652D
                && word64(name, 9) | 0x2020_2020_2020_2020 == 0x676E_6964_6F63_6E65 ? .transferEncoding : .other
        default:
            return .other
        }
    }

    @inline(__always)
    private static func word16(_ name: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: name.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    private static func word32(_ name: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: name.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    private static func word64(_ name: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: name.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Whether a field of this name is hop-by-hop whatever `Connection` says
    /// (see `HTTPField.isHopByHop`).
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .upgrade: true
        default: false
        }
    }
}

/// The elements of a comma-separated field value, trimmed of OWS, empty ones
/// skipped, each a buffer over the value's own memory. Commas inside quoted
/// strings are not special: the lists this is for hold tokens.
public struct ListElements: Sequence, IteratorProtocol {
    private let value: UnsafeRawBufferPointer
    private var position = 0

    public init(_ value: UnsafeRawBufferPointer) {
        self.value = value
    }

    public mutating func next() -> UnsafeRawBufferPointer? {
        let end = value.count
        while position < end {
            var start = position
            var stop = start
            while stop < end && value[stop] != ASCII.comma { stop += 1 }
            position = stop + 1
            while start < stop && ASCII.isWhitespace(value[start]) { start += 1 }
            while stop > start && ASCII.isWhitespace(value[stop - 1]) { stop -= 1 }
            if stop > start { return value.slice(start, stop) }
        }
        return nil
    }
}
