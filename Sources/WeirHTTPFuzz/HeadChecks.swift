import WeirHTTP

/// Parses one head as the read loop found it, checks what came back, and
/// checks that the head rebuilt from it parses the same.
enum HeadChecks {
    static func parse(
        _ head: UnsafeRawBufferPointer, as message: HTTPMessageKind, requestMethod: HTTPMethod,
        headers: inout HeaderTable, limits: HTTPLimits
    ) throws(HTTPParseError) -> BodyFraming {
        if message == .request {
            let request = try HTTPParser.parseRequest(head, headers: &headers, limits: limits)
            check(request, in: head, headers: headers)
            checkRebuilt(request, from: head, headers: headers, limits: limits)
            return request.framing
        }
        let response = try HTTPParser.parseResponse(head, requestMethod: requestMethod, headers: &headers, limits: limits)
        check(response, in: head, requestMethod: requestMethod, headers: headers)
        checkRebuilt(response, from: head, requestMethod: requestMethod, headers: headers, limits: limits)
        return response.framing
    }

    static func check(_ request: RequestHead, in head: UnsafeRawBufferPointer, headers: borrowing HeaderTable) {
        precondition(request.headLength == head.count, "parser and scanner disagree on the head's end")
        precondition(request.methodEnd > 0 && request.methodEnd < request.targetStart)
        precondition(request.targetStart < request.targetEnd && request.targetEnd < request.headLength)
        precondition(request.versionMinor == 0 || request.versionMinor == 1)
        precondition(request.hostIndex >= -1 && request.hostIndex < headers.count)
        precondition(request.versionMinor == 0 || request.hostIndex >= 0)
        precondition(request.framing != .untilClose)
        if case .contentLength(let length) = request.framing { precondition(length > 0) }
        checkFields(headers, in: head, after: request.targetEnd)
    }

    static func check(
        _ response: ResponseHead, in head: UnsafeRawBufferPointer, requestMethod: HTTPMethod,
        headers: borrowing HeaderTable
    ) {
        precondition(response.headLength == head.count, "parser and scanner disagree on the head's end")
        precondition(response.status >= 100 && response.status <= 599)
        precondition(response.reasonStart >= 12 && response.reasonStart <= response.reasonEnd)
        precondition(response.reasonEnd < response.headLength)
        let bodiless = response.status < 200 || response.status == 204 || response.status == 304
            || requestMethod == .head
        precondition(!bodiless || response.framing == .none)
        precondition(response.framing != .untilClose || !response.keepAlive)
        if case .contentLength(let length) = response.framing { precondition(length > 0) }
        checkFields(headers, in: head, after: response.reasonEnd)
    }

    static func checkFields(_ headers: borrowing HeaderTable, in head: UnsafeRawBufferPointer, after startLineEnd: Int) {
        var previousEnd = Int32(startLineEnd)
        for i in 0..<headers.count {
            let field = headers[i]
            precondition(previousEnd < field.nameStart && field.nameStart < field.nameEnd)
            precondition(field.nameEnd < field.valueStart && field.valueStart <= field.valueEnd)
            precondition(Int(field.valueEnd) < head.count)
            let value = field.value(in: head)
            for byte in field.name(in: head) { precondition(isTokenByte(byte)) }
            for byte in value { precondition(byte != 13 && byte != 10 && byte != 0) }
            if let first = value.first, let last = value.last {
                precondition(first != 32 && first != 9 && last != 32 && last != 9, "value not trimmed")
            }
            previousEnd = field.valueEnd
            precondition(field.knownName == referenceKnownName(field.name(in: head)), "wrong known name")
        }
        checkNominations(headers, in: head)
        checkFieldLineRun(headers, in: head)
    }

    static let knownNames: [(String, KnownFieldName)] = [
        ("host", .host), ("content-length", .contentLength), ("transfer-encoding", .transferEncoding),
        ("connection", .connection), ("keep-alive", .keepAlive), ("proxy-connection", .proxyConnection),
        ("te", .te), ("upgrade", .upgrade), ("expect", .expect),
    ]

