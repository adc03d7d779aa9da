/// Pure helpers over field names and values, all working on offsets or
/// buffers into a head: nothing here allocates.
public enum HTTPField {
    /// Whether `a` and `b` are the same bytes, ignoring ASCII case.
    public static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where ASCII.lowercased(a[i]) != ASCII.lowercased(b[i]) {
            return false
        }
        return true
    }

    /// Whether `bytes` spell `lowercaseText` in any ASCII case.
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseText: StaticString) -> Bool {
        lowercaseText.withUTF8Buffer { expected in
            guard expected.count == bytes.count else { return false }
            for i in 0..<bytes.count where ASCII.lowercased(bytes[i]) != expected[i] {
                return false
            }
            return true
        }
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
        switch name.count {
        case 2: equalsIgnoringCase(name, "te")
        case 7: equalsIgnoringCase(name, "upgrade")
        case 10: equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "keep-alive")
        case 16: equalsIgnoringCase(name, "proxy-connection")
        default: false
        }
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
