// TLS towards the servers: the `ssl`, `verify`, `ca-file`, `crt`, `sni`…
// options of `server` and `default-server`, the `ssl-default-server-*`,
// `ssl-server-verify` and `ca-base` globals, and the checks made once the
// whole configuration is read.

extension ServerTLS {
    /// The `sni` expression reads the HTTP request: connections made with
    /// it only carry exchanges that give the same name.
    public var sniDependsOnRequest: Bool { sni.map { $0.fetch.source >= .request } ?? false }
}

extension ParserState {
    /// The server TLS options Weir supports, for `did you mean`.
    static let serverTLSOptions = [
        "ssl", "no-ssl", "verify", "ca-file", "crt", "sni", "alpn", "ssl-min-ver", "ssl-max-ver", "ciphers",
        "ciphersuites", "no-ssl-reuse", "ssl-reuse", "no-tls-tickets", "tls-tickets", "verifyhost", "check-ssl",
        "no-check-ssl", "check-sni",
    ] + TLSVersionToggle.keywords

    /// A TLS option of a server line at `words[i]`, `i` moved past it and
    /// its value. nil: not a TLS option; false: an error was reported.
    mutating func parseServerTLSOption(_ words: [Word], _ i: inout Int, into tls: inout ServerTLS,
                                       check: inout ServerCheck, keyword: String) -> Bool? {
        let option = words[i]
        let name = "\(keyword) \(option.text)"
        func value() -> Word? {
            guard i + 1 < words.count, !words[i + 1].text.isEmpty else {
                error("\(name): expected a value", at: option)
                return nil
            }
            return words[i + 1]
        }
        switch option.text {
        case "ssl":
            tls.enabled = true
            tls.location = location(option)
            i += 1
        case "no-ssl":
            tls.enabled = false
            i += 1
        case "check-ssl":
            check.ssl = true
            if tls.location == nil { tls.location = location(option) }
            i += 1
        case "no-check-ssl":
            check.ssl = false
            i += 1
        case "no-ssl-reuse":
            tls.reuseSessions = false
            i += 1
        case "ssl-reuse":
            tls.reuseSessions = true
            i += 1
        case "no-tls-tickets", "tls-tickets":
            tls.tickets = option.text == "tls-tickets"
            i += 1
        case let text where TLSVersionToggle(text) != nil:
            switch TLSVersionToggle(text)! {
            case .disable(let version): tls.disabledVersions.insert(version)
            case .force(let version):
                tls.minVersion = version
                tls.maxVersion = version
            case .disableSSLv3: break
            case .forceSSLv3:
                error("\(keyword): " + TLSVersionToggle.sslv3Refused, at: option)
                return false
            }
            i += 1
        case "verify":
            guard let v = value() else { return false }
            guard let verify = ServerTLS.Verify(rawValue: v.text) else {
                error("\(name): expected 'none' or 'required', got '\(v.text)'"
                      + Keywords.didYouMean(v.text, among: ["none", "required"]).replacingDidYouMean(), at: v)
                return false
            }
            tls.verify = verify
            i += 2
        case "ca-file":
            guard let v = value() else { return false }
            var path = v.text
            if path != "@system-ca", let base = global.caBase, !path.hasPrefix("/") {
                path = base.hasSuffix("/") ? base + path : base + "/" + path
            }
            tls.caFile = ServerFile(path: path, location: location(v))
            i += 2
        case "crt":
            guard let v = value() else { return false }
            var path = v.text
            if let base = global.certificateBase, !path.hasPrefix("/") {
                path = base.hasSuffix("/") ? base + path : base + "/" + path
            }
            tls.certificate = ServerFile(path: path, location: location(v))
            i += 2
        case "sni":
            guard let v = value() else { return false }
            guard let parsed = sampleValue(v, context: name, maximum: .request) else { return false }
            tls.sni = parsed.sample
            tls.sniLocation = location(v)
            i += 2
        case "verifyhost", "check-sni":
            guard let v = value() else { return false }
            guard Self.isHostName(Substring(v.text)) else {
                error("\(name): expected a host name, got '\(v.text)'", at: v)
                return false
            }
            if option.text == "verifyhost" { tls.verifyHost = v.text } else { tls.checkSNI = v.text }
            i += 2
        case "alpn":
            guard let v = value() else { return false }
            let list = v.text.split(separator: ",").map(String.init)
            guard !list.isEmpty, !list.contains(where: { $0.utf8.count > 255 }) else {
                error("\(name): expected a comma-separated list of protocol names like 'http/1.1'", at: v)
                return false
            }
            tls.alpn = list
            i += 2
        case "ssl-min-ver", "ssl-max-ver":
            guard let v = value() else { return false }
            guard let version = BindTLS.Version(rawValue: v.text) else {
                error("\(name): expected TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, got '\(v.text)'", at: v)
                return false
            }
            if option.text == "ssl-min-ver" { tls.minVersion = version } else { tls.maxVersion = version }
            i += 2
        case "ciphers", "ciphersuites":
            guard let v = value() else { return false }
            if option.text == "ciphers" { tls.ciphers = v.text } else { tls.ciphersuites = v.text }
            i += 2
        default:
            return nil
        }
        return true
    }

