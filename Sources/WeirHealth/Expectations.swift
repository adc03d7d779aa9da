import Glibc
import WeirConfig

/// A POSIX extended regular expression for `rstring`/`rstatus`, compiled
/// once when the checker starts (the configuration already validated it).
final class CheckRegex: @unchecked Sendable {
    private let regex: UnsafeMutablePointer<regex_t>

    init?(_ pattern: String) {
        regex = .allocate(capacity: 1)
        regex.initialize(to: regex_t())
        guard regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB) == 0 else {
            regex.deallocate()
            return nil
        }
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    func matches(_ bytes: [UInt8]) -> Bool {
        var range = regmatch_t(rm_so: 0, rm_eo: regoff_t(bytes.count))
        return bytes.withUnsafeBufferPointer { p in
            var empty: CChar = 0
            guard let base = p.baseAddress else { return regexec(regex, &empty, 1, &range, REG_STARTEND) == 0 }
            return base.withMemoryRebound(to: CChar.self, capacity: max(1, p.count)) {
                regexec(regex, $0, 1, &range, REG_STARTEND) == 0
            }
        }
    }
}

/// One expectation ready to run.
struct Expectation: @unchecked Sendable {
    let rule: CheckExpect
    let regex: CheckRegex?

    init(_ rule: CheckExpect) {
        self.rule = rule
        switch rule.kind {
        case .regex(let pattern), .statusRegex(let pattern), .binaryRegex(let pattern): regex = CheckRegex(pattern)
        default: regex = nil
        }
    }

    /// Whether the pattern is found in `data` (the negation not applied).
    func found(in data: [UInt8]) -> Bool {
        switch rule.kind {
        case .string(let needle), .binary(let needle): return Expectation.contains(data, needle)
        case .regex, .statusRegex: return regex?.matches(data) ?? false
        case .binaryRegex: return regex?.matches(Hex.digits(data, uppercase: true)) ?? false
        case .status: return false
        }
    }

    /// Whether a status code matches (the negation not applied).
    func statusMatches(_ code: Int) -> Bool {
        switch rule.kind {
        case .status(let ranges): return ranges.contains { $0.contains(code) }
        case .statusRegex: return regex?.matches(Array(String(code).utf8)) ?? false
        default: return false
        }
    }

    var isStatus: Bool {
        switch rule.kind {
        case .status, .statusRegex: return true
        default: return false
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var k = 1
                while k < needle.count && haystack[i + k] == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
