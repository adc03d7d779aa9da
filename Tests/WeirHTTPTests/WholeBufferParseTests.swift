import Testing
@testable import WeirHTTP

/// The proxy parses a head straight from its read buffer, before any scan
/// for its end: the parser must find the end itself, ignore what follows,
/// and fail on every incomplete head (the proxy then waits for the scanner).
@Suite("heads parsed from the whole buffer")
struct WholeBufferParseTests {
    /// A request or response head, the next message that may follow it in
    /// the buffer, and its parser, which answers the head's length.
    struct Head: Sendable, CustomTestStringConvertible {
        let text: String
        let nextMessage: String
        let parse: @Sendable (Wire) throws -> Int

        var testDescription: String { text.debugDescription }

        static func request(_ text: String) -> Head {
            Head(text: text, nextMessage: "GET /next HTTP/1.1\r\nHost: b\r\n\r\n") { try parseRequest($0).result.get().headLength }
        }

        static func response(_ text: String) -> Head {
            Head(text: text, nextMessage: "HTTP/1.1 200 OK\r\n\r\n") { try parseResponse($0).result.get().headLength }
        }
    }

    static let heads: [Head] = [
        .request("GET /api/small HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: weir-bench\r\nAccept: */*\r\n\r\n"),
        .request("POST /form HTTP/1.1\nHost: a\nContent-Length: 3\n\n"),
        .request("GET / HTTP/1.0\r\n\r\n"),
        .response("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\n"),
        .response("HTTP/1.1 204 No Content\n\n"),
        .response("HTTP/1.0 200\r\nContent-Type: text/plain\r\n\r\n"),
    ]

    /// What the scanner says of the same bytes.
    static func scanned(_ bytes: [UInt8]) -> HeadScan {
        var scanner = HeadScanner()
        return bytes.withUnsafeBytes { scanner.scan($0, limits: HTTPLimits()) }
    }

    @Test(arguments: heads)
    func headEndsWhereTheScannerSays(_ head: Head) throws {
        let bytes = Array(head.text.utf8)
        for trailer in ["", "body", head.nextMessage] {
            let wire = Wire(bytes + Array(trailer.utf8))
            #expect(try head.parse(wire) == bytes.count)
            #expect(Self.scanned(wire.bytes) == .complete(length: bytes.count))
        }
    }

    @Test(arguments: heads)
    func incompleteHeadsDoNotParse(_ head: Head) {
        let bytes = Array(head.text.utf8)
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            #expect(throws: HTTPParseError.self) { try head.parse(Wire(prefix)) }
            #expect(Self.scanned(prefix) == .incomplete)
        }
    }
}
