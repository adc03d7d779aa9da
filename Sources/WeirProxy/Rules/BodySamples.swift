import WeirHTTP
import WeirLoop
import WeirSystem
import WeirTLS

// The request body in samples (`req.body`, `req.body_len`, `req.body_size`,
// `req.body_param`) and `option http-buffer-request`, which lets the body
// arrive before the request's rules run. A body is seen as far as it was
// read with the head: with the option, all of it when it fits in the
// buffer, else the buffer's worth, as in HAProxy.

extension RuleEngine {
    /// The body bytes read so far without their chunked framing (decoded
    /// into the scratch arena), or as read for a Content-Length body; nil
    /// when the request has no body.
    mutating func decodedRequestBody() -> UnsafeRawBufferPointer? {
        if requestBodyLength >= 0 {
            guard requestBodyLength > 0 else { return nil }
            return UnsafeRawBufferPointer(rebasing: requestBody.prefix(Int(min(requestBodyLength, Int64(requestBody.count)))))
        }
        let start = scratch.mark
        var p = 0
        let bytes = requestBody
        // Chunks: hex size [; extensions] CRLF, data, CRLF; a zero size ends them.
        while p < bytes.count {
            var size = 0
            var digits = 0
            while p < bytes.count, let digit = Self.hexDigit(bytes[p]) {
                guard size < 1 << 40 else { return nil }
                size = size << 4 | Int(digit)
                digits += 1
                p += 1
            }
            guard digits > 0 else { break }
            while p < bytes.count && bytes[p] != 0x0A { p += 1 }
            p += 1
            guard size > 0, p < bytes.count else { break }
            let take = min(size, bytes.count - p)
            guard scratch.append(UnsafeRawBufferPointer(rebasing: bytes[p..<p + take])) else { break }
            p += take + 2
        }
        return scratch.bytes(since: start)
    }

    /// The `valueIndex`-th value of `name` in an url-encoded form, as sent
    /// (not decoded).
    func formParameter(_ name: UnsafeRawBufferPointer, ignoreCase: Bool, in body: UnsafeRawBufferPointer,
                       valueIndex: Int) -> SampleValue {
        var wanted = valueIndex
        var start = 0
        while start < body.count {
            var end = start
            while end < body.count && body[end] != UInt8(ascii: "&") { end += 1 }
            let parameter = body.slice(start, end)
            if parameter.count > name.count, parameter[name.count] == UInt8(ascii: "="),
               ByteMatching.hasPrefix(parameter, name, ignoreCase: ignoreCase) {
                if wanted == 0 { return .bytes(parameter.slice(name.count + 1, parameter.count)) }
                wanted -= 1
            }
            start = end + 1
        }
        return .none
    }
}

extension Worker {
    /// The name of the `Expect` field, lowercase.
    static var expectName: UnsafeRawBufferPointer {
        let name: StaticString = "expect"
        return UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }

    /// Before the rules run: shows them the body bytes read with the head
    /// (`requestEnd` is where the head ends in the client side's buffer).
    mutating func loadRequestBody(_ slot: UInt32, request: RequestHead, requestEnd: Int) {
        let d = sessions.pointer(slot).pointee.toServer
        switch request.framing {
        case .contentLength(let length): rules.requestBodyLength = length
        case .chunked: rules.requestBodyLength = -1
        default: rules.requestBodyLength = 0
        }
        rules.requestBody = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + requestEnd,
                                                   count: rules.requestBodyLength == 0 ? 0 : d.tail - requestEnd)
    }

    /// `option http-buffer-request`: whether the request's head must wait
    /// in the buffer for more of its body. It waits until the body is
    /// whole, the buffer full or the client done sending, within `timeout
    /// http-request`; a client that expects `100 Continue` is told to send.
    mutating func awaitsRequestBody(_ slot: UInt32, request: RequestHead, bodyStart: Int) -> Bool {
        let s = sessions.pointer(slot)
        let d = s.pointee.toServer
        guard d.tail < bufferSize, !d.sourceEOF else { return false }
        let read = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + bodyStart, count: d.tail - bodyStart)
        switch request.framing {
        case .contentLength(let length):
            if Int64(read.count) >= length { return false }
        case .chunked:
            var tracker = BodyTracker(framing: .chunked, message: .request)
            // A malformed body is for the forwarding to refuse.
            guard (try? tracker.advance(read)) != nil, !tracker.isComplete else { return false }
        default:
            return false
        }
        sendContinueIfExpected(slot, request: request)
        return true
    }

    /// Sends `100 Continue` to a client whose request expects it, once, when
    /// nothing else is on its way to it (no earlier pipelined answer).
    mutating func sendContinueIfExpected(_ slot: UInt32, request: RequestHead) {
        let s = sessions.pointer(slot)
        guard request.expectsContinue && !s.pointee.exchange.sentContinue && isFlushed(s.pointee.toClient)
              && s.pointee.toClient.prefix < 0 && longAnswers[slot] == nil else { return }
        s.pointee.exchange.sentContinue = true
        // 25 bytes on a connection with nothing else in flight: they fit in the socket buffer.
        let interim: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
        if let tls = s.pointee.tls {
            _ = try? TLSConnection.write(tls, from: interim.utf8Start, count: interim.utf8CodeUnitCount)
        } else {
            _ = try? Posix.send(s.pointee.clientFD, from: interim.utf8Start, count: interim.utf8CodeUnitCount)
        }
    }
}
