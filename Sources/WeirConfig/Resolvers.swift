// `resolvers` sections (DNS name servers and how long answers hold) and the
// server keywords that use them: `resolvers`, `resolve-prefer`,
// `resolve-opts`, `resolve-net`. The master resolves; see WeirMaster.

/// A `resolvers` section.
public struct ResolversSection: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation
    /// `nameserver <id> <ip>:<port>` (UDP), then those of `parse-resolv-conf`.
    public var nameservers: [Nameserver] = []
    /// `resolve_retries`: queries sent before a resolution times out.
    public var retries = 3
    /// `timeout resolve`: the interval between resolutions (ms).
    public var resolveInterval = 1000
    /// `timeout retry`: how long a query waits for its answer before it is sent again (ms).
    public var retryTimeout = 1000
    /// `hold valid|nx|timeout|refused|other` (ms): how long the last valid
    /// answer stays in use after the name stops resolving in that way.
    public var holdValid = 10_000
    public var holdNX = 30_000
    public var holdTimeout = 30_000
    public var holdRefused = 30_000
    public var holdOther = 30_000
    /// `hold obsolete`: how long a server keeps an address missing from the answers.
    public var holdObsolete = 0
    /// `accepted_payload_size`: the EDNS0 payload size announced (512: no EDNS0).
    public var acceptedPayloadSize = 512

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

public struct Nameserver: Sendable, Hashable {
    public var id: String
    public var ip: IPAddress
    public var port: UInt16
}

/// `resolve-prefer`: the family asked first and kept when both answer.
public enum ResolvePrefer: String, Sendable, Hashable {
    case ipv4
    case ipv6
}

/// A server's DNS settings (`server … resolvers NAME`).
public struct ServerResolution: Sendable, Hashable {
    /// The `resolvers` section's name, and its index once validated.
    public var resolvers: String
    public var index = -1
    public var prefer = ResolvePrefer.ipv6
    /// `resolve-net`: networks preferred among the answers, in order.
    public var networks: [(address: IPAddress, prefixLength: Int)] = []
    /// `resolve-opts ignore-weight`: SRV records leave the weight alone.
    public var ignoreWeight = false
    public var location: SourceLocation

    public init(resolvers: String, location: SourceLocation) {
        self.resolvers = resolvers
        self.location = location
    }

    public static func == (a: ServerResolution, b: ServerResolution) -> Bool {
        a.resolvers == b.resolvers && a.index == b.index && a.prefer == b.prefer && a.location == b.location
            && a.ignoreWeight == b.ignoreWeight
            && a.networks.map(\.address) == b.networks.map(\.address)
            && a.networks.map(\.prefixLength) == b.networks.map(\.prefixLength)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(resolvers)
        hasher.combine(prefer)
        hasher.combine(location)
    }
}

/// What `default-server` or `server` said about DNS before `resolvers` names a section.
struct ResolutionOptions: Sendable {
    var resolvers: String?
    var resolversLocation: SourceLocation?
    var prefer = ResolvePrefer.ipv6
    var networks: [(address: IPAddress, prefixLength: Int)] = []
    var ignoreWeight = false
}

extension ParserState {
    mutating func openResolvers(_ words: [Word]) {
        // Without a name, the section is still read, for its own errors.
        let name = sectionName(words, label: "resolvers section",
                               defined: resolversSections.map { ($0.name, $0.location) }) ?? ("", location(words[0]))
        resolversSections.append(ResolversSection(name: name.text, location: name.location))
        section = .resolvers(index: resolversSections.count - 1)
    }

    static let resolversKeywords = [
        "nameserver", "parse-resolv-conf", "resolve_retries", "timeout", "hold", "accepted_payload_size",
    ]

