import WeirConfig

extension RuleEngine {
    /// Whether `condition` holds for the message being analysed: an OR of
    /// AND-groups of (possibly negated) ACL terms, inverted by `unless`.
    mutating func evaluate(_ condition: CompiledCondition) -> Bool {
        if let constant = condition.constant { return constant }
        var holds = false
        for group in condition.alternatives {
            var all = true
            for term in group where !termHolds(term) {
                all = false
                break
            }
            if all {
                holds = true
                break
            }
        }
        return holds != condition.negated
    }

    /// A term holds when any line of its ACL matches (or none does, when negated).
    private mutating func termHolds(_ term: CompiledTerm) -> Bool {
        var matched = false
        for acl in term.acls where matches(acl) {
            matched = true
            break
        }
        return matched != term.negated
    }

    /// Whether one ACL line matches: any of the fetch's values against any
    /// pattern. A sample that does not exist never matches.
    mutating func matches(_ acl: CompiledACL) -> Bool {
        let mark = scratch.mark
        defer { scratch.rewind(to: mark) }
        if !acl.sample.fetch.isMultiValued {
            return matches(sampleValue(acl.sample), acl)
        }
        // Every value in turn, bounded like a header table.
        for index in 0..<fieldCapacity {
            let value = sampleValue(acl.sample, valueIndex: index)
            guard value.exists else { return false }
            if matches(value, acl) { return true }
            scratch.rewind(to: mark)
        }
        return false
    }

    private mutating func matches(_ value: SampleValue, _ acl: CompiledACL) -> Bool {
        switch acl.method {
        case .found:
            return value.exists
        case .bool:
            if case .boolean(let b) = value { return b }
            return (integer(of: value) ?? 0) != 0
        case .int:
            guard let n = integer(of: value) else { return false }
            return acl.integers.contains { $0.contains(n) }
        case .len:
            guard let bytes = bytes(of: value) else { return false }
            return acl.integers.contains { $0.contains(Int64(bytes.count)) }
        case .ip:
            guard let ip = address(of: value) else { return false }
            return acl.networks.contains { $0.contains(ip) }
        case .reg:
            guard let bytes = bytes(of: value) else { return false }
            return acl.regexes.contains { $0.matches(bytes) }
        case .str:
            guard let bytes = bytes(of: value) else { return false }
            return ByteMatching.binarySearch(bytes, in: acl.strings, ignoreCase: acl.ignoreCase) != nil
        case .bin:
            guard let bytes = bytes(of: value) else { return false }
            return acl.strings.contains { ByteMatching.equal(bytes, $0, ignoreCase: false) }
        case .beg, .end, .sub, .dom, .dir:
            guard let bytes = bytes(of: value) else { return false }
            for pattern in acl.strings where Self.matches(bytes, pattern, method: acl.method, ignoreCase: acl.ignoreCase) {
                return true
            }
            return false
        }
    }
}
