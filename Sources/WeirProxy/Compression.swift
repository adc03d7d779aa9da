import WeirConfig
import WeirDeflate
import WeirHTTP
import WeirLoop
import WeirShared

// HTTP response compression (`compression algo|type|offload`), as HAProxy
// 2.6 does it: the request picks an algorithm from what the client accepts
// (`negotiateCompression`), the response head decides whether its body is
// compressed (`compressesResponse`), and the body streams through the
// deflate encoder into chunks (`advanceCompressedBody`), one buffer at a
// time, with nothing held back between buffers.

/// The algorithm an exchange negotiated.
enum CompressionChoice: UInt8 {
    case none, identity, gzip, deflate, rawDeflate

    init(_ algorithm: HTTPCompression.Algorithm) {
        switch algorithm {
        case .identity: self = .identity
        case .gzip: self = .gzip
        case .deflate: self = .deflate
        case .rawDeflate: self = .rawDeflate
        }
    }

    var format: DeflateFormat {
        switch self {
        case .none, .identity: .identity
        case .gzip: .gzip
        case .deflate: .zlib
        case .rawDeflate: .raw
        }
    }

    /// The `Accept-Encoding` token that names it (`raw-deflate` answers to `deflate`).
    var token: StaticString {
        switch self {
        case .none, .identity: "identity"
        case .gzip: "gzip"
        case .deflate, .rawDeflate: "deflate"
        }
    }
}

/// A proxy's `compression` settings, ready for the request path.
struct CompressionSettings {
    /// In order of preference (the last configured first, as HAProxy keeps them).
    let algorithms: [CompressionChoice]
    /// Lowercased content-type prefixes; empty: every type.
    let types: [[UInt8]]
    let offload: Bool

    init(_ compression: HTTPCompression) {
        algorithms = compression.algorithms.map(CompressionChoice.init)
        types = compression.types.map { Array($0.lowercased().utf8) }
        offload = compression.offload
    }
}

/// A `tchar` (RFC 9110 §5.6.2).
private func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E:
        true  // ! # $ % & ' * + - . ^ _ ` | ~
    default:
        false
    }
}

private func lowercased(_ b: UInt8) -> UInt8 {
    b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b
}

extension Worker {
    // MARK: - Request

    /// Picks the algorithm for the response from the request's
    /// `Accept-Encoding` (the rules' view of it), as HAProxy does: the
    /// backend's algorithms, else the frontend's; the element with the
    /// highest q-value that names one (or `*`: the first) wins, q=0 never;
    /// failing that, `identity` when it is configured. Old browsers that
    /// mishandle compression (`Mozilla/4` other than MSIE 6 SP2 or later)
    /// get none. With `compression offload` and an algorithm picked, the
    /// request goes to the server without `Accept-Encoding`.
    mutating func negotiateCompression(_ slot: UInt32, backend: Int) {
        let s = sessions.pointer(slot)
        let frontendSettings = frontends[Int(s.pointee.frontend)].compression
        let backendSettings = backends[backend].compression
        guard frontendSettings != nil || backendSettings != nil else { return }
        let algorithms = backendSettings.map(\.algorithms).flatMap { $0.isEmpty ? nil : $0 }
            ?? frontendSettings?.algorithms ?? []
        var choice = CompressionChoice.none
        var oldBrowser = false
        var bestQ = 0
        for i in 0..<rules.fieldCount where !rules.fields[i].removed {
            let name = rules.fields[i].name
            if HTTPField.equalsIgnoringCase(name, "user-agent") {
                oldBrowser = oldBrowser || Self.isOldBrowser(rules.fields[i].value)
                continue
            }
            guard HTTPField.equalsIgnoringCase(name, "accept-encoding") else { continue }
            for element in HTTPField.elements(rules.fields[i].value) {
                let (token, q) = Self.codingAndQValue(element)
                guard q > bestQ else { continue }
                let wildcard = token.count == 1 && token[0] == UInt8(ascii: "*")
                for algorithm in algorithms where wildcard || HTTPField.equalsIgnoringCase(token, algorithm.token) {
                    choice = algorithm
                    bestQ = q
                    break
                }
            }
        }
        if oldBrowser { return }
        if choice == .none {
            // Identity needs no header from the client.
            if algorithms.contains(.identity) { s.pointee.exchange.compression = .identity }
            return
        }
        s.pointee.exchange.compression = choice
        if backendSettings?.offload == true || frontendSettings?.offload == true {
            for i in 0..<rules.fieldCount where HTTPField.equalsIgnoringCase(rules.fields[i].name, "accept-encoding") {
                rules.fields[i].removed = true
            }
        }
    }