    /// The known name, found slowly: the name lowercased, looked up by text.
    static func referenceKnownName(_ name: UnsafeRawBufferPointer) -> KnownFieldName {
        let lowered = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
        return knownNames.first { $0.0 == lowered }?.1 ?? .other
    }

    /// `isNominatedByConnection`, which answers from what the parser
    /// recorded, against a reading of every `Connection` value, for each
    /// field name of the head and for the usual tokens.
    static func checkNominations(_ headers: borrowing HeaderTable, in head: UnsafeRawBufferPointer) {
        func listed(_ name: UnsafeRawBufferPointer) -> Bool {
            for i in 0..<headers.count where referenceKnownName(headers.name(at: i, in: head)) == .connection {
                for option in HTTPField.elements(headers.value(at: i, in: head))
                where option.count == name.count && zip(option, name).allSatisfy({ lower($0) == lower($1) }) {
                    return true
                }
            }
            return false
        }
        for i in 0..<headers.count {
            let name = headers.name(at: i, in: head)
            precondition(headers.isNominatedByConnection(name, in: head) == listed(name), "wrong nomination")
            if headers.nominatesOnlyHopByHopNames && listed(name) {
                precondition(referenceKnownName(name).isHopByHop, "a nominated name that is not hop-by-hop")
            }
            if let hopByHop = headers.hopByHopFields {
                let leftOut = referenceKnownName(name).isHopByHop || listed(name)
                precondition((hopByHop >> UInt64(i) & 1 != 0) == leftOut, "wrong hop-by-hop field set")
            }
        }
        for token in ["close", "keep-alive", "upgrade", "te", "x"] {
            Array(token.utf8).withUnsafeBytes { name in
                precondition(headers.isNominatedByConnection(name, in: head) == listed(name), "wrong nomination")
                precondition(!headers.nominatesOnlyHopByHopNames || !listed(name) || KnownFieldName(name).isHopByHop,
                             "a nominated name that is not hop-by-hop")
            }
        }
    }

