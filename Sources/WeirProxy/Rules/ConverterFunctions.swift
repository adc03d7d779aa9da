import Glibc
import WeirBalance
import WeirConfig
import WeirTLS

// The arithmetic, string, hash and date converters. Results that are new
// bytes are written to the scratch arena, like the other converters'.

extension RuleEngine {
    mutating func convertMore(_ value: SampleValue, _ converter: CompiledConverter) -> SampleValue {
        switch converter {
        case .arithmetic(let op, let operand):
            guard let left = integer(of: value), let right = integer(of: operand) else { return .none }
            return .integer(Self.apply(op, left, right))
        case .integerFunction(let function):
            guard let n = integer(of: value) else { return .none }
            switch function {
            case .neg: return .integer(0 &- n)
            case .cpl: return .integer(~n)
            case .bool: return .boolean(n != 0)
            case .not: return .boolean(n == 0)
            case .odd: return .boolean(n & 1 == 1)
            case .even: return .boolean(n & 1 == 0)
            }
        case .concat(let prefix, let variable, let suffix):
            guard let text = bytes(of: value) else { return .none }
            // The variable's bytes first: an integer is written to the arena.
            var middle: UnsafeRawBufferPointer?
            if let variable { middle = bytes(of: sessions.value(input.slot, variable)) }
            let start = scratch.mark
            guard scratch.append(prefix), scratch.append(text), scratch.append(middle ?? UnsafeRawBufferPointer(start: nil, count: 0)),
                  scratch.append(suffix) else {
                scratch.rewind(to: start)
                return .none
            }
            return .bytes(scratch.bytes(since: start))
        case .trim(let characters, let leading):
            guard let input = bytes(of: value) else { return .none }
            var start = 0
            var end = input.count
            if leading {
                while start < end && characters.contains(input[start]) { start += 1 }
            } else {
                while end > start && characters.contains(input[end - 1]) { end -= 1 }
            }
            return .bytes(input.slice(start, end))
        case .bytes(let offset, let length):
            guard let input = bytes(of: value) else { return .none }
            let start = min(offset, input.count)
            let end = length.map { min(input.count, start + $0) } ?? input.count
            return .bytes(input.slice(start, end))
        case .urlEncode:
            guard let input = bytes(of: value) else { return .none }
            return percentEncode(input).map { .bytes($0) } ?? .none
        case .json(let mode):
            guard let input = bytes(of: value) else { return .none }
            return jsonEscape(input, mode: mode).map { .bytes($0) } ?? .none
        case .cutCRLF:
            guard let input = bytes(of: value) else { return .none }
            var end = 0
            while end < input.count && input[end] != 0x0D && input[end] != 0x0A { end += 1 }
            return .bytes(input.slice(0, end))
        case .hostOnly:
            guard let input = bytes(of: value) else { return .none }
            return .bytes(input.slice(0, Self.portColon(input) ?? input.count))
        case .portOnly:
            guard let input = bytes(of: value) else { return .none }
            guard let colon = Self.portColon(input) else { return .integer(0) }
            return .integer(ByteMatching.integer(input.slice(colon + 1, input.count)) ?? 0)
        case .iif(let yes, let no):
            switch value {
            case .none: return .none
            case .boolean(let b): return .bytes(b ? yes : no)
            case .integer(let n): return .bytes(n != 0 ? yes : no)
            // Text is true when it reads as a non-zero integer, or is not empty and no integer.
            case .bytes(let b): return .bytes((ByteMatching.integer(b).map { $0 != 0 } ?? !b.isEmpty) ? yes : no)
            case .address: return .bytes(yes)
            }
        case .strcmp(let variable):
            guard let text = bytes(of: value), let other = bytes(of: sessions.value(input.slot, variable)) else {
                return .none
            }
            let common = min(text.count, other.count)
            let order = common == 0 ? 0 : memcmp(text.baseAddress!, other.baseAddress!, common)
            if order != 0 { return .integer(order < 0 ? -1 : 1) }
            return .integer(text.count == other.count ? 0 : (text.count < other.count ? -1 : 1))
        case .hash(let function, let avalanche):
            guard let input = bytes(of: value) else { return .none }
            return .integer(Int64(KeyHash.hash(input, function: function, avalanche: avalanche)))
        case .digest(let bits):
            guard let input = bytes(of: value) else { return .none }
            let start = scratch.mark
            guard let out = scratch.reserve(MessageDigest.maximumSize) else { return .none }
            let size = MessageDigest.compute(bits: bits, input, into: out)
            scratch.rewind(to: start + size)
            return size > 0 ? .bytes(scratch.bytes(since: start)) : .none
        case .time(let format, let offset, let utc):
            guard let seconds = integer(of: value) else { return .none }
            var clock = time_t(seconds &+ Int64(offset))
            var parts = tm()
            guard (utc ? gmtime_r(&clock, &parts) : localtime_r(&clock, &parts)) != nil else { return .none }
            let start = scratch.mark
            let room = min(256, scratch.capacity - start)
            guard room > 0, let out = scratch.reserve(room) else { return .none }
            let count = strftime(out.assumingMemoryBound(to: CChar.self), room, format, &parts)
            scratch.rewind(to: start + count)
            return .bytes(scratch.bytes(since: start))
        case .httpDate(let offset, let perSecond):
            guard let units = integer(of: value) else { return .none }
            return httpDate(units / perSecond &+ offset).map { .bytes($0) } ?? .none
        case .hexToInteger:
            guard let input = bytes(of: value) else { return .none }
            var n: UInt64 = 0
            for byte in input {
                guard let digit = Self.hexDigit(byte) else { return .integer(0) }
                n = n << 4 | UInt64(digit)
            }
            return .integer(Int64(bitPattern: n))
        case .base64Decode:
            guard let input = bytes(of: value) else { return .none }
            return base64Decode(input).map { .bytes($0) } ?? .none
        default:
            return .none
        }
    }

