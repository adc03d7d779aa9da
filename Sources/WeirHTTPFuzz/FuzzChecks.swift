import WeirDeflate
import WeirHTTP

/// libFuzzer's entry point: runs every WeirHTTP path over one input and
/// traps (`precondition`) when an invariant breaks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    FuzzChecks.check(input)
    return 0
}

/// The invariants, each checked on the input read as a stream of requests
/// and as a stream of responses, with the default and with small limits:
/// * offsets the parser returns lie within the head, in order; field names
///   are tokens and values are trimmed and free of CR and LF;
/// * the parser's head length is the scanner's;
/// * a tracker never takes more bytes than it was given;
/// * splitting the stream into pieces (two, three, one byte each) never
///   changes the messages found, nor the error;
/// * a head rebuilt from what the parser returned, with `HeadWriter`,
///   parses to the same head;
/// * `BodyTracker` reads chunked framing as `ReferenceChunked` does;
/// * `advancePayload` consumes what `advance` does, its payload and
///   trailer within;
/// * the deflate encoder writes no more than `maxOutput` promises.
enum FuzzChecks {
    static let smallLimits = HTTPLimits(maxHeadBytes: 256, maxHeaders: 4)

    static func check(_ input: UnsafeRawBufferPointer) {
        checkSplits(input, as: .request, limits: HTTPLimits())
        checkSplits(input, as: .request, limits: smallLimits)
        checkSplits(input, as: .response, requestMethod: .get, limits: HTTPLimits())
        checkSplits(input, as: .response, requestMethod: .head, limits: smallLimits)
        for framing in [BodyFraming.chunked, .contentLength(Int64(input.count / 2 + 1)), .untilClose, .none] {
            checkBodyAlone(input, framing: framing)
            checkPayload(input, framing: framing)
        }
        checkDeflate(input)
        checkChunkedAgainstReference(input)
        let skipped = HeadScanner.leadingEmptyLinesLength(input)
        precondition(skipped >= 0 && skipped <= input.count)
    }

    /// Frames the stream in one piece, then in several splits, and requires
    /// the same outcome each time.
    static func checkSplits(
        _ input: UnsafeRawBufferPointer, as message: HTTPMessageKind, requestMethod: HTTPMethod = .get,
        limits: HTTPLimits
    ) {
        let whole = StreamFramer.frame(input, as: message, requestMethod: requestMethod, limits: limits, cuts: [])
        var splits = [[input.count / 2], [input.count / 3, input.count * 2 / 3]]
        if input.count <= 192 { splits.append(Array(0...input.count)) }
        for cuts in splits {
            let split = StreamFramer.frame(input, as: message, requestMethod: requestMethod, limits: limits, cuts: cuts)
            precondition(split == whole, "splitting the stream at \(cuts) changed \(whole) into \(split)")
        }
    }

    /// The tracker must agree with `ReferenceChunked`: the same end for a
    /// complete body, an error for an invalid one. It may reject a body the
    /// reference still finds incomplete (it sees a bad byte before the line
    /// ends), never one the reference finds complete.
    static func checkChunkedAgainstReference(_ input: UnsafeRawBufferPointer) {
        var tracker = BodyTracker(framing: .chunked)
        let consumed = try? tracker.advance(input)
        switch ReferenceChunked.verdict(input) {
        case .complete(let length):
            precondition(consumed == length && tracker.isComplete, "the tracker misses the end of a chunked body")
        case .incomplete:
            precondition(consumed == nil || (consumed == input.count && !tracker.isComplete))
        case .invalid:
            precondition(consumed == nil, "the tracker accepts invalid chunked framing")
        }
    }

    /// A body the proxy compresses is read by `advancePayload`: it must end
    /// where `advance` ends it (or fail alike), and for a body without
    /// chunks its payload is every byte consumed, unmoved.
    static func checkPayload(_ input: UnsafeRawBufferPointer, framing: BodyFraming) {
        var reference = BodyTracker(framing: framing)
        let consumed = try? reference.advance(input)
        var tracker = BodyTracker(framing: framing)
        var copy = [UInt8](input)
        let result = copy.withUnsafeMutableBytes { try? tracker.advancePayload($0) }
        precondition(result?.consumed == consumed && tracker.isComplete == reference.isComplete,
                     "advancePayload ends a body elsewhere than advance")
        guard let result else { return }
        precondition(result.payload + result.trailer <= result.consumed)
        precondition(result.trailer == 0 || tracker.payloadComplete, "trailer bytes before the end of the payload")
        if framing != .chunked {
            precondition(result.payload == result.consumed && copy.elementsEqual(input), "a plain body's payload moved")
        }
    }

