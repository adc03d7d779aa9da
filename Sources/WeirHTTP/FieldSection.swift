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
    init(
        parsing head: UnsafeRawBufferPointer, from start: Int, into headers: inout HeaderTable,
        limits: HTTPLimits, message: HTTPMessageKind
    ) throws(HTTPParseError) {
        let end = min(head.count, limits.maxHeadBytes)
        let outOfBytes = HTTPParseError(end < head.count ? .headTooLarge : .lineEndingInvalid, in: message)
        let maxFields = min(limits.maxHeaders, headers.capacity)
        var p = start
        while true {
            guard p < end else { throw outOfBytes }
            let first = head[p]
            if first == ASCII.carriageReturn {
                guard p + 1 < end else { throw outOfBytes }
                guard head[p + 1] == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
                self.end = p + 2
                return
            }
            if first == ASCII.lineFeed {
                self.end = p + 1
                return
            }
            if ASCII.isWhitespace(first) { throw HTTPParseError(.obsoleteLineFolding, in: message) }

            let nameStart = p
            while p < end && ASCII.isTokenChar(head[p]) { p += 1 }
            guard p < end else { throw outOfBytes }
            guard p > nameStart, head[p] == ASCII.colon else {
                throw HTTPParseError(.fieldNameInvalid, in: message)
            }
            let nameEnd = p
            p += 1
            while p < end && ASCII.isWhitespace(head[p]) { p += 1 }
            let valueStart = p
            var valueEnd = p
            var lineEnded = false
            while p < end {
                let byte = head[p]
                if byte == ASCII.lineFeed {
                    p += 1
                    lineEnded = true
                    break
                }
                if byte == ASCII.carriageReturn {
                    guard p + 1 < end else { throw outOfBytes }
                    guard head[p + 1] == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
                    p += 2
                    lineEnded = true
                    break
                }
                guard ASCII.isFieldValueChar(byte) else { throw HTTPParseError(.fieldValueInvalid, in: message) }
                if !ASCII.isWhitespace(byte) { valueEnd = p + 1 }
                p += 1
            }
            guard lineEnded else { throw outOfBytes }
            guard headers.count < maxFields else { throw HTTPParseError(.tooManyHeaders, in: message) }
            let field = HeaderField(
                nameStart: Int32(nameStart), nameEnd: Int32(nameEnd),
                valueStart: Int32(valueStart), valueEnd: Int32(valueEnd))
            headers.append(field)
            try interpret(field, at: headers.count - 1, in: head, message: message)
        }
    }

    /// Records what a framing- or connection-related field says.
    private mutating func interpret(
        _ field: HeaderField, at index: Int, in head: UnsafeRawBufferPointer, message: HTTPMessageKind
    ) throws(HTTPParseError) {
        let name = field.name(in: head)
        let value = field.value(in: head)
        switch name.count {
        case 4 where HTTPField.equalsIgnoringCase(name, "host"):
            guard hostIndex < 0 else { throw HTTPParseError(.hostDuplicated, in: message) }
            hostIndex = index
        case 6 where HTTPField.equalsIgnoringCase(name, "expect"):
            if HTTPField.equalsIgnoringCase(value, "100-continue") { expectsContinue = true }
        case 7 where HTTPField.equalsIgnoringCase(name, "upgrade"):
            hasUpgradeField = true
        case 10 where HTTPField.equalsIgnoringCase(name, "connection"):
            for option in HTTPField.elements(value) {
                if HTTPField.equalsIgnoringCase(option, "close") {
                    connectionClose = true
                } else if HTTPField.equalsIgnoringCase(option, "keep-alive") {
                    connectionKeepAlive = true
                } else if HTTPField.equalsIgnoringCase(option, "upgrade") {
                    connectionUpgrade = true
                }
            }
        case 14 where HTTPField.equalsIgnoringCase(name, "content-length"):
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
        case 17 where HTTPField.equalsIgnoringCase(name, "transfer-encoding"):
            hasTransferEncoding = true
            for coding in HTTPField.elements(value) {
                transferCodingCount += 1
                lastCodingIsChunked = HTTPField.equalsIgnoringCase(coding, "chunked")
                if lastCodingIsChunked { chunkedCount += 1 }
            }
        default:
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
