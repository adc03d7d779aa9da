import Testing
@testable import WeirHTTP

@Suite("body tracker")
struct BodyTrackerTests {
    @Test func noBodyIsCompleteAtOnce() throws {
        let result = try track("GET / HTTP/1.1\r\n\r\n", framing: .none).get()
        #expect(result.consumed == 0)
        #expect(result.complete)
    }

    @Test func contentLengthTakesExactlyItsBytes() throws {
        let result = try track("helloGET /", framing: .contentLength(5)).get()
        #expect(result.consumed == 5)
        #expect(result.complete)
        let short = try track("hel", framing: .contentLength(5)).get()
        #expect(short.consumed == 3)
        #expect(!short.complete)
    }

    @Test func contentLengthAcrossManyReads() throws {
        var tracker = BodyTracker(framing: .contentLength(10))
        let bytes = Array("0123456789NEXT".utf8)
        try bytes.withUnsafeBytes { all throws in
            #expect(try tracker.advance(all.slice(0, 4)) == 4)
            #expect(!tracker.isComplete)
            #expect(try tracker.advance(all.slice(4, 4)) == 0)
            #expect(try tracker.advance(all.slice(4, 14)) == 6)
            #expect(tracker.isComplete)
            #expect(try tracker.advance(all.slice(10, 14)) == 0)
            #expect(tracker.consumedBytes == 10)
        }
    }

    @Test func payloadOfAChunkedBodySplitAnywhereIsItsChunkData() throws {
        let body = Array("5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT".utf8)
        for piece in 1...body.count {
            var tracker = BodyTracker(framing: .chunked, message: .response)
            var buffer = body
            var payload: [UInt8] = []
            var trailers: [UInt8] = []
            var start = 0
            while start < buffer.count && !tracker.isComplete {
                let end = min(start + piece, buffer.count)
                let (consumed, count, trailer) = try buffer.withUnsafeMutableBytes { all throws in
                    try tracker.advancePayload(UnsafeMutableRawBufferPointer(rebasing: all[start..<end]))
                }
                #expect(trailer == 0 || tracker.payloadComplete)
                payload += buffer[start..<(start + count)]
                trailers += buffer[(start + count)..<(start + count + trailer)]
                start += consumed
            }
            #expect(String(decoding: payload, as: UTF8.self) == "hello, world", "pieces of \(piece)")
            #expect(String(decoding: trailers, as: UTF8.self) == "Trailer: x\r\n\r\n", "pieces of \(piece)")
            #expect(tracker.isComplete)
            #expect(start == body.count - 4)
        }
    }

    @Test func payloadOfAContentLengthBodyIsAllOfIt() throws {
        var tracker = BodyTracker(framing: .contentLength(5), message: .response)
        var bytes = Array("helloNEXT".utf8)
        let (consumed, payload, trailer) = try bytes.withUnsafeMutableBytes { all throws in try tracker.advancePayload(all) }
        #expect(consumed == 5 && payload == 5 && trailer == 0 && tracker.isComplete && tracker.payloadComplete)
    }

    @Test func untilCloseEndsOnlyWithTheStream() throws {
        var tracker = BodyTracker(framing: .untilClose, message: .response)
        try Array("anything at all".utf8).withUnsafeBytes { bytes throws in
            #expect(try tracker.advance(bytes) == bytes.count)
        }
        #expect(!tracker.isComplete)
        try tracker.endOfStream()
        #expect(tracker.isComplete)
    }

