import Glibc

/// A POSIX extended regular expression compiled once (`regcomp`) and run
/// over byte views with `REG_STARTEND`: no String, no NUL-terminated copy.
final class CompiledRegex {
    private let regex: UnsafeMutablePointer<regex_t>
    /// How many `(…)` groups the expression has.
    let groupCount: Int

    /// nil when the expression does not compile (the configuration checked it).
    init?(_ pattern: String, ignoreCase: Bool, capturing: Bool) {
        regex = .allocate(capacity: 1)
        regex.initialize(to: regex_t())
        let flags = REG_EXTENDED | (ignoreCase ? REG_ICASE : 0) | (capturing ? 0 : REG_NOSUB)
        guard regcomp(regex, pattern, flags) == 0 else {
            regex.deallocate()
            return nil
        }
        groupCount = Int(regex.pointee.re_nsub)
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    /// Whether the expression matches somewhere in `bytes`.
    func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var range = regmatch_t(rm_so: 0, rm_eo: regoff_t(bytes.count))
        return withBase(bytes) { regexec(regex, $0, 1, &range, REG_STARTEND) == 0 }
    }

    /// Finds the first match in `bytes` at or after `from`; `groups` (at
    /// least `count` entries) receives the whole match then each group, as
    /// offsets into `bytes` (-1 for a group that did not take part). A `^`
    /// only matches at the very start of `bytes`.
    func firstMatch(_ bytes: UnsafeRawBufferPointer, from: Int, groups: UnsafeMutablePointer<regmatch_t>,
                    count: Int) -> Bool {
        groups[0] = regmatch_t(rm_so: regoff_t(from), rm_eo: regoff_t(bytes.count))
        return withBase(bytes) { regexec(regex, $0, count, groups, REG_STARTEND) == 0 }
    }

    private func withBase(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> Bool) -> Bool {
        if let base = bytes.baseAddress { return body(base.assumingMemoryBound(to: CChar.self)) }
        var empty: CChar = 0
        return body(&empty)
    }
}
