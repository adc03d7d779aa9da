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

    private static func classify(_ name: UnsafeRawPointer, count: Int) -> KnownFieldName {
        // `| 0x20` lowercases a letter and maps no other byte to one.
        let first = name.load(as: UInt8.self) | 0x20
        @inline(__always)
        func spells(_ lowercase: StaticString) -> Bool {
            HTTPField.equalsIgnoringCase(name, UnsafeRawPointer(lowercase.utf8Start), count: count,
                                         lowercasingBoth: false)
        }
        switch count {
        case 2: return first == UInt8(ascii: "t") && spells("te") ? .te : .other
        case 4: return first == UInt8(ascii: "h") && spells("host") ? .host : .other
        case 6: return first == UInt8(ascii: "e") && spells("expect") ? .expect : .other
        case 7: return first == UInt8(ascii: "u") && spells("upgrade") ? .upgrade : .other
        case 10:
            if first == UInt8(ascii: "c") { return spells("connection") ? .connection : .other }
            return first == UInt8(ascii: "k") && spells("keep-alive") ? .keepAlive : .other
        case 14: return first == UInt8(ascii: "c") && spells("content-length") ? .contentLength : .other
        case 16: return first == UInt8(ascii: "p") && spells("proxy-connection") ? .proxyConnection : .other
        case 17: return first == UInt8(ascii: "t") && spells("transfer-encoding") ? .transferEncoding : .other
        default: return .other
        }
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
