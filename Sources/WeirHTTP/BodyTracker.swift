/// Follows a message body as it streams through the proxy, unchanged (a
/// chunked body stays chunked), and says where the message ends.
///
/// Chunked framing is checked strictly (RFC 9112 §7.1), because the bytes go
/// on to a peer that must see the same message boundaries:
/// * a chunk size is 1 to 16 hex digits (either case) worth at most
///   `Int64.max`, with no whitespace before it; after it come either the line
///   end or optional whitespace, `;` and an extension (HTAB, SP, VCHAR,
///   obs-text; no CTL);
/// * every framing line (size lines, the CRLF after chunk data, trailer
///   fields, the final empty line) ends in exactly CRLF: a bare LF or a bare
///   CR is rejected, unlike in heads, since a peer that disagreed on it would
///   see a different body end;
/// * trailer fields follow the header field rules (token name, colon at once,
///   no CTL in the value, no obs-fold).
public struct BodyTracker: Sendable {
    @usableFromInline enum State: UInt8, Sendable {
        case complete
        case fixedLength
        case untilClose
        case chunkSizeStart
        case chunkSize
        case chunkSizeWhitespace
        case chunkExtension
        case chunkSizeLineFeed
        case chunkData
        case chunkDataCarriageReturn
        case chunkDataLineFeed
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLineFeed
        case finalLineFeed
    }

    // Visible to the inlinable `init`: the exchange sets up two trackers per
    // request.
    @usableFromInline var state: State
    /// Bytes left in a `Content-Length` body or in the current chunk; while a
    /// chunk size is read, the size so far.
    @usableFromInline var remaining: Int64 = 0
    /// Hex digits read so far in the current chunk size.
    @usableFromInline var chunkSizeDigits = 0
    @usableFromInline let message: HTTPMessageKind

    /// Bytes of this message's body consumed so far, chunk framing included.
    public private(set) var consumedBytes: Int64 = 0

    /// Starts following a body framed as `framing`, sent by `message`'s side
    /// (which decides an error's status: 400 for a request, 502 for a response).
    @inlinable
    public init(framing: BodyFraming, message: HTTPMessageKind = .request) {
        self.message = message
        switch framing {
        case .none:
            state = .complete
        case .contentLength(let length):
            remaining = length
            state = length > 0 ? .fixedLength : .complete
        case .chunked:
            state = .chunkSizeStart
        case .untilClose:
            state = .untilClose
        }
    }

    /// Whether the message has ended: every later byte belongs to the next one.
    public var isComplete: Bool { state == .complete }

    /// Consumes bytes of this message's body from the front of `bytes` (which
    /// may hold pipelined messages after its end) and returns how many belong
    /// to this message. Once it has returned, `isComplete` tells whether the
    /// message ended; a complete tracker consumes nothing.
    public mutating func advance(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        let count = bytes.count
        var p = 0
        loop: while p < count {
            switch state {
            case .complete:
                break loop
            case .untilClose:
                p = count
            case .fixedLength, .chunkData:
                let take = Int(min(remaining, Int64(count - p)))
                remaining -= Int64(take)
                p += take
                if remaining == 0 { state = state == .fixedLength ? .complete : .chunkDataCarriageReturn }
            default:
                try step(bytes[p])
                p += 1
            }
        }
        consumedBytes += Int64(p)
        return p
    }

    /// Whether all of the payload went by: the body is complete, or a
    /// chunked body is in its trailer section.
    public var payloadComplete: Bool {
        switch state {
        case .complete, .trailerLineStart, .trailerName, .trailerValue, .trailerLineFeed, .finalLineFeed: true
        default: false
        }
    }

