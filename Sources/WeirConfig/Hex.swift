/// Hexadecimal digits to bytes and back, for configuration patterns
/// (`binary`, `send-binary`, `\x` escapes), stick-table keys and the
/// control channel; none of it runs per request.
public enum Hex {
    /// The value of one hexadecimal digit, either case.
    public static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The bytes of an even number of hexadecimal digits (none for an empty text).
    public static func bytes<S: Sequence>(_ digits: S) -> [UInt8]? where S.Element == UInt8 {
        let digits = Array(digits)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for k in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[k]), let low = value(digits[k + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// Two digits a byte.
    public static func digits<S: Sequence>(_ bytes: S, uppercase: Bool) -> [UInt8] where S.Element == UInt8 {
        let table = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 15)])
        }
        return out
    }
}
