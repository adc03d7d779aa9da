// WeirHTTP: the HTTP/1.1 engine. Pure: bytes in, offsets and verdicts out;
// nothing here knows about sockets, nothing in the parse path allocates.
//
// A message goes through three steps: `HeadScanner` finds where its head
// ends, `HTTPParser` checks the head and says how the body is framed, and
// `BodyTracker` follows the body as it streams through to find where the
// message ends. `HeadWriter` builds the head the proxy sends on.

/// How the end of a message body is found (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body: a request without `Content-Length`/`Transfer-Encoding`, a
    /// `Content-Length: 0`, a response to HEAD, a 1xx, 204 or 304.
    case none
    /// Exactly this many bytes (more than zero).
    case contentLength(Int64)
    /// `Transfer-Encoding: chunked`: chunks up to the last chunk and trailers.
    case chunked
    /// Responses only, no `Content-Length` nor `Transfer-Encoding`: the body
    /// ends when the server closes the connection.
    case untilClose
}

/// What a valid request head says. Offsets are into the head it was parsed from.
public struct RequestHead: Sendable {
    public var method: HTTPMethod
    /// The method is `head[0..<methodEnd]`.
    public var methodEnd: Int
    /// The request-target is `head[targetStart..<targetEnd]`.
    public var targetStart: Int
    public var targetEnd: Int
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    /// The head is `head[0..<headLength]`, final empty line included.
    public var headLength: Int
    public var framing: BodyFraming
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` in an HTTP/1.1 request.
    public var expectsContinue: Bool
    /// HTTP/1.1, `Connection` lists `upgrade` and an `Upgrade` field is present.
    public var upgrade: Bool
    /// Index of the `Host` field in the header table, -1 if absent (HTTP/1.0 only).
    public var hostIndex: Int
}

/// What a valid response head says. Offsets are into the head it was parsed from.
public struct ResponseHead: Sendable {
    /// 100 to 599.
    public var status: Int
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    /// The reason phrase is `head[reasonStart..<reasonEnd]` (possibly empty).
    public var reasonStart: Int
    public var reasonEnd: Int
    /// The head is `head[0..<headLength]`, final empty line included.
    public var headLength: Int
    public var framing: BodyFraming
    /// Whether the server keeps the connection open after this response:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`, never when the body ends with the connection.
    public var keepAlive: Bool
    /// 101 Switching Protocols: after this head the connection is a tunnel.
    public var upgrade: Bool

    /// A 1xx head: not the final response; the caller forwards it and reads
    /// the next head for the same request.
    public var isInformational: Bool { status < 200 }
}

