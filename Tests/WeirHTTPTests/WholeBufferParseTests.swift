import Testing
@testable import WeirHTTP

/// The proxy parses a head straight from its read buffer, before any scan
/// for its end: the parser must find the end itself, ignore what follows,
/// and fail on every incomplete head (the proxy then waits for the scanner).
@Suite("heads parsed from the whole buffer")
struct WholeBufferParseTests {
    static let requests: [String] = [
        "GET /api/small HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: weir-bench\r\nAccept: */*\r\n\r\n",
        "POST /form HTTP/1.1\nHost: a\nContent-Length: 3\n\n",
        "GET / HTTP/1.0\r\n\r\n",
    ]
    static let responses: [String] = [
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\n",
        "HTTP/1.1 204 No Content\n\n",
        "HTTP/1.0 200\r\nContent-Type: text/plain\r\n\r\n",
    ]

    /// What the scanner says of the same bytes.
    static func scanned(_ bytes: [UInt8]) -> HeadScan {
        var scanner = HeadScanner()
        return bytes.withUnsafeBytes { scanner.scan($0, limits: HTTPLimits()) }
    }

    @Test(arguments: requests)
    func requestEndsWhereTheScannerSays(_ head: String) throws {
        let bytes = Array(head.utf8)
        for trailer in ["", "body", "GET /next HTTP/1.1\r\nHost: b\r\n\r\n"] {
            let wire = Wire(bytes + Array(trailer.utf8))
            let request = try parseRequest(wire).result.get()
            #expect(request.headLength == bytes.count)
            #expect(Self.scanned(wire.bytes) == .complete(length: bytes.count))
        }
    }

    @Test(arguments: requests)
    func incompleteRequestsDoNotParse(_ head: String) {
        let bytes = Array(head.utf8)
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            #expect(throws: HTTPParseError.self) { try parseRequest(Wire(prefix)).result.get() }
            #expect(Self.scanned(prefix) == .incomplete)
        }
    }

    @Test(arguments: responses)
    func responseEndsWhereTheScannerSays(_ head: String) throws {
        let bytes = Array(head.utf8)
        for trailer in ["", "body", "HTTP/1.1 200 OK\r\n\r\n"] {
            let wire = Wire(bytes + Array(trailer.utf8))
            let response = try parseResponse(wire).result.get()
            #expect(response.headLength == bytes.count)
            #expect(Self.scanned(wire.bytes) == .complete(length: bytes.count))
        }
    }

    @Test(arguments: responses)
    func incompleteResponsesDoNotParse(_ head: String) {
        let bytes = Array(head.utf8)
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            #expect(throws: HTTPParseError.self) { try parseResponse(Wire(prefix)).result.get() }
        }
    }
}
