import Glibc
import WeirConfig

extension RuleEngine {
    // MARK: - Type conversions

    /// The value as bytes: integers in decimal and addresses as text, written
    /// to the scratch arena; booleans as `1` or `0`.
    mutating func bytes(of value: SampleValue) -> UnsafeRawBufferPointer? {
        switch value {
        case .none: return nil
        case .bytes(let bytes): return bytes
        case .integer(let n):
            let start = scratch.mark
            guard scratch.append(decimal: n) else { return nil }
            return scratch.bytes(since: start)
        case .address(let ip): return ip.format(into: &scratch)
        case .boolean(let b):
            let text: StaticString = b ? "1" : "0"
            return UnsafeRawBufferPointer(start: text.utf8Start, count: 1)
        }
    }

    func integer(of value: SampleValue) -> Int64? {
        switch value {
        case .none, .address: return nil
        case .bytes(let bytes): return ByteMatching.integer(bytes)
        case .integer(let n): return n
        case .boolean(let b): return b ? 1 : 0
        }
    }

    func address(of value: SampleValue) -> IPValue? {
        switch value {
        case .address(let ip): return ip
        case .bytes(let bytes): return IPValue.parse(bytes)
        default: return nil
        }
    }

    // MARK: - Converters

    mutating func convert(_ value: SampleValue, _ converter: CompiledConverter) -> SampleValue {
        switch converter {
        case .arithmetic, .integerFunction, .concat, .trim, .bytes, .urlEncode, .json, .cutCRLF, .hostOnly, .portOnly,
             .iif, .strcmp, .hash, .digest, .time, .httpDate, .hexToInteger, .base64Decode:
            return convertMore(value, converter)
        case .lower:
            return changeCase(value, lowering: true)
        case .upper:
            return changeCase(value, lowering: false)
        case .map(let map):
            return lookup(value, in: map)
        case .field(let index, let delimiters, let mergesRuns):
            guard let input = bytes(of: value) else { return .none }
            return field(input, index: index, delimiters: delimiters, mergesRuns: mergesRuns).map { .bytes($0) } ?? .none
        case .regsub(let regex, let replacement, let global):
            guard let input = bytes(of: value) else { return .none }
            return substitute(regex, in: input, replacement: replacement, global: global).map { .bytes($0) } ?? .none
        case .base64:
            guard let input = bytes(of: value) else { return .none }
            return base64Encode(input).map { .bytes($0) } ?? .none
        case .hex:
            guard let input = bytes(of: value), let out = scratch.reserve(input.count * 2) else { return .none }
            let digits: StaticString = "0123456789ABCDEF"
            for i in 0..<input.count {
                out.storeBytes(of: digits.utf8Start[Int(input[i] >> 4)], toByteOffset: 2 * i, as: UInt8.self)
                out.storeBytes(of: digits.utf8Start[Int(input[i] & 15)], toByteOffset: 2 * i + 1, as: UInt8.self)
            }
            return .bytes(UnsafeRawBufferPointer(start: out, count: input.count * 2))
        case .ipmask(let v4, let v6):
            guard let ip = address(of: value) else { return .none }
            if ip.isV6 {
                guard let v6 else { return .address(ip) }
                return .address(ip.masked(v6))
            }
            return .address(ip.masked(v4))
        case .urlDecode:
            guard let input = bytes(of: value), let out = scratch.reserve(input.count) else { return .none }
            var n = 0
            var i = 0
            while i < input.count {
                if input[i] == UInt8(ascii: "%"), i + 2 < input.count,
                   let high = Self.hexDigit(input[i + 1]), let low = Self.hexDigit(input[i + 2]) {
                    out.storeBytes(of: high << 4 | low, toByteOffset: n, as: UInt8.self)
                    i += 3
                } else {
                    out.storeBytes(of: input[i], toByteOffset: n, as: UInt8.self)
                    i += 1
                }
                n += 1
            }
            scratch.rewind(to: scratch.mark - (input.count - n))
            return .bytes(UnsafeRawBufferPointer(start: out, count: n))
        case .length:
            guard let input = bytes(of: value) else { return .none }
            return .integer(Int64(input.count))
        }
    }