/// Parses complete message heads, as delimited by `HeadScanner`.
///
/// Strictness (RFC 9112 §2–7 and §11, with HAProxy as a guide), the status
/// being what a request gets; every response error is 502:
/// * 400: a start line that is not `method SP target SP HTTP/1.x` with single
///   spaces; a target with CTL, SP, `#` or non-ASCII bytes; obs-fold;
///   whitespace before a colon or an empty or non-token field name; CTL (but
///   HTAB), NUL, DEL or a bare CR in a value; `Content-Length` malformed,
///   overflowing or listing different values; `Content-Length` with
///   `Transfer-Encoding`; `Transfer-Encoding` whose last coding is not
///   `chunked`, or with `chunked` twice, or in HTTP/1.0; no `Host` in HTTP/1.1,
///   or several `Host` fields.
/// * 501: a request `Transfer-Encoding` with codings before `chunked`
///   (framing is sound, the coding is not supported: RFC 9112 §6.1).
/// * 505: a well-formed version other than 1.0 and 1.1 (`HTTP/2.0`, `HTTP/1.2`).
/// * 431: more fields than `maxHeaders` or a head over `maxHeadBytes`.
/// Lines may end in a bare LF, as HAProxy accepts.
public enum HTTPParser {
    /// Parses a complete request head (as delimited by `HeadScanner`) into
    /// `headers`, which is emptied first. Bytes of `head` after the empty line
    /// that ends the head are ignored (`headLength` tells where it ended).
    public static func parseRequest(
        _ head: UnsafeRawBufferPointer, headers: inout HeaderTable, limits: HTTPLimits
    ) throws(HTTPParseError) -> RequestHead {
        headers.removeAll()
        let end = min(head.count, limits.maxHeadBytes)
        let startLineKind: HTTPParseError.Kind = end < head.count ? .requestLineTooLarge : .requestLineInvalid
        var p = 0

        // Most requests are GETs: `GET ` as one little-endian word.
        let isGet = end >= 4 && UInt32(littleEndian: head.loadUnaligned(as: UInt32.self)) == 0x2054_4547
        if isGet {
            p = 3
        } else {
            while p < end && ASCII.isTokenChar(head[p]) { p += 1 }
        }
        let methodEnd = p
        guard p < end else { throw HTTPParseError(startLineKind, in: .request) }
        guard methodEnd > 0, head[p] == ASCII.space else {
            let byte = head[p]
            let isSeparator = byte == ASCII.carriageReturn || byte == ASCII.lineFeed || ASCII.isWhitespace(byte)
            throw HTTPParseError(isSeparator ? .requestLineInvalid : .methodInvalid, in: .request)
        }
        p += 1

        let targetStart = p
        // Sixteen bytes at a time, then byte by byte to where the target stops.
        if let base = head.baseAddress {
            while p &+ 16 <= end {
                let offset = ASCII.firstFound(ASCII.nonTargetBytes(of: base.loadUnaligned(fromByteOffset: p, as: SIMD16<UInt8>.self)))
                p &+= offset
                if offset < 16 { break }
            }
        }
        while p < end && ASCII.isTargetChar(head[p]) { p += 1 }
        let targetEnd = p
        guard p < end else { throw HTTPParseError(startLineKind, in: .request) }
        guard head[p] == ASCII.space, targetEnd > targetStart else {
            let byte = head[p]
            let isSeparator = byte == ASCII.carriageReturn || byte == ASCII.lineFeed || byte == ASCII.space
            throw HTTPParseError(isSeparator ? .requestLineInvalid : .targetInvalid, in: .request)
        }
        p += 1

        let versionMinor = try parseVersion(head, at: p, end: end, startLineKind: startLineKind, message: .request)
        p += 8
        p = try parseLineEnd(head, at: p, end: end, startLineKind: startLineKind, message: .request)

        let fields = try FieldSection(parsing: head, from: p, into: &headers, limits: limits, message: .request)

        if versionMinor == 1 && fields.hostIndex < 0 { throw HTTPParseError(.hostMissing, in: .request) }
        let framing = try fields.announcedFraming(versionMinor: versionMinor, message: .request) ?? .none
        let keepAlive = !fields.connectionClose && (versionMinor == 1 || fields.connectionKeepAlive)

        return RequestHead(
            method: isGet ? .get : HTTPMethod(head.slice(0, methodEnd)),
            methodEnd: methodEnd,
            targetStart: targetStart,
            targetEnd: targetEnd,
            versionMinor: versionMinor,
            headLength: fields.end,
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: versionMinor == 1 && fields.expectsContinue,
            upgrade: versionMinor == 1 && fields.connectionUpgrade && fields.hasUpgradeField,
            hostIndex: fields.hostIndex)
    }

