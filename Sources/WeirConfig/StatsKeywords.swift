// `stats …` in a proxy section: HAProxy's HTML statistics page, served by
// the proxy itself in mode http.

/// `stats enable`, `stats uri`, `stats auth`…: where and to whom a proxy
/// serves the statistics page. Any `stats` line enables it, as in HAProxy.
public struct StatsPage: Sendable, Hashable {
    /// `stats uri PREFIX`: requests whose URI starts with it get the page.
    public var uri = "/haproxy?stats"
    /// `stats realm`: the Basic realm; nil: "HAProxy Statistics".
    public var realm: String?
    /// `stats refresh T`: the page asks the browser to reload it every T (ms).
    public var refresh: Int?
    /// `stats auth USER:PASSWORD` lines; empty: no authentication.
    public var credentials: [String] = []
    /// `stats admin if|unless COND`: who may change server states from the page; nil: nobody.
    public var admin: Condition?
    /// `stats hide-version`.
    public var hideVersion = false
    /// `stats show-legends`.
    public var showLegends = false
    /// `stats show-node [NAME]`: the node named on the page; empty: the
    /// global `node`, else the host's name. nil: not shown.
    public var showNode: String?
    /// `stats show-desc [TEXT]`: a description on the page; empty: the
    /// global `description`. nil: not shown.
    public var showDescription: String?
    /// `stats scope NAME` lines: the proxies the page shows (`.`: the one
    /// serving it); empty: all of them.
    public var scope: [String] = []
    /// The first `stats` line of the section (or of its defaults).
    public var location: SourceLocation

    public init(location: SourceLocation) {
        self.location = location
    }

    public var realmOrDefault: String { realm ?? "HAProxy Statistics" }
}

extension ParserState {
    static let statsProxyKeywords = [
        "enable", "uri", "realm", "refresh", "auth", "admin", "hide-version", "show-legends", "show-node", "show-desc",
        "scope",
    ]

    /// `stats enable|uri|realm|refresh|auth|admin|hide-version|show-legends` in
    /// a defaults, frontend, listen or backend section.
    mutating func parseProxyStats(_ words: [Word]) {
        guard let kind = sectionKind else { return }
        guard words.count > 1 else {
            error("stats: expected one of " + Self.statsProxyKeywords.map { "'\($0)'" }.joined(separator: ", "), at: words[0])
            return
        }
        let option = words[1]
        var page = settings.statsPage ?? StatsPage(location: location(words[0]))
        switch option.text {
        case "enable":
            expectAtMost(2, words, after: "stats enable")
        case "uri":
            guard words.count > 2 else {
                error("stats uri: expected a URI prefix like /haproxy?stats", at: option)
                return
            }
            expectAtMost(3, words, after: "stats uri")
            page.uri = words[2].text
        case "realm":
            guard words.count > 2 else {
                error("stats realm: expected a realm (write spaces as '\\ ')", at: option)
                return
            }
            expectAtMost(3, words, after: "stats realm")
            guard !words[2].text.contains("\"") else {
                error("stats realm: a realm cannot contain '\"'", at: words[2])
                return
            }
            page.realm = words[2].text
        case "refresh":
            guard let ms = duration(words, 2, keyword: "stats refresh") else { return }
            expectAtMost(3, words, after: "stats refresh")
            page.refresh = ms / 1000 > 0 ? ms : 1000
        case "auth":
            guard words.count > 2 else {
                error("stats auth: expected USER:PASSWORD", at: option)
                return
            }
            expectAtMost(3, words, after: "stats auth")
            guard let colon = words[2].text.firstIndex(of: ":"), colon != words[2].text.startIndex else {
                error("stats auth: expected USER:PASSWORD, got '\(words[2].text)'", at: words[2])
                return
            }
            page.credentials.append(words[2].text)
        case "admin":
            guard kind != .defaults else {
                error("'stats admin' is not allowed in a 'defaults' section", at: option)
                return
            }
            guard words.count > 2, words[2].text == "if" || words[2].text == "unless" else {
                error("stats admin: expected 'if' or 'unless' and a condition, as in 'stats admin if LOCALHOST'",
                      at: words.count > 2 ? words[2] : option)
                return
            }
            guard let condition = optionalCondition(words, at: 2, keyword: "stats admin") else { return }
            page.admin = condition
        case "hide-version":
            expectAtMost(2, words, after: "stats hide-version")
            page.hideVersion = true
        case "show-legends":
            expectAtMost(2, words, after: "stats show-legends")
            page.showLegends = true
        case "show-node":
            expectAtMost(3, words, after: "stats show-node")
            page.showNode = words.count > 2 ? words[2].text : ""
        case "show-desc":
            page.showDescription = words.dropFirst(2).map(\.text).joined(separator: " ")
        case "scope":
            guard words.count > 2, !words[2].text.isEmpty else {
                error("stats scope: expected a proxy name, or '.' for this one", at: option)
                return
            }
            expectAtMost(3, words, after: "stats scope")
            page.scope.append(words[2].text)
        case "socket", "timeout", "maxconn", "bind-process":
            error("'stats \(option.text)' is only allowed in the 'global' section", at: option)
            return
        case "http-request", "show-modules", "disable":
            error("'stats \(option.text)' is not supported by Weir yet", at: option)
            return
        default:
            error("stats: unknown option '\(option.text)'"
                  + Keywords.didYouMean(option.text, among: Self.statsProxyKeywords), at: option)
            return
        }
        settings.statsPage = page
    }
}
