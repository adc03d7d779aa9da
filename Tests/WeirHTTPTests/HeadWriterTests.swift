import Testing
@testable import WeirHTTP

@Suite("head writer")
struct HeadWriterTests {
    /// Runs `body` with a writer over `capacity` bytes; returns what it wrote and whether it overflowed.
    func write(capacity: Int, _ body: (inout HeadWriter) -> Void) -> (text: String, overflowed: Bool) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
        defer { memory.deallocate() }
        var writer = HeadWriter(memory, capacity: capacity)
        body(&writer)
        #expect(writer.written.count == writer.count)
        return (text(writer.written), writer.overflowed)
    }

    @Test func writesAHead() {
        let value = Array("example.com".utf8)
        let name = Array("X-Forwarded-For".utf8)
        let address = Array("192.0.2.1".utf8)
        let result = write(capacity: 256) { writer in
            writer.append("HTTP/1.1 ")
            writer.append(decimal: 503)
            writer.append(byte: UInt8(ascii: " "))
            writer.append(HTTPStatus.reason(503))
            writer.append("\r\n")
            value.withUnsafeBytes { writer.appendHeader(name: "Host", value: $0) }
            name.withUnsafeBytes { n in address.withUnsafeBytes { writer.appendHeader(name: n, value: $0) } }
            writer.append("Content-Length: ")
            writer.append(decimal: 0)
            writer.append("\r\n\r\n")
        }
        #expect(result.text == "HTTP/1.1 503 Service Unavailable\r\nHost: example.com\r\nX-Forwarded-For: 192.0.2.1\r\n"
            + "Content-Length: 0\r\n\r\n")
        #expect(!result.overflowed)
    }

    @Test(arguments: [(0, "0"), (7, "7"), (10, "10"), (65535, "65535"), (-42, "-42"),
                      (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808")])
    func writesDecimals(_ value: Int, _ expected: String) {
        let written = write(capacity: 32) { $0.append(decimal: value) }
        #expect(written.text == expected)
    }

    @Test func anAppendThatDoesNotFitWritesNothingAndStopsTheRest() {
        let result = write(capacity: 10) { writer in
            writer.append("12345678")
            writer.append(decimal: 123)
            writer.append("9")
            writer.append(byte: UInt8(ascii: "0"))
        }
        #expect(result.text == "12345678")
        #expect(result.overflowed)

        let header = write(capacity: 12) { writer in
            Array("value".utf8).withUnsafeBytes { writer.appendHeader(name: "Name", value: $0) }
        }
        #expect(header.text == "")
        #expect(header.overflowed)

        let exact = write(capacity: 13) { writer in
            Array("value".utf8).withUnsafeBytes { writer.appendHeader(name: "Name", value: $0) }
        }
        #expect(exact.text == "Name: value\r\n")
        #expect(!exact.overflowed)
    }

    /// Names and values of every length around the copy sizes (4, 8, 16, 32 bytes).
    @Test func writesFieldLinesOfEveryLength() {
        for nameLength in 0...34 {
            for valueLength in [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 100] {
                let name = String((0..<nameLength).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
                let value = String((0..<valueLength).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
                let written = write(capacity: 256) { writer in
                    writer.append(byte: UInt8(ascii: ">"))
                    Array(name.utf8).withUnsafeBytes { n in
                        Array(value.utf8).withUnsafeBytes { writer.appendHeader(name: n, value: $0) }
                    }
                    writer.append(byte: UInt8(ascii: "<"))
                }
                #expect(written.text == ">\(name): \(value)\r\n<", "\(nameLength) \(valueLength)")
            }
        }
    }

    /// Lines gathered from the head and lines written one by one come out
    /// the same: `name: value` and CRLF, in order, whatever the received form.
    @Test func fieldLineRunsWriteWhatAppendHeaderWrites() throws {
        let wire = Array(("HTTP/1.1 200 OK\r\nServer: s\r\nDate: today\r\nX-Tab:\tt\r\nX-Two:  2\r\n"
            + "X-Bare: lf\nX-Trail: x \r\nX-Empty: \r\nX-A: a\r\nX-B: b\r\n\r\n").utf8)
        let edited = Array("edited".utf8)
        var table = HeaderTable(capacity: 16)
        try wire.withUnsafeBytes { head in
            _ = try HTTPParser.parseResponse(head, requestMethod: .get, headers: &table, limits: HTTPLimits())
            // Every field, then every other one (runs broken), then one with an edited value.
            for pick in [{ (_: Int) in true }, { $0 % 2 == 0 }, { $0 != 1 }] as [(Int) -> Bool] {
                var expected = ""
                let written = write(capacity: 512) { writer in
                    var lines = FieldLineRun(in: head)
                    for i in 0..<table.count where pick(i) {
                        let name = table.name(at: i, in: head)
                        let value = i == 7 ? UnsafeRawBufferPointer(start: nil, count: 0) : table.value(at: i, in: head)
                        edited.withUnsafeBytes { editedValue in
                            let v = i == 5 ? editedValue : value
                            expected += "\(text(name)): \(text(v))\r\n"
                            lines.append(name: name, value: v, to: &writer)
                        }
                    }
                    lines.flush(to: &writer)
                }
                #expect(written.text == expected)
                #expect(!written.overflowed)
            }
        }
    }

    @Test func writesSingleCharacterStaticStrings() {
        let written = write(capacity: 4) { writer in
            writer.append(":")
            writer.append("é")
        }
        #expect(written.text == ":é")
    }
}
