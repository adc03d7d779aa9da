// `monitor-uri URI` and `monitor fail if|unless COND`: a URI that the
// proxy answers itself, 200 or 503, for load balancers and monitoring
// systems that probe whether the site is up.

extension ParserState {
    /// `monitor-uri URI` (defaults, frontend, listen): the last one wins.
    mutating func parseMonitorURI(_ words: [Word]) {
        guard words.count > 1, !words[1].text.isEmpty else {
            error("monitor-uri: expected a URI like /alive", at: words[0])
            return
        }
        guard expectAtMost(2, words, after: "monitor-uri \(words[1].text)") else { return }
        if sectionKind == .backend {
            warning("'monitor-uri' is ignored in a 'backend' section: it applies to frontends", at: words[0])
            return
        }
        settings.monitorURI = words[1].text
        settings.monitorURILocation = location(words[0])
    }

    /// `monitor fail if|unless COND` (frontend, listen): the monitor URI
    /// answers 503 when a condition holds.
    mutating func parseMonitor(_ words: [Word]) {
        guard words.count > 1 else {
            error("monitor: expected 'fail'", at: words[0])
            return
        }
        guard words[1].text == "fail" else {
            error("monitor: only 'monitor fail' is supported, got '\(words[1].text)'", at: words[1])
            return
        }
        guard words.count > 2 else {
            error("monitor fail: expected 'if' or 'unless' followed by a condition", at: words[1])
            return
        }
        guard let condition = condition(words[2...], keyword: "monitor fail") else { return }
        guard let index = proxyIndex else { return }
        if proxies[index].kind == .backend {
            warning("'monitor fail' is ignored in a 'backend' section: it applies to frontends", at: words[0])
            return
        }
        proxies[index].monitorFail.append(condition)
        if proxies[index].monitorFailLocation == nil { proxies[index].monitorFailLocation = location(words[0]) }
    }
}
