// Stick counters: `track-sc0|1|2` actions that attach a session to an entry
// of a stick table, the actions that update it (`sc-inc-gpc0`, …), and the
// `sc_*`, `scN_*`, `src_*` and `table_*` fetches that read the counters.

/// What a sample used as a tracking key holds, to check it against the table's type.
public enum StickKeyShape: Sendable, Hashable {
    case address, integer, string
}

/// `track-sc0|1|2 KEY [table NAME]`.
public struct StickTrack: Sendable, Hashable {
    /// 0, 1 or 2.
    public var counter: Int
    public var key: Sample
    public var keyShape: StickKeyShape
    /// An index into `Configuration.stickTables` once resolved; while
    /// parsing, an index into the parser's table references.
    public var table: Int
    public var location: SourceLocation

    public init(counter: Int, key: Sample, keyShape: StickKeyShape, table: Int, location: SourceLocation) {
        self.counter = counter
        self.key = key
        self.keyShape = keyShape
        self.table = table
        self.location = location
    }
}

/// A stick-counter fetch: which entry, and what is read of it.
public struct StickFetch: Sendable, Hashable {
    public enum Entry: Sendable, Hashable {
        /// The entry tracked by `track-scN` (`sc_*(N)`, `scN_*`).
        case tracked(Int)
        /// The entry of the client's address, looked up without tracking (`src_*`).
        case source
        /// No entry: the table itself (`table_cnt`, `table_avl`).
        case table
    }

    public enum Query: Sendable, Hashable {
        /// A stored value: a counter, a rate over its period, gpt0.
        case value(StickDataType)
        /// `*_inc_gpc0`, `*_inc_gpc1`: increments, returns the new value.
        case increment(StickDataType)
        /// `*_clr_gpc0`, `*_clr_gpc1`: clears, returns the old value.
        case clear(StickDataType)
        /// `sc_tracked`: whether the counter is tracked.
        case tracked
        /// `table_cnt`: entries in use.
        case count
        /// `table_avl`: free entries.
        case available
    }

    public var entry: Entry
    public var query: Query
    /// An index into `Configuration.stickTables` once resolved (while
    /// parsing: into the parser's table references); -1: the table the
    /// counter tracks.
    public var table: Int

    public init(entry: Entry, query: Query, table: Int) {
        self.entry = entry
        self.query = query
        self.table = table
    }
}

/// A stick table and the section that declares it.
public struct StickTableDeclaration: Sendable, Hashable {
    public var name: String
    public var spec: StickTableSpec
}

extension Configuration {
    /// Every stick table, in the order the shared segment lays them out:
    /// the backends' (and listen sections'), then the frontends'.
    public var stickTables: [StickTableDeclaration] {
        backends.compactMap { b in b.stickTable.map { StickTableDeclaration(name: b.name, spec: $0) } }
            + frontends.compactMap { f in f.stickTable.map { StickTableDeclaration(name: f.name, spec: $0) } }
    }
}

enum StickCounterSyntax {
    static let actions = ["track-sc0", "track-sc1", "track-sc2", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0"]

    /// Whether an action word is one of `actions` (`track-sc3` too, to say the number is wrong).
    static func isAction(_ name: String) -> Bool {
        actions.contains(name) || (name.hasPrefix("track-sc") && name.dropFirst(8).allSatisfy(\.isNumber) && name.count > 8)
    }

    /// The counters a fetch can read, by the name they have after `sc_`, `scN_` or `src_`.
    static let readable: [String: StickDataType] = [
        "get_gpt0": .gpt0, "get_gpc0": .gpc0, "gpc0_rate": .gpc0Rate, "get_gpc1": .gpc1, "conn_cnt": .connCount,
        "conn_cur": .connCurrent, "conn_rate": .connRate, "sess_cnt": .sessionCount, "sess_rate": .sessionRate,
        "http_req_cnt": .httpRequestCount, "http_req_rate": .httpRequestRate, "http_err_cnt": .httpErrorCount,
        "http_err_rate": .httpErrorRate, "bytes_in_cnt": .bytesInCount, "bytes_out_cnt": .bytesOutCount,
    ]

    static let queries: [String: StickFetch.Query] = {
        var all = readable.mapValues { StickFetch.Query.value($0) }
        all["inc_gpc0"] = .increment(.gpc0)
        all["inc_gpc1"] = .increment(.gpc1)
        all["clr_gpc0"] = .clear(.gpc0)
        all["clr_gpc1"] = .clear(.gpc1)
        return all
    }()

    /// Whether `name` is a stick-counter fetch.
    static func isFetch(_ name: String) -> Bool {
        split(name) != nil || name == "table_cnt" || name == "table_avl"
    }

    /// `sc_X`, `scN_X`, `src_X`: the entry and the query `X`.
    static func split(_ name: String) -> (entry: StickFetch.Entry?, query: StickFetch.Query)? {
        if name.hasPrefix("src_"), let q = queries[String(name.dropFirst(4))] { return (.source, q) }
        if name.hasPrefix("sc_") {
            let rest = String(name.dropFirst(3))
            if rest == "tracked" { return (nil, .tracked) }
            if let q = queries[rest] { return (nil, q) }
            return nil
        }
        let chars = Array(name)
        if chars.count > 4, name.hasPrefix("sc"), let n = chars[2].wholeNumberValue, chars[3] == "_" {
            let rest = String(chars[4...])
            if rest == "tracked" { return (.tracked(n), .tracked) }
            if let q = queries[rest] { return (.tracked(n), q) }
        }
        return nil
    }
}

extension ParserState {
    /// A stick table named in a rule or fetch, resolved once every section is
    /// read; nil `name`: the table of the section being read.
    private mutating func stickTableReference(_ name: String?) -> Int {
        // Spelled out: Swift 6.3.1's optimizer crashes (CopyPropagation) on
        // `name ?? proxyIndex.map { proxies[$0].name } ?? ""` in release builds.
        let table: String
        if let name {
            table = name
        } else if let index = proxyIndex {
            table = proxies[index].name
        } else {
            table = ""
        }
        stickTableReferences.append(NamedReference(name: table, location: lineLocationForReferences))
        return stickTableReferences.count - 1
    }

