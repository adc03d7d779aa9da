// Numbers with units, as HAProxy writes them: durations (`us ms s m h d`,
// milliseconds by default) and sizes (`k m g`, bytes by default).

enum Units {
    /// The largest duration HAProxy accepts: 2^31-1 ms, about 24.8 days.
    static let maxDurationMs = Int(Int32.max)

    enum DurationError: Error, Equatable {
        case invalid
        case tooLarge
    }

    /// Parses `500`, `500ms`, `5s`, `2m`, `1h`, `1d`, `100us` into
    /// milliseconds. Microseconds round up, so `1us` is 1 ms.
    static func duration(_ text: String) -> Result<Int, DurationError> {
        exactMicroseconds(text).flatMap { micro in
            let ms = micro / 1000 + (micro % 1000 == 0 ? 0 : 1)
            return ms > maxDurationMs ? .failure(.tooLarge) : .success(ms)
        }
    }

    /// Parses a short duration into microseconds, with the units of
    /// `duration` (a bare number is milliseconds); nil when malformed or
    /// beyond `limit` microseconds.
    static func microseconds(_ text: String, limit: Int) -> Int? {
        guard case .success(let micro) = exactMicroseconds(text), micro <= limit else { return nil }
        return micro
    }

    /// A duration as written, in microseconds.
    private static func exactMicroseconds(_ text: String) -> Result<Int, DurationError> {
        let utf8 = Array(text.utf8)
        var i = 0
        var value = 0
        while i < utf8.count, utf8[i] >= UInt8(ascii: "0"), utf8[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(utf8[i] - UInt8(ascii: "0")))
            if o1 || o2 { return .failure(.tooLarge) }
            value = a
            i += 1
        }
        if i == 0 { return .failure(.invalid) }
        let scale: Int
        switch String(decoding: utf8[i...], as: UTF8.self) {
        case "us": scale = 1
        case "", "ms": scale = 1000
        case "s": scale = 1_000_000
        case "m": scale = 60_000_000
        case "h": scale = 3_600_000_000
        case "d": scale = 86_400_000_000
        default: return .failure(.invalid)
        }
        let (micro, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? .failure(.tooLarge) : .success(micro)
    }

    /// Parses `16384`, `16k`, `1m`, `1g` (case-insensitive unit) into bytes.
    static func size(_ text: String) -> Int? {
        let utf8 = Array(text.utf8)
        var i = 0
        var value = 0
        while i < utf8.count, utf8[i] >= UInt8(ascii: "0"), utf8[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(utf8[i] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        if i == 0 { return nil }
        let multiplier: Int
        switch String(decoding: utf8[i...], as: UTF8.self).lowercased() {
        case "": multiplier = 1
        case "k": multiplier = 1 << 10
        case "m": multiplier = 1 << 20
        case "g": multiplier = 1 << 30
        default: return nil
        }
        let (r, o) = value.multipliedReportingOverflow(by: multiplier)
        return o ? nil : r
    }

    /// A plain decimal integer, digits only.
    static func integer(_ text: String) -> Int? {
        if text.isEmpty || text.utf8.count > 18 { return nil }
        for c in text.utf8 where c < UInt8(ascii: "0") || c > UInt8(ascii: "9") { return nil }
        return Int(text)
    }

    /// A dotted version like `2.4.1`, compared component by component.
    static func version(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var out: [Int] = []
        for part in parts {
            // Accept a suffix such as `-dev3` on the last component, as HAProxy's
            // versions have; it does not take part in the comparison.
            let digits = part.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int(digits) else { return nil }
            if digits.count != part.count, part.index(part.startIndex, offsetBy: digits.count) != part.endIndex,
               part[part.index(part.startIndex, offsetBy: digits.count)] != "-" {
                return nil
            }
            out.append(n)
        }
        return out.isEmpty ? nil : out
    }

    /// Compares dotted versions; missing components count as 0.
    static func compareVersions(_ a: [Int], _ b: [Int]) -> Int {
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
}

/// A message for a failed parse of a word, written like a string literal.
struct ParseFailure: Error, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    var text: String

    init(stringLiteral value: String) { text = value }
    init(_ text: String) { self.text = text }
}
