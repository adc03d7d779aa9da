// `load-server-state-from-file` and `server-state-file-name`: which file of
// `show servers state` output a backend's servers take their state from.

/// Where a backend reads its servers' saved state (`load-server-state-from-file`).
enum ServerStateSource: Sendable {
    case none
    /// The global `server-state-file`; the location is kept to warn when there is none.
    case global(SourceLocation)
    /// The backend's `server-state-file-name`, or its name.
    case local
}

extension ParserState {
    /// `load-server-state-from-file global|local|none`.
    mutating func parseLoadServerState(_ words: [Word]) {
        let choices = ["global", "local", "none"]
        guard words.count > 1 else {
            error("load-server-state-from-file: expected global, local or none", at: words[0])
            return
        }
        guard expectAtMost(2, words, after: "load-server-state-from-file \(words[1].text)") else { return }
        switch words[1].text {
        case "global": settings.loadServerState = .global(location(words[1]))
        case "local": settings.loadServerState = .local
        case "none": settings.loadServerState = .none
        default:
            error("load-server-state-from-file: expected global, local or none, got '\(words[1].text)'"
                  + Keywords.didYouMean(words[1].text, among: choices).replacingDidYouMean(), at: words[1])
        }
    }

    /// `server-state-file-name [use-backend-name | FILE]`: without a file,
    /// the backend's name.
    mutating func parseServerStateFileName(_ words: [Word]) {
        guard expectAtMost(2, words, after: "server-state-file-name") else { return }
        settings.serverStateFileName = words.count > 1 && words[1].text != "use-backend-name" ? words[1].text : nil
    }

    /// The file a backend loads its servers' state from, resolved against
    /// `server-state-base` when relative; nil when it loads none.
    mutating func serverStateFile(of draft: ProxyDraft, global: GlobalSettings) -> String? {
        let name: String
        switch draft.settings.loadServerState {
        case .none:
            return nil
        case .global(let location):
            guard let file = global.serverStateFile else {
                report(.warning, "load-server-state-from-file global: no 'server-state-file' in the global section, "
                       + "no state is loaded", at: location)
                return nil
            }
            name = file
        case .local:
            name = draft.settings.serverStateFileName ?? draft.name
        }
        guard !name.hasPrefix("/"), let base = global.serverStateBase else { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}
