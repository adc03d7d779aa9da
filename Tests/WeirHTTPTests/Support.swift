import Testing
@testable import WeirHTTP

/// A message written as text, `\r\n` spelled out; `bytes` adds raw bytes
/// (NUL, obs-text) that a Swift string literal would not carry as is.
struct Wire: Sendable, CustomTestStringConvertible, ExpressibleByStringLiteral {
    var bytes: [UInt8]

    init(stringLiteral text: String) {
        bytes = Array(text.utf8)
    }

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The text with every `\u{0}` replaced by `byte` (to write NUL, DEL, 0x80…).
    init(_ text: String, replacingNULWith byte: UInt8) {
        bytes = text.utf8.map { $0 == 0 ? byte : $0 }
    }

    var testDescription: String {
        String(decoding: bytes, as: UTF8.self).replacing("\r", with: "\\r").replacing("\n", with: "\\n")
    }
}

/// A header field read back from a parsed head, as text.
struct ParsedField: Equatable, CustomStringConvertible {
    var name: String
    var value: String
    var description: String { "\(name): \(value)" }
}

func text(_ bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// Parses `wire` as a request head; the fields come back as text.
func parseRequest(
    _ wire: Wire, limits: HTTPLimits = HTTPLimits()
) -> (result: Result<RequestHead, HTTPParseError>, fields: [ParsedField]) {
    var table = HeaderTable(capacity: max(limits.maxHeaders, 1) + 8)
    return wire.bytes.withUnsafeBytes { head in
        let result = Result { () throws(HTTPParseError) in
            try HTTPParser.parseRequest(head, headers: &table, limits: limits)
        }
        return (result, fields(of: table, in: head))
    }
}

/// Parses `wire` as a response head to a `method` request.
func parseResponse(
    _ wire: Wire, method: HTTPMethod = .get, limits: HTTPLimits = HTTPLimits()
) -> (result: Result<ResponseHead, HTTPParseError>, fields: [ParsedField]) {
    var table = HeaderTable(capacity: max(limits.maxHeaders, 1) + 8)
    return wire.bytes.withUnsafeBytes { head in
        let result = Result { () throws(HTTPParseError) in
            try HTTPParser.parseResponse(head, requestMethod: method, headers: &table, limits: limits)
        }
        return (result, fields(of: table, in: head))
    }
}

func fields(of table: borrowing HeaderTable, in head: UnsafeRawBufferPointer) -> [ParsedField] {
    (0..<table.count).map {
        ParsedField(name: text(table.name(at: $0, in: head)), value: text(table.value(at: $0, in: head)))
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var value: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

/// Runs a body through a tracker in one call, then tells it the stream ended
/// when `closeAfter` is set; returns how many bytes it took and whether the
/// message completed, or the error.
func track(
    _ wire: Wire, framing: BodyFraming, message: HTTPMessageKind = .request, closeAfter: Bool = false
) -> Result<(consumed: Int, complete: Bool), HTTPParseError> {
    var tracker = BodyTracker(framing: framing, message: message)
    return wire.bytes.withUnsafeBytes { bytes in
        Result { () throws(HTTPParseError) in
            let consumed = try tracker.advance(bytes)
            if closeAfter { try tracker.endOfStream() }
            return (consumed, tracker.isComplete)
        }
    }
}

/// Where one message of a stream ended, as the proxy's read loop sees it.
struct FramedMessage: Equatable, CustomStringConvertible {
    var headLength: Int
    var bodyLength: Int
    var description: String { "head \(headLength) + body \(bodyLength)" }
}

/// What a read loop made of a whole stream: its complete messages, then an
/// error or the bytes of an unfinished message still waiting.
struct FramingOutcome: Equatable, CustomStringConvertible {
    var messages: [FramedMessage] = []
    var error: HTTPParseError?
    var unfinishedBytes = 0
    var description: String { "\(messages) error: \(String(describing: error)) unfinished: \(unfinishedBytes)" }
}

/// Plays a proxy's read loop over `stream`: the bytes arrive in pieces ending
/// at each offset of `cuts` (then the rest), and for every message the head
/// is found with one `HeadScanner` kept across arrivals, parsed, and its body
/// followed by a `BodyTracker` until it completes; then the next message
/// starts in the same bytes. Responses answer `requestMethod` requests.
func frame(
    _ stream: [UInt8], as message: HTTPMessageKind, cuts: [Int] = [], requestMethod: HTTPMethod = .get,
    limits: HTTPLimits = HTTPLimits(), endOfStream: Bool = false
) -> FramingOutcome {
    var outcome = FramingOutcome()
    var table = HeaderTable(capacity: limits.maxHeaders)
    var scanner = HeadScanner()
    var tracker: BodyTracker?
    var messageStart = 0
    var headLength = 0
    var bodyLength = 0

    return stream.withUnsafeBytes { all in
        func run(received: Int) throws(HTTPParseError) {
            while true {
                if tracker == nil {
                    guard messageStart < received else { return }
                    switch scanner.scan(all.slice(messageStart, received), limits: limits) {
                    case .incomplete:
                        return
                    case .tooLarge(let status):
                        throw HTTPParseError(
                            status: message == .request ? status : 502,
                            kind: status == 414 ? .requestLineTooLarge : .headTooLarge)
                    case .complete(let length):
                        let head = all.slice(messageStart, messageStart + length)
                        let framing: BodyFraming
                        if message == .request {
                            let request = try HTTPParser.parseRequest(head, headers: &table, limits: limits)
                            #expect(request.headLength == length)
                            framing = request.framing
                        } else {
                            let response = try HTTPParser.parseResponse(
                                head, requestMethod: requestMethod, headers: &table, limits: limits)
                            #expect(response.headLength == length)
                            framing = response.framing
                        }
                        headLength = length
                        bodyLength = 0
                        tracker = BodyTracker(framing: framing, message: message)
                    }
                }
                let bodyStart = messageStart + headLength
                let consumed = try tracker!.advance(all.slice(bodyStart + bodyLength, received))
                #expect(consumed <= received - bodyStart - bodyLength)
                bodyLength += consumed
                guard tracker!.isComplete else { return }
                outcome.messages.append(FramedMessage(headLength: headLength, bodyLength: bodyLength))
                messageStart = bodyStart + bodyLength
                tracker = nil
                scanner.reset()
            }
        }

        do throws(HTTPParseError) {
            for received in cuts + [stream.count] {
                try run(received: received)
            }
            if endOfStream, tracker != nil {
                try tracker!.endOfStream()
                outcome.messages.append(FramedMessage(headLength: headLength, bodyLength: bodyLength))
                messageStart += headLength + bodyLength
                tracker = nil
            }
        } catch {
            outcome.error = error
        }
        outcome.unfinishedBytes = stream.count - messageStart
        return outcome
    }
}
