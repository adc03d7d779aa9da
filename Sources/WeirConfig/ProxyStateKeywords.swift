// `id N`, `disabled` and `enabled` in a proxy section.

extension ParserState {
    /// `id N`: the proxy's id in the statistics, unique among proxies.
    mutating func parseProxyID(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        guard let id = integer(words, 1, keyword: "id", range: 1...Int(Int32.max)) else { return }
        guard expectAtMost(2, words, after: "id \(words[1].text)") else { return }
        proxies[index].id = id
        proxies[index].idLocation = location(words[0])
    }

    /// Two proxies given the same `id` is an error, as in HAProxy.
    mutating func checkProxyIDs() {
        var seen: [Int: ProxyDraft] = [:]
        for draft in proxies where !draft.name.isEmpty {
            guard let id = draft.id else { continue }
            if let first = seen[id] {
                report(.error, "\(draft.kind.rawValue) '\(draft.name)' reuses id \(id) of \(first.kind.rawValue) "
                       + "'\(first.name)' (declared at \(first.location))", at: draft.idLocation)
            } else {
                seen[id] = draft
            }
        }
    }
}
