/// What the framing- and connection-related fields of one head said, gathered
/// while its field lines are parsed into a `HeaderTable`.
struct FieldSection {
    /// The announced `Content-Length`, -1 when there is none.
    var contentLength: Int64 = -1
    var hasTransferEncoding = false
    /// How many transfer codings all `Transfer-Encoding` fields list.
    var transferCodingCount = 0
    /// How many of them are `chunked`.
    var chunkedCount = 0
    /// Whether the last coding listed so far is `chunked`.
    var lastCodingIsChunked = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var hasUpgradeField = false
    var expectsContinue = false
    /// Index of the first `Host` field in the table, -1 if none.
    var hostIndex = -1
    /// Offset just past the empty line that ends the head.
    var end = 0

    /// Parses the field lines of `head` from `start` (the first byte after the
    /// start line) to the empty line that ends them, into `headers`. A head
    /// that runs past `limits.maxHeadBytes` is too large (431).
    ///
    /// Rules (RFC 9112 §5, RFC 9110 §5.5): a name is one or more tchars
    /// followed at once by `:` (no whitespace before the colon, no obs-fold);
    /// a value holds no CTL but HTAB, no DEL; lines end in CRLF or a bare LF,
    /// and a CR anywhere else is rejected.
    ///
    /// Each line is read in runs, sixteen bytes at a time: the name up to
    /// its first byte that is not a letter or `-` (the colon, most often),
    /// the value up to its first control byte (the line end); then
    /// byte by byte through the byte class tests to the first byte that may
    /// not be there, which says how the name or line ends. The first
    /// offending byte decides the error, as in a byte-by-byte reading.
    init(
        parsing head: UnsafeRawBufferPointer, from start: Int, into headers: inout HeaderTable,
        limits: HTTPLimits, message: HTTPMessageKind
    ) throws(HTTPParseError) {
        let end = min(head.count, limits.maxHeadBytes)
        let outOfBytes = HTTPParseError(end < head.count ? .headTooLarge : .lineEndingInvalid, in: message)
        let maxFields = min(limits.maxHeaders, headers.capacity)
        guard start < end, let base = head.baseAddress else { throw outOfBytes }
        // The fields go straight into the table's storage (the capacity is
        // checked against `maxFields`); its count is set on the way out,
        // whether the head parsed or not.
        let fields = headers.storage
        var count = headers.count
        // Every line so far is `name: value` CRLF, with no other whitespace.
        var regular = true
        defer {
            headers.count = count
            headers.regularLines = regular
        }
        // Offsets are stored as Int32: one check here, none per field.
        precondition(end <= Int(Int32.max), "head larger than 2 GiB")
        @inline(__always) func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }
        @inline(__always) func half(_ i: Int) -> UInt16 {
            UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt16.self))
        }
        @inline(__always) func chunk(_ i: Int) -> SIMD16<UInt8> {
            base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
        }
        var p = start
        while true {
            guard p < end else { throw outOfBytes }
            let first = byte(p)
            if first == ASCII.carriageReturn {
                guard p + 1 < end else { throw outOfBytes }
                guard byte(p + 1) == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
                self.end = p + 2
                return
            }
            if first == ASCII.lineFeed {
                self.end = p + 1
                return
            }
            if ASCII.isWhitespace(first) { throw HTTPParseError(.obsoleteLineFolding, in: message) }

            let nameStart = p
            // Sixteen bytes at a time; the last bytes before `end` as the
            // sixteen that end there, those before `p` left out.
            while true {
                if p &+ 16 <= end {
                    let offset = ASCII.firstFound(ASCII.nonNameLetterBytes(of: chunk(p)))
                    p &+= offset
                    if offset < 16 { break }
                } else {
                    if p < end && end >= 16 {
                        let found = ASCII.nonNameLetterBytes(of: chunk(end &- 16))
                        p = end &- 16 &+ ASCII.firstFound(ASCII.droppingFirst(p &- (end &- 16), of: found))
                    }
                    break
                }
            }
            // Most often the colon is there; else the rarer tchars, one by one.
            if p >= end || byte(p) != ASCII.colon {
                while p < end && ASCII.isTokenChar(byte(p)) { p += 1 }
                guard p < end else { throw outOfBytes }
            }
            guard p > nameStart, byte(p) == ASCII.colon else {
                throw HTTPParseError(.fieldNameInvalid, in: message)
            }
            let nameEnd = p
            // Most often ": ", then the value.
            if p &+ 2 <= end && half(p) == Self.colonSpace {
                p &+= 2
            } else {
                p &+= 1
                regular = false
            }
            if p < end && ASCII.isWhitespace(byte(p)) {
                regular = false
                while p < end && ASCII.isWhitespace(byte(p)) { p += 1 }
            }
            let valueStart = p
            // As the name is read.
            while true {
                if p &+ 16 <= end {
                    let offset = ASCII.firstFound(ASCII.controlBytes(of: chunk(p)))
                    p &+= offset
                    if offset < 16 { break }
                } else {
                    if p < end && end >= 16 {
                        let found = ASCII.controlBytes(of: chunk(end &- 16))
                        p = end &- 16 &+ ASCII.firstFound(ASCII.droppingFirst(p &- (end &- 16), of: found))
                    }
                    break
                }
            }
            var valueEnd: Int
            if p &+ 2 <= end && half(p) == Self.crlf {
                // Most often the first control byte starts the CRLF.
                valueEnd = p
                p &+= 2
            } else {
                while p < end && ASCII.isFieldValueChar(byte(p)) { p += 1 }
                guard p < end else { throw outOfBytes }
                valueEnd = p
                let stop = byte(p)
                if stop == ASCII.lineFeed {
                    p += 1
                    regular = false
                } else if stop == ASCII.carriageReturn {
                    guard p + 1 < end else { throw outOfBytes }
                    guard byte(p + 1) == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
                    p += 2
                } else {
                    throw HTTPParseError(.fieldValueInvalid, in: message)
                }
            }
            if valueEnd > valueStart && ASCII.isWhitespace(byte(valueEnd - 1)) {
                regular = false
                while valueEnd > valueStart && ASCII.isWhitespace(byte(valueEnd - 1)) { valueEnd -= 1 }
            }
            guard count < maxFields else { throw HTTPParseError(.tooManyHeaders, in: message) }
            let knownName = KnownFieldName(base + nameStart, count: nameEnd - nameStart)
            let field = HeaderField(
                nameStart: Int32(truncatingIfNeeded: nameStart), nameEnd: Int32(truncatingIfNeeded: nameEnd),
                valueStart: Int32(truncatingIfNeeded: valueStart), valueEnd: Int32(truncatingIfNeeded: valueEnd),
                knownName: knownName)
            fields[count] = field
            count += 1
            if knownName != .other {
                if knownName.isHopByHop && count <= 64 { headers.hopByHopNames |= 1 &<< UInt64(count &- 1) }
                try interpret(field, at: count - 1, in: head, into: &headers, message: message)
            }
        }
    }

    /// `: ` and CRLF as little-endian 16-bit words.
    private static let colonSpace: UInt16 = 0x203A
    private static let crlf: UInt16 = 0x0A0D

    /// Records what a framing- or connection-related field says.
    private mutating func interpret(
        _ field: HeaderField, at index: Int, in head: UnsafeRawBufferPointer, into headers: inout HeaderTable,
        message: HTTPMessageKind
    ) throws(HTTPParseError) {
        let value = field.value(in: head)
        switch field.knownName {
        case .host:
            guard hostIndex < 0 else { throw HTTPParseError(.hostDuplicated, in: message) }
            hostIndex = index
        case .expect:
            if HTTPField.equalsIgnoringCase(value, "100-continue") { expectsContinue = true }
        case .upgrade:
            hasUpgradeField = true
        case .connection:
            // The usual values, at once; any other through the list.
            if value.count == 10 && HTTPField.equalsIgnoringCase(value, "keep-alive") {
                connectionKeepAlive = true
                headers.connectionOptions.insert(.keepAlive)
                return
            }
            if value.count == 5 && HTTPField.equalsIgnoringCase(value, "close") {
                connectionClose = true
                headers.connectionOptions.insert(.close)
                return
            }
            for option in HTTPField.elements(value) {
                switch option.count {
                case 5 where HTTPField.equalsIgnoringCase(option, "close"):
                    connectionClose = true
                    headers.connectionOptions.insert(.close)
                case 10 where HTTPField.equalsIgnoringCase(option, "keep-alive"):
                    connectionKeepAlive = true
                    headers.connectionOptions.insert(.keepAlive)
                case 7 where HTTPField.equalsIgnoringCase(option, "upgrade"):
                    connectionUpgrade = true
                    headers.connectionOptions.insert(.upgrade)
                case 2 where HTTPField.equalsIgnoringCase(option, "te"):
                    headers.connectionOptions.insert(.te)
                default:
                    headers.connectionOptions.insert(.other)
                }
            }
        case .contentLength:
            switch HTTPField.contentLength(value) {
            case .length(let length):
                if contentLength >= 0 && contentLength != length {
                    throw HTTPParseError(.contentLengthConflict, in: message)
                }
                contentLength = length
            case .conflicting:
                throw HTTPParseError(.contentLengthConflict, in: message)
            case .invalid:
                throw HTTPParseError(.contentLengthInvalid, in: message)
            }
        case .transferEncoding:
            hasTransferEncoding = true
            for coding in HTTPField.elements(value) {
                transferCodingCount += 1
                lastCodingIsChunked = HTTPField.equalsIgnoringCase(coding, "chunked")
                if lastCodingIsChunked { chunkedCount += 1 }
            }
        case .other, .keepAlive, .proxyConnection, .te:
            break
        }
    }

    /// The body framing the `Content-Length` and `Transfer-Encoding` fields
    /// announce (RFC 9112 §6), rejecting every ambiguous combination: both
    /// fields at once, `chunked` twice or not last, no coding at all. A
    /// request must be exactly `chunked` (other codings before it: 501); a
    /// response may list codings before `chunked`, which travel unchanged.
    /// Returns nil when neither field is present.
    func announcedFraming(versionMinor: Int, message: HTTPMessageKind) throws(HTTPParseError) -> BodyFraming? {
        if hasTransferEncoding {
            guard versionMinor >= 1 else { throw HTTPParseError(.transferEncodingInHTTP10, in: message) }
            guard contentLength < 0 else { throw HTTPParseError(.contentLengthWithTransferEncoding, in: message) }
            guard chunkedCount == 1, lastCodingIsChunked else {
                throw HTTPParseError(.transferEncodingInvalid, in: message)
            }
            if message == .request && transferCodingCount != 1 {
                throw HTTPParseError(.transferCodingNotImplemented, in: message)
            }
            return .chunked
        }
        if contentLength > 0 { return .contentLength(contentLength) }
        if contentLength == 0 { return BodyFraming.none }
        return nil
    }
}