    private mutating func changeCase(_ value: SampleValue, lowering: Bool) -> SampleValue {
        guard let input = bytes(of: value), let out = scratch.reserve(input.count) else { return .none }
        for i in 0..<input.count {
            let byte = input[i]
            let changed = lowering ? ByteMatching.lower(byte) : (byte &- 0x61 < 26 ? byte & ~0x20 : byte)
            out.storeBytes(of: changed, toByteOffset: i, as: UInt8.self)
        }
        return .bytes(UnsafeRawBufferPointer(start: out, count: input.count))
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        if byte &- UInt8(ascii: "0") < 10 { return byte &- UInt8(ascii: "0") }
        let letter = byte | 0x20
        if letter &- UInt8(ascii: "a") < 6 { return letter &- UInt8(ascii: "a") &+ 10 }
        return nil
    }

    /// The `index`-th field (1-based; negative counts from the end) between
    /// any of the delimiter bytes. With `mergesRuns` (`word`), runs of
    /// delimiters separate like one and leading or trailing ones are ignored.
    private func field(_ input: UnsafeRawBufferPointer, index: Int, delimiters: UnsafeRawBufferPointer,
                       mergesRuns: Bool) -> UnsafeRawBufferPointer? {
        func isDelimiter(_ byte: UInt8) -> Bool { delimiters.contains(byte) }
        // Field boundaries, walked forward or backward.
        var count = 0
        if index > 0 {
            var start = 0
            var i = 0
            while i <= input.count {
                if i == input.count || isDelimiter(input[i]) {
                    if !(mergesRuns && i == start) {
                        count += 1
                        if count == index { return input.slice(start, i) }
                    }
                    start = i + 1
                }
                i += 1
            }
            return nil
        }
        var end = input.count
        var i = input.count - 1
        while i >= -1 {
            if i == -1 || isDelimiter(input[i]) {
                if !(mergesRuns && i + 1 == end) {
                    count += 1
                    if count == -index { return input.slice(i + 1, end) }
                }
                end = i
            }
            i -= 1
        }
        return nil
    }

    /// `regsub`: each match (the first only, without `global`) replaced by
    /// `replacement`, in which `\1`…`\9` stand for the match's groups.
    mutating func substitute(_ regex: CompiledRegex, in input: UnsafeRawBufferPointer,
                             replacement: UnsafeRawBufferPointer, global: Bool) -> UnsafeRawBufferPointer? {
        let start = scratch.mark
        var position = 0
        var copied = 0
        let groupCount = min(regex.groupCount + 1, Self.regexGroupCount)
        while position <= input.count,
              regex.firstMatch(input, from: position, groups: regexGroups, count: groupCount) {
            let matchStart = Int(regexGroups[0].rm_so)
            let matchEnd = Int(regexGroups[0].rm_eo)
            guard scratch.append(input.slice(copied, matchStart)),
                  appendExpanded(replacement, source: input, groupCount: groupCount) else {
                scratch.rewind(to: start)
                return nil
            }
            copied = matchEnd
            if !global { break }
            if matchEnd == matchStart {
                // An empty match: keep the next byte and search after it.
                if matchEnd < input.count && !scratch.append(input[matchEnd]) {
                    scratch.rewind(to: start)
                    return nil
                }
                copied = matchEnd + 1
                position = matchEnd + 1
            } else {
                position = matchEnd
            }
        }
        guard copied >= input.count || scratch.append(input.slice(copied, input.count)) else {
            scratch.rewind(to: start)
            return nil
        }
        return scratch.bytes(since: start)
    }

    /// Appends `template` to the scratch arena with `\N` replaced by group N
    /// of the last match over `source`.
    mutating func appendExpanded(_ template: UnsafeRawBufferPointer, source: UnsafeRawBufferPointer,
                                 groupCount: Int) -> Bool {
        var i = 0
        while i < template.count {
            let byte = template[i]
            if byte == UInt8(ascii: "\\"), i + 1 < template.count, template[i + 1] &- UInt8(ascii: "0") < 10 {
                let group = Int(template[i + 1] &- UInt8(ascii: "0"))
                if group < groupCount, regexGroups[group].rm_so >= 0 {
                    guard scratch.append(source.slice(Int(regexGroups[group].rm_so), Int(regexGroups[group].rm_eo))) else {
                        return false
                    }
                }
                i += 2
                continue
            }
            guard scratch.append(byte) else { return false }
            i += 1
        }
        return true
    }