    /// The encoder, fed the input in two pieces as gzip, stays within the
    /// output bound for each (AddressSanitizer sees any byte past it).
    static func checkDeflate(_ input: UnsafeRawBufferPointer) {
        var stream = DeflateStream(format: .gzip)
        var table = DeflateTable()
        let half = input.count / 2
        for piece in [input[0..<half], input[half...]] {
            let bound = DeflateStream.maxOutput(inputCount: piece.count)
            let output = UnsafeMutableRawPointer.allocate(byteCount: max(1, bound), alignment: 8)
            defer { output.deallocate() }
            let written = stream.compress(UnsafeRawBufferPointer(rebasing: piece), into: output, table: &table)
            precondition(written <= bound, "the encoder wrote past its bound")
        }
        let output = UnsafeMutableRawPointer.allocate(byteCount: DeflateStream.maxFinish, alignment: 8)
        defer { output.deallocate() }
        precondition(stream.finish(into: output) <= DeflateStream.maxFinish)
    }

    static func checkBodyAlone(_ input: UnsafeRawBufferPointer, framing: BodyFraming) {
        var whole = BodyTracker(framing: framing)
        let consumed = (try? whole.advance(input)) ?? -1
        precondition(consumed <= input.count)
        var split = BodyTracker(framing: framing)
        let half = input.count / 2
        guard let first = try? split.advance(UnsafeRawBufferPointer(rebasing: input[0..<half])) else { return }
        precondition(first <= half)
        let second = first < half || split.isComplete
            ? 0 : (try? split.advance(UnsafeRawBufferPointer(rebasing: input[half...]))) ?? -1
        if consumed >= 0 && second >= 0 {
            precondition(first + second == consumed && split.isComplete == whole.isComplete,
                         "a split body ended elsewhere")
        }
    }
}

/// What a read loop made of a stream.
struct FramingOutcome: Equatable, CustomStringConvertible {
    var messages: [Int] = []
    var error: HTTPParseError?
    var tooLargeStatus = 0
    var unfinishedBytes = 0
    var description: String {
        "messages \(messages) error \(String(describing: error)) tooLarge \(tooLargeStatus) unfinished \(unfinishedBytes)"
    }
}

/// A proxy's read loop over one stream that arrives in pieces ending at `cuts`.
enum StreamFramer {
    static func frame(
        _ input: UnsafeRawBufferPointer, as message: HTTPMessageKind, requestMethod: HTTPMethod,
        limits: HTTPLimits, cuts: [Int]
    ) -> FramingOutcome {
        var outcome = FramingOutcome()
        var table = HeaderTable(capacity: limits.maxHeaders)
        var scanner = HeadScanner()
        var tracker: BodyTracker?
        var messageStart = 0
        var bodyStart = 0
        var bodyLength = 0
        arrivals: for received in cuts + [input.count] {
            while true {
                if tracker == nil {
                    guard messageStart < received else { continue arrivals }
                    let available = UnsafeRawBufferPointer(rebasing: input[messageStart..<received])
                    switch scanner.scan(available, limits: limits) {
                    case .incomplete:
                        continue arrivals
                    case .tooLarge(let status):
                        precondition(available.count >= limits.maxHeadBytes && (status == 414 || status == 431))
                        outcome.tooLargeStatus = status
                        break arrivals
                    case .complete(let length):
                        precondition(length > 0 && length <= available.count && length <= limits.maxHeadBytes)
                        let head = UnsafeRawBufferPointer(rebasing: available[0..<length])
                        do throws(HTTPParseError) {
                            let framing = try HeadChecks.parse(
                                head, as: message, requestMethod: requestMethod, headers: &table, limits: limits)
                            tracker = BodyTracker(framing: framing, message: message)
                        } catch {
                            precondition(message == .request || error.status == 502)
                            outcome.error = error
                            break arrivals
                        }
                        bodyStart = messageStart + length
                        bodyLength = 0
                    }
                }
                let available = UnsafeRawBufferPointer(rebasing: input[(bodyStart + bodyLength)..<received])
                do throws(HTTPParseError) {
                    let consumed = try tracker!.advance(available)
                    precondition(consumed >= 0 && consumed <= available.count)
                    bodyLength += consumed
                } catch {
                    outcome.error = error
                    break arrivals
                }
                guard tracker!.isComplete else { continue arrivals }
                outcome.messages.append(bodyStart - messageStart)
                outcome.messages.append(bodyLength)
                messageStart = bodyStart + bodyLength
                tracker = nil
                scanner.reset()
            }
        }
        outcome.unfinishedBytes = input.count - messageStart
        return outcome
    }
}