    private func integer(of operand: CompiledOperand) -> Int64? {
        switch operand {
        case .integer(let n): return n
        case .variable(let slot): return integer(of: sessions.value(input.slot, slot))
        }
    }

    /// HAProxy's rules: a division by zero gives the largest integer, a
    /// modulo by zero 0; everything wraps rather than traps.
    static func apply(_ op: ArithmeticOperator, _ a: Int64, _ b: Int64) -> Int64 {
        switch op {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return a &* b
        case .div:
            if b == 0 { return .max }
            return b == -1 ? 0 &- a : a / b
        case .mod:
            if b == 0 || b == -1 { return 0 }
            return a % b
        case .and: return a & b
        case .or: return a | b
        case .xor: return a ^ b
        }
    }

    /// Where the port's colon is in a `host[:port]` value (an IPv6 literal
    /// in brackets keeps its colons).
    private static func portColon(_ value: UnsafeRawBufferPointer) -> Int? {
        var i = value.count - 1
        while i >= 0 {
            switch value[i] {
            case UInt8(ascii: ":"): return i
            case UInt8(ascii: "]"): return nil
            default: i -= 1
            }
        }
        return nil
    }

    /// Percent-encodes every byte but letters, digits and `-._~!$'()*`.
    private mutating func percentEncode(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let start = scratch.mark
        let digits: StaticString = "0123456789ABCDEF"
        for byte in input {
            let plain: Bool = switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
                 UInt8(ascii: "$"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"): true
            default: false
            }
            let ok = plain ? scratch.append(byte)
                : scratch.append(UInt8(ascii: "%")) && scratch.append(digits.utf8Start[Int(byte >> 4)])
                    && scratch.append(digits.utf8Start[Int(byte & 15)])
            guard ok else {
                scratch.rewind(to: start)
                return nil
            }
        }
        return scratch.bytes(since: start)
    }

    /// Escapes for a JSON string: `"`, `\`, `/`, the control characters,
    /// and every code point above 126 as `\uXXXX` (UTF-16 surrogates past
    /// U+FFFF). Invalid UTF-8: the sample is dropped (`utf8`), the byte
    /// skipped (`utf8s`), or the byte taken as Latin-1 (`utf8p`, `utf8ps`);
    /// with `ascii` every byte is a character.
    private mutating func jsonEscape(_ input: UnsafeRawBufferPointer, mode: JSONInput) -> UnsafeRawBufferPointer? {
        let start = scratch.mark
        var i = 0
        var ok = true
        while i < input.count && ok {
            var scalar = UInt32(input[i])
            var length = 1
            if scalar >= 0x80 && mode != .ascii {
                if let (decoded, n) = Self.utf8Scalar(input, at: i) {
                    scalar = decoded
                    length = n
                } else if mode == .utf8 {
                    scratch.rewind(to: start)
                    return nil
                } else if mode == .utf8s {
                    i += 1
                    continue
                }
            }
            i += length
            switch scalar {
            case 0x22: ok = scratch.append("\\\"")
            case 0x5C: ok = scratch.append("\\\\")
            case 0x2F: ok = scratch.append("\\/")
            case 0x08: ok = scratch.append("\\b")
            case 0x0C: ok = scratch.append("\\f")
            case 0x0A: ok = scratch.append("\\n")
            case 0x0D: ok = scratch.append("\\r")
            case 0x09: ok = scratch.append("\\t")
            case 0x20...0x7E: ok = scratch.append(UInt8(scalar))
            case 0x10000...:
                let v = scalar - 0x10000
                ok = appendUnicodeEscape(0xD800 + (v >> 10)) && appendUnicodeEscape(0xDC00 + (v & 0x3FF))
            default: ok = appendUnicodeEscape(scalar)
            }
        }
        guard ok else {
            scratch.rewind(to: start)
            return nil
        }
        return scratch.bytes(since: start)
    }

