import Glibc
import WeirConfig
import WeirSystem

/// What `show info` says of the process serving the stats socket.
public struct StatsProcessInfo: Sendable {
    public var pid: Int32
    /// Worker processes (`nbthread`).
    public var workers: Int
    /// Wall-clock ms the process (the master, or the `-d` process) started.
    public var startedWall: Int64
    public var version: String
    public var maxconn: Int
    public var fileLimit: Int
    public var listeners: Int
    public var stopping: Bool

    public init(pid: Int32, workers: Int, startedWall: Int64, version: String, maxconn: Int, fileLimit: Int,
                listeners: Int, stopping: Bool) {
        self.pid = pid
        self.workers = workers
        self.startedWall = startedWall
        self.version = version
        self.maxconn = maxconn
        self.fileLimit = fileLimit
        self.listeners = listeners
        self.stopping = stopping
    }
}

/// What the runtime API asks of the health checker, which the host (the
/// master, or a `-d` process) runs once the command is answered.
public struct HealthRequest: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// `disable health`, `enable health`.
        case disable, enable
        /// `set server … health up|stopping|down`.
        case up, stopping, down
        /// `set server … addr`: the checks follow the server's new address.
        case address
    }

    public var backend: Int
    public var server: Int
    public var action: Action
}

extension HealthRequest {
    /// For a server without a check: the runtime API sets its health slot
    /// itself (`up` or `down`), which every worker reads.
    public func applyWithoutCheck(_ segment: SharedSegment, _ layout: SegmentLayout) {
        switch action {
        case .up: segment.setHealth(.up, layout.server(backend: backend, server))
        case .down: segment.setHealth(.down, layout.server(backend: backend, server))
        case .disable, .enable, .stopping, .address: break
        }
    }
}

/// A server's check in `show servers state` (HAProxy's numbers), from the
/// host's checker: nil for a server without a check.
public struct CheckColumns: Sendable, Hashable {
    public var status: Int
    public var result: Int
    public var health: Int
    public var state: Int

    public init(status: Int, result: Int, health: Int, state: Int) {
        self.status = status
        self.result = result
        self.health = health
        self.state = state
    }
}

/// The runtime API of `stats socket`: HAProxy's commands, answered from
/// shared memory. Pure text in, text out; the hosts (the master, or a `-d`
/// process) own the sockets.
public enum StatsCommands {
    public static func help(_ level: StatsLevel) -> String {
        var text = """
            The following commands are valid at this level:
              help                                    : this message
              prompt                                  : toggle interactive mode with prompt
              quit                                    : disconnect
              show info                               : report information about the running process
              show stat [iid type sid] [typed|json]   : report counters for each proxy and server
              show servers state [backend]            : dump volatile server information (version 1)
              show backend                            : list backends in the current running config
              get weight <bk>/<srv>                   : report a server's current weight
              show table [<name> [data.<type> <op> <v>|key <k>]] : report table usage stats or dump a table's contents
              show ssl cert [<certfile>]              : display the certificate files in use, or one file's details
              show ssl ocsp-response [<id>]           : display the ids of the stapled OCSP responses, or one response
              show tls-keys [id|*]                    : show tls-ticket-keys files, or the keys of one or all

            """
        if level >= .operator {
            text += "  clear counters [all]                    : clear max statistics counters (all: every counter)\n"
            text += "  clear table <name> [data.<type> <op> <v>|key <k>] : remove entries from a stick table\n"
        }
        if level >= .admin {
            text += """
                  disable server <bk>/<srv>               : disable a server for maintenance (use 'set server' instead)
                  enable server <bk>/<srv>                : enable a disabled server (use 'set server' instead)
                  set server <bk>/<srv> state ready|drain|maint : change a server's administrative state
                  set server <bk>/<srv> weight <w>[%]     : change a server's weight
                  set server <bk>/<srv> health up|stopping|down : force a server's health
                  set server <bk>/<srv> addr <ip> [port <port>] : change a server's address
                  disable health <bk>/<srv>               : stop a server's health checks (its state stays)
                  enable health <bk>/<srv>                : start a server's health checks again
                  set weight <bk>/<srv> <w>[%]            : change a server's weight (use 'set server' instead)
                  set maxconn server <bk>/<srv> <n>       : change a server's maxconn (0: no limit)
                  set maxconn frontend <fe> <n>           : change a frontend's maxconn (per worker)
                  set rate-limit connections|sessions|ssl-sessions global <n> : change a per-second limit (0: none)
                  set ssl ocsp-response <resp>            : staple a new base64 DER OCSP response for its certificate
                  set ssl tls-key [id|file] <key>         : set the next TLS ticket key of a tls-ticket-keys file

                """
        }
        return text
    }