    private mutating func base64Encode(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let length = (input.count + 2) / 3 * 4
        guard let out = scratch.reserve(length) else { return nil }
        var o = 0
        var i = 0
        while i < input.count {
            let b0 = UInt32(input[i])
            let b1 = i + 1 < input.count ? UInt32(input[i + 1]) : 0
            let b2 = i + 2 < input.count ? UInt32(input[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            for k in 0..<4 {
                let available = k < 2 || (k == 2 ? i + 1 < input.count : i + 2 < input.count)
                let byte = available ? alphabet.utf8Start[Int(triple >> UInt32(18 - 6 * k) & 63)] : UInt8(ascii: "=")
                out.storeBytes(of: byte, toByteOffset: o + k, as: UInt8.self)
            }
            o += 4
            i += 3
        }
        return UnsafeRawBufferPointer(start: out, count: length)
    }

    /// Decodes base64 (standard alphabet, padding optional) into the scratch
    /// arena; nil when it is not base64.
    mutating func base64Decode(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let out = scratch.reserve(input.count / 4 * 3 + 3) else { return nil }
        let start = scratch.mark - (input.count / 4 * 3 + 3)
        var accumulator: UInt32 = 0
        var bits = 0
        var n = 0
        for byte in input {
            let sextet: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): sextet = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): sextet = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sextet = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): sextet = 62
            case UInt8(ascii: "/"): sextet = 63
            case UInt8(ascii: "="): continue
            default:
                scratch.rewind(to: start)
                return nil
            }
            accumulator = accumulator << 6 | sextet
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.storeBytes(of: UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)), toByteOffset: n, as: UInt8.self)
                n += 1
            }
        }
        scratch.rewind(to: start + n)
        return UnsafeRawBufferPointer(start: out, count: n)
    }

    // MARK: - Maps

    private mutating func lookup(_ value: SampleValue, in map: CompiledMap) -> SampleValue {
        var found: Int?
        switch map.method {
        case .int:
            guard let n = integer(of: value) else { return defaultOf(map) }
            found = map.integers.firstIndex(of: n)
        case .ip:
            guard let ip = address(of: value) else { return defaultOf(map) }
            // The most specific network wins.
            var best = -1
            for (i, network) in map.networks.enumerated() where network.contains(ip) {
                if best < 0 || network.prefixLength > map.networks[best].prefixLength { best = i }
            }
            found = best >= 0 ? best : nil
        default:
            guard let key = bytes(of: value) else { return defaultOf(map) }
            switch map.method {
            case .str:
                found = ByteMatching.binarySearch(key, in: map.keys, ignoreCase: false)
            case .reg:
                found = map.regexes.firstIndex { $0.matches(key) }
            default:
                for i in 0..<map.keys.count where Self.matches(key, map.keys[i], method: map.method, ignoreCase: false) {
                    found = i
                    break
                }
            }
        }
        if let found { return .bytes(map.values[found]) }
        return defaultOf(map)
    }

    private func defaultOf(_ map: CompiledMap) -> SampleValue {
        map.defaultValue.map { .bytes($0) } ?? .none
    }

    /// The string match methods, for one pattern.
    static func matches(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, method: MatchMethod,
                        ignoreCase: Bool) -> Bool {
        switch method {
        case .str: return ByteMatching.equal(sample, pattern, ignoreCase: ignoreCase)
        case .beg: return ByteMatching.hasPrefix(sample, pattern, ignoreCase: ignoreCase)
        case .end: return ByteMatching.hasSuffix(sample, pattern, ignoreCase: ignoreCase)
        case .sub: return ByteMatching.find(pattern, in: sample, ignoreCase: ignoreCase) != nil
        case .dom: return ByteMatching.containsWord(sample, pattern, delimiter: UInt8(ascii: "."), ignoreCase: ignoreCase)
        case .dir: return ByteMatching.containsWord(sample, pattern, delimiter: UInt8(ascii: "/"), ignoreCase: ignoreCase)
        default: return false
        }
    }
}