    mutating func resolversKeyword(_ words: [Word]) {
        guard case .resolvers(let index) = section else { return }
        let keyword = words[0]
        switch keyword.text {
        case "nameserver":
            guard words.count > 2 else {
                error("'nameserver' expects a name and an address like 10.0.0.53:53", at: keyword)
                return
            }
            expectAtMost(3, words, after: words[2].text)
            var text = Substring(words[2].text)
            if text.hasPrefix("udp@") || text.hasPrefix("ipv4@") || text.hasPrefix("ipv6@") {
                text = text[text.index(after: text.firstIndex(of: "@")!)...]
            } else if let at = text.firstIndex(of: "@") {
                error("nameserver '\(words[1].text)': '\(text[..<at])@' addresses are not supported by Weir yet; "
                      + "Weir queries name servers over UDP", at: words[2])
                return
            }
            guard let split = Addresses.splitHostPort(text), !split.host.isEmpty else {
                error("nameserver '\(words[1].text)': expected an IP address and a port like 10.0.0.53:53, got '\(words[2].text)'",
                      at: words[2])
                return
            }
            guard let ip = addressResolvedNow(split.host, for: "nameserver '\(words[1].text)'", at: words[2]) else { return }
            var port: UInt16 = 53
            if let p = split.port {
                guard let parsed = Addresses.parsePort(p), parsed > 0 else {
                    error("nameserver '\(words[1].text)': invalid port '\(p)'", at: words[2])
                    return
                }
                port = parsed
            }
            if resolversSections[index].nameservers.contains(where: { $0.id == words[1].text }) {
                error("nameserver '\(words[1].text)' is already defined in resolvers '\(resolversSections[index].name)'",
                      at: words[1])
                return
            }
            resolversSections[index].nameservers.append(Nameserver(id: words[1].text, ip: ip, port: port))
        case "parse-resolv-conf":
            expectAtMost(1, words, after: "parse-resolv-conf")
            switch referencedFile("/etc/resolv.conf") {
            case .failure(let e):
                error("parse-resolv-conf: cannot read /etc/resolv.conf: \(e)", at: keyword)
            case .success(let bytes):
                for line in Lexer.lines(bytes) {
                    let fields = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" })
                    guard fields.count >= 2, fields[0] == "nameserver" else { continue }
                    guard let ip = Addresses.parseIP(fields[1], family: .any) else {
                        warning("parse-resolv-conf: ignoring nameserver '\(fields[1])' of /etc/resolv.conf: not an IP address",
                                at: keyword)
                        continue
                    }
                    let id = "resolvconf\(resolversSections[index].nameservers.count + 1)"
                    resolversSections[index].nameservers.append(Nameserver(id: id, ip: ip, port: 53))
                }
            }
        case "resolve_retries":
            if let n = integer(words, 1, keyword: "resolve_retries", range: 1...Int.max) {
                resolversSections[index].retries = n
            }
            expectAtMost(2, words, after: "resolve_retries")
        case "timeout":
            guard words.count > 1 else {
                error("'timeout' expects 'resolve' or 'retry' and a duration", at: keyword)
                return
            }
            let which = words[1]
            guard which.text == "resolve" || which.text == "retry" else {
                error("'timeout \(which.text)' is not a resolvers timeout; expected 'resolve' or 'retry'"
                      + Keywords.didYouMean(which.text, among: ["resolve", "retry"]), at: which)
                return
            }
            guard let ms = duration(words, 2, keyword: "timeout \(which.text)") else { return }
            expectAtMost(3, words, after: words[2].text)
            guard ms > 0 else {
                error("timeout \(which.text): expected a duration greater than 0", at: words[2])
                return
            }
            if which.text == "resolve" {
                resolversSections[index].resolveInterval = ms
            } else {
                resolversSections[index].retryTimeout = ms
            }
        case "hold":
            let kinds = ["valid", "nx", "timeout", "refused", "other", "obsolete"]
            guard words.count > 1, kinds.contains(words[1].text) else {
                let got = words.count > 1 ? ", got '\(words[1].text)'" : ""
                error("'hold' expects one of \(kinds.joined(separator: ", ")) and a duration\(got)", at: words.count > 1 ? words[1] : keyword)
                return
            }
            guard let ms = duration(words, 2, keyword: "hold \(words[1].text)") else { return }
            expectAtMost(3, words, after: words[2].text)
            switch words[1].text {
            case "valid": resolversSections[index].holdValid = ms
            case "nx": resolversSections[index].holdNX = ms
            case "timeout": resolversSections[index].holdTimeout = ms
            case "refused": resolversSections[index].holdRefused = ms
            case "other": resolversSections[index].holdOther = ms
            default: resolversSections[index].holdObsolete = ms
            }
        case "accepted_payload_size":
            if let n = integer(words, 1, keyword: "accepted_payload_size", range: 512...65535) {
                resolversSections[index].acceptedPayloadSize = n
            }
            expectAtMost(2, words, after: "accepted_payload_size")
        default:
            error("unknown keyword '\(keyword.text)' in 'resolvers' section"
                  + Keywords.didYouMean(keyword.text, among: Self.resolversKeywords), at: keyword)
        }
    }

