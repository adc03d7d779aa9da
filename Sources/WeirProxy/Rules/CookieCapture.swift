import WeirConfig

// `capture cookie NAME len N`: the first request cookie and the first
// response `Set-Cookie` whose `name=value` begins with NAME (HAProxy's
// `http_manage_client_side_cookies` and `…_server_side_cookies`), kept in
// two capture slots for `%CC` and `%CS`.

/// A frontend's `capture cookie`, compiled.
struct CompiledCookieCapture {
    /// The prefix a cookie's `name=value` must begin with (case-sensitive).
    let prefix: UnsafeRawBufferPointer
    let requestSlot: CaptureSlot
    let responseSlot: CaptureSlot
}

extension RuleCompiler {
    mutating func cookieCapture(_ capture: HeaderCapture) -> CompiledCookieCapture {
        CompiledCookieCapture(prefix: constants.intern(capture.name), requestSlot: newCaptureSlot(length: capture.length),
                              responseSlot: newCaptureSlot(length: capture.length))
    }
}

extension RuleEngine {
    /// `%CC`: in the request's `Cookie` fields, the first `name=value` that
    /// begins with the prefix.
    mutating func captureRequestCookie(_ capture: CompiledCookieCapture) {
        for i in 0..<fieldCount where ByteMatching.equal(fields[i].name, Self.cookieName, ignoreCase: true) {
            let value = fields[i].value
            var start = 0
            while start < value.count {
                var end = start
                while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
                if let pair = Self.capturablePair(value, start, end, capture.prefix) {
                    sessions.capture(input.slot, capture.requestSlot, pair)
                    return
                }
                start = end + 1
            }
        }
    }

    /// `%CS`: the first response `Set-Cookie` whose `name=value` begins with
    /// the prefix; its attributes are not kept.
    mutating func captureResponseCookie(_ capture: CompiledCookieCapture) {
        for i in 0..<fieldCount where ByteMatching.equal(fields[i].name, Self.setCookieName, ignoreCase: true) {
            let value = fields[i].value
            var end = 0
            while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
            if let pair = Self.capturablePair(value, 0, end, capture.prefix) {
                sessions.capture(input.slot, capture.responseSlot, pair)
                return
            }
        }
    }

    /// `value[start..<end]` without surrounding blanks, when it begins with `prefix`.
    private static func capturablePair(_ value: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
                                       _ prefix: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var start = start
        var end = end
        while start < end && (value[start] == 32 || value[start] == 9) { start += 1 }
        while end > start && (value[end - 1] == 32 || value[end - 1] == 9) { end -= 1 }
        guard end - start >= prefix.count, prefix.count > 0 else { return nil }
        let pair = UnsafeRawBufferPointer(rebasing: value[start..<end])
        guard ByteMatching.equal(UnsafeRawBufferPointer(rebasing: pair[0..<prefix.count]), prefix, ignoreCase: false) else {
            return nil
        }
        return pair
    }

    private static let cookieText: StaticString = "cookie"
    private static let setCookieText: StaticString = "set-cookie"
    private static var cookieName: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: cookieText.utf8Start, count: cookieText.utf8CodeUnitCount)
    }
    private static var setCookieName: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: setCookieText.utf8Start, count: setCookieText.utf8CodeUnitCount)
    }
}