    /// Parses a complete response head (as delimited by `HeadScanner`) into
    /// `headers`, which is emptied first. `requestMethod` is the method of the
    /// request it answers: a response to HEAD has no body whatever its fields
    /// say. (The proxy never sends CONNECT, so its 2xx tunnel is not handled.)
    public static func parseResponse(
        _ head: UnsafeRawBufferPointer, requestMethod: HTTPMethod, headers: inout HeaderTable, limits: HTTPLimits
    ) throws(HTTPParseError) -> ResponseHead {
        headers.removeAll()
        let end = min(head.count, limits.maxHeadBytes)
        let startLineKind: HTTPParseError.Kind = end < head.count ? .headTooLarge : .statusLineInvalid

        let versionMinor = try parseVersion(head, at: 0, end: end, startLineKind: startLineKind, message: .response)
        var p = 8
        guard p + 4 <= end, head[p] == ASCII.space,
              ASCII.isDigit(head[p + 1]), ASCII.isDigit(head[p + 2]), ASCII.isDigit(head[p + 3])
        else { throw HTTPParseError(.statusLineInvalid, in: .response) }
        let status = Int(head[p + 1] &- ASCII.zero) * 100 + Int(head[p + 2] &- ASCII.zero) * 10
            + Int(head[p + 3] &- ASCII.zero)
        guard (100...599).contains(status) else { throw HTTPParseError(.statusCodeInvalid, in: .response) }
        p += 4

        // "HTTP/1.1 200\r\n", without the space before an empty reason, is accepted as HAProxy does.
        if p < end && head[p] == ASCII.space {
            p += 1
        } else if p < end && head[p] != ASCII.carriageReturn && head[p] != ASCII.lineFeed {
            throw HTTPParseError(.statusLineInvalid, in: .response)
        }
        let reasonStart = p
        // Sixteen bytes at a time to the first control byte (CR, most
        // often), then byte by byte to where the reason stops.
        if let base = head.baseAddress, p &+ 16 <= end {
            let chunk = base.loadUnaligned(fromByteOffset: p, as: SIMD16<UInt8>.self)
            p &+= ASCII.firstFound(ASCII.controlBytes(of: chunk))
        }
        while p < end, head[p] != ASCII.carriageReturn, head[p] != ASCII.lineFeed {
            guard ASCII.isFieldValueChar(head[p]) else { throw HTTPParseError(.statusLineInvalid, in: .response) }
            p += 1
        }
        let reasonEnd = p
        p = try parseLineEnd(head, at: p, end: end, startLineKind: startLineKind, message: .response)

        let fields = try FieldSection(parsing: head, from: p, into: &headers, limits: limits, message: .response)

        let announced = try fields.announcedFraming(versionMinor: versionMinor, message: .response)
        let bodiless = status < 200 || status == 204 || status == 304 || requestMethod == .head
        let framing: BodyFraming = bodiless ? .none : (announced ?? .untilClose)
        let keepAlive = framing != .untilClose && !fields.connectionClose
            && (versionMinor == 1 || fields.connectionKeepAlive)

        return ResponseHead(
            status: status,
            versionMinor: versionMinor,
            reasonStart: reasonStart,
            reasonEnd: reasonEnd,
            headLength: fields.end,
            framing: framing,
            keepAlive: keepAlive,
            upgrade: status == 101)
    }

    /// Reads `HTTP/1.0` or `HTTP/1.1` at `p` and returns the minor version.
    /// Any other `HTTP/d.d` is 505 (for a request); anything else is malformed.
    /// `startLineKind` is the error when the bytes run out first.
    private static func parseVersion(
        _ head: UnsafeRawBufferPointer, at p: Int, end: Int, startLineKind: HTTPParseError.Kind,
        message: HTTPMessageKind
    ) throws(HTTPParseError) -> Int {
        guard p + 8 <= end else { throw HTTPParseError(startLineKind, in: message) }
        // "HTTP/1.1" or "HTTP/1.0", as one little-endian word.
        switch UInt64(littleEndian: head.loadUnaligned(fromByteOffset: p, as: UInt64.self)) {
        case 0x312E_312F_5054_5448: return 1
        case 0x302E_312F_5054_5448: return 0
        default: break
        }
        let version = head.slice(p, p + 8)
        guard version.slice(0, 5).hasBytes("HTTP/"), ASCII.isDigit(version[5]),
              version[6] == ASCII.period, ASCII.isDigit(version[7])
        else { throw HTTPParseError(.versionInvalid, in: message) }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else {
            throw HTTPParseError(.versionNotSupported, in: message)
        }
        return Int(version[7] &- ASCII.zero)
    }

    /// Checks that the start line ends at `p` with a CRLF or a bare LF;
    /// returns the offset after it.
    private static func parseLineEnd(
        _ head: UnsafeRawBufferPointer, at p: Int, end: Int, startLineKind: HTTPParseError.Kind,
        message: HTTPMessageKind
    ) throws(HTTPParseError) -> Int {
        guard p < end else { throw HTTPParseError(startLineKind, in: message) }
        if head[p] == ASCII.lineFeed { return p + 1 }
        guard head[p] == ASCII.carriageReturn else {
            throw HTTPParseError(message == .request ? .requestLineInvalid : .statusLineInvalid, in: message)
        }
        guard p + 1 < end, head[p + 1] == ASCII.lineFeed else {
            throw HTTPParseError(p + 1 < end ? .lineEndingInvalid : startLineKind, in: message)
        }
        return p + 2
    }
}