    /// Runs one command; returns its answer (each ends with an empty line
    /// in HAProxy's way, added by the caller).
    public static func run(_ command: String, view: StatsView, process: StatsProcessInfo, level: StatsLevel) -> String {
        var ignored: [HealthRequest] = []
        return run(command, view: view, process: process, level: level, checks: { _, _ in nil }, health: &ignored)
    }

    /// Runs one command; `checks` tells what the host's checker knows of a
    /// server (backend and server indexes), and the health commands are
    /// added to `health` for the host to carry out.
    public static func run(_ command: String, view: StatsView, process: StatsProcessInfo, level: StatsLevel,
                           checks: (Int, Int) -> CheckColumns?, health: inout [HealthRequest]) -> String {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let now = Int(wallSeconds())
        func need(_ required: StatsLevel) -> Bool { level >= required }
        switch (words.first, words.count > 1 ? words[1] : nil) {
        case ("help", _), (nil, _):
            return help(level)
        case ("show", "info"):
            return showInfo(view: view, process: process, now: now)
        case ("show", "stat"):
            return showStat(Array(words.dropFirst(2)), view: view, now: now)
        case ("show", "servers") where words.count > 2 && words[2] == "state":
            return showServersState(words.count > 3 ? words[3] : nil, view: view, now: now, checks: checks)
        case ("disable", "health"), ("enable", "health"):
            guard need(.admin) else { return "Permission denied\n" }
            guard words.count > 2 else { return "Require 'backend/server'.\n" }
            switch serverIndexes(words[2], view.layout) {
            case .failure(let message): return message.description
            case .success(let (b, s)):
                health.append(HealthRequest(backend: b, server: s, action: words[0] == "disable" ? .disable : .enable))
                return ""
            }
        case ("show", "backend"):
            var text = "# name\n"
            for b in 0..<view.layout.backendCount { text += view.layout.entities[view.layout.backend(b)].proxy + "\n" }
            return text
        case ("show", "table"):
            return showTable(Array(words.dropFirst(2)), segment: view.current)
        case ("clear", "table"):
            guard need(.operator) else { return "Permission denied\n" }
            return clearTable(Array(words.dropFirst(2)), segment: view.current)
        case ("get", "weight"):
            guard words.count > 2 else { return "Require 'backend/server'.\n" }
            switch server(words[2], view.layout) {
            case .failure(let message): return message.description
            case .success(let entity):
                return "\(view.current.weight(entity)) (initial \(view.current.initialWeight(entity)))\n"
            }
        case ("clear", "counters"):
            let all = words.count > 2 && words[2] == "all"
            guard need(all ? .admin : .operator) else { return "Permission denied\n" }
            if all {
                view.current.clearCounters()
                for old in view.older { old.markHandedOver() }
            } else {
                view.current.clearMaxima()
                for old in view.older { old.clearMaxima() }
            }
            return ""
        case ("disable", "server"), ("enable", "server"):
            guard need(.admin) else { return "Permission denied\n" }
            guard words.count > 2 else { return "Require 'backend/server'.\n" }
            switch server(words[2], view.layout) {
            case .failure(let message): return message.description
            case .success(let entity):
                var admin = view.current.admin(entity)
                if words[0] == "disable" { admin.insert(.maint) } else { admin.remove(.maint) }
                view.current.setAdmin(admin, entity)
                return ""
            }
        case ("set", "server"):
            guard need(.admin) else { return "Permission denied\n" }
            guard words.count > 3 else { return "Require 'backend/server' and 'state' or 'weight'.\n" }
            let entity: Int
            switch server(words[2], view.layout) {
            case .failure(let message): return message.description
            case .success(let e): entity = e
            }
            switch words[3] {
            case "state":
                guard words.count > 4, let requested = RequestedAdminState(rawValue: words[4]) else {
                    return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
                }
                view.current.setAdmin(requested.applied(to: view.current.admin(entity)), entity)
                return ""
            case "weight":
                return setWeight(words.count > 4 ? words[4] : "", entity, view.current)
            case "health":
                let action: HealthRequest.Action
                switch words.count > 4 ? words[4] : "" {
                case "up": action = .up
                case "stopping": action = .stopping
                case "down": action = .down
                default: return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
                }
                guard case .success(let (b, s)) = serverIndexes(words[2], view.layout) else { return "No such server.\n" }
                if action == .stopping && checks(b, s) == nil {
                    return "Weir can set 'health stopping' only on a server with 'check'.\n"
                }
                health.append(HealthRequest(backend: b, server: s, action: action))
                return ""
            case "addr":
                return setAddress(Array(words.dropFirst(4)), entity, view: view, health: &health)
            default:
                return "'set server <srv>' only supports 'state', 'weight', 'health' and 'addr' in Weir.\n"
            }
        case ("set", "maxconn"):
            guard need(.admin) else { return "Permission denied\n" }
            guard words.count > 4, let limit = Int(words[4]), limit >= 0 else {
                return "Require 'frontend <name> <value>' or 'server <backend>/<server> <value>'.\n"
            }
            switch words[2] {
            case "server":
                switch server(words[3], view.layout) {
                case .failure(let message): return message.description
                case .success(let entity): view.current.setMaxconn(limit, entity)
                }
            case "frontend":
                guard let f = (0..<view.layout.frontendCount).first(where: { view.layout.entities[$0].proxy == words[3] }) else {
                    return "No such frontend.\n"
                }
                view.current.setMaxconn(limit, view.layout.frontend(f))
            default:
                return "'set maxconn' only supports 'frontend' and 'server' in Weir.\n"
            }
            return ""
        case ("set", "rate-limit"):
            guard need(.admin) else { return "Permission denied\n" }
            return setRateLimit(Array(words.dropFirst(2)), view.current)
        case ("set", "weight"):
            guard need(.admin) else { return "Permission denied\n" }
            guard words.count > 3 else { return "Require 'backend/server' and 'weight' or 'weight%'.\n" }
            switch server(words[2], view.layout) {
            case .failure(let message): return message.description
            case .success(let entity): return setWeight(words[3], entity, view.current)
            }
        default:
            return "Unknown command: '\(command)'\n" + help(level)
        }
    }