    /// `sc_*`, `scN_*`, `src_*`, `table_cnt`, `table_avl`; nil when `name` is none of them.
    mutating func stickCounterFetch(_ name: String, _ args: [String]?) -> Result<ParsedSample, SampleError>? {
        func fail(_ message: String) -> Result<ParsedSample, SampleError> { .failure(SampleError(offset: 0, message: message)) }
        let args = args ?? []
        if name == "table_cnt" || name == "table_avl" {
            guard args.count <= 1 else { return fail("'\(name)' takes at most a table name") }
            let table = stickTableReference(args.first.flatMap { $0.isEmpty ? nil : $0 })
            let fetch = StickFetch(entry: .table, query: name == "table_cnt" ? .count : .available, table: table)
            return .success(ParsedSample(sample: Sample(fetch: .stickCounter(fetch)), type: .integer, source: .constant))
        }
        guard let (entry, query) = StickCounterSyntax.split(name) else { return nil }
        let type: SampleType = query == .tracked ? .boolean : .integer
        var tableArgument: String?
        let resolved: StickFetch.Entry
        switch entry {
        case nil:
            // sc_X(N[,table])
            guard let first = args.first, let n = Int(first) else {
                return fail("'\(name)' expects a counter number, as in \(name)(0)")
            }
            guard (0...2).contains(n) else { return fail("'\(name)': the counter number must be 0, 1 or 2, got \(n)") }
            guard args.count <= 2 else { return fail("'\(name)' takes a counter number and a table name") }
            tableArgument = args.count == 2 && !args[1].isEmpty ? args[1] : nil
            resolved = .tracked(n)
        case .tracked(let n)?:
            guard (0...2).contains(n) else {
                return fail("'\(name)': the counter number must be 0, 1 or 2, got \(n)")
            }
            guard args.count <= 1 else { return fail("'\(name)' takes at most a table name") }
            tableArgument = args.first.flatMap { $0.isEmpty ? nil : $0 }
            resolved = .tracked(n)
        case let other?:
            guard args.count <= 1 else { return fail("'\(name)' takes at most a table name") }
            tableArgument = args.first.flatMap { $0.isEmpty ? nil : $0 }
            resolved = other
        }
        let table: Int
        if case .tracked = resolved, tableArgument == nil {
            table = -1
        } else {
            table = stickTableReference(tableArgument)
        }
        let fetch = StickFetch(entry: resolved, query: query, table: table)
        return .success(ParsedSample(sample: Sample(fetch: .stickCounter(fetch)), type: type, source: .connection))
    }

