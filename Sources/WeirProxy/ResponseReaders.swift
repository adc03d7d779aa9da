/// Which responses something reads beyond their framing: a response rule
/// (`http-response`, `http-after-response`),
/// a response header or cookie capture, a log or unique-id format with a sample
/// (`%[...]`), `option logasap` (the line goes out with the head), cookie
/// persistence or a `stick store-response` rule. Only
/// those are loaded into the rules engine; any other response head is
/// written from the parser's table (`writeParsedResponseHead`), and the
/// engine keeps the request's view.
struct ResponseReaders {
    /// Per frontend: its response rules, captures or log samples read responses.
    private let frontends: [Bool]
    /// Per backend: its response rules, cookie or stick rules read responses.
    private let backends: [Bool]

    init(_ compiled: borrowing CompiledRuleSet, backendCookies: [Bool]) {
        frontends = compiled.frontends.indices.map { i in
            let logging = i < compiled.frontendLogging.count ? compiled.frontendLogging[i] : nil
            return !compiled.frontends[i].responseRules.isEmpty || !compiled.frontends[i].afterResponseRules.isEmpty
                || !compiled.frontends[i].responseHeaderCaptures.isEmpty || compiled.frontends[i].cookieCapture != nil
                || Self.hasSample(logging?.format) || Self.hasSample(logging?.uniqueIDFormat)
                || logging?.early == true
        }
        backends = compiled.backends.indices.map { i in
            !compiled.backends[i].responseRules.isEmpty || !compiled.backends[i].afterResponseRules.isEmpty
                || (i < backendCookies.count && backendCookies[i])
                || (i < compiled.stickRules.count && compiled.stickRules[i].contains { $0.kind == .storeResponse })
        }
    }

    /// The response of an exchange through `frontend` and `backend` (-1: none) is read.
    @inline(__always)
    func read(frontend: Int, backend: Int) -> Bool {
        frontends[frontend] || (backend >= 0 && backends[backend])
    }

    private static func hasSample(_ format: CompiledLogFormat?) -> Bool {
        guard let format else { return false }
        return format.nodes.contains { if case .sample = $0 { true } else { false } }
    }
}
