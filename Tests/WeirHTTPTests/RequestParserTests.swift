import Testing
@testable import WeirHTTP

@Suite("request heads")
struct RequestParserTests {
    @Test func parsesASimpleGET() throws {
        let wire: Wire = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
        let (result, fields) = parseRequest(wire)
        let request = try result.get()
        #expect(request.method == .get)
        #expect(request.methodEnd == 3)
        #expect(Array(wire.bytes[request.targetStart..<request.targetEnd]) == Array("/index.html?q=1".utf8))
        #expect(request.versionMinor == 1)
        #expect(request.headLength == wire.bytes.count)
        #expect(request.framing == .none)
        #expect(request.keepAlive)
        #expect(!request.expectsContinue)
        #expect(!request.upgrade)
        #expect(request.hostIndex == 0)
        #expect(fields == [ParsedField(name: "Host", value: "example.com"), ParsedField(name: "Accept", value: "*/*")])
    }

    struct Shape: Sendable, CustomTestStringConvertible {
        var wire: Wire
        var method: HTTPMethod
        var target: String
        var versionMinor: Int
        var framing: BodyFraming
        var keepAlive: Bool
        var testDescription: String { wire.testDescription }
    }

    static let shapes: [Shape] = [
        Shape(wire: "GET http://example.com:8080/a/b?c#x HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
              method: .get, target: "", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
              method: .get, target: "http://example.com:8080/a/b?c", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .options, target: "*", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
              method: .connect, target: "example.com:443", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "HEAD / HTTP/1.0\r\n\r\n",
              method: .head, target: "/", versionMinor: 0, framing: .none, keepAlive: false),
        Shape(wire: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
              method: .get, target: "/", versionMinor: 0, framing: .none, keepAlive: true),
        Shape(wire: "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
              method: .get, target: "/", versionMinor: 0, framing: .none, keepAlive: false),
        Shape(wire: "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
              method: .get, target: "/", versionMinor: 1, framing: .none, keepAlive: false),
        Shape(wire: "GET / HTTP/1.1\r\nHost: h\r\nconnection: foo, CLOSE\r\n\r\n",
              method: .get, target: "/", versionMinor: 1, framing: .none, keepAlive: false),
        Shape(wire: "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n",
              method: .post, target: "/upload", versionMinor: 1, framing: .contentLength(42), keepAlive: true),
        Shape(wire: "POST /upload HTTP/1.0\r\nContent-Length: 7\r\n\r\n",
              method: .post, target: "/upload", versionMinor: 0, framing: .contentLength(7), keepAlive: false),
        Shape(wire: "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
              method: .put, target: "/x", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "PATCH /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
              method: .patch, target: "/x", versionMinor: 1, framing: .chunked, keepAlive: true),
        Shape(wire: "DELETE /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
              method: .delete, target: "/x", versionMinor: 1, framing: .chunked, keepAlive: true),
        Shape(wire: "TRACE / HTTP/1.1\nHost: h\n\n",
              method: .trace, target: "/", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "PURGE /cache HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .other, target: "/cache", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "get / HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .other, target: "/", versionMinor: 1, framing: .none, keepAlive: true),
        // `GET ` is read as one word: a longer or shorter method is not GET.
        Shape(wire: "GETS / HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .other, target: "/", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "GE / HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .other, target: "/", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .other, target: "*", versionMinor: 1, framing: .none, keepAlive: true),
        Shape(wire: "GET /%7Euser/a%20b;p=1?x=[1]&y={2}|~ HTTP/1.1\r\nHost: h\r\n\r\n",
              method: .get, target: "/%7Euser/a%20b;p=1?x=[1]&y={2}|~", versionMinor: 1, framing: .none, keepAlive: true),
    ]

    @Test(arguments: shapes.dropFirst())
    func acceptsValidShapes(_ shape: Shape) throws {
        let request = try parseRequest(shape.wire).result.get()
        #expect(request.method == shape.method)
        #expect(Array(shape.wire.bytes[request.targetStart..<request.targetEnd]) == Array(shape.target.utf8))
        #expect(request.versionMinor == shape.versionMinor)
        #expect(request.framing == shape.framing)
        #expect(request.keepAlive == shape.keepAlive)
        #expect(request.headLength == shape.wire.bytes.count)
    }

    @Test func refusesAFragmentInTheTarget() {
        #expect(parseRequest(Self.shapes[0].wire).result.error == HTTPParseError(status: 400, kind: .targetInvalid))
    }

