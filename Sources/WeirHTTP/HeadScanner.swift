import Glibc

/// Result of looking for the end of a head in the bytes received so far.
public enum HeadScan: Sendable, Equatable {
    /// The head is not complete: read more bytes and scan again.
    case incomplete
    /// The head is `bytes[0..<length]`, final empty line included.
    case complete(length: Int)
    /// No end within `HTTPLimits.maxHeadBytes`: 414 while still in the first
    /// line (for a request, the request line), 431 once past it. For a
    /// response the caller answers 502 whichever it is.
    case tooLarge(status: Int)
}

/// Incremental end-of-head finder: it keeps its position, so each call only
/// scans the bytes that arrived since the previous one.
///
/// A head ends with an empty line. Lines end in CRLF or in a bare LF (as
/// HAProxy accepts), so the end is found at the first LF that follows another
/// LF, or follows a CR that follows an LF. A bare CR is not judged here:
/// the parser rejects it.
public struct HeadScanner: Sendable {
    /// Where the next call resumes: the start of the first line not yet
    /// seen whole (every line before it is non-empty).
    private var resumeOffset = 0

    public init() {}

    /// Looks for the end of the head. `bytes` is everything received so far
    /// for this message, starting at its first byte; earlier calls must have
    /// seen a prefix of the same bytes.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits) -> HeadScan {
        let limit = min(bytes.count, limits.maxHeadBytes)
        guard let base = bytes.baseAddress else {
            return limits.maxHeadBytes <= 0 ? .tooLarge(status: 414) : .incomplete
        }
        var offset = resumeOffset
        while offset < limit {
            guard let found = memchr(base + offset, Int32(ASCII.lineFeed), limit &- offset) else { break }
            let lineFeed = base.distance(to: UnsafeRawPointer(found))
            if Self.isEmptyLine(endingAt: lineFeed, in: base) {
                resumeOffset = offset
                return .complete(length: lineFeed + 1)
            }
            offset = lineFeed &+ 1
        }
        resumeOffset = offset
        guard bytes.count >= limits.maxHeadBytes else { return .incomplete }
        return .tooLarge(status: offset == 0 ? 414 : 431)
    }

    /// Forgets the position, ready for the next message.
    public mutating func reset() {
        resumeOffset = 0
    }

    /// How many bytes at the start of `bytes` are empty lines (CRLF or LF).
    /// RFC 9112 §2.2 lets a server ignore empty lines before a request line
    /// (some clients send a CRLF after a body); a caller that wants to drops
    /// these bytes before scanning a request. A trailing lone CR is not counted.
    public static func leadingEmptyLinesLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        var length = 0
        while length < bytes.count {
            if bytes[length] == ASCII.lineFeed {
                length += 1
            } else if bytes[length] == ASCII.carriageReturn, length + 1 < bytes.count,
                      bytes[length + 1] == ASCII.lineFeed {
                length += 2
            } else {
                break
            }
        }
        return length
    }

    /// Whether the line ending with the LF at `lineFeed` is empty: it starts
    /// the message or follows another line's LF, and holds at most a CR.
    @inline(__always)
    private static func isEmptyLine(endingAt lineFeed: Int, in base: UnsafeRawPointer) -> Bool {
        if lineFeed == 0 { return true }
        let before = base.load(fromByteOffset: lineFeed &- 1, as: UInt8.self)
        if before == ASCII.lineFeed { return true }
        guard before == ASCII.carriageReturn else { return false }
        return lineFeed == 1 || base.load(fromByteOffset: lineFeed &- 2, as: UInt8.self) == ASCII.lineFeed
    }
}

extension HTTPParser {
    /// Whether `bytes` (as received, from the first) are an HTTP request:
    /// a request line (a method token, a target, `HTTP/D.D`, the line end)
    /// and the rest of a head up to its empty line. nil: not decided yet,
    /// what arrived so far may still be one. For `req.proto_http` in mode tcp.
    public static func startsWithRequest(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits) -> Bool? {
        let n = bytes.count
        var p = 0
        while p < n && ASCII.isTokenChar(bytes[p]) { p += 1 }
        guard p < n else { return nil }
        guard p > 0, bytes[p] == ASCII.space else { return false }
        p += 1
        let target = p
        while p < n && ASCII.isTargetChar(bytes[p]) { p += 1 }
        guard p < n else { return nil }
        guard p > target, bytes[p] == ASCII.space else { return false }
        p += 1
        // `HTTP/D.D`, as far as it arrived.
        let version: StaticString = "HTTP/0.0"
        for i in 0..<8 {
            guard p < n else { return nil }
            let expected = version.utf8Start[i]
            let matches = expected == ASCII.zero ? ASCII.isDigit(bytes[p]) : bytes[p] == expected
            guard matches else { return false }
            p += 1
        }
        if p < n, bytes[p] == ASCII.carriageReturn { p += 1 }
        guard p < n else { return nil }
        guard bytes[p] == ASCII.lineFeed else { return false }
        var scanner = HeadScanner()
        switch scanner.scan(bytes, limits: limits) {
        case .incomplete: return nil
        case .tooLarge: return false
        case .complete: return true
        }
    }
}
