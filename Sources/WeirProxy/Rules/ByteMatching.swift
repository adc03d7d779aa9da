import Glibc

/// Comparisons over byte views, as ACLs and maps need them. When
/// `ignoreCase` is set the pattern is already lowercase (it was lowered when
/// the rules were compiled) and only the sample is folded, byte by byte.
enum ByteMatching {
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    @inline(__always)
    static func same(_ a: UInt8, _ pattern: UInt8, ignoreCase: Bool) -> Bool {
        ignoreCase ? lower(a) == pattern : a == pattern
    }

    static func equal(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, ignoreCase: Bool) -> Bool {
        let count = sample.count
        guard count == pattern.count else { return false }
        guard count > 0, let s = sample.baseAddress, let p = pattern.baseAddress else { return true }
        if !ignoreCase {
            // Short patterns (a path prefix, a method) without a call: two
            // overlapping 4-byte words, or the bytes.
            if count >= 8 { return memcmp(s, p, count) == 0 }
            if count >= 4 {
                return s.loadUnaligned(as: UInt32.self) == p.loadUnaligned(as: UInt32.self)
                    && s.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
                        == p.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
            }
            for i in 0..<count where s.load(fromByteOffset: i, as: UInt8.self) != p.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        }
        if count < 8 {
            for i in 0..<count where lower(s.load(fromByteOffset: i, as: UInt8.self)) != p.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        }
        // Eight bytes at a time, the last word overlapping the one before.
        var i = 0
        while true {
            if i &+ 8 > count { i = count &- 8 }
            guard lowered(s.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    == p.loadUnaligned(fromByteOffset: i, as: UInt64.self) else { return false }
            i &+= 8
            if i >= count { return true }
        }
    }

    /// Each byte of `word` lowercased (`A`–`Z` only), as `lower` does one:
    /// a byte from `A` (adding 0x3F sets its high bit) and not past `Z`
    /// (adding 0x25 does not), below 0x80, gets 0x20. No sum carries into
    /// the next byte.
    @inline(__always)
    static func lowered(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low = word & (ones &* 0x7F)
        let upper = (low &+ ones &* 0x3F) & ~(low &+ ones &* 0x25) & ~word & (ones &* 0x80)
        return word | upper &>> 2
    }

    @inline(__always)
    static func hasPrefix(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, ignoreCase: Bool) -> Bool {
        guard pattern.count <= sample.count else { return false }
        return equal(UnsafeRawBufferPointer(rebasing: sample[0..<pattern.count]), pattern, ignoreCase: ignoreCase)
    }

    static func hasSuffix(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, ignoreCase: Bool) -> Bool {
        guard pattern.count <= sample.count else { return false }
        return equal(UnsafeRawBufferPointer(rebasing: sample[(sample.count - pattern.count)...]), pattern,
                     ignoreCase: ignoreCase)
    }

    /// Offset of the first occurrence of `pattern` at or after `from`, or nil.
    static func find(_ pattern: UnsafeRawBufferPointer, in sample: UnsafeRawBufferPointer, from: Int = 0,
                     ignoreCase: Bool) -> Int? {
        guard pattern.count > 0 else { return from <= sample.count ? from : nil }
        var i = from
        let last = sample.count - pattern.count
        while i <= last {
            if same(sample[i], pattern[0], ignoreCase: ignoreCase) {
                var j = 1
                while j < pattern.count && same(sample[i + j], pattern[j], ignoreCase: ignoreCase) { j += 1 }
                if j == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// HAProxy's `dom` and `dir` matches: `pattern`, without the delimiters
    /// at its ends, appears in `sample` between delimiters (or the sample's
    /// ends). For `dir`, a `?` also ends a word, so a query string does not
    /// hide the last directory.
    static func containsWord(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, delimiter: UInt8,
                             ignoreCase: Bool) -> Bool {
        var start = 0
        var end = pattern.count
        while start < end && pattern[start] == delimiter { start += 1 }
        while end > start && pattern[end - 1] == delimiter { end -= 1 }
        guard end > start else { return false }
        let word = UnsafeRawBufferPointer(rebasing: pattern[start..<end])
        func isBoundary(_ byte: UInt8) -> Bool { byte == delimiter || (delimiter == UInt8(ascii: "/") && byte == UInt8(ascii: "?")) }
        var from = 0
        while let at = find(word, in: sample, from: from, ignoreCase: ignoreCase) {
            let before = at == 0 || isBoundary(sample[at - 1])
            let after = at + word.count == sample.count || isBoundary(sample[at + word.count])
            if before && after { return true }
            from = at + 1
        }
        return false
    }

    /// Orders a sample against a pattern (folding the sample when
    /// `ignoreCase`), for binary searches over sorted patterns.
    static func compare(_ sample: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, ignoreCase: Bool) -> Int {
        let n = min(sample.count, pattern.count)
        for i in 0..<n {
            let a = ignoreCase ? lower(sample[i]) : sample[i]
            let b = pattern[i]
            if a != b { return a < b ? -1 : 1 }
        }
        return sample.count == pattern.count ? 0 : (sample.count < pattern.count ? -1 : 1)
    }

    /// Index of an element of `sorted` equal to `sample`, or nil.
    static func binarySearch(_ sample: UnsafeRawBufferPointer, in sorted: [UnsafeRawBufferPointer],
                             ignoreCase: Bool) -> Int? {
        var low = 0
        var high = sorted.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let order = compare(sample, sorted[middle], ignoreCase: ignoreCase)
            if order == 0 { return middle }
            if order < 0 { high = middle - 1 } else { low = middle + 1 }
        }
        return nil
    }

    /// A signed decimal number at the start of `bytes` (after blanks); digits
    /// after it end the number, as HAProxy reads integers from strings. nil
    /// when no digit comes first or it overflows.
    static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        while i < bytes.count && (bytes[i] == 32 || bytes[i] == 9) { i += 1 }
        var negative = false
        if i < bytes.count && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        let digitsStart = i
        var value: Int64 = 0
        while i < bytes.count, bytes[i] &- UInt8(ascii: "0") < 10 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(bytes[i] &- UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        guard i > digitsStart else { return nil }
        return negative ? -value : value
    }
}