    /// `track-scN KEY [table NAME]`, `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`,
    /// `sc-set-gpt0(N) VALUE`: the action and the index of the word after
    /// its arguments, or nil (reported).
    mutating func stickCounterAction(_ words: [Word], at i: Int, context: String, maximum: FetchSource)
        -> (StickCounterAction, Int)? {
        let word = words[i]
        let text = word.text
        if text.hasPrefix("track-sc") {
            guard let n = Int(text.dropFirst(8)), (0...2).contains(n) else {
                error("\(context): the counter number must be 0, 1 or 2 (track-sc0, track-sc1, track-sc2)", at: word)
                return nil
            }
            guard i + 1 < words.count, words[i + 1].text != "if", words[i + 1].text != "unless" else {
                error("\(context): expected a key, as in '\(text) src'", at: word)
                return nil
            }
            guard let parsed = sampleValue(words[i + 1], context: context, maximum: maximum) else { return nil }
            let shape: StickKeyShape
            switch parsed.type {
            case .address: shape = .address
            case .integer, .boolean: shape = .integer
            case .string, .binary: shape = .string
            }
            var next = i + 2
            var tableName: String?
            if next < words.count, words[next].text == "table" {
                guard next + 1 < words.count else {
                    error("\(context): 'table' expects a table name", at: words[next])
                    return nil
                }
                currentReferenceLocation = location(words[next + 1])
                tableName = words[next + 1].text
                next += 2
            } else {
                currentReferenceLocation = location(word)
            }
            let table = stickTableReference(tableName)
            currentReferenceLocation = nil
            return (.track(StickTrack(counter: n, key: parsed.sample, keyShape: shape, table: table,
                                      location: location(word))), next)
        }
        // sc-inc-gpc0(N), sc-inc-gpc1(N), sc-set-gpt0(N)
        var name = text
        var counter = 0
        if let open = text.firstIndex(of: "(") {
            guard text.hasSuffix(")"), let n = Int(text[text.index(after: open)..<text.index(before: text.endIndex)]) else {
                error("\(context): expected a counter number in parentheses, as in sc-inc-gpc0(0)", at: word)
                return nil
            }
            name = String(text[..<open])
            counter = n
        }
        guard (0...2).contains(counter) else {
            error("\(context): the counter number must be 0, 1 or 2, got \(counter)", at: word)
            return nil
        }
        switch name {
        case "sc-inc-gpc0": return (.increment(counter: counter, type: .gpc0), i + 1)
        case "sc-inc-gpc1": return (.increment(counter: counter, type: .gpc1), i + 1)
        case "sc-set-gpt0":
            guard i + 1 < words.count, let value = Int64(words[i + 1].text) else {
                error("\(context): expected an integer value, as in 'sc-set-gpt0(0) 1'", at: i + 1 < words.count ? words[i + 1] : word)
                return nil
            }
            return (.setGPT0(counter: counter, value: value), i + 2)
        default:
            error("\(context): unknown action '\(name)'" + Keywords.didYouMean(name, among: StickCounterSyntax.actions)
                  .replacingDidYouMean(), at: word)
            return nil
        }
    }

    // MARK: Resolution

    /// Resolves the table names of `track-sc*` actions and stick-counter
    /// fetches, checks each tracked key's type against its table's.
    mutating func resolveStickCounters(_ config: inout Configuration) {
        let tables = config.stickTables
        var byName: [String: Int] = [:]
        for (i, t) in tables.enumerated() {
            if byName[t.name] != nil {
                report(.error, "stick-table: frontend '\(t.name)' and backend '\(t.name)' both declare a table named '\(t.name)'",
                       at: t.spec.location)
                continue
            }
            byName[t.name] = i
        }
        let names = tables.map(\.name)
        var resolved: [Int] = []
        var reported: [Bool] = []
        for reference in stickTableReferences {
            resolved.append(byName[reference.name] ?? -1)
            reported.append(false)
        }
        func index(_ reference: Int) -> Int {
            guard reference >= 0, reference < resolved.count else { return -1 }
            if resolved[reference] < 0 && !reported[reference] {
                reported[reference] = true
                let r = stickTableReferences[reference]
                report(.error, "no stick-table named '\(r.name)'" + Keywords.didYouMean(r.name, among: names), at: r.location)
            }
            return resolved[reference]
        }
        guard !stickTableReferences.isEmpty else { return }
        let rewrite: (inout Fetch) -> Void = { fetch in
            if case .stickCounter(var f) = fetch, f.table >= 0 {
                f.table = index(f.table)
                fetch = .stickCounter(f)
            }
        }
        for i in config.frontends.indices { config.frontends[i].rewriteFetches(rewrite) }
        for i in config.backends.indices { config.backends[i].rewriteFetches(rewrite) }
        func track(_ t: inout StickTrack) {
            t.table = index(t.table)
            guard t.table >= 0 else { return }
            let type = tables[t.table].spec.type
            let fits: Bool
            switch (t.keyShape, type) {
            case (.address, .ip), (.address, .ipv6), (.integer, .integer), (.string, .string): fits = true
            default: fits = false
            }
            if !fits {
                report(.error, "track-sc\(t.counter): the key is \(t.keyShape == .address ? "an address" : t.keyShape == .integer ? "an integer" : "a string") "
                       + "but table '\(tables[t.table].name)' has keys of type \(type.rawValue)", at: t.location)
                t.table = -1
            }
        }
        func rules(_ list: inout [HTTPRule]) {
            for r in list.indices {
                if case .stickCounter(.track(var t)) = list[r].action {
                    track(&t)
                    list[r].action = .stickCounter(.track(t))
                }
            }
        }
        func tcpRules(_ list: inout [TCPRule]) {
            for r in list.indices {
                if case .track(var t)? = list[r].stickAction {
                    track(&t)
                    list[r].stickAction = .track(t)
                }
            }
        }
        for i in config.frontends.indices {
            rules(&config.frontends[i].httpRequestRules)
            tcpRules(&config.frontends[i].tcpRequestConnectionRules)
            tcpRules(&config.frontends[i].tcpRequestContentRules)
        }
        for i in config.backends.indices {
            rules(&config.backends[i].httpRequestRules)
            tcpRules(&config.backends[i].tcpRequestContentRules)
        }
    }
}

/// The stick-counter actions of `http-request` and `tcp-request`.
public enum StickCounterAction: Sendable, Hashable {
    case track(StickTrack)
    /// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`.
    case increment(counter: Int, type: StickDataType)
    /// `sc-set-gpt0(N) VALUE`.
    case setGPT0(counter: Int, value: Int64)
}