    static func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }

    /// The field lines written through `FieldLineRun` (gathered from the
    /// head when they are as received) are the bytes `appendHeader` writes.
    static func checkFieldLineRun(_ headers: borrowing HeaderTable, in head: UnsafeRawBufferPointer) {
        let capacity = head.count * 2 + 64
        let one = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        let runs = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer {
            one.deallocate()
            runs.deallocate()
        }
        var a = HeadWriter(one, capacity: capacity)
        var b = HeadWriter(runs, capacity: capacity)
        var lines = FieldLineRun(in: head)
        for i in 0..<headers.count where i % 5 != 3 {
            a.appendHeader(name: headers.name(at: i, in: head), value: headers.value(at: i, in: head))
            lines.append(name: headers.name(at: i, in: head), value: headers.value(at: i, in: head), to: &b)
        }
        lines.flush(to: &b)
        precondition(!a.overflowed && !b.overflowed && a.written.elementsEqual(b.written), "runs differ")
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Rebuilds the head with CRLF line ends and trimmed values, then parses it again.
    static func checkRebuilt(
        _ request: RequestHead, from head: UnsafeRawBufferPointer, headers: borrowing HeaderTable, limits: HTTPLimits
    ) {
        withRebuiltHead(capacity: head.count * 2 + 64) { writer in
            writer.append(UnsafeRawBufferPointer(rebasing: head[0..<request.methodEnd]))
            writer.append(" ")
            writer.append(UnsafeRawBufferPointer(rebasing: head[request.targetStart..<request.targetEnd]))
            writer.append(request.versionMinor == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n")
            appendFields(headers, from: head, to: &writer)
        } parse: { rebuilt in
            var again = HeaderTable(capacity: headers.count)
            let limits = HTTPLimits(maxHeadBytes: rebuilt.count, maxHeaders: limits.maxHeaders)
            guard let parsed = try? HTTPParser.parseRequest(rebuilt, headers: &again, limits: limits) else {
                preconditionFailure("a rebuilt request no longer parses")
            }
            precondition(parsed.method == request.method && parsed.versionMinor == request.versionMinor)
            precondition(parsed.framing == request.framing && parsed.keepAlive == request.keepAlive)
            precondition(parsed.upgrade == request.upgrade && parsed.expectsContinue == request.expectsContinue)
            precondition(parsed.hostIndex == request.hostIndex)
            precondition(same(rebuilt, parsed.targetStart, parsed.targetEnd, head, request.targetStart, request.targetEnd))
            checkSameFields(again, in: rebuilt, as: headers, in: head)
        }
    }

    static func checkRebuilt(
        _ response: ResponseHead, from head: UnsafeRawBufferPointer, requestMethod: HTTPMethod,
        headers: borrowing HeaderTable, limits: HTTPLimits
    ) {
        withRebuiltHead(capacity: head.count * 2 + 64) { writer in
            writer.append(response.versionMinor == 1 ? "HTTP/1.1 " : "HTTP/1.0 ")
            writer.append(decimal: response.status)
            writer.append(" ")
            writer.append(UnsafeRawBufferPointer(rebasing: head[response.reasonStart..<response.reasonEnd]))
            writer.append("\r\n")
            appendFields(headers, from: head, to: &writer)
        } parse: { rebuilt in
            var again = HeaderTable(capacity: headers.count)
            let limits = HTTPLimits(maxHeadBytes: rebuilt.count, maxHeaders: limits.maxHeaders)
            guard let parsed = try? HTTPParser.parseResponse(
                rebuilt, requestMethod: requestMethod, headers: &again, limits: limits)
            else { preconditionFailure("a rebuilt response no longer parses") }
            precondition(parsed.status == response.status && parsed.versionMinor == response.versionMinor)
            precondition(parsed.framing == response.framing && parsed.keepAlive == response.keepAlive)
            precondition(parsed.upgrade == response.upgrade)
            precondition(same(rebuilt, parsed.reasonStart, parsed.reasonEnd, head, response.reasonStart, response.reasonEnd))
            checkSameFields(again, in: rebuilt, as: headers, in: head)
        }
    }

    static func appendFields(_ headers: borrowing HeaderTable, from head: UnsafeRawBufferPointer, to writer: inout HeadWriter) {
        for i in 0..<headers.count {
            writer.appendHeader(name: headers.name(at: i, in: head), value: headers.value(at: i, in: head))
        }
        writer.append("\r\n")
    }

    static func withRebuiltHead(
        capacity: Int, write: (inout HeadWriter) -> Void, parse: (UnsafeRawBufferPointer) -> Void
    ) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { memory.deallocate() }
        var writer = HeadWriter(memory, capacity: capacity)
        write(&writer)
        precondition(!writer.overflowed && writer.count <= capacity)
        parse(writer.written)
    }

    static func checkSameFields(
        _ rebuilt: borrowing HeaderTable, in rebuiltHead: UnsafeRawBufferPointer,
        as original: borrowing HeaderTable, in head: UnsafeRawBufferPointer
    ) {
        precondition(rebuilt.count == original.count)
        for i in 0..<original.count {
            let a = rebuilt[i], b = original[i]
            precondition(same(rebuiltHead, Int(a.nameStart), Int(a.nameEnd), head, Int(b.nameStart), Int(b.nameEnd)))
            precondition(same(rebuiltHead, Int(a.valueStart), Int(a.valueEnd), head, Int(b.valueStart), Int(b.valueEnd)))
        }
    }

    static func same(
        _ a: UnsafeRawBufferPointer, _ aStart: Int, _ aEnd: Int, _ b: UnsafeRawBufferPointer, _ bStart: Int, _ bEnd: Int
    ) -> Bool {
        a[aStart..<aEnd].elementsEqual(b[bStart..<bEnd])
    }
}