    /// `advance` for a body the proxy transforms rather than forwards (a
    /// response it compresses): consumes the same bytes, and moves the
    /// payload among them (a chunked body's chunk data, without its
    /// framing) to the front of `bytes`, in order, followed by the bytes of
    /// the trailer section (what follows the last chunk's size line: the
    /// trailer fields and the final CRLF). Returns how many bytes were
    /// consumed, how many payload bytes lead, and how many trailer bytes
    /// follow them.
    public mutating func advancePayload(_ bytes: UnsafeMutableRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, payload: Int, trailer: Int) {
        guard let base = bytes.baseAddress else { return (0, 0, 0) }
        let count = bytes.count
        var p = 0
        var payload = 0
        var trailer = 0
        loop: while p < count {
            switch state {
            case .complete:
                break loop
            case .untilClose, .fixedLength, .chunkData:
                let take = state == .untilClose ? count - p : Int(min(remaining, Int64(count - p)))
                if payload != p { (base + payload).copyMemory(from: base + p, byteCount: take) }
                payload += take
                p += take
                if state != .untilClose {
                    remaining -= Int64(take)
                    if remaining == 0 { state = state == .fixedLength ? .complete : .chunkDataCarriageReturn }
                }
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLineFeed, .finalLineFeed:
                // The payload is whole: these bytes go right after it.
                let byte = bytes[p]
                try step(byte)
                bytes[payload + trailer] = byte
                trailer += 1
                p += 1
            default:
                try step(bytes[p])
                p += 1
            }
        }
        consumedBytes += Int64(p)
        return (p, payload, trailer)
    }

    /// Tells the tracker the peer closed the connection. A body that ends with
    /// the connection completes; one whose framing said more was coming
    /// throws `bodyTruncated` (400 for a request, 502 for a response).
    public mutating func endOfStream() throws(HTTPParseError) {
        switch state {
        case .complete:
            return
        case .untilClose:
            state = .complete
        default:
            throw HTTPParseError(.bodyTruncated, in: message)
        }
    }

    /// Moves the chunked-framing state machine over one framing byte.
    @inline(__always)
    private mutating func step(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .chunkSizeStart, .chunkSize:
            if let digit = ASCII.hexValue(byte) {
                guard chunkSizeDigits < 16, remaining <= Int64.max >> 4 else {
                    throw HTTPParseError(.chunkSizeTooLarge, in: message)
                }
                remaining = remaining << 4 | Int64(digit)
                chunkSizeDigits += 1
                state = .chunkSize
                return
            }
            guard state == .chunkSize else { throw HTTPParseError(.chunkSizeInvalid, in: message) }
            if byte == ASCII.carriageReturn {
                state = .chunkSizeLineFeed
            } else if byte == ASCII.semicolon {
                state = .chunkExtension
            } else if ASCII.isWhitespace(byte) {
                state = .chunkSizeWhitespace
            } else {
                throw HTTPParseError(.chunkSizeInvalid, in: message)
            }
        case .chunkSizeWhitespace:
            if byte == ASCII.semicolon {
                state = .chunkExtension
            } else if !ASCII.isWhitespace(byte) {
                throw HTTPParseError(.chunkSizeInvalid, in: message)
            }
        case .chunkExtension:
            if byte == ASCII.carriageReturn {
                state = .chunkSizeLineFeed
            } else if !ASCII.isFieldValueChar(byte) {
                throw HTTPParseError(.chunkExtensionInvalid, in: message)
            }
        case .chunkSizeLineFeed:
            guard byte == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
            chunkSizeDigits = 0
            state = remaining == 0 ? .trailerLineStart : .chunkData
        case .chunkDataCarriageReturn:
            guard byte == ASCII.carriageReturn else { throw HTTPParseError(.chunkDataUnterminated, in: message) }
            state = .chunkDataLineFeed
        case .chunkDataLineFeed:
            guard byte == ASCII.lineFeed else { throw HTTPParseError(.chunkDataUnterminated, in: message) }
            state = .chunkSizeStart
        case .trailerLineStart:
            if byte == ASCII.carriageReturn {
                state = .finalLineFeed
            } else if ASCII.isTokenChar(byte) {
                state = .trailerName
            } else {
                throw HTTPParseError(.trailerInvalid, in: message)
            }
        case .trailerName:
            if byte == ASCII.colon {
                state = .trailerValue
            } else if !ASCII.isTokenChar(byte) {
                throw HTTPParseError(.trailerInvalid, in: message)
            }
        case .trailerValue:
            if byte == ASCII.carriageReturn {
                state = .trailerLineFeed
            } else if !ASCII.isFieldValueChar(byte) {
                throw HTTPParseError(.trailerInvalid, in: message)
            }
        case .trailerLineFeed, .finalLineFeed:
            guard byte == ASCII.lineFeed else { throw HTTPParseError(.lineEndingInvalid, in: message) }
            state = state == .finalLineFeed ? .complete : .trailerLineStart
        case .complete, .fixedLength, .untilClose, .chunkData:
            preconditionFailure("BodyTracker.step called outside chunk framing")
        }
    }
}
