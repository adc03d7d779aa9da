import Testing
import WeirConfig
@testable import WeirProxy

/// How one log-format field is written: quoting, escaping, `#XX` encoding, hex.
@Suite struct LogFieldTests {
    private func text(_ buffer: borrowing LineBuffer) -> String {
        String(decoding: UnsafeBufferPointer(start: buffer.bytes, count: buffer.count), as: UTF8.self)
    }

    private func field(_ value: String?, _ options: LogFormatOptions, mandatory: Bool = true) -> String {
        var buffer = LineBuffer(capacity: 256)
        if let value {
            Array(value.utf8).withUnsafeBytes { buffer.appendField($0, options, mandatory: mandatory) }
        } else {
            buffer.appendField(nil, options, mandatory: mandatory)
        }
        return text(buffer)
    }

    @Test func textFields() {
        #expect(field("be", .none) == "be")
        #expect(field("be", LogFormatOptions(quote: true)) == "\"be\"")
        #expect(field(#"a"b\c]d"#, LogFormatOptions(escape: true)) == #"a\"b\\c\]d"#)
        #expect(field(nil, .none) == "-", "a missing value is a dash in a log line")
        #expect(field("", .none) == "-")
        #expect(field(nil, LogFormatOptions(quote: true)) == "\"\"", "quoted, it is an empty string")
        #expect(field(nil, .none, mandatory: false) == "", "nothing in a unique id")
    }

    @Test func encodings() {
        var buffer = LineBuffer(capacity: 256)
        Array("GET /a\"b#c{d|e}\u{7f}\t".utf8).withUnsafeBytes { buffer.appendEncoded($0, .url, .none) }
        #expect(text(buffer) == "GET /a#22b#23c{d|e}#7F#09")
        buffer.count = 0
        Array("x{y|z}\"".utf8).withUnsafeBytes { buffer.appendEncoded($0, .header, .none) }
        #expect(text(buffer) == "x#7By#7Cz#7D#22")
    }

    @Test func hexadecimal() {
        var buffer = LineBuffer(capacity: 64)
        buffer.append(hex: 0x2a, digits: 4)
        buffer.append(UInt8(ascii: " "))
        buffer.append(hex: 0x7f000001, digits: 2)
        buffer.append(UInt8(ascii: " "))
        buffer.append(hex: 0, digits: 1)
        #expect(text(buffer) == "002A 7F000001 0")
    }

    @Test func errorsForTheLogLevel() {
        var c = LogContext(slot: 0, frontend: 0, peer: .init(), clientFD: -1, isHTTP: true)
        c.status = 200
        #expect(!c.isError)
        c.cause = UInt8(ascii: "L")
        #expect(!c.isError, "a local answer (redirect, return) is normal")
        c.cause = UInt8(ascii: "P")
        #expect(c.isError)
        c.cause = UInt8(ascii: "-")
        c.status = 503
        #expect(c.isError)
        c.status = 200
        c.retries = 1
        #expect(c.isError)
    }
}