    // MARK: - Stick tables

    /// What `show table NAME …` and `clear table NAME …` select: every
    /// entry, one key, or entries whose server_id compares to a value.
    enum TableFilter {
        case all
        case key([UInt8])
        case serverID(op: String, value: Int64)
        /// `data.TYPE OP VALUE`: the index of TYPE in the table's `stores`.
        case data(index: Int, op: String, value: Int64)

        func accepts(_ entry: StickEntry) -> Bool {
            func compare(_ a: Int64, _ op: String, _ b: Int64) -> Bool {
                switch op {
                case "eq": return a == b
                case "ne": return a != b
                case "lt": return a < b
                case "le": return a <= b
                case "gt": return a > b
                default: return a >= b
                }
            }
            switch self {
            case .all: return true
            case .key(let key): return entry.key == key
            case .serverID(let op, let value): return compare(Int64(entry.serverID), op, value)
            case .data(let index, let op, let value): return index < entry.data.count && compare(entry.data[index], op, value)
            }
        }
    }

    /// The table and filter of `show|clear table NAME [key K | data.server_id OP V]`, or the error to answer.
    static func tableArguments(_ words: [String], segment: SharedSegment, verb: String) -> Result<(StickTable, TableFilter), Message> {
        guard let name = words.first else { return .failure(Message("Require a table name.\n")) }
        guard let table = segment.table(named: name) else { return .failure(Message("No such table\n")) }
        let rest = Array(words.dropFirst())
        switch rest.first {
        case nil:
            return .success((table, .all))
        case "key":
            guard rest.count == 2, let key = table.info.type.parse(rest[1], length: table.info.keyLength) else {
                return .failure(Message("Invalid key\n"))
            }
            return .success((table, .key(key)))
        case let other? where other.hasPrefix("data."):
            guard let type = StickDataType(rawValue: String(other.dropFirst(5))) else {
                return .failure(Message("Unknown data type\n"))
            }
            let index = table.info.stores.firstIndex { $0.type == type }
            guard type == .serverID || index != nil else { return .failure(Message("Data type not stored in this table\n")) }
            let ops = ["eq", "ne", "lt", "le", "gt", "ge"]
            guard rest.count == 3, ops.contains(rest[1]) else {
                return .failure(Message("Require an operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n"))
            }
            guard let value = Int64(rest[2]) else { return .failure(Message("Require a valid integer value to compare against\n")) }
            if let index { return .success((table, .data(index: index, op: rest[1], value: value))) }
            return .success((table, .serverID(op: rest[1], value: value)))
        default:
            return .failure(Message("Optional argument only supports \"data.<store_data_type>\" and key <key>\n"))
        }
    }