    /// `ssl-server-verify none|required`.
    mutating func parseServerVerify(_ words: [Word]) {
        guard words.count > 1 else {
            error("ssl-server-verify: expected 'none' or 'required'", at: words[0])
            return
        }
        guard let verify = ServerTLS.Verify(rawValue: words[1].text) else {
            error("ssl-server-verify: expected 'none' or 'required', got '\(words[1].text)'"
                  + Keywords.didYouMean(words[1].text, among: ["none", "required"]).replacingDidYouMean(), at: words[1])
            return
        }
        global.serverVerify = verify
        expectAtMost(2, words, after: "ssl-server-verify \(words[1].text)")
    }

    /// Once every section is read: each server's TLS takes the global
    /// defaults for what it does not say, and a server that verifies
    /// certificates needs the CAs to verify them with, as HAProxy 2.6
    /// requires (`ssl-server-verify` may come after the servers).
    mutating func resolveServerTLS(_ backend: inout Backend) {
        let defaults = global.defaultServerTLS
        let label = "\(backend.name)"
        for index in backend.servers.indices {
            var tls = backend.servers[index].tls
            let explicit = tls.verify != nil
            if tls.verify == nil { tls.verify = global.serverVerify }
            if tls.ciphers == nil { tls.ciphers = defaults.ciphers }
            if tls.ciphersuites == nil { tls.ciphersuites = defaults.ciphersuites }
            if tls.minVersion == nil { tls.minVersion = defaults.minVersion }
            if tls.maxVersion == nil { tls.maxVersion = defaults.maxVersion }
            if defaults.noReuse { tls.reuseSessions = false }
            if tls.tickets == nil { tls.tickets = !defaults.noTickets }
            let server = backend.servers[index]
            backend.servers[index].tls = tls
            guard server.usesTLS else { continue }
            // The `ssl` word when the server line says it, else the server's name.
            var at = server.location
            if let word = tls.location, word.file == at.file, word.line == at.line { at = word }
            let disabled = tls.disabledVersions.union(defaults.disabledVersions)
            if !disabled.isEmpty {
                switch TLSVersionToggle.resolve(min: tls.minVersion, max: tls.maxVersion, disabled: disabled) {
                case .range(let min, let max):
                    tls.minVersion = min
                    tls.maxVersion = max
                    backend.servers[index].tls = tls
                case .flagsIgnored(let versions, _, _):
                    report(.warning, "server '\(label)/\(server.name)': \(TLSVersionToggle.names(versions)) ignored: "
                           + "'ssl-min-ver' or 'ssl-max-ver' (or a 'force-*' option) sets the versions, as in HAProxy; "
                           + "use only those", at: at)
                case .allDisabled:
                    report(.error, "server '\(label)/\(server.name)': all SSL/TLS versions are disabled "
                           + "(\(TLSVersionToggle.names(disabled.sorted { $0.rawValue < $1.rawValue })))", at: at)
                }
            }
            if let lo = tls.minVersion, let hi = tls.maxVersion,
               BindTLS.Version.allCases.firstIndex(of: lo)! > BindTLS.Version.allCases.firstIndex(of: hi)! {
                report(.error, "server '\(label)/\(server.name)': 'ssl-min-ver \(lo.rawValue)' is above "
                       + "'ssl-max-ver \(hi.rawValue)'", at: at)
            }
            if tls.verifies && tls.caFile == nil {
                // HAProxy's words, which name both ways out.
                if explicit {
                    report(.error, "server '\(label)/\(server.name)': verify is enabled but no CA file specified.",
                           at: at)
                } else {
                    report(.error, "server '\(label)/\(server.name)': verify is enabled by default but no CA file "
                           + "specified. If you're running on a LAN where you're certain to trust the server's "
                           + "certificate, please set an explicit 'verify none' statement on the 'server' line, or "
                           + "use 'ssl-server-verify none' in the global section to disable server-side "
                           + "verifications by default.", at: at)
                }
            }
            if tls.enabled, backend.mode == .tcp, let sni = tls.sni, sni.fetch.source > .connection {
                report(.warning, "server '\(label)/\(server.name)': 'sni' never has a value in mode tcp: "
                       + "it needs the HTTP request", at: tls.sniLocation ?? at)
            }
            if tls.enabled, backend.mode == .http {
                let dropped = tls.alpn.filter { ["h2", "h3", "h2c"].contains($0) }
                if !dropped.isEmpty {
                    report(.warning, "server '\(label)/\(server.name)': ALPN '\(dropped.joined(separator: ","))' is "
                           + "not offered: Weir speaks HTTP/1.1 only to servers for now", at: at)
                }
            }
        }
    }
}