    /// Ends a `resolvers` section: HAProxy refuses one without a name server.
    mutating func finishResolvers(_ index: Int) {
        let section = resolversSections[index]
        if section.nameservers.isEmpty && !section.name.isEmpty {
            report(.error, "resolvers '\(section.name)' has no nameserver; add 'nameserver <id> <ip>:<port>' "
                   + "or 'parse-resolv-conf'", at: section.location)
        }
    }

    /// `resolvers`, `resolve-prefer`, `resolve-opts`, `resolve-net` on a
    /// server line; nil when `words[i]` is none of them.
    mutating func parseResolutionOption(_ words: [Word], _ i: inout Int, into options: inout ResolutionOptions) -> Bool? {
        let option = words[i]
        switch option.text {
        case "resolvers", "resolve-prefer", "resolve-opts", "resolve-net":
            break
        default:
            return nil
        }
        guard i + 1 < words.count else {
            error("'\(option.text)' expects an argument", at: option)
            return false
        }
        let value = words[i + 1]
        i += 2
        switch option.text {
        case "resolvers":
            options.resolvers = value.text
            options.resolversLocation = location(value)
        case "resolve-prefer":
            guard let prefer = ResolvePrefer(rawValue: value.text) else {
                error("'resolve-prefer' expects 'ipv4' or 'ipv6', got '\(value.text)'", at: value)
                return false
            }
            options.prefer = prefer
        case "resolve-opts":
            for opt in value.text.split(separator: ",") {
                switch opt {
                case "allow-dup-ip": break
                case "ignore-weight": options.ignoreWeight = true
                case "prevent-dup-ip":
                    warning("'resolve-opts prevent-dup-ip' is ignored: Weir lets servers share an address "
                            + "(a server-template still gives each server its own)", at: value)
                default:
                    error("'resolve-opts' expects 'allow-dup-ip', 'ignore-weight' or 'prevent-dup-ip', got '\(opt)'",
                          at: value)
                    return false
                }
            }
        default:
            var networks: [(address: IPAddress, prefixLength: Int)] = []
            for net in value.text.split(separator: ",") {
                let parts = net.split(separator: "/", maxSplits: 1)
                guard let ip = Addresses.parseIP(parts[0], family: .any) else {
                    error("'resolve-net' expects networks like 10.0.0.0/8, got '\(net)'", at: value)
                    return false
                }
                let maximum = ip.isV6 ? 128 : 32
                var length = maximum
                if parts.count == 2 {
                    guard let n = Int(parts[1]), (0...maximum).contains(n) else {
                        error("'resolve-net': invalid prefix length in '\(net)'", at: value)
                        return false
                    }
                    length = n
                }
                networks.append((ip, length))
            }
            options.networks = networks
        }
        return true
    }

    /// `host` as an IP address, or, for a host name, the address it
    /// resolves to now, once, as HAProxy resolves name servers and mailers;
    /// nil after an error.
    mutating func addressResolvedNow(_ host: Substring, for what: String, at word: Word) -> IPAddress? {
        if let ip = Addresses.parseIP(host, family: .any) { return ip }
        switch Addresses.resolveDatagramHost(String(host), family: .any) {
        case .success(let resolved): return resolved
        case .failure(let reason):
            error("\(what): could not resolve '\(host)': \(reason.text)", at: word)
            return nil
        }
    }

    /// Each server's `resolvers` names a section: its index, or an error.
    mutating func resolveServerResolvers(_ config: inout Configuration) {
        config.resolvers = resolversSections
        config.mailers = mailersSections
        for b in config.backends.indices {
            for s in config.backends[b].servers.indices {
                guard var resolution = config.backends[b].servers[s].resolution else { continue }
                guard let r = resolversSections.firstIndex(where: { $0.name == resolution.resolvers }) else {
                    report(.error, "server '\(config.backends[b].name)/\(config.backends[b].servers[s].name)': "
                           + "unable to find resolvers '\(resolution.resolvers)'"
                           + Keywords.didYouMean(resolution.resolvers, among: resolversSections.map(\.name)),
                           at: resolution.location)
                    continue
                }
                resolution.index = r
                config.backends[b].servers[s].resolution = resolution
            }
        }
    }
}
