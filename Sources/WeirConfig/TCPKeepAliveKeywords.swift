// TCP keep-alive probes: `option tcpka`, `option clitcpka`, `option
// srvtcpka`, and the `clitcpka-*` / `srvtcpka-*` settings of the probes.

extension ParserState {
    /// `[no] option tcpka|clitcpka|srvtcpka`. `tcpka` is both sides: in a
    /// frontend only the client side applies, in a backend only the server side.
    mutating func parseTCPKeepAliveOption(_ words: [Word], negated: Bool) {
        let name = words[1]
        let prefix = negated ? "no option" : "option"
        guard expectAtMost(2, words, after: "\(prefix) \(name.text)") else { return }
        if name.text == "clitcpka", sectionKind == .backend {
            warning("'option clitcpka' is ignored in a 'backend' section: it applies to frontends", at: name)
            return
        }
        if name.text == "srvtcpka", sectionKind == .frontend {
            warning("'option srvtcpka' is ignored in a 'frontend' section: it applies to backends", at: name)
            return
        }
        if name.text != "srvtcpka" { settings.clientTCPKeepAlive = !negated }
        if name.text != "clitcpka" { settings.serverTCPKeepAlive = !negated }
    }

    /// `clitcpka-cnt N`, `clitcpka-idle T`, `clitcpka-intvl T` and their
    /// `srvtcpka-` twins. Times are in seconds unless a unit says otherwise.
    mutating func parseTCPKeepAliveSetting(_ words: [Word]) {
        let keyword = words[0].text
        let client = keyword.hasPrefix("cli")
        let setting = keyword.split(separator: "-").last!
        // Linux takes at most 127 probes (TCP_KEEPCNT) and 32767 seconds (TCP_KEEPIDLE, TCP_KEEPINTVL).
        let limit = setting == "cnt" ? 127 : 32767
        let value: Int
        if setting == "cnt" {
            guard let n = integer(words, 1, keyword: keyword, range: 0...limit) else { return }
            value = n
        } else {
            guard words.count > 1 else {
                error("\(keyword): expected a duration like 30s (seconds when no unit is given)", at: words[0])
                return
            }
            let text = words[1].text
            let ms: Int
            if let seconds = Units.integer(text) {
                ms = seconds > limit ? Int.max : seconds * 1000
            } else if case .success(let parsed) = Units.duration(text) {
                ms = parsed
            } else {
                error("\(keyword): expected a duration like 30s (seconds when no unit is given), got '\(text)'",
                      at: words[1])
                return
            }
            guard ms % 1000 == 0, ms / 1000 <= limit else {
                error("\(keyword): expected a whole number of seconds up to \(limit)s, got '\(text)'", at: words[1])
                return
            }
            value = ms / 1000
        }
        guard expectAtMost(2, words, after: "\(keyword) \(words[1].text)") else { return }
        if client, sectionKind == .backend {
            warning("'\(keyword)' is ignored in a 'backend' section: it applies to frontends", at: words[0])
            return
        }
        if !client, sectionKind == .frontend {
            warning("'\(keyword)' is ignored in a 'frontend' section: it applies to backends", at: words[0])
            return
        }
        var probes = client ? settings.clientKeepAliveProbes : settings.serverKeepAliveProbes
        // 0 leaves the system's value, as in HAProxy.
        let chosen = value == 0 ? nil : value
        switch setting {
        case "cnt": probes.probes = chosen
        case "idle": probes.idle = chosen
        default: probes.interval = chosen
        }
        if client { settings.clientKeepAliveProbes = probes } else { settings.serverKeepAliveProbes = probes }
    }
}