    @Test func endOfStreamInsideAFramedBodyIsTruncation() {
        #expect(track("abc", framing: .contentLength(5), closeAfter: true).error
            == HTTPParseError(status: 400, kind: .bodyTruncated))
        #expect(track("abc", framing: .contentLength(5), message: .response, closeAfter: true).error
            == HTTPParseError(status: 502, kind: .bodyTruncated))
        #expect(track("5\r\nab", framing: .chunked, message: .response, closeAfter: true).error
            == HTTPParseError(status: 502, kind: .bodyTruncated))
        #expect((try? track("abcde", framing: .contentLength(5), closeAfter: true).get().complete) == true)
        #expect((try? track("", framing: .none, closeAfter: true).get().complete) == true)
    }

    // MARK: chunked

    struct Chunked: Sendable, CustomTestStringConvertible {
        var wire: Wire
        /// Bytes the tracker takes and whether the body ended, or the error.
        var length = 0
        var complete = false
        var kind: HTTPParseError.Kind?
        var testDescription: String { wire.testDescription }

        static func valid(_ body: Wire, followedBy next: String = "") -> Chunked {
            Chunked(wire: Wire(body.bytes + Array(next.utf8)), length: body.bytes.count, complete: true)
        }

        static func unfinished(_ body: Wire) -> Chunked {
            Chunked(wire: body, length: body.bytes.count, complete: false)
        }

        static func invalid(_ body: Wire, _ kind: HTTPParseError.Kind) -> Chunked {
            Chunked(wire: body, kind: kind)
        }
    }

    static let chunked: [Chunked] = [
        .valid("0\r\n\r\n"),
        .valid("0\r\n\r\n", followedBy: "GET / HTTP/1.1\r\n\r\n"),
        .valid("5\r\nhello\r\n0\r\n\r\n"),
        .valid("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", followedBy: "POST"),
        .valid("a\r\n0123456789\r\n0\r\n\r\n"),
        .valid("A\r\n0123456789\r\n0\r\n\r\n"),
        .valid("0000A\r\n0123456789\r\n000\r\n\r\n"),
        .valid("1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n"),
        .valid("1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n"),
        .valid("5;name=value\r\nhello\r\n0\r\n\r\n"),
        .valid("5 ;name=value\r\nhello\r\n0\r\n\r\n"),
        .valid("5\t; a ; b=\"quoted; ok\"\r\nhello\r\n0;last\r\n\r\n"),
        .valid("5;\r\nhello\r\n0\r\n\r\n"),
        .valid("5\r\nhe\r\nl\r\n0\r\n\r\n"),
        .valid("5\r\nhello\r\n0\r\nExpires: never\r\n\r\n"),
        .valid("5\r\nhello\r\n0\r\nX-Checksum:abc\r\nX-Other: a b\t\r\n\r\n", followedBy: "GET"),
        .valid("5\r\nhello\r\n0\r\nX-Empty:\r\n\r\n"),
        .unfinished("7fffffffffffffff\r\ndata"),
        .unfinished("5\r\nhello\r\n0\r\nX: y\r\n"),
        .unfinished("5\r\nhello\r\n0\r\n\r"),
        .invalid("\r\n", .chunkSizeInvalid),
        .invalid("g\r\n", .chunkSizeInvalid),
        .invalid("0x5\r\n", .chunkSizeInvalid),
        .invalid("-5\r\n", .chunkSizeInvalid),
        .invalid("+5\r\n", .chunkSizeInvalid),
        .invalid(" 5\r\nhello\r\n0\r\n\r\n", .chunkSizeInvalid),
        .invalid("5 \r\nhello\r\n0\r\n\r\n", .chunkSizeInvalid),
        .invalid("5\t\r\nhello\r\n0\r\n\r\n", .chunkSizeInvalid),
        .invalid("5 5\r\nhello\r\n0\r\n\r\n", .chunkSizeInvalid),
        .invalid(";ext\r\n", .chunkSizeInvalid),
        .invalid("5\nhello\r\n0\r\n\r\n", .chunkSizeInvalid),
        .invalid("5\rhello\r\n0\r\n\r\n", .lineEndingInvalid),
        .invalid("8000000000000000\r\n", .chunkSizeTooLarge),
        .invalid("ffffffffffffffff\r\n", .chunkSizeTooLarge),
        .invalid("10000000000000005\r\n", .chunkSizeTooLarge),
        .invalid("00000000000000005\r\n", .chunkSizeTooLarge),
        .invalid(Wire("5;a\u{0}b\r\nhello\r\n0\r\n\r\n", replacingNULWith: 0), .chunkExtensionInvalid),
        .invalid("5;a\nhello\r\n0\r\n\r\n", .chunkExtensionInvalid),
        .invalid("5;a\rb\r\nhello\r\n0\r\n\r\n", .lineEndingInvalid),
        .invalid("5\r\nhelloX\r\n0\r\n\r\n", .chunkDataUnterminated),
        .invalid("5\r\nhello\n0\r\n\r\n", .chunkDataUnterminated),
        .invalid("5\r\nhello\rX0\r\n\r\n", .chunkDataUnterminated),
        .invalid("5\r\nhell\r\n0\r\n\r\n", .chunkDataUnterminated),
        .invalid("5\r\nhello\r\n\r\n", .chunkSizeInvalid),
        .invalid("0\n\n", .chunkSizeInvalid),
        .invalid("0\r\n\n", .trailerInvalid),
        .invalid("0\r\n\rX", .lineEndingInvalid),
        .invalid("0\r\nX: y\n\r\n", .trailerInvalid),
        .invalid("0\r\nX: y\rZ\r\n", .lineEndingInvalid),
        .invalid("0\r\nX : y\r\n\r\n", .trailerInvalid),
        .invalid("0\r\n X: y\r\n\r\n", .trailerInvalid),
        .invalid("0\r\n: y\r\n\r\n", .trailerInvalid),
        .invalid("0\r\nNo-Colon\r\n\r\n", .trailerInvalid),
        .invalid(Wire("0\r\nX: a\u{0}\r\n\r\n", replacingNULWith: 0), .trailerInvalid),
        .invalid(Wire("0\r\nX: a\u{0}\r\n\r\n", replacingNULWith: 0x7F), .trailerInvalid),
    ]

    @Test(arguments: chunked)
    func followsChunkedFraming(_ vector: Chunked) {
        let result = track(vector.wire, framing: .chunked, message: .request)
        if let kind = vector.kind {
            #expect(result.error == HTTPParseError(status: 400, kind: kind))
        } else {
            #expect(result.value?.consumed == vector.length)
            #expect(result.value?.complete == vector.complete)
        }
    }

    @Test func chunkedErrorsInResponsesAre502() {
        #expect(track("zz\r\n", framing: .chunked, message: .response).error
            == HTTPParseError(status: 502, kind: .chunkSizeInvalid))
    }

    @Test func aChunkedBodyMayArriveOneByteAtATime() throws {
        let body = Array("1A;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n3\r\nend\r\n0\r\nT: v\r\n\r\n".utf8)
        var tracker = BodyTracker(framing: .chunked)
        try (body + Array("NEXT".utf8)).withUnsafeBytes { all throws in
            var consumed = 0
            for end in 1...all.count {
                consumed += try tracker.advance(all.slice(consumed, end))
                if tracker.isComplete { break }
            }
            #expect(consumed == body.count)
            #expect(tracker.isComplete)
            #expect(tracker.consumedBytes == Int64(body.count))
        }
    }
}