    static func tableHeader(_ table: StickTable) -> String {
        "# table: \(table.info.name), type: \(table.info.type.rawValue), size:\(table.info.size), used:\(table.used)\n"
    }

    /// `show table [NAME [filter]]`: HAProxy's lines, one per entry.
    static func showTable(_ words: [String], segment: SharedSegment) -> String {
        if words.isEmpty { return segment.tables.map(tableHeader).joined() }
        switch tableArguments(words, segment: segment, verb: "show") {
        case .failure(let message): return message.description
        case .success(let (table, filter)):
            let entries = table.entries(now: monotonicMilliseconds()).filter(filter.accepts)
            var text = tableHeader(table)
            // server_id shows unless the table stores other data and not it.
            let stores = table.info.stores
            let serverID = stores.isEmpty || stores.contains { $0.type == .serverID }
            for entry in entries {
                text += "0x" + String(entry.address, radix: 16) + ": key=" + table.info.type.text(entry.key)
                    + " use=\(entry.use) exp=\(max(0, entry.expiresIn ?? 0))"
                for (store, value) in zip(stores, entry.data) where store.type != .serverID || serverID {
                    text += " \(store)=\(value)"
                }
                if serverID && !stores.contains(where: { $0.type == .serverID }) { text += " server_id=\(entry.serverID)" }
                text += "\n"
            }
            return text
        }
    }