    /// The coding an `Accept-Encoding` element names (its leading token)
    /// and its q-value in thousandths (1000 when it has none).
    static func codingAndQValue(_ element: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, Int) {
        var n = 0
        while n < element.count && isTokenByte(element[n]) { n += 1 }
        let token = UnsafeRawBufferPointer(rebasing: element[0..<n])
        // Parameters: `;` OWS name=value, the first `q` is the weight.
        var p = n
        while p < element.count {
            while p < element.count && (element[p] == 32 || element[p] == 9) { p += 1 }
            guard p < element.count && element[p] == UInt8(ascii: ";") else { break }
            p += 1
            while p < element.count && (element[p] == 32 || element[p] == 9) { p += 1 }
            if p + 1 < element.count && (element[p] | 0x20) == UInt8(ascii: "q") && element[p + 1] == UInt8(ascii: "=") {
                return (token, parseQValue(UnsafeRawBufferPointer(rebasing: element[(p + 2)...])))
            }
            while p < element.count && element[p] != UInt8(ascii: ";") { p += 1 }
        }
        return (token, 1000)
    }

    /// `0`, `0.5`, `1.000`… as thousandths; what does not parse weighs 0.
    static func parseQValue(_ text: UnsafeRawBufferPointer) -> Int {
        guard let first = text.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return 0 }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        guard text.count > 1, text[1] == UInt8(ascii: ".") else { return value }
        var scale = 100
        var i = 2
        while i < text.count && scale > 0 && text[i] >= UInt8(ascii: "0") && text[i] <= UInt8(ascii: "9") {
            value += Int(text[i] - UInt8(ascii: "0")) * scale
            scale /= 10
            i += 1
        }
        return min(value, 1000)
    }

    /// `Mozilla/4` that is not MSIE 6 with SV1 (XP SP2) or MSIE 7 and later:
    /// browsers known to mishandle compressed responses.
    static func isOldBrowser(_ agent: UnsafeRawBufferPointer) -> Bool {
        func matches(_ text: StaticString, at offset: Int) -> Bool {
            let count = text.utf8CodeUnitCount
            guard offset + count <= agent.count else { return false }
            return text.withUTF8Buffer { agent[offset..<(offset + count)].elementsEqual($0) }
        }
        guard matches("Mozilla/4", at: 0) else { return false }
        guard agent.count >= 31, matches("MSIE ", at: 25) else { return true }
        let major = agent[30]
        if major < UInt8(ascii: "6") { return true }
        return major == UInt8(ascii: "6") && !(agent.count >= 54 && matches("SV1", at: 51))
    }

    // MARK: - Response head

    /// Whether the response the rules engine holds gets compressed with the
    /// exchange's algorithm. Not when (as HAProxy): the request or the
    /// response is HTTP/1.0; the status is not 200 to 203; the response has
    /// no body or one that ends with the connection (HEAD, 204, 304,
    /// `Content-Length: 0`, no length); it has a `Content-Encoding`
    /// already; `Cache-Control: no-transform`; an invalid `ETag` or more
    /// than one; a `multipart` content type, or a type that no `compression
    /// type` prefix matches (or none when types are configured). Also not
    /// when `Transfer-Encoding` lists a coding besides `chunked`.
    mutating func compressesResponse(_ slot: UInt32, response: ResponseHead) -> Bool {
        let s = sessions.pointer(slot)
        guard s.pointee.exchange.clientMinor >= 1, response.versionMinor >= 1, (200...203).contains(rules.status) else {
            return false
        }
        switch response.framing {
        case .contentLength, .chunked: break
        case .none, .untilClose: return false
        }
        let frontendTypes = frontends[Int(s.pointee.frontend)].compression?.types ?? []
        let backendTypes = backends[Int(s.pointee.backend)].compression?.types ?? []
        let types = backendTypes.isEmpty ? frontendTypes : backendTypes
        var contentType: UnsafeRawBufferPointer?
        var etags = 0
        for i in 0..<rules.fieldCount where !rules.fields[i].removed {
            let name = rules.fields[i].name
            let value = rules.fields[i].value
            if HTTPField.equalsIgnoringCase(name, "content-encoding") { return false }
            if HTTPField.equalsIgnoringCase(name, "cache-control") {
                if HTTPField.containsElement(value, "no-transform") { return false }
            } else if HTTPField.equalsIgnoringCase(name, "etag") {
                etags += 1
                if etags > 1 || !Self.isValidETag(value) { return false }
            } else if HTTPField.equalsIgnoringCase(name, "content-type") {
                if contentType == nil { contentType = value }
            } else if rules.fields[i].knownName == .transferEncoding {
                var codings = 0
                for _ in HTTPField.elements(value) { codings += 1 }
                if codings > 1 { return false }
            }
        }
        if let contentType {
            if Self.hasPrefixIgnoringCase(contentType, Self.multipart) { return false }
            if !types.isEmpty && !types.contains(where: { Self.hasPrefixIgnoringCase(contentType, $0) }) { return false }
        } else if !types.isEmpty {
            return false
        }
        return true
    }

    private static let multipart = Array("multipart".utf8)

    /// `"…"` or `W/"…"`.
    static func isValidETag(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.count >= 2, value[value.count - 1] == UInt8(ascii: "\"") else { return false }
        if value[0] == UInt8(ascii: "\"") { return true }
        return value.count >= 4 && value[0] == UInt8(ascii: "W") && value[1] == UInt8(ascii: "/")
            && value[2] == UInt8(ascii: "\"")
    }

    static func hasPrefixIgnoringCase(_ value: UnsafeRawBufferPointer, _ lowercasePrefix: [UInt8]) -> Bool {
        guard value.count >= lowercasePrefix.count else { return false }
        for i in 0..<lowercasePrefix.count where lowercased(value[i]) != lowercasePrefix[i] { return false }
        return true
    }

    /// The fields a compressed response carries besides the server's (whose
    /// `Content-Length` and `Transfer-Encoding` `writeResponseHead` left
    /// out): `Content-Encoding` (not for identity), `Vary: Accept-Encoding`
    /// unless a `Vary` names it, and the chunked framing.
    func appendCompressionFields(_ w: inout HeadWriter, slot: UInt32) {
        let s = sessions.pointer(slot)
        let choice = s.pointee.exchange.compression
        if choice != .identity {
            w.append("content-encoding: ")
            w.append(choice.token)
            w.append("\r\n")
        }
        var varies = false
        for i in 0..<rules.fieldCount where !rules.fields[i].removed && HTTPField.equalsIgnoringCase(rules.fields[i].name, "vary") {
            if HTTPField.containsElement(rules.fields[i].value, "accept-encoding") { varies = true }
        }
        if !varies { w.append("vary: Accept-Encoding\r\n") }
        w.append("transfer-encoding: chunked\r\n")
    }

    // MARK: - Body

    /// `comp_in`, `comp_out` and `comp_rsp` of the frontend and the backend.
    private func countCompression(_ slot: UInt32, input: Int, output: Int, ends: Bool) {
        let s = sessions.pointer(slot)
        func count(_ entity: Int) {
            stats.add(entity, .compressionIn, Int64(input))
            stats.add(entity, .compressionOut, Int64(output))
            if ends { stats.add(entity, .compressedResponses) }
        }
        count(stats.frontend(Int(s.pointee.frontend)))
        count(stats.backend(Int(s.pointee.backend)))
    }

    /// Room kept in the output buffer besides the compressed bytes and
    /// trailers: the chunk's size line (at most 16 hex digits and CRLF) and
    /// CRLF, the end of the stream, and the last chunk `0` CRLF CRLF.
    private static let chunkOverhead = 18 + 2 + DeflateStream.maxFinish + 5

    /// The response body of an exchange that compresses: its payload (the
    /// body without its framing) goes through the encoder, and the output
    /// into a chunk in the direction's prefix buffer, which `flush` sends
    /// (the server's bytes are consumed, never sent); the trailer section of
    /// a chunked body follows the last chunk as it came. Each pass takes
    /// what the prefix buffer has room for: input bytes never yield more
    /// output than `maxOutput` says, trailers included.
    mutating func advanceCompressedBody(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        let d = s.pointee.toClient
        if d.buffer >= 0 && d.tail > d.limit {
            if d.prefix < 0 {
                guard let id = buffers.acquire() else { return .idle }
                s.pointee.toClient.prefix = id
                s.pointee.toClient.prefixHead = 0
                s.pointee.toClient.prefixTail = 0
            } else if d.prefixHead == d.prefixTail {
                s.pointee.toClient.prefixHead = 0
                s.pointee.toClient.prefixTail = 0
            }
            let out = buffers.pointer(s.pointee.toClient.prefix)
            let chunkStart = s.pointee.toClient.prefixTail
            let room = bufferSize - chunkStart - Self.chunkOverhead
            let most = DeflateStream.maxInput(outputCapacity: room)
            // Too little room behind bytes still unsent: wait for them to go.
            if most < 512 && chunkStart > s.pointee.toClient.prefixHead { return .idle }
            guard most > 0 else { return .idle }
            let start = d.limit
            let input = UnsafeMutableRawBufferPointer(start: buffers.pointer(d.buffer) + start,
                                                      count: min(d.tail - start, most))
            let consumed: Int
            let payload: Int
            let trailer: Int
            do { (consumed, payload, trailer) = try s.pointee.exchange.responseBody.advancePayload(input) } catch {
                if options.debug { Notice.debug("\(backends[Int(s.pointee.backend)].name): bad response body: \(error.reason)") }
                close(slot, cause: "S", phase: "D", loop: &loop)
                return .closed
            }
            // Compressed after room for the longest size line; moved down once its size is known.
            let dataStart = chunkStart + 18
            var written = s.pointee.deflate.compress(UnsafeRawBufferPointer(rebasing: input[0..<payload]),
                                                              into: out + dataStart, table: &deflateTable)
            // The payload is whole (the body ends, or its trailers begin): the stream ends.
            let ends = s.pointee.exchange.responseBody.payloadComplete && !s.pointee.deflate.finished
            if ends { written += s.pointee.deflate.finish(into: out + dataStart + written) }
            countCompression(slot, input: payload, output: written, ends: ends)
            var end = chunkStart
            if written > 0 {
                var digits = 1
                while written >> (4 * digits) != 0 { digits += 1 }
                let sizeLine = digits + 2
                let lineStart = dataStart - sizeLine
                for k in 0..<digits {
                    let nibble = (written >> (4 * (digits - 1 - k))) & 0xF
                    (out + lineStart + k).storeBytes(of: UInt8(nibble < 10 ? 48 + nibble : 87 + nibble), as: UInt8.self)
                }
                (out + lineStart + digits).storeBytes(of: UInt16(0x0A0D).littleEndian, as: UInt16.self)
                (out + chunkStart).copyMemory(from: out + lineStart, byteCount: sizeLine + written)
                end = chunkStart + sizeLine + written
                (out + end).storeBytes(of: UInt16(0x0A0D).littleEndian, as: UInt16.self)
                end += 2
            }
            if ends {
                // The last chunk.
                (out + end).storeBytes(of: UInt8(ascii: "0"), as: UInt8.self)
                (out + end + 1).storeBytes(of: UInt16(0x0A0D).littleEndian, as: UInt16.self)
                end += 3
            }
            if trailer > 0 {
                // The server's trailer section (fields and the final CRLF), as it came.
                (out + end).copyMemory(from: input.baseAddress! + payload, byteCount: trailer)
                end += trailer
            } else if ends && s.pointee.exchange.responseBody.isComplete {
                // Only a body with a length ends with no trailer section
                // (a chunked one's final CRLF is in it): just its end.
                (out + end).storeBytes(of: UInt16(0x0A0D).littleEndian, as: UInt16.self)
                end += 2
            }
            if s.pointee.exchange.responseBody.isComplete { s.pointee.exchange.response = .complete }
            s.pointee.toClient.prefixTail = end
            s.pointee.toClient.head = start + consumed
            s.pointee.toClient.limit = start + consumed
            if consumed > 0 { return .progressed }
        }
        if s.pointee.toClient.sourceEOF && s.pointee.exchange.response == .body {
            // Compressed bodies have a length or chunks: an end of file before it is a truncation.
            close(slot, cause: "S", phase: "D", loop: &loop)
            return .closed
        }
        return .idle
    }
}