    private mutating func appendUnicodeEscape(_ unit: UInt32) -> Bool {
        let digits: StaticString = "0123456789abcdef"
        guard scratch.append("\\u") else { return false }
        for shift in stride(from: 12, through: 0, by: -4) {
            guard scratch.append(digits.utf8Start[Int((unit >> UInt32(shift)) & 15)]) else { return false }
        }
        return true
    }

    /// The code point of a well-formed UTF-8 sequence of 2 to 4 bytes at
    /// `i`, and its length.
    private static func utf8Scalar(_ bytes: UnsafeRawBufferPointer, at i: Int) -> (UInt32, Int)? {
        let lead = bytes[i]
        let (length, initial, minimum): (Int, UInt32, UInt32) = switch lead {
        case 0xC2...0xDF: (2, UInt32(lead & 0x1F), 0x80)
        case 0xE0...0xEF: (3, UInt32(lead & 0x0F), 0x800)
        case 0xF0...0xF4: (4, UInt32(lead & 0x07), 0x10000)
        default: (0, 0, 0)
        }
        guard length > 0, i + length <= bytes.count else { return nil }
        var scalar = initial
        for k in 1..<length {
            let byte = bytes[i + k]
            guard byte & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return nil }
        return (scalar, length)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`, with English names whatever the locale.
    private mutating func httpDate(_ seconds: Int64) -> UnsafeRawBufferPointer? {
        var clock = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&clock, &parts) != nil else { return nil }
        let days: StaticString = "SunMonTueWedThuFriSat"
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        let start = scratch.mark
        func name(_ table: StaticString, _ index: Int32) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: table.utf8Start + Int(index) * 3, count: 3)
        }
        func twoDigits(_ n: Int32) -> Bool {
            scratch.append(UInt8(48 + n / 10)) && scratch.append(UInt8(48 + n % 10))
        }
        let ok = scratch.append(name(days, parts.tm_wday)) && scratch.append(", ") && twoDigits(parts.tm_mday)
            && scratch.append(" ") && scratch.append(name(months, parts.tm_mon)) && scratch.append(" ")
            && scratch.append(decimal: Int64(parts.tm_year) + 1900) && scratch.append(" ") && twoDigits(parts.tm_hour)
            && scratch.append(":") && twoDigits(parts.tm_min) && scratch.append(":") && twoDigits(parts.tm_sec)
            && scratch.append(" GMT")
        guard ok else {
            scratch.rewind(to: start)
            return nil
        }
        return scratch.bytes(since: start)
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the byte is one of these.
    fileprivate func contains(_ byte: UInt8) -> Bool {
        for b in self where b == byte { return true }
        return false
    }
}

extension RuleEngine {
    /// A random (version 4) UUID in its text form, in the scratch arena.
    mutating func randomUUID() -> UnsafeRawBufferPointer? {
        var random = SystemRandomNumberGenerator()
        let high = random.next() & ~0xF000 | 0x4000
        let low = random.next() & ~(3 << 62) | (2 << 62)
        let digits: StaticString = "0123456789abcdef"
        let start = scratch.mark
        guard let out = scratch.reserve(36) else { return nil }
        var o = 0
        for digit in 0..<32 {
            if digit == 8 || digit == 12 || digit == 16 || digit == 20 {
                out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: o, as: UInt8.self)
                o += 1
            }
            let word = digit < 16 ? high : low
            let nibble = Int((word >> UInt64(60 - 4 * (digit % 16))) & 15)
            out.storeBytes(of: digits.utf8Start[nibble], toByteOffset: o, as: UInt8.self)
            o += 1
        }
        return scratch.bytes(since: start)
    }
}