    /// `clear table NAME [filter]`: removes the selected entries.
    static func clearTable(_ words: [String], segment: SharedSegment) -> String {
        switch tableArguments(words, segment: segment, verb: "clear") {
        case .failure(let message): return message.description
        case .success(let (table, filter)):
            if case .key(let key) = filter {
                key.withUnsafeBytes { _ = table.remove($0) }
            } else {
                table.removeAll(where: filter.accepts, now: monotonicMilliseconds())
            }
            return ""
        }
    }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    public static func wallSeconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }

    /// `backend/server` to its entity, or the message HAProxy answers.
    static func server(_ name: String, _ layout: SegmentLayout) -> Result<Int, Message> {
        guard let slash = name.firstIndex(of: "/") else { return .failure(Message("Require 'backend/server'.\n")) }
        let backend = String(name[..<slash]), server = String(name[name.index(after: slash)...])
        guard layout.backend(named: backend) != nil else { return .failure(Message("No such backend.\n")) }
        guard let entity = layout.server(backend: backend, server: server) else { return .failure(Message("No such server.\n")) }
        return .success(entity)
    }

    /// `backend/server` to its backend and server indexes.
    static func serverIndexes(_ name: String, _ layout: SegmentLayout) -> Result<(Int, Int), Message> {
        guard let slash = name.firstIndex(of: "/") else { return .failure(Message("Require 'backend/server'.\n")) }
        let backend = String(name[..<slash]), server = String(name[name.index(after: slash)...])
        guard let b = (0..<layout.backendCount).first(where: { layout.entities[layout.backend($0)].proxy == backend }) else {
            return .failure(Message("No such backend.\n"))
        }
        guard let s = (0..<layout.serverCount[b]).first(where: { layout.entities[layout.server(backend: b, $0)].server == server }) else {
            return .failure(Message("No such server.\n"))
        }
        return .success((b, s))
    }

    struct Message: Error, CustomStringConvertible {
        var description: String
        init(_ text: String) { description = text }
    }

    /// `N%` of the configured weight, rounded, as `set server … weight N%`
    /// and a server's agent set it.
    public static func weight(percent: Int, of initial: Int) -> Int { (initial * percent + 50) / 100 }

    /// `N` or `N%` of the configured weight; 0...256.
    static func setWeight(_ text: String, _ entity: Int, _ segment: SharedSegment) -> String {
        let percent = text.hasSuffix("%")
        guard let number = Int(percent ? String(text.dropLast()) : text), number >= 0 else {
            return "Require <weight> or <weight%>.\n"
        }
        let weight = percent ? weight(percent: number, of: segment.initialWeight(entity)) : number
        guard weight <= 256 else { return "Absolute weight can only be between 0 and 256 inclusive.\n" }
        segment.setWeight(weight, entity)
        return ""
    }

    static func showStat(_ arguments: [String], view: StatsView, now: Int) -> String {
        var format = "csv"
        var numbers: [Int] = []
        for argument in arguments {
            switch argument {
            case "typed", "json": format = argument
            case "desc", "up", "no-maint": break
            default: if let n = Int(argument) { numbers.append(n) }
            }
        }
        var rows = view.rows(now: now)
        if numbers.count == 3 {
            let (iid, mask, sid) = (numbers[0], numbers[1], numbers[2])
            rows = rows.filter { row in
                if iid != -1 && row.info.proxyID != iid { return false }
                if mask != -1 {
                    let bit = row.info.kind == .frontend ? 1 : row.info.kind == .backend ? 2 : 4
                    if mask & bit == 0 { return false }
                }
                if sid != -1 && row.info.kind == .server && row.info.serverID != sid { return false }
                return true
            }
        }
        switch format {
        case "typed": return StatsCSV.renderTyped(rows, now: now)
        case "json": return StatsCSV.renderJSON(rows, now: now)
        default: return StatsCSV.render(rows, now: now)
        }
    }

    public static func uptime(_ seconds: Int64) -> String {
        let d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(d)d \(h)h\(two(m))m\(two(s))s"
    }

    /// `set rate-limit connections|sessions|ssl-sessions global <n>`, as in
    /// HAProxy (which also has `http-compression`, a limit Weir lacks).
    static func setRateLimit(_ words: [String], _ segment: SharedSegment) -> String {
        let count: RateLimits.Global
        switch words.first {
        case "connections": count = .connections
        case "sessions": count = .sessions
        case "ssl-sessions": count = .sslSessions
        default:
            return "'set rate-limit' supports :\n"
                + "   - 'connections global' to set the per-process maximum connection rate\n"
                + "   - 'sessions global' to set the per-process maximum session rate\n"
                + "   - 'ssl-sessions global' to set the per-process maximum SSL session rate\n"
        }
        guard words.count > 1, words[1] == "global" else { return "'set rate-limit \(words[0])' only supports 'global'.\n" }
        guard words.count > 2, let value = Int(words[2]) else { return "Expects an integer value.\n" }
        guard (0...Int(Int32.max)).contains(value) else { return "Value out of range.\n" }
        segment.setRateLimit(count, value)
        return ""
    }

    /// What `show info` sums over the frontends: sessions open now,
    /// connections and requests since the start, bytes sent to clients.
    public static func processTotals(view: StatsView, now: Int)
        -> (currentConnections: Int, connections: Int64, requests: Int64, bytesOut: Int64) {
        var totals = (currentConnections: 0, connections: Int64(0), requests: Int64(0), bytesOut: Int64(0))
        for f in 0..<view.layout.frontendCount {
            let row = view.row(view.layout.frontend(f), now: now)
            totals.currentConnections += row.current
            totals.connections += row[.connectionsTotal]
            totals.requests += row[.requestsTotal]
            totals.bytesOut += row[.bytesOut]
        }
        return totals
    }

    /// The process's per-second rates, their maxima and limits, as `show
    /// info` and the exporter give them (HAProxy's order).
    public static func processRates(view: StatsView) -> [(field: String, value: Int)] {
        // Connections and sessions: the frontends' rates summed (their
        // maxima too, which may not have been reached in the same second).
        var rates = SharedSegment.Rates()
        for f in 0..<view.layout.frontendCount {
            let r = view.current.rates(view.layout.frontend(f))
            rates.connection += r.connection
            rates.connectionMax += r.connectionMax
            rates.session += r.session
            rates.sessionMax += r.sessionMax
        }
        let limits = view.current.rateLimits
        return [
            ("ConnRate", rates.connection), ("ConnRateLimit", limits?.limit(.connections) ?? 0),
            ("MaxConnRate", rates.connectionMax), ("SessRate", rates.session),
            ("SessRateLimit", limits?.limit(.sessions) ?? 0), ("MaxSessRate", rates.sessionMax),
            ("SslRate", limits?.rate(RateLimits.window(.sslSessions), now: WeirSystem.Clock.monotonicMilliseconds()) ?? 0),
            ("SslRateLimit", limits?.limit(.sslSessions) ?? 0), ("MaxSslRate", limits?.sslMaximum ?? 0),
        ]
    }

    static func showInfo(view: StatsView, process: StatsProcessInfo, now: Int) -> String {
        let (currentConnections, connections, requests, bytesOut) = processTotals(view: view, now: now)
        let rates = processRates(view: view)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let node = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let up = max(0, Int64(now) - process.startedWall / 1000)
        // HAProxy 2.6's fields in its order; what Weir has no feature for
        // (pools, pipes, TLS key rates, compression, peers, ...) reads 0.
        let zero = "0"
        let lines: [(String, String)] = [
            ("Name", "Weir"), ("Version", process.version), ("Release_date", ""),
            ("Nbthread", String(process.workers)), ("Nbproc", "1"), ("Process_num", "1"), ("Pid", String(process.pid)),
            ("Uptime", uptime(up)), ("Uptime_sec", String(up)), ("Memmax_MB", zero), ("PoolAlloc_MB", zero),
            ("PoolUsed_MB", zero), ("PoolFailed", zero), ("Ulimit-n", String(process.fileLimit)),
            ("Maxsock", String(process.fileLimit)), ("Maxconn", String(process.maxconn)),
            ("Hard_maxconn", String(process.maxconn)), ("CurrConns", String(currentConnections)),
            ("CumConns", String(connections)), ("CumReq", String(requests)), ("MaxSslConns", zero),
            ("CurrSslConns", zero), ("CumSslConns", zero), ("Maxpipes", zero), ("PipesUsed", zero), ("PipesFree", zero),
        ] + rates.map { ($0.field, String($0.value)) } + [
            ("SslFrontendKeyRate", zero), ("SslFrontendMaxKeyRate", zero), ("SslFrontendSessionReuse_pct", zero), ("SslBackendKeyRate", zero), ("SslBackendMaxKeyRate", zero),
            ("SslCacheLookups", zero), ("SslCacheMisses", zero), ("CompressBpsIn", zero), ("CompressBpsOut", zero),
            ("CompressBpsRateLim", zero), ("Tasks", zero), ("Run_queue", zero), ("Idle_pct", "100"), ("node", node),
            ("Stopping", process.stopping ? "1" : "0"), ("Jobs", String(currentConnections + process.listeners)),
            ("Unstoppable Jobs", zero), ("Listeners", String(process.listeners)), ("ActivePeers", zero),
            ("ConnectedPeers", zero), ("DroppedLogs", zero), ("BusyPolling", zero), ("FailedResolutions", zero),
            ("TotalBytesOut", String(bytesOut)), ("TotalSplicdedBytesOut", zero), ("BytesOutRate", zero),
            ("DebugCommandsIssued", zero), ("CumRecvLogs", zero), ("Build info", process.version),
            ("Memmax_bytes", zero), ("PoolAlloc_bytes", zero), ("PoolUsed_bytes", zero),
            ("Start_time_sec", String(process.startedWall / 1000)), ("Tainted", zero),
        ]
        return lines.map { "\($0.0): \($0.1)\n" }.joined()
    }

    /// `show servers state`: version 1 of HAProxy's server-state format.
    static func showServersState(_ backend: String?, view: StatsView, now: Int,
                                 checks: (Int, Int) -> CheckColumns? = { _, _ in nil }) -> String {
        let layout = view.layout
        if let backend, layout.backend(named: backend) == nil { return "Can't find backend.\n" }
        var text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
            + "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
            + "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
            + "srv_check_addr srv_agent_addr srv_agent_port\n"
        let segment = view.current
        for b in 0..<layout.backendCount {
            let be = layout.entities[layout.backend(b)]
            if let backend, be.proxy != backend { continue }
            for s in 0..<layout.serverCount[b] {
                let e = layout.server(backend: b, s)
                let server = layout.entities[e]
                let admin = segment.admin(e)
                // HAProxy's SRV_ADMF_* bits: `disabled` in the configuration
                // is forced maintenance (0x01) marked as configured (0x04).
                var adminBits = 0
                if admin.contains(.maint) || admin.contains(.configMaint) { adminBits |= 0x01 }
                if admin.contains(.configMaint) { adminBits |= 0x04 }
                if admin.contains(.inheritedMaint) { adminBits |= 0x02 }
                if admin.contains(.drain) { adminBits |= 0x08 }
                if admin.contains(.inheritedDrain) { adminBits |= 0x10 }
                if admin.contains(.resolution) { adminBits |= 0x20 }
                let health = segment.health(e)
                let running = !admin.inMaintenance && health != .down
                var (address, port) = splitAddress(server.address)
                // A name is HAProxy's `srv_fqdn`; an address set at run time
                // (or none, while the name does not resolve) is `srv_addr`.
                let fqdn = IPAddress.parse(address) == nil && !Self.isSocketPath(address) ? address : "-"
                let runtime = segment.runtimeAddress(e)
                if runtime.isSet {
                    address = runtime.ip.isEmpty ? "-" : runtime.hostText
                    if !runtime.ip.isEmpty { port = String(runtime.port) }
                } else if admin.contains(.resolution) {
                    address = "-"
                }
                // Without a check, what HAProxy 2.6 prints for an unchecked
                // server: status INI (1), no result, health at the default
                // rise (2) while running, and checks paused (8) when disabled
                // in the configuration.
                let check = checks(b, s) ?? CheckColumns(status: 1, result: 0, health: running ? 2 : 0,
                                                         state: admin.contains(.configMaint) ? 8 : 0)
                let fields: [String] = [
                    String(be.proxyID), be.proxy, String(server.serverID), server.server, address,
                    running ? (health == .stopping ? "3" : "2") : "0", String(adminBits), String(segment.weight(e)), String(segment.initialWeight(e)),
                    String(max(0, now - segment.lastChange(e))), String(check.status), String(check.result),
                    String(check.health), String(check.state), "0", "0", "0", fqdn, port, "-", "0",
                    "0", "-", "-", "0",
                ]
                text += fields.joined(separator: " ") + "\n"
            }
        }
        return text
    }

    /// `set server <bk>/<srv> addr <ip> [port <port>]`, answered as HAProxy does.
    static func setAddress(_ words: [String], _ entity: Int, view: StatsView, health: inout [HealthRequest]) -> String {
        let segment = view.current
        let server = view.layout.entities[entity]
        guard let first = words.first, let ip = IPAddress.parse(first) else {
            return "set server <b>/<s> addr requires an address and optionally a port.\n"
        }
        var newPort: UInt16?
        if words.count > 1 {
            guard words.count == 3, words[1] == "port", let p = UInt16(words[2]), p > 0 else {
                return "set server <b>/<s> addr requires an address and optionally a port.\n"
            }
            newPort = p
        }
        guard !Self.isSocketPath(server.address), segment.addresses != nil else {
            return "Weir cannot change the address of this server.\n"
        }
        var (oldHost, oldPortText) = splitAddress(server.address)
        let runtime = segment.runtimeAddress(entity)
        if runtime.isSet {
            oldHost = runtime.ip.isEmpty ? "-" : runtime.hostText
            if !runtime.ip.isEmpty { oldPortText = String(runtime.port) }
        }
        let oldPort = UInt16(oldPortText) ?? 0
        let port = newPort ?? oldPort
        let newHost = RuntimeAddress(ip: ip.bytes, port: port).hostText
        var parts: [String] = []
        parts.append(newHost != oldHost ? "IP changed from '\(oldHost)' to '\(newHost)'" : "no need to change the addr")
        if newPort != nil {
            parts.append(port != oldPort ? "port changed from '\(oldPort)' to '\(port)'" : "no need to change the port")
        }
        var text = parts.joined(separator: ", ")
        if segment.setAddress(ip: ip.bytes, port: port, entity) {
            text += " by 'stats socket command'"
            if let b = view.layout.backendIndex(of: entity) {
                health.append(HealthRequest(backend: b, server: entity - view.layout.serverBase[b], action: .address))
            }
        }
        return text + "\n"
    }

    /// A server address naming a UNIX socket: a path, or `abns@NAME`.
    static func isSocketPath(_ address: String) -> Bool {
        address.hasPrefix("/") || address.hasPrefix("abns@")
    }

    /// `1.2.3.4:80` → (`1.2.3.4`, `80`), `[::1]:80` → (`::1`, `80`), a socket → (its name, `0`).
    static func splitAddress(_ address: String) -> (String, String) {
        guard !isSocketPath(address), let colon = address.lastIndex(of: ":") else { return (address, "0") }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, String(address[address.index(after: colon)...]))
    }
}
