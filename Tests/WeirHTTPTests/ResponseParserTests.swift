import Testing
@testable import WeirHTTP

@Suite("response heads")
struct ResponseParserTests {
    @Test func parsesAnOKWithContentLength() throws {
        let wire: Wire = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\n"
        let (result, fields) = parseResponse(wire)
        let response = try result.get()
        #expect(response.status == 200)
        #expect(response.versionMinor == 1)
        #expect(Array(wire.bytes[response.reasonStart..<response.reasonEnd]) == Array("OK".utf8))
        #expect(response.headLength == wire.bytes.count)
        #expect(response.framing == .contentLength(12))
        #expect(response.keepAlive)
        #expect(!response.upgrade)
        #expect(!response.isInformational)
        #expect(fields.count == 2)
    }

    struct Shape: Sendable, CustomTestStringConvertible {
        var wire: Wire
        var method: HTTPMethod = .get
        var status: Int
        var framing: BodyFraming
        var keepAlive: Bool
        var testDescription: String { "\(method) -> \(wire.testDescription)" }
    }

    static let shapes: [Shape] = [
        Shape(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, framing: .chunked, keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 200, framing: .chunked, keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\n\r\n", status: 200, framing: .untilClose, keepAlive: false),
        Shape(wire: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", status: 200, framing: .untilClose, keepAlive: false),
        Shape(wire: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", status: 200, framing: .contentLength(3), keepAlive: false),
        Shape(wire: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n",
              status: 200, framing: .contentLength(3), keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
              status: 200, framing: .contentLength(3), keepAlive: false),
        Shape(wire: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", method: .head, status: 200, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: .head, status: 200, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\r\n\r\n", method: .head, status: 200, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", status: 204, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", status: 304, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 304 Not Modified\r\n\r\n", status: 304, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 100 Continue\r\n\r\n", status: 100, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", status: 103, framing: .none, keepAlive: true),
        Shape(wire: "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", status: 404, framing: .contentLength(9), keepAlive: true),
        Shape(wire: "HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\n", status: 599, framing: .contentLength(1), keepAlive: true),
        Shape(wire: "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", status: 200, framing: .contentLength(1), keepAlive: true),
        Shape(wire: "HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", status: 200, framing: .contentLength(1), keepAlive: true),
        Shape(wire: "HTTP/1.1 200 OK\nContent-Length: 1\n\n", status: 200, framing: .contentLength(1), keepAlive: true),
    ]

    @Test(arguments: shapes)
    func framesTheShape(_ shape: Shape) throws {
        let response = try parseResponse(shape.wire, method: shape.method).result.get()
        #expect(response.status == shape.status)
        #expect(response.framing == shape.framing)
        #expect(response.keepAlive == shape.keepAlive)
        #expect(response.headLength == shape.wire.bytes.count)
    }

    @Test func reportsTheReasonPhrase() throws {
        let wire: Wire = "HTTP/1.1 418 I'm a\tteapot \r\n\r\n"
        let response = try parseResponse(wire).result.get()
        #expect(text(wire.bytes.withUnsafeBytes { $0.slice(response.reasonStart, response.reasonEnd) }) == "I'm a\tteapot ")
        let bare = try parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").result.get()
        #expect(bare.reasonStart == bare.reasonEnd)
    }

    @Test func switchingProtocolsIsAnUpgrade() throws {
        let response = try parseResponse("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .result.get()
        #expect(response.upgrade)
        #expect(response.isInformational)
        #expect(response.framing == .none)
    }

    struct Rejection: Sendable, CustomTestStringConvertible {
        var wire: Wire
        var kind: HTTPParseError.Kind
        var testDescription: String { "\(wire.testDescription) -> \(kind)" }
    }

    @Test(arguments: [
        Rejection(wire: "HTTP/1.1 099 Low\r\n\r\n", kind: .statusCodeInvalid),
        Rejection(wire: "HTTP/1.1 600 High\r\n\r\n", kind: .statusCodeInvalid),
        Rejection(wire: "HTTP/1.1 000 Zero\r\n\r\n", kind: .statusCodeInvalid),
        Rejection(wire: "HTTP/1.1 20 Short\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 2000 Long\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 2x0 Bad\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1  200 OK\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1\t200 OK\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 200OK\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 200 O\u{7F}K\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\rX: y\r\n\r\n", kind: .lineEndingInvalid),
        Rejection(wire: "HTTP/2 200 OK\r\n\r\n", kind: .versionInvalid),
        Rejection(wire: "HTTP/2.0 200 OK\r\n\r\n", kind: .versionNotSupported),
        Rejection(wire: "http/1.1 200 OK\r\n\r\n", kind: .versionInvalid),
        Rejection(wire: "ICY 200 OK\r\n\r\n", kind: .versionInvalid),
        Rejection(wire: "HTTP/1.1\r\n\r\n", kind: .statusLineInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                  kind: .contentLengthWithTransferEncoding),
        Rejection(wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n", kind: .contentLengthConflict),
        Rejection(wire: "HTTP/1.1 200 OK\r\nContent-Length: 5, 7\r\n\r\n", kind: .contentLengthConflict),
        Rejection(wire: "HTTP/1.1 200 OK\r\nContent-Length: +7\r\n\r\n", kind: .contentLengthInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", kind: .transferEncodingInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", kind: .transferEncodingInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                  kind: .transferEncodingInvalid),
        Rejection(wire: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", kind: .transferEncodingInHTTP10),
        Rejection(wire: "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", kind: .fieldNameInvalid),
        Rejection(wire: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", kind: .obsoleteLineFolding),
        Rejection(wire: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                  kind: .contentLengthWithTransferEncoding),
    ])
    func rejectsWith502(_ rejection: Rejection) {
        #expect(parseResponse(rejection.wire).result.error == HTTPParseError(status: 502, kind: rejection.kind))
    }

    @Test func tooManyResponseHeadersIs502() {
        var text = "HTTP/1.1 200 OK\r\n"
        for i in 0..<11 { text += "X-\(i): v\r\n" }
        let error = parseResponse(Wire(stringLiteral: text + "\r\n"), limits: HTTPLimits(maxHeaders: 10)).result.error
        #expect(error == HTTPParseError(status: 502, kind: .tooManyHeaders))
    }

    @Test func responsesNeedNoHost() throws {
        _ = try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").result.get()
    }
}

/// Parses `wire` as a response head into a fresh table, then hands the
/// table to `read`.
func parsedResponse<T>(_ wire: Wire, capacity: Int = 16, limits: HTTPLimits = HTTPLimits(),
                       _ read: (inout HeaderTable) -> T) throws -> T {
    var table = HeaderTable(capacity: capacity)
    try wire.bytes.withUnsafeBytes { head in
        _ = try HTTPParser.parseResponse(head, requestMethod: .get, headers: &table, limits: limits)
    }
    return read(&table)
}

/// A field the tests append by hand to "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n".
let fieldAddedByHand = HeaderField(nameStart: 17, nameEnd: 20, valueStart: 22, valueEnd: 23)

@Suite("regular field lines")
struct RegularLinesTests {
    func regular(_ wire: Wire) throws -> Bool {
        try parsedResponse(wire) { $0.regularLines }
    }

    @Test func linesWrittenNameColonSpaceValueCRLFAreRegular() throws {
        #expect(try regular("HTTP/1.1 200 OK\r\nX-A: 1\r\nX-Empty: \r\nContent-Length: 0\r\n\r\n"))
        #expect(try regular("HTTP/1.1 200 OK\r\n\r\n"))
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nX-A:1\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A:  1\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: 1 \r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: \t1\r\nContent-Length: 0\r\n\r\n",
    ] as [Wire])
    func anyOtherLineIsNot(_ wire: Wire) throws {
        #expect(try !regular(wire))
    }

    @Test func aFieldAddedByHandMakesTheTableIrregular() throws {
        let (parsed, appended) = try parsedResponse("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n") { table in
            let parsed = table.regularLines
            table.append(fieldAddedByHand)
            return (parsed, table.regularLines)
        }
        #expect(parsed)
        #expect(!appended)
    }
}

@Suite("hop-by-hop fields known to the parser")
struct HopByHopFieldsTests {
    func hopByHopFields(_ wire: Wire) throws -> UInt64? {
        try parsedResponse(wire, capacity: 80, limits: HTTPLimits(maxHeaders: 80)) { $0.hopByHopFields }
    }

    @Test func theFieldsWithAHopByHopName() throws {
        let text = "HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
            + "Content-Length: 0\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\n\r\n"
        #expect(try hopByHopFields(Wire(stringLiteral: text)) == 0b111_0110)
        #expect(try hopByHopFields("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == 0)
        #expect(try hopByHopFields("HTTP/1.1 200 OK\r\nConnection: upgrade, te, keep-alive\r\n\r\n") == 1)
    }

    @Test(arguments: [
        // `close` would nominate a field named `close`; any other option, its field.
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nContent-Length: 0\r\n\r\n",
        // Lines not as the writers would write them.
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length:0\r\n\r\n",
        "HTTP/1.1 200 OK\nConnection: keep-alive\nContent-Length: 0\n\n",
    ] as [Wire])
    func unknownWhenTheParserCannotTell(_ wire: Wire) throws {
        #expect(try hopByHopFields(wire) == nil)
    }

    @Test func unknownPastSixtyFourFields() throws {
        var text = "HTTP/1.1 200 OK\r\n"
        for i in 0..<64 { text += "X-\(i): v\r\n" }
        #expect(try hopByHopFields(Wire(stringLiteral: text + "\r\n")) == 0)
        #expect(try hopByHopFields(Wire(stringLiteral: text + "Connection: keep-alive\r\n\r\n")) == nil)
    }
}

@Suite("fields a Connection field may nominate")
struct NominationTests {
    func nominatesOnlyHopByHopNames(_ wire: Wire) throws -> Bool {
        try parsedResponse(wire) { $0.nominatesOnlyHopByHopNames }
    }

    @Test func onlyHopByHopNamesWithoutConnectionOrWithTheUsualTokens() throws {
        #expect(try nominatesOnlyHopByHopNames("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try nominatesOnlyHopByHopNames("HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nConnection: te\r\n\r\n"))
        #expect(try !nominatesOnlyHopByHopNames("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
        #expect(try !nominatesOnlyHopByHopNames("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n\r\n"))
    }

    @Test func unknownOnceAFieldIsAddedByHand() throws {
        let known = try parsedResponse("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n") { table in
            table.append(fieldAddedByHand)
            return table.nominatesOnlyHopByHopNames
        }
        #expect(!known)
    }
}
