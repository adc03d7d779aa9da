import Testing
@testable import WeirHTTP

@Suite("field helpers")
struct HTTPFieldTests {
    func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        Array(text.utf8).withUnsafeBytes(body)
    }

    @Test func comparesIgnoringASCIICaseOnly() {
        #expect(withBytes("Content-LENGTH") { HTTPField.equalsIgnoringCase($0, "content-length") })
        #expect(!withBytes("content-lengt") { HTTPField.equalsIgnoringCase($0, "content-length") })
        #expect(!withBytes("content_length") { HTTPField.equalsIgnoringCase($0, "content-length") })
        // '@' and '`' differ from 'A'-1 and 'a'-1 only in bit 5: not letters, so never equal.
        #expect(!withBytes("@") { HTTPField.equalsIgnoringCase($0, "`") })
        #expect(!withBytes("[") { HTTPField.equalsIgnoringCase($0, "{") })
        #expect(withBytes("X-Forwarded-For") { a in withBytes("x-forwarded-for") { HTTPField.equalsIgnoringCase(a, $0) } })
        #expect(!withBytes("X-Forwarded-For") { a in withBytes("x-forwarded-fo") { HTTPField.equalsIgnoringCase(a, $0) } })
    }

    @Test(arguments: [
        ("close", ["close"]),
        (" keep-alive ,  Upgrade\t", ["keep-alive", "Upgrade"]),
        (",,a,, b ,", ["a", "b"]),
        ("", []),
        (" , \t, ", []),
        ("x-custom, TE", ["x-custom", "TE"]),
    ])
    func splitsListElements(_ value: String, _ elements: [String]) {
        let found = withBytes(value) { HTTPField.elements($0).map { text($0) } }
        #expect(found == elements)
    }

    @Test func findsAnElementIgnoringCase() {
        #expect(withBytes("foo, Close") { HTTPField.containsElement($0, "close") })
        #expect(!withBytes("closed, unclose") { HTTPField.containsElement($0, "close") })
    }

    @Test(arguments: [
        ("Connection", true), ("keep-alive", true), ("Proxy-Connection", true), ("TE", true), ("Upgrade", true),
        ("Transfer-Encoding", false), ("Trailer", false), ("Content-Length", false), ("Host", false), ("T", false),
        ("connectionx", false),
    ])
    func knowsHopByHopFields(_ name: String, _ hopByHop: Bool) {
        #expect(withBytes(name) { HTTPField.isHopByHop($0) } == hopByHop)
    }

    @Test(arguments: [
        ("0", Int64(0)), ("42", 42), (" 42\t", 42), ("42, 42,42", 42), ("9223372036854775807", .max), ("00", 0),
        ("999999999999999999", 999_999_999_999_999_999), ("0999999999999999999", 999_999_999_999_999_999),
    ])
    func parsesContentLength(_ value: String, _ length: Int64) {
        #expect(withBytes(value) { HTTPField.parseContentLength($0) } == length)
    }

    @Test(arguments: ["", " ", "4 2", "42,43", "+1", "-1", "1e3", "9223372036854775808", "42,", ",42", "0x1",
                      "12345678901234567a", ":", "/"])
    func refusesInvalidContentLength(_ value: String) {
        #expect(withBytes(value) { HTTPField.parseContentLength($0) } == nil)
    }

    @Test func findsFieldsByNameInTheTable() throws {
        let bytes = Array(("GET / HTTP/1.1\r\nHost: h\r\nX-Tag: one\r\nAccept: */*\r\nx-tag: two\r\n"
            + "Connection: keep-alive, X-Secret\r\nConnection: Foo\r\n\r\n").utf8)
        var table = HeaderTable(capacity: 16)
        try bytes.withUnsafeBytes { head in
            _ = try HTTPParser.parseRequest(head, headers: &table, limits: HTTPLimits())
            let count = table.count
            let capacity = table.capacity
            let firstTag = table.firstIndex(named: "x-tag", in: head)
            let secondTag = table.firstIndex(named: "x-tag", in: head, from: 2)
            let noThirdTag = table.firstIndex(named: "x-tag", in: head, from: 4)
            let prefixOnly = table.firstIndex(named: "x-ta", in: head)
            let accept = Array("ACCEPT".utf8).withUnsafeBytes { table.firstIndex(named: $0, in: head) }
            let secondTagValue = text(table.value(at: 3, in: head))
            let secondTagNameLength = table[3].name(in: head).count
            #expect(count == 6)
            #expect(capacity == 16)
            #expect(firstTag == 1)
            #expect(secondTag == 3)
            #expect(noThirdTag == nil)
            #expect(prefixOnly == nil)
            #expect(accept == 2)
            #expect(secondTagValue == "two")
            #expect(secondTagNameLength == 5)
            for (nominated, expected) in [("x-secret", true), ("FOO", true), ("keep-alive", true), ("x-tag", false)] {
                let found = Array(nominated.utf8).withUnsafeBytes { table.isNominatedByConnection($0, in: head) }
                #expect(found == expected, "\(nominated)")
            }
        }
        table.removeAll()
        let countAfterRemoval = table.count
        #expect(countAfterRemoval == 0)
    }

    /// A `Connection` field line (or none), and names with whether it nominates them.
    static let nominations: [(connection: String, names: [(name: String, nominated: Bool)])] = [
        ("", [("x-foo", false), ("close", false), ("keep-alive", false)]),
        ("Connection: keep-alive\r\n", [("x-foo", false), ("keep-alive", true), ("KEEP-ALIVE", true), ("close", false),
                                         ("upgrade", false), ("x-foo-bar", false)]),
        ("Connection: Close\r\n", [("close", true), ("x-foo", false), ("te", false)]),
        ("Connection: te, upgrade\r\n", [("te", true), ("upgrade", true), ("close", false), ("x-tag", false)]),
        ("Connection: close, X-Foo\r\n", [("x-foo", true), ("X-FOO", true), ("close", true), ("x-fo", false)]),
        ("Connection: keep-alive\r\nConnection: x-bar\r\n", [("x-bar", true), ("keep-alive", true), ("x", false)]),
        ("Connection:\r\n", [("x-foo", false), ("", false)]),
    ]

    /// Connection's options are recorded when the head is parsed: without
    /// one, or with only the usual tokens, no other field is nominated.
    @Test(arguments: nominations)
    func recordsWhatConnectionNominates(_ connection: String, _ cases: [(name: String, nominated: Bool)]) throws {
        let bytes = Array("HTTP/1.1 200 OK\r\nX-Tag: 1\r\n\(connection)Content-Length: 0\r\n\r\n".utf8)
        var table = HeaderTable(capacity: 16)
        try bytes.withUnsafeBytes { head in
            _ = try HTTPParser.parseResponse(head, requestMethod: .get, headers: &table, limits: HTTPLimits())
            for (name, expected) in cases {
                let found = Array(name.utf8).withUnsafeBytes { table.isNominatedByConnection($0, in: head) }
                #expect(found == expected, "\(connection) \(name)")
            }
        }
    }

    /// A table filled by hand has no recorded options: the fields are searched by name.
    @Test func aTableFilledByHandIsSearchedByName() {
        let bytes = Array("Connection: X-Foo\r\n".utf8)
        var table = HeaderTable(capacity: 4)
        table.append(HeaderField(nameStart: 0, nameEnd: 10, valueStart: 12, valueEnd: 17))
        bytes.withUnsafeBytes { head in
            let nominated = Array("x-foo".utf8).withUnsafeBytes { table.isNominatedByConnection($0, in: head) }
            let other = Array("x-bar".utf8).withUnsafeBytes { table.isNominatedByConnection($0, in: head) }
            #expect(nominated)
            #expect(!other)
        }
        table.removeAll()
        bytes.withUnsafeBytes { head in
            let afterRemoval = Array("x-foo".utf8).withUnsafeBytes { table.isNominatedByConnection($0, in: head) }
            #expect(!afterRemoval)
        }
    }

    @Test func aFullTableRefusesMoreFields() {
        var table = HeaderTable(capacity: 2)
        let field = HeaderField(nameStart: 0, nameEnd: 1, valueStart: 2, valueEnd: 3)
        let appended = [table.append(field), table.append(field), table.append(field)]
        let count = table.count
        let last = table[1]
        #expect(appended == [true, true, false])
        #expect(count == 2)
        #expect(last == field)
    }

    @Test(arguments: [
        (200, "OK"), (101, "Switching Protocols"), (400, "Bad Request"), (404, "Not Found"), (414, "URI Too Long"),
        (431, "Request Header Fields Too Large"), (501, "Not Implemented"), (502, "Bad Gateway"),
        (503, "Service Unavailable"), (504, "Gateway Timeout"), (505, "HTTP Version Not Supported"), (299, "Unknown"),
    ])
    func namesStatusReasons(_ status: Int, _ reason: String) {
        #expect(HTTPStatus.reason(status).description == reason)
    }

    @Test func errorsCarryALogReason() {
        let error = HTTPParseError(.contentLengthWithTransferEncoding, in: .request)
        #expect(error.status == 400)
        #expect(error.reason.description == "Content-Length with Transfer-Encoding")
        #expect(HTTPParseError(.contentLengthWithTransferEncoding, in: .response).status == 502)
        #expect(HTTPParseError(.tooManyHeaders, in: .request).status == 431)
        #expect(HTTPParseError(.requestLineTooLarge, in: .request).status == 414)
        #expect(HTTPParseError(.transferCodingNotImplemented, in: .request).status == 501)
        #expect(HTTPParseError(.versionNotSupported, in: .request).status == 505)
        #expect(HTTPParseError(.versionNotSupported, in: .response).status == 502)
    }

    @Test func recognisesMethodsCaseSensitively() {
        let methods: [(String, HTTPMethod)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
            ("CONNECT", .connect), ("OPTIONS", .options), ("TRACE", .trace), ("PATCH", .patch),
            ("get", .other), ("GETS", .other), ("PROPFIND", .other), ("", .other),
        ]
        for (spelling, method) in methods {
            #expect(withBytes(spelling) { HTTPMethod($0) } == method, "\(spelling)")
        }
    }
}
