// The parser's working state: what defaults and proxy sections hold while
// they are read, and how diagnostics are recorded.

/// Settings a `defaults` section carries and every proxy starts from.
struct ProxySettings: Sendable {
    var mode: ProxyMode = .tcp
    var timeouts = Timeouts()
    var maxconn = 0
    var retries = 3
    var redispatch = false
    var balance: BalanceAlgorithm = .roundRobin
    var logs: [LogEntry] = []
    var tcpLog = false
    var httpLog: SourceLocation?
    var dontLogNull = false
    var serverDefaults = ServerDefaults()
    var defaultBackend: NamedReference?
}

/// What `default-server` sets for the servers that follow.
struct ServerDefaults: Sendable {
    var weight = 1
    var maxconn = 0
    var backup = false
    var disabled = false
}

/// A `log` line before `log global` is resolved against the global section.
enum LogEntry: Sendable {
    case global(SourceLocation)
    case target(LogTarget)
}

/// A proxy name written somewhere, resolved once every section is read.
struct NamedReference: Sendable {
    var name: String
    var location: SourceLocation
}

/// A `frontend`, `backend` or `listen` section being read.
struct ProxyDraft: Sendable {
    var kind: SectionKind
    var name: String
    /// Where the section's name is written.
    var location: SourceLocation
    var settings: ProxySettings
    var binds: [Bind] = []
    /// Whether a `bind` line was written, even one with errors.
    var hasBindLine = false
    var useBackends: [(reference: NamedReference, condition: Condition)] = []
    var servers: [Server] = []
    /// The `id` given explicitly, per server (nil: assign one).
    var serverIDs: [Int?] = []
    var localResponse: LocalResponse?
    var localResponseLocation: SourceLocation?
}

/// The section the current line belongs to.
enum CurrentSection {
    case none
    case global
    case defaults(name: String?, location: SourceLocation)
    case proxy(index: Int)
    /// A section Weir does not support: its lines are skipped.
    case unsupported
}

struct ParserState {
    var environment: [String: String]
    var diagnostics: [Diagnostic] = []
    /// Every file's lines, for showing the line under a diagnostic.
    var sources: [String: [String]] = [:]

    var global = GlobalSettings()
    /// The settings of the last `defaults` section read.
    var lastDefaults = ProxySettings()
    /// The settings of the `defaults` section being read.
    var defaultsDraft = ProxySettings()
    var namedDefaults: [String: (settings: ProxySettings, location: SourceLocation)] = [:]
    var proxies: [ProxyDraft] = []
    var section = CurrentSection.none

    // The line being read.
    var file = ""
    var line = LexedLine(number: 0, text: "", words: [])

    init(environment: [String: String]) {
        self.environment = environment
    }

    // MARK: Diagnostics

    func location(_ word: Word) -> SourceLocation {
        SourceLocation(file: file, line: line.number, column: word.column)
    }

    mutating func report(_ severity: Diagnostic.Severity, _ message: String, at location: SourceLocation?) {
        var text: String?
        if let location, let lines = sources[location.file], location.line >= 1, location.line <= lines.count {
            text = lines[location.line - 1]
        }
        diagnostics.append(Diagnostic(severity: severity, location: location, message: message, sourceLine: text))
    }

    mutating func error(_ message: String, at word: Word) {
        report(.error, message, at: location(word))
    }

    mutating func warning(_ message: String, at word: Word) {
        report(.warning, message, at: location(word))
    }

    /// Reports the first word past `count` as unexpected; true if there was none.
    @discardableResult
    mutating func expectAtMost(_ count: Int, _ words: [Word], after keyword: String) -> Bool {
        guard words.count > count else { return true }
        error("unexpected argument '\(words[count].text)' after '\(keyword)'", at: words[count])
        return false
    }

    /// A non-negative integer argument, or an error saying what was expected.
    mutating func integer(_ words: [Word], _ index: Int, keyword: String, range: ClosedRange<Int>? = nil,
                          anchor: Word? = nil) -> Int? {
        let expected: String
        if let range {
            if range.upperBound == Int.max {
                expected = range.lowerBound == 0 ? "a non-negative number" : "a number of at least \(range.lowerBound)"
            } else {
                expected = "a number between \(range.lowerBound) and \(range.upperBound)"
            }
        } else {
            expected = "a number"
        }
        guard index < words.count else {
            error("\(keyword): expected \(expected)", at: anchor ?? words[index - 1])
            return nil
        }
        guard let n = Units.integer(words[index].text), range?.contains(n) ?? true else {
            error("\(keyword): expected \(expected), got '\(words[index].text)'", at: words[index])
            return nil
        }
        return n
    }

    /// A duration argument in milliseconds (0 written as 0).
    mutating func duration(_ words: [Word], _ index: Int, keyword: String) -> Int? {
        guard index < words.count else {
            error("\(keyword): expected a duration like 5s", at: words[index - 1])
            return nil
        }
        switch Units.duration(words[index].text) {
        case .success(let ms): return ms
        case .failure(.invalid):
            error("\(keyword): expected a duration like 5s, got '\(words[index].text)'", at: words[index])
        case .failure(.tooLarge):
            error("\(keyword): duration '\(words[index].text)' is too large (the maximum is 2147483647ms, about 24.8 days)",
                  at: words[index])
        }
        return nil
    }

    // MARK: Where settings live

    var sectionKind: SectionKind? {
        switch section {
        case .global: return .global
        case .defaults: return .defaults
        case .proxy(let i): return proxies[i].kind
        case .none, .unsupported: return nil
        }
    }

    var sectionLabel: String {
        switch section {
        case .global: return "global"
        case .defaults(let name, _): return name ?? ""
        case .proxy(let i): return proxies[i].name
        case .none, .unsupported: return ""
        }
    }

    /// The settings of the defaults or proxy section being read.
    var settings: ProxySettings {
        get {
            if case .proxy(let i) = section { return proxies[i].settings }
            return defaultsDraft
        }
        set {
            if case .proxy(let i) = section { proxies[i].settings = newValue } else { defaultsDraft = newValue }
        }
    }
}
