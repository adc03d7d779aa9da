// `mailers` sections and the `email-alert` proxy keywords: the SMTP
// servers that hear about server state changes, as in HAProxy.

/// A `mailers` section.
public struct MailersSection: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation
    public var mailers: [Mailer] = []
    /// `timeout mail`: how long one mail may take, connection to QUIT (ms).
    public var timeout = 10_000
}

/// `mailer <name> <ip>:<port>`: an SMTP server.
public struct Mailer: Sendable, Hashable {
    public var name: String
    public var ip: IPAddress
    public var port: UInt16
}

/// A backend's `email-alert` settings, once `mailers`, `from` and `to` are all set.
public struct EmailAlert: Sendable, Hashable {
    /// Index into `Configuration.mailers`.
    public var mailers: Int
    public var from: String
    public var to: String
    /// The least severe state change mailed (`email-alert level`, default alert).
    public var level: LogLevel
    /// `email-alert myhostname`: the name given in EHLO; nil: the host's.
    public var myHostname: String?

    public init(mailers: Int, from: String, to: String, level: LogLevel, myHostname: String?) {
        self.mailers = mailers
        self.from = from
        self.to = to
        self.level = level
        self.myHostname = myHostname
    }
}

/// What a proxy's `email-alert` lines said, before the sections are known.
struct EmailAlertDraft: Sendable {
    var mailers: (name: String, location: SourceLocation)?
    var from: String?
    var to: String?
    var level = LogLevel.alert
    var myHostname: String?
    /// Where the first `email-alert` line was, for the warning when incomplete.
    var location: SourceLocation?
}

extension ParserState {
    mutating func openMailers(_ words: [Word]) {
        guard let name = sectionName(words, label: "mailers section",
                                     defined: mailersSections.map { ($0.name, $0.location) }) else {
            section = .unsupported
            return
        }
        mailersSections.append(MailersSection(name: name.text, location: name.location))
        section = .mailers(index: mailersSections.count - 1)
    }

    static let mailersKeywords = ["mailer", "timeout"]

    mutating func mailersKeyword(_ words: [Word]) {
        guard case .mailers(let index) = section else { return }
        let keyword = words[0]
        switch keyword.text {
        case "mailer":
            guard words.count == 3 else {
                error("'mailer' expects a name and an address like 10.0.0.25:25", at: words.count > 3 ? words[3] : keyword)
                return
            }
            let name = words[1], address = words[2]
            guard !mailersSections[index].mailers.contains(where: { $0.name == name.text }) else {
                error("mailer '\(name.text)' is already defined in mailers '\(mailersSections[index].name)'", at: name)
                return
            }
            guard let split = Addresses.splitHostPort(Substring(address.text)), !split.host.isEmpty,
                  let portText = split.port, let port = Addresses.parsePort(portText) else {
                error("mailer '\(name.text)': expected an address and a port like 10.0.0.25:25, got '\(address.text)'",
                      at: address)
                return
            }
            guard let ip = addressResolvedNow(split.host, for: "mailer '\(name.text)'", at: address) else { return }
            mailersSections[index].mailers.append(Mailer(name: name.text, ip: ip, port: port))
        case "timeout":
            guard words.count > 1, words[1].text == "mail" else {
                error("'timeout' in a 'mailers' section expects 'mail' and a duration", at: words.count > 1 ? words[1] : keyword)
                return
            }
            guard let ms = duration(words, 2, keyword: "timeout mail"), expectAtMost(3, words, after: "timeout mail") else { return }
            mailersSections[index].timeout = max(ms, 1)
        default:
            error("unknown keyword '\(keyword.text)' in 'mailers' section"
                  + Keywords.didYouMean(keyword.text, among: Self.mailersKeywords), at: keyword)
        }
    }

    mutating func finishMailers(_ index: Int) {
        let section = mailersSections[index]
        if section.mailers.isEmpty && !section.name.isEmpty {
            report(.error, "mailers '\(section.name)' has no mailer; add 'mailer <name> <ip>:<port>'", at: section.location)
        }
    }

    /// `email-alert mailers|from|to|level|myhostname VALUE`.
    mutating func parseEmailAlert(_ words: [Word]) {
        guard words.count == 3 else {
            error("email-alert: expected one of mailers, from, to, level or myhostname, and a value",
                  at: words.count > 3 ? words[3] : words[words.count - 1])
            return
        }
        let what = words[1], value = words[2]
        var draft = settings.emailAlert
        if draft.location == nil { draft.location = location(words[0]) }
        switch what.text {
        case "mailers": draft.mailers = (value.text, location(value))
        case "from": draft.from = value.text
        case "to": draft.to = value.text
        case "myhostname": draft.myHostname = value.text
        case "level":
            guard let level = Self.levels.firstIndex(of: value.text) else {
                error("email-alert level: expected one of \(Self.levels.joined(separator: ", ")), got '\(value.text)'"
                      + Keywords.didYouMean(value.text, among: Self.levels), at: value)
                return
            }
            draft.level = LogLevel(rawValue: level)!
        default:
            error("email-alert: unknown setting '\(what.text)'; expected mailers, from, to, level or myhostname"
                  + Keywords.didYouMean(what.text, among: ["mailers", "from", "to", "level", "myhostname"]), at: what)
            return
        }
        settings.emailAlert = draft
    }

    /// A backend's alerts, once every section is known; nil when it has
    /// none, or too few settings (a warning, as in HAProxy).
    mutating func emailAlert(_ draft: EmailAlertDraft, proxy: String) -> EmailAlert? {
        guard let location = draft.location else { return nil }
        guard let mailers = draft.mailers, let from = draft.from, let to = draft.to else {
            report(.warning, "'email-alert' is ignored for '\(proxy)': it needs 'email-alert mailers', 'email-alert from' "
                   + "and 'email-alert to'", at: location)
            return nil
        }
        guard let index = mailersSections.firstIndex(where: { $0.name == mailers.name }) else {
            report(.error, "email-alert: no mailers section named '\(mailers.name)'"
                   + Keywords.didYouMean(mailers.name, among: mailersSections.map(\.name)), at: mailers.location)
            return nil
        }
        return EmailAlert(mailers: index, from: from, to: to, level: draft.level, myHostname: draft.myHostname)
    }
}
