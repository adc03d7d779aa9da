import Testing
@testable import WeirHTTP

/// Bytes arrive in arbitrary pieces: wherever a read splits a stream, the
/// scanner, parser and tracker must find the same messages as from one read.
@Suite("split reads and pipelining")
struct SplitReadTests {
    struct Stream: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: Wire
        var message: HTTPMessageKind = .request
        var requestMethod: HTTPMethod = .get
        var expected: [FramedMessage]
        var unfinishedBytes = 0
        var testDescription: String { name }
    }

    static let streams: [Stream] = [
        Stream(
            name: "chunked request with extensions and trailers, then a pipelined GET",
            wire: Wire(stringLiteral: "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n"
                + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
            expected: [FramedMessage(headLength: 62, bodyLength: 63), FramedMessage(headLength: 31, bodyLength: 0)]),
        Stream(
            name: "three pipelined requests: GET, POST with Content-Length, HEAD",
            wire: Wire(stringLiteral: "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
                + "HEAD /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            expected: [
                FramedMessage(headLength: 28, bodyLength: 0),
                FramedMessage(headLength: 49, bodyLength: 11),
                FramedMessage(headLength: 48, bodyLength: 0),
            ]),
        Stream(
            name: "bare-LF heads and a partial third request",
            wire: "GET /a HTTP/1.1\nHost: h\n\nPUT /b HTTP/1.1\nHost: h\nContent-Length: 3\n\nabcGET /c HTT",
            expected: [FramedMessage(headLength: 25, bodyLength: 0), FramedMessage(headLength: 43, bodyLength: 3)],
            unfinishedBytes: 10),
        Stream(
            name: "100 Continue, then a chunked response, then a Content-Length response",
            wire: Wire(stringLiteral: "HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
                + "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"),
            message: .response,
            expected: [
                FramedMessage(headLength: 25, bodyLength: 0),
                FramedMessage(headLength: 47, bodyLength: 37),
                FramedMessage(headLength: 45, bodyLength: 4),
            ]),
        Stream(
            name: "responses to HEAD with Content-Length carry no body",
            wire: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            message: .response, requestMethod: .head,
            expected: [FramedMessage(headLength: 40, bodyLength: 0), FramedMessage(headLength: 48, bodyLength: 0)]),
    ]

    @Test(arguments: streams)
    func oneReadFindsTheExpectedMessages(_ stream: Stream) {
        let outcome = frame(stream.wire.bytes, as: stream.message, requestMethod: stream.requestMethod)
        #expect(outcome == FramingOutcome(messages: stream.expected, unfinishedBytes: stream.unfinishedBytes))
        let total = stream.expected.reduce(0) { $0 + $1.headLength + $1.bodyLength } + stream.unfinishedBytes
        #expect(total == stream.wire.bytes.count)
    }

    @Test(arguments: streams)
    func everyTwoPieceSplitFramesTheSame(_ stream: Stream) {
        let whole = frame(stream.wire.bytes, as: stream.message, requestMethod: stream.requestMethod)
        for cut in 0...stream.wire.bytes.count {
            let split = frame(stream.wire.bytes, as: stream.message, cuts: [cut], requestMethod: stream.requestMethod)
            #expect(split == whole, "split at \(cut)")
        }
    }

    @Test(arguments: streams)
    func oneByteAtATimeFramesTheSame(_ stream: Stream) {
        let whole = frame(stream.wire.bytes, as: stream.message, requestMethod: stream.requestMethod)
        let cuts = Array(0...stream.wire.bytes.count)
        #expect(frame(stream.wire.bytes, as: stream.message, cuts: cuts, requestMethod: stream.requestMethod) == whole)
    }

    @Test func everySplitOfAnInvalidStreamFailsTheSameWay() {
        let stream = Array(("GET / HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n").utf8)
        let whole = frame(stream, as: .request)
        #expect(whole.messages == [FramedMessage(headLength: 27, bodyLength: 0)])
        #expect(whole.error == HTTPParseError(status: 400, kind: .chunkDataUnterminated))
        for cut in 0...stream.count {
            #expect(frame(stream, as: .request, cuts: [cut]) == whole, "split at \(cut)")
        }
    }

    @Test func aResponseBodyUntilCloseEndsWithTheStream() {
        let stream = Array("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this is body\r\n\r\nHTTP/1.1 200 OK".utf8)
        for cut in 0...stream.count {
            let outcome = frame(stream, as: .response, cuts: [cut], endOfStream: true)
            #expect(outcome == FramingOutcome(messages: [FramedMessage(headLength: 32, bodyLength: stream.count - 32)]))
        }
    }

    @Test func anOversizedHeadIsRefusedWhateverTheSplit() {
        let limits = HTTPLimits(maxHeadBytes: 64)
        let stream = Array(("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 64) + "\r\n\r\n").utf8)
        for cut in 0...stream.count {
            let outcome = frame(stream, as: .request, cuts: [cut], limits: limits)
            #expect(outcome.error?.status == 431, "split at \(cut)")
        }
    }
}
