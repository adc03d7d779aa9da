import Testing
@testable import WeirHTTP

/// The parser and the comparisons read eight bytes at a time: these put the
/// interesting byte at every offset of a word, and runs of every length
/// around a word's size, to check that the answer is the byte-by-byte one.
@Suite("word-at-a-time scanning")
struct WordScanTests {
    func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        Array(text.utf8).withUnsafeBytes(body)
    }

    /// A name of `length` letters, digits and hyphens, mixed case.
    func name(_ length: Int) -> String {
        let letters = Array("Ab-Cd9eF-gh0IjKl-Mn1oP")
        return String((0..<length).map { letters[$0 % letters.count] })
    }

    @Test(arguments: 0...24)
    func comparesEveryLengthAndEveryPosition(_ length: Int) {
        let a = name(length)
        let same = withBytes(a) { x in withBytes(a.uppercased()) { HTTPField.equalsIgnoringCase(x, $0) } }
        #expect(same)
        for i in 0..<length {
            var changed = Array(a.utf8)
            // Bit 5 flipped: another case of a letter, a different byte otherwise.
            let flipped = changed[i] ^ 0x20
            changed[i] = flipped
            let isLetter = ASCII.lowercased(flipped) != flipped || ASCII.lowercased(flipped ^ 0x20) != flipped ^ 0x20
            let found = withBytes(a) { x in changed.withUnsafeBytes { HTTPField.equalsIgnoringCase(x, $0) } }
            #expect(found == isLetter, "\(a) at \(i)")
            changed[i] = UInt8(ascii: "_")
            let differs = withBytes(a) { x in changed.withUnsafeBytes { HTTPField.equalsIgnoringCase(x, $0) } }
            #expect(!differs, "\(a) at \(i)")
        }
    }

    @Test func comparesWithAStaticStringLoweringOnlyTheBytes() {
        #expect(withBytes("100-CONTINUE") { HTTPField.equalsIgnoringCase($0, "100-continue") })
        #expect(!withBytes("100-continuf") { HTTPField.equalsIgnoringCase($0, "100-continue") })
        #expect(!withBytes("1@0-continue") { HTTPField.equalsIgnoringCase($0, "1`0-continue") })
        #expect(withBytes("Max-Age=0") { HTTPField.equalsIgnoringCase($0, "max-age=0") })
        #expect(withBytes("") { HTTPField.equalsIgnoringCase($0, "") })
        #expect(!withBytes("a") { HTTPField.equalsIgnoringCase($0, "") })
    }

    @Test(arguments: [
        ("Host", KnownFieldName.host), ("HOST", .host), ("content-length", .contentLength),
        ("Content-Length", .contentLength), ("Transfer-Encoding", .transferEncoding), ("connection", .connection),
        ("Keep-Alive", .keepAlive), ("Proxy-Connection", .proxyConnection), ("TE", .te), ("te", .te),
        ("Upgrade", .upgrade), ("Expect", .expect),
        ("Hosts", .other), ("Hos", .other), ("Jost", .other), ("Content-Lengt", .other), ("Content_Length", .other),
        ("Content-Lengtx", .other), ("Xontent-Length", .other), ("Connectiom", .other), ("Keep_Alive", .other),
        ("Transfer-Encodinf", .other), ("Tf", .other), ("T", .other), ("", .other), ("Server", .other),
        ("ETag", .other), ("User-Agent", .other), ("Content-Type", .other), ("Upgradf", .other),
        ("4ost", .other), ("$ost", .other), ("Tg", .other),
    ])
    func classifiesKnownNames(_ name: String, _ expected: KnownFieldName) {
        #expect(withBytes(name) { KnownFieldName($0) } == expected)
    }

    @Test func theParserRecordsEachFieldsKnownName() throws {
        let wire = Array(("GET / HTTP/1.1\r\nHOST: h\r\nX-A: 1\r\nContent-Length: 0\r\nte: trailers\r\n"
            + "Connection: close\r\n\r\n").utf8)
        var table = HeaderTable(capacity: 16)
        try wire.withUnsafeBytes { head in
            _ = try HTTPParser.parseRequest(head, headers: &table, limits: HTTPLimits())
        }
        let names = (0..<table.count).map { table[$0].knownName }
        #expect(names == [.host, .other, .contentLength, .te, .connection])
    }

    /// The sixteen-byte tests find exactly the bytes the one-byte tests do,
    /// for every byte value at every offset.
    @Test func sixteenByteTestsFindWhatTheByteTestsFind() {
        for value in 0...255 {
            let byte = UInt8(value)
            let control = byte < ASCII.space || byte == 0x7F
            let nameLetter = ASCII.lowercased(byte) &- UInt8(ascii: "a") < 26 || byte == ASCII.hyphen
            for at in 0..<16 {
                var chunk = SIMD16<UInt8>(repeating: UInt8(ascii: "k"))
                chunk[at] = byte
                #expect(ASCII.firstFound(ASCII.controlBytes(of: chunk)) == (control ? at : 16), "\(value) \(at)")
                #expect(ASCII.firstFound(ASCII.nonNameLetterBytes(of: chunk)) == (nameLetter ? 16 : at),
                        "\(value) \(at)")
                let target = byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#")
                #expect(ASCII.firstFound(ASCII.nonTargetBytes(of: chunk)) == (target ? 16 : at), "\(value) \(at)")
            }
        }
    }

    /// A run's last bytes are read as the sixteen before `end`, the first
    /// of them, already read, left out: only a byte at or after the cut counts.
    @Test func droppingTheFirstBytesLeavesTheOthers() {
        for at in 0..<16 {
            var chunk = SIMD16<UInt8>(repeating: UInt8(ascii: "k"))
            chunk[at] = 0
            for count in 0..<16 {
                let found = ASCII.droppingFirst(count, of: ASCII.controlBytes(of: chunk))
                #expect(ASCII.firstFound(found) == (at >= count ? at : 16), "\(at) \(count)")
            }
        }
    }

    /// Values of every length up to past two sixteen-byte runs, with a byte a
    /// value may not hold at every offset: always the same error.
    @Test(arguments: [UInt8(0x00), 0x01, 0x08, 0x0B, 0x1F, 0x7F])
    func findsAForbiddenValueByteAtEveryOffset(_ bad: UInt8) {
        for length in 1...40 {
            for at in 0..<length {
                var value = Array(String(repeating: "v", count: length).utf8)
                value[at] = bad
                let wire = Wire(Array("GET / HTTP/1.1\r\nHost: h\r\nX: ".utf8) + value + Array("\r\n\r\n".utf8))
                #expect(parseRequest(wire).result.error?.kind == .fieldValueInvalid, "\(length) \(at)")
            }
        }
    }

    /// Reason phrases of every length up to past a sixteen-byte run: a byte
    /// a reason may not hold at any offset is a malformed status line; HTAB,
    /// SP and obs-text are kept.
    @Test func readsReasonsWithEveryByteAtEveryOffset() throws {
        for length in 1...36 {
            for at in 0..<length {
                for byte in [UInt8(0x00), 0x01, 0x0B, 0x7F, 0x09, 0x20, 0x80, 0xFF] {
                    var reason = Array(String(repeating: "r", count: length).utf8)
                    reason[at] = byte
                    let wire = Wire(Array("HTTP/1.1 200 ".utf8) + reason + Array("\r\nContent-Length: 0\r\n\r\n".utf8))
                    let parsed = parseResponse(wire).result
                    if byte == 0x09 || byte >= 0x20 && byte != 0x7F {
                        let response = try parsed.get()
                        #expect(wire.bytes[response.reasonStart..<response.reasonEnd].elementsEqual(reason))
                    } else {
                        #expect(parsed.error?.kind == .statusLineInvalid, "\(length) \(at) \(byte)")
                    }
                }
            }
        }
    }

    /// HTAB, SP and obs-text are allowed anywhere in a value; a HTAB ends the
    /// word-at-a-time run, and the rest is read byte by byte.
    @Test func acceptsTabsSpacesAndObsTextAtEveryOffset() throws {
        for allowed in [UInt8(0x09), 0x20, 0x80, 0xFF, 0x7E] {
            for length in 1...36 {
                for at in 0..<length {
                    var value = Array(String(repeating: "v", count: length).utf8)
                    value[at] = allowed
                    value[length - 1] = UInt8(ascii: "z")
                    // Leading whitespace is OWS, trimmed; this is about inner bytes.
                    if at == length - 1 || (at == 0 && allowed <= 0x20) { continue }
                    let wire = Wire(Array("GET / HTTP/1.1\r\nHost: h\r\nX: ".utf8) + value + Array("\r\n\r\n".utf8))
                    let parsed = parseRequest(wire)
                    #expect(parsed.result.value != nil, "\(allowed) \(length) \(at)")
                    #expect(parsed.fields.last?.value == String(decoding: value, as: UTF8.self))
                }
            }
        }
    }

    /// Names of every length with a rarer tchar (which ends the fast run of
    /// letters and hyphens) or a byte no name may hold, at every offset.
    @Test func readsNamesWithEveryByteAtEveryOffset() {
        for length in 1...36 {
            for at in 0..<length {
                for (byte, valid) in [(UInt8(ascii: "_"), true), (UInt8(ascii: "7"), true), (UInt8(ascii: "~"), true),
                                      (UInt8(ascii: "@"), false), (UInt8(ascii: "["), false), (0x80, false),
                                      (UInt8(ascii: "("), false)] {
                    var fieldName = Array(name(length).utf8)
                    fieldName[at] = byte
                    let wire = Wire(Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8) + fieldName + Array(": v\r\n\r\n".utf8))
                    let parsed = parseRequest(wire)
                    if valid {
                        #expect(parsed.fields.last?.name == String(decoding: fieldName, as: UTF8.self),
                                "\(length) \(at) \(byte)")
                    } else {
                        #expect(parsed.result.error?.kind == .fieldNameInvalid, "\(length) \(at) \(byte)")
                    }
                }
            }
        }
    }

    /// Targets of every length around a word's size with every byte value
    /// at every offset: the target ends (or the line is refused) exactly
    /// where the grammar says (VCHAR but `#`).
    @Test func readsTargetsWithEveryByteAtEveryOffset() {
        for length in 1...18 {
            for at in 0..<length {
                for value in 0...255 {
                    let byte = UInt8(value)
                    var target = Array(String(repeating: "/a-Z.9~%", count: 3).utf8.prefix(length))
                    target[at] = byte
                    let wire = Wire(Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
                    let parsed = parseRequest(wire).result
                    if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#") {
                        #expect((try? parsed.get())?.targetEnd == 4 + length, "\(length) \(at) \(value)")
                    } else {
                        #expect(throws: HTTPParseError.self, "\(length) \(at) \(value)") { try parsed.get() }
                    }
                }
            }
        }
    }

    /// A head cut anywhere: never a field read past the bytes given.
    @Test func aHeadCutAnywhereRunsOutOfBytes() {
        let whole = Array(("GET / HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form\r\n"
            + "X-Long-Header-Name-Here: a value that spans words\r\n\r\n").utf8)
        for cut in 16..<whole.count {
            let kind = parseRequest(Wire(Array(whole[..<cut]))).result.error?.kind
            #expect(kind == .lineEndingInvalid, "cut at \(cut)")
        }
    }
}