    @Test func trimsValuesAndKeepsInnerWhitespace() throws {
        let (result, fields) = parseRequest("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a  b \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
        _ = try result.get()
        #expect(fields == [
            ParsedField(name: "Host", value: "h"),
            ParsedField(name: "X-A", value: "a  b"),
            ParsedField(name: "X-Empty", value: ""),
            ParsedField(name: "X-Blank", value: ""),
        ])
    }

    @Test func acceptsObsTextInValues() throws {
        let wire = Wire("GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\u{0}\r\n\r\n", replacingNULWith: 0xE9)
        let (result, fields) = parseRequest(wire)
        _ = try result.get()
        #expect(fields[1].value == "caf\u{FFFD}")
    }

    @Test func acceptsAnHTTP10RequestWithoutHost() throws {
        let request = try parseRequest("GET / HTTP/1.0\r\n\r\n").result.get()
        #expect(request.hostIndex == -1)
        #expect(!request.keepAlive)
    }

    @Test func reportsTheHostIndex() throws {
        let request = try parseRequest("GET / HTTP/1.1\r\nAccept: */*\r\nUser-Agent: t\r\nhOsT: h\r\n\r\n").result.get()
        #expect(request.hostIndex == 2)
    }

    @Test func recognisesExpectContinue() throws {
        #expect(try parseRequest("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n")
            .result.get().expectsContinue)
        #expect(try !parseRequest("PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n").result.get().expectsContinue)
        // RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue is ignored.
        #expect(try !parseRequest("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").result.get().expectsContinue)
    }

    @Test func recognisesUpgrade() throws {
        let upgrade = "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
        #expect(try parseRequest(Wire(stringLiteral: upgrade)).result.get().upgrade)
        #expect(try !parseRequest("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n").result.get().upgrade)
        #expect(try !parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n").result.get().upgrade)
        #expect(try !parseRequest("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n").result.get().upgrade)
    }

    @Test func fillsTheTableFromEmptyOnEveryParse() {
        var table = HeaderTable(capacity: 8)
        let first: [UInt8] = Array("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n".utf8)
        let second: [UInt8] = Array("GET / HTTP/1.1\r\nHost: b\r\n\r\n".utf8)
        first.withUnsafeBytes { head in _ = try? HTTPParser.parseRequest(head, headers: &table, limits: HTTPLimits()) }
        #expect(table.count == 3)
        second.withUnsafeBytes { head in
            _ = try? HTTPParser.parseRequest(head, headers: &table, limits: HTTPLimits())
            #expect(table.count == 1)
            #expect(text(table.value(at: 0, in: head)) == "b")
        }
    }

    @Test func reportsTheHeadLengthWhenBytesFollow() throws {
        let request = try parseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\n").result.get()
        #expect(request.headLength == 27)
    }

    // MARK: rejections

    struct Rejection: Sendable, CustomTestStringConvertible {
        var wire: Wire
        var status: Int
        var kind: HTTPParseError.Kind
        var testDescription: String { "\(wire.testDescription) -> \(status) \(kind)" }
    }

    static let host = "Host: h\r\n"

    static let rejections: [Rejection] = [
        // Request line.
        Rejection(wire: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .versionInvalid),
        Rejection(wire: "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .targetInvalid),
        Rejection(wire: " GET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .methodInvalid),
        Rejection(wire: "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET /\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET  HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .versionInvalid),
        Rejection(wire: "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .targetInvalid),
        Rejection(wire: Wire("GET /a\u{0} HTTP/1.1\r\nHost: h\r\n\r\n", replacingNULWith: 0), status: 400, kind: .targetInvalid),
        Rejection(wire: Wire("GET /a\u{0} HTTP/1.1\r\nHost: h\r\n\r\n", replacingNULWith: 0x7F), status: 400, kind: .targetInvalid),
        Rejection(wire: Wire("GET /\u{0} HTTP/1.1\r\nHost: h\r\n\r\n", replacingNULWith: 0xC3), status: 400, kind: .targetInvalid),
        Rejection(wire: "GET / http/1.1\r\nHost: h\r\n\r\n", status: 400, kind: .versionInvalid),
        Rejection(wire: "GET / HTTP/1\r\nHost: h\r\n\r\n", status: 400, kind: .versionInvalid),
        Rejection(wire: "GET / HTTP/1.10\r\nHost: h\r\n\r\n", status: 400, kind: .requestLineInvalid),
        Rejection(wire: "GET / HTTP/11\r\nHost: h\r\n\r\n", status: 400, kind: .versionInvalid),
        Rejection(wire: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505, kind: .versionNotSupported),
        Rejection(wire: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", status: 505, kind: .versionNotSupported),
        Rejection(wire: "GET / HTTP/0.9\r\nHost: h\r\n\r\n", status: 505, kind: .versionNotSupported),
        Rejection(wire: "GET / HTTP/1.1\rHost: h\r\n\r\n", status: 400, kind: .lineEndingInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", status: 400, kind: .lineEndingInvalid),
        // Field lines.
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n", status: 400, kind: .obsoleteLineFolding),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n\tb\r\n\r\n", status: 400, kind: .obsoleteLineFolding),
        Rejection(wire: "GET / HTTP/1.1\r\n Host: h\r\n\r\n", status: 400, kind: .obsoleteLineFolding),
        Rejection(wire: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX(Y): 1\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX/Y: 1\r\n\r\n", status: 400, kind: .fieldNameInvalid),
        Rejection(wire: Wire("GET / HTTP/1.1\r\nHost: h\r\nX\u{0}Y: 1\r\n\r\n", replacingNULWith: 0xC3), status: 400, kind: .fieldNameInvalid),
        Rejection(wire: Wire("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", replacingNULWith: 0), status: 400, kind: .fieldValueInvalid),
        Rejection(wire: Wire("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", replacingNULWith: 0x7F), status: 400, kind: .fieldValueInvalid),
        Rejection(wire: Wire("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", replacingNULWith: 0x1B), status: 400, kind: .fieldValueInvalid),
        Rejection(wire: Wire("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}\r\n\r\n", replacingNULWith: 0x0B), status: 400, kind: .fieldValueInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", status: 400, kind: .lineEndingInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", status: 400, kind: .lineEndingInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\r\r\n", status: 400, kind: .lineEndingInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n", status: 400, kind: .lineEndingInvalid),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a", status: 400, kind: .lineEndingInvalid),
        // Host.
        Rejection(wire: "GET / HTTP/1.1\r\n\r\n", status: 400, kind: .hostMissing),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400, kind: .hostDuplicated),
        Rejection(wire: "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", status: 400, kind: .hostDuplicated),
        Rejection(wire: "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", status: 400, kind: .hostDuplicated),
    ]

    @Test(arguments: rejections)
    func rejects(_ rejection: Rejection) {
        #expect(parseRequest(rejection.wire).result.error == HTTPParseError(status: rejection.status, kind: rejection.kind))
    }

    // MARK: limits

    static func request(fieldCount: Int) -> Wire {
        var text = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 1..<fieldCount { text += "X-Field-\(i): \(i)\r\n" }
        return Wire(stringLiteral: text + "\r\n")
    }

    @Test func acceptsExactlyMaxHeaders() throws {
        let limits = HTTPLimits(maxHeaders: 101)
        let (result, fields) = parseRequest(Self.request(fieldCount: 101), limits: limits)
        _ = try result.get()
        #expect(fields.count == 101)
        #expect(fields.last == ParsedField(name: "X-Field-100", value: "100"))
    }

    @Test func rejectsOneHeaderOverMaxHeaders() {
        let error = parseRequest(Self.request(fieldCount: 102), limits: HTTPLimits(maxHeaders: 101)).result.error
        #expect(error == HTTPParseError(status: 431, kind: .tooManyHeaders))
    }

    @Test func neverWritesPastTheTableCapacity() {
        var table = HeaderTable(capacity: 3)
        let wire = Self.request(fieldCount: 4)
        let error = wire.bytes.withUnsafeBytes { head in
            Result { () throws(HTTPParseError) in try HTTPParser.parseRequest(head, headers: &table, limits: HTTPLimits()) }
        }.error
        #expect(error?.status == 431)
        #expect(table.count == 3)
    }

    @Test func acceptsAHeadOfExactlyMaxHeadBytes() throws {
        let prefix = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: "
        let padding = String(repeating: "p", count: 15360 - prefix.utf8.count - 4)
        let wire = Wire(stringLiteral: prefix + padding + "\r\n\r\n")
        #expect(wire.bytes.count == 15360)
        #expect(try parseRequest(wire).result.get().headLength == 15360)
        var longer = wire
        longer.bytes.insert(UInt8(ascii: "p"), at: prefix.utf8.count)
        #expect(parseRequest(longer).result.error == HTTPParseError(status: 431, kind: .headTooLarge))
    }

    @Test func aRequestLineBeyondTheLimitIs414() {
        let wire = Wire(stringLiteral: "GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(parseRequest(wire, limits: HTTPLimits(maxHeadBytes: 64)).result.error
            == HTTPParseError(status: 414, kind: .requestLineTooLarge))
    }
}
