import Testing
@testable import WeirHTTP

/// Request smuggling vectors (RFC 9112 §6.3 and §11.2): every head whose body
/// length two implementations could read differently is refused.
@Suite("request smuggling")
struct SmugglingTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var fields: String
        var kind: HTTPParseError.Kind
        var status = 400
        var testDescription: String { fields.replacing("\r\n", with: " | ") }
    }

    static func request(_ fields: String, version: String = "HTTP/1.1") -> Wire {
        Wire(stringLiteral: "POST /submit \(version)\r\nHost: h\r\n\(fields)\r\n")
    }

    static let rejected: [Vector] = [
        // Content-Length and Transfer-Encoding together, in either order and spelling.
        Vector(fields: "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", kind: .contentLengthWithTransferEncoding),
        Vector(fields: "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", kind: .contentLengthWithTransferEncoding),
        Vector(fields: "transfer-encoding: chunked\r\ncontent-length: 0\r\n", kind: .contentLengthWithTransferEncoding),
        Vector(fields: "TRANSFER-ENCODING: CHUNKED\r\nCONTENT-LENGTH: 5\r\n", kind: .contentLengthWithTransferEncoding),
        // Content-Length values.
        Vector(fields: "Content-Length: 1, 2\r\n", kind: .contentLengthConflict),
        Vector(fields: "Content-Length: 5\r\nContent-Length: 6\r\n", kind: .contentLengthConflict),
        Vector(fields: "Content-Length: 5\r\ncontent-length: 5, 6\r\n", kind: .contentLengthConflict),
        Vector(fields: "Content-Length: +5\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: -1\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 0x10\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 5 5\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 5,\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 5,,5\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: ,5\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length:\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 1.5\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 5a\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: \"5\"\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 9223372036854775808\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length: 99999999999999999999999\r\n", kind: .contentLengthInvalid),
        Vector(fields: "Content-Length : 5\r\n", kind: .fieldNameInvalid),
        Vector(fields: "Content-Length\t: 5\r\n", kind: .fieldNameInvalid),
        Vector(fields: " Content-Length: 5\r\n", kind: .obsoleteLineFolding),
        Vector(fields: "X: y\r\n Content-Length: 5\r\n", kind: .obsoleteLineFolding),
        // Transfer-Encoding spellings.
        Vector(fields: "Transfer-Encoding : chunked\r\n", kind: .fieldNameInvalid),
        Vector(fields: "Transfer-Encoding: chunked, identity\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunked, chunked\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: identity\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: gzip\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunkedx\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: xchunked\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunk\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: \"chunked\"\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: chunked;q=1\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding:\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: ,\r\n", kind: .transferEncodingInvalid),
        Vector(fields: "Transfer-Encoding: gzip, chunked\r\n", kind: .transferCodingNotImplemented, status: 501),
        Vector(fields: "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", kind: .transferCodingNotImplemented, status: 501),
        Vector(fields: "Transfer-Encoding: chunked\r\n\tchunked\r\n", kind: .obsoleteLineFolding),
        Vector(fields: "Transfer-Encoding:\r\n chunked\r\n", kind: .obsoleteLineFolding),
        Vector(fields: "Transfer-Encoding\r\n: chunked\r\n", kind: .fieldNameInvalid),
        Vector(fields: "Transfer-Encoding: chunked\rX: y\r\n", kind: .lineEndingInvalid),
        Vector(fields: "X: y\rTransfer-Encoding: chunked\r\n", kind: .lineEndingInvalid),
    ]

    @Test(arguments: rejected)
    func rejectsTheVector(_ vector: Vector) {
        let error = parseRequest(Self.request(vector.fields)).result.error
        #expect(error == HTTPParseError(status: vector.status, kind: vector.kind))
    }

    @Test(arguments: [
        "Transfer-Encoding: chunked\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity\r\n",
    ])
    func rejectsTransferEncodingInHTTP10(_ fields: String) {
        let error = parseRequest(Self.request(fields, version: "HTTP/1.0")).result.error
        #expect(error == HTTPParseError(status: 400, kind: .transferEncodingInHTTP10))
    }

    @Test func rejectsNULInAFramingValue() {
        let wire = Wire("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\u{0}\r\n\r\n", replacingNULWith: 0)
        #expect(parseRequest(wire).result.error == HTTPParseError(status: 400, kind: .fieldValueInvalid))
        let length = Wire("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\u{0}\r\n\r\n", replacingNULWith: 0)
        #expect(parseRequest(length).result.error == HTTPParseError(status: 400, kind: .fieldValueInvalid))
        let vertical = Wire("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\u{0}5\r\n\r\n", replacingNULWith: 0x0B)
        #expect(parseRequest(vertical).result.error == HTTPParseError(status: 400, kind: .fieldValueInvalid))
    }

    struct Accepted: Sendable, CustomTestStringConvertible {
        var fields: String
        var framing: BodyFraming
        var testDescription: String { fields.replacing("\r\n", with: " | ") }
    }

    @Test(arguments: [
        Accepted(fields: "Transfer-Encoding: chunked\r\n", framing: .chunked),
        Accepted(fields: "Transfer-Encoding:chunked\r\n", framing: .chunked),
        Accepted(fields: "Transfer-Encoding:\tchunked\r\n", framing: .chunked),
        Accepted(fields: "Transfer-Encoding:  chunked \t\r\n", framing: .chunked),
        Accepted(fields: "Transfer-Encoding: Chunked\n", framing: .chunked),
        Accepted(fields: "Transfer-Encoding: , chunked\r\n", framing: .chunked),
        Accepted(fields: "Content-Length: 5\r\n", framing: .contentLength(5)),
        Accepted(fields: "Content-Length:5\r\n", framing: .contentLength(5)),
        Accepted(fields: "Content-Length: 005\r\n", framing: .contentLength(5)),
        Accepted(fields: "Content-Length: 5, 5\r\n", framing: .contentLength(5)),
        Accepted(fields: "Content-Length: 5\r\nContent-Length: 5\r\n", framing: .contentLength(5)),
        Accepted(fields: "Content-Length: 9223372036854775807\r\n", framing: .contentLength(.max)),
        Accepted(fields: "Content-Length: 0\r\n", framing: .none),
        Accepted(fields: "Content-Length: 0, 0\r\n", framing: .none),
    ])
    func acceptsTheUnambiguousSpelling(_ accepted: Accepted) throws {
        #expect(try parseRequest(Self.request(accepted.fields)).result.get().framing == accepted.framing)
    }
}
