import WeirConfig

/// What one statistics row shows: an entity's counters summed over the
/// workers of the current generation (with what earlier generations handed
/// over) and over what older generations still draining counted since.
public struct StatsRow: Sendable {
    public var entity: Int
    public var info: SegmentEntity
    public var totals: [Int64]
    /// Sessions (connections for a server) open now, every generation.
    public var current: Int
    public var maximum: Int
    public var limit: Int
    public var status: String
    public var weight: Int
    public var userWeight: Int
    public var active: Int
    public var backup: Int
    public var lastChange: Int
    public var checkStatus: String
    /// A server's last check and agent check results.
    public var check = SharedSegment.CheckRecord()
    public var agent = SharedSegment.CheckRecord()
    /// `chkfail`, `chkdown`, `downtime` (seconds) of a server or backend.
    public var failedChecks = 0
    public var downTransitions = 0
    public var downtime = 0
    public var rates = SharedSegment.Rates()
    /// A frontend's `rate-limit sessions` (0: none).
    public var sessionRateLimit = 0

    public subscript(_ counter: Counter) -> Int64 { totals[counter.rawValue] }
}

/// The statistics of a running configuration, read from shared memory.
public struct StatsView {
    public let current: SharedSegment
    /// Older generations whose workers still drain.
    public let older: [SharedSegment]

    /// For each older segment, its entities by name.
    let olderIndex: [[String: Int]]

    public init(current: SharedSegment, older: [SharedSegment] = []) {
        self.current = current
        self.older = older
        olderIndex = older.map { segment in
            var index: [String: Int] = [:]
            for (i, entity) in segment.layout.entities.enumerated() { index[entity.key] = i }
            return index
        }
    }

    public var layout: SegmentLayout { current.layout }

    /// Whether a server takes traffic in the eyes of `show stat`: not in
    /// maintenance and not down (draining servers still count).
    func serverRunning(_ entity: Int) -> Bool {
        !current.admin(entity).inMaintenance && current.health(entity) != .down
    }

    public func row(_ entity: Int, now: Int) -> StatsRow {
        let info = layout.entities[entity]
        var totals = current.totals(entity)
        var open = current.current(entity)
        for (old, index) in zip(older, olderIndex) {
            guard let o = index[info.key] else { continue }
            let late = old.countedSinceHandOver(o)
            for counter in Counter.allCases {
                switch counter.combine {
                case .sum, .gauge: totals[counter.rawValue] &+= late[counter.rawValue]
                case .max: totals[counter.rawValue] = max(totals[counter.rawValue], late[counter.rawValue])
                }
            }
            open += old.current(o)
        }
        var row = StatsRow(entity: entity, info: info, totals: totals, current: open,
                           maximum: max(current.maximum(entity), open), limit: 0, status: "", weight: 0, userWeight: 0,
                           active: 0, backup: 0, lastChange: 0, checkStatus: "", rates: current.rates(entity))
        switch info.kind {
        case .frontend:
            row.status = info.isStopped ? "STOP" : "OPEN"
            row.limit = current.maxconn(entity)
            row.sessionRateLimit = current.rateLimits?.frontendLimit(entity) ?? 0
        case .server:
            let admin = current.admin(entity)
            let health = current.health(entity)
            if admin == .resolution {
                row.status = "MAINT (resolution)"
            } else if admin.inMaintenance {
                // Only inherited: HAProxy names the server it comes through.
                row.status = admin == .inheritedMaint ? "MAINT (via \(info.tracked))" : "MAINT"
            } else if admin.isDraining {
                row.status = "DRAIN"
            } else {
                switch health {
                case .noCheck: row.status = "no check"
                case .up: row.status = "UP"
                case .stopping: row.status = "NOLB"
                case .down: row.status = "DOWN"
                }
            }
            // HAProxy shows a server's effective weight whatever its state:
            // down, drained or in maintenance, it keeps its weight.
            row.userWeight = current.weight(entity)
            row.weight = row.userWeight
            row.active = info.isBackup ? 0 : 1
            row.backup = info.isBackup ? 1 : 0
            row.limit = current.maxconn(entity)
            row.lastChange = max(0, now - current.lastChange(entity))
            if info.checkRise > 0 {
                row.check = current.checkRecord(entity)
                row.checkStatus = row.check.status
            }
            if info.hasAgent { row.agent = current.checkRecord(entity, agent: true) }
            (row.failedChecks, row.downTransitions, row.downtime) = current.checkCounters(entity, now: now)
        case .backend:
            guard let b = layout.backendIndex(of: entity) else { break }
            var anyRunning = false
            var lastChange = current.createdWall
            for s in 0..<layout.serverCount[b] {
                let e = layout.server(backend: b, s)
                lastChange = max(lastChange, current.lastChange(e))
                guard serverRunning(e) else { continue }
                anyRunning = true
                let drain = current.admin(e).isDraining
                if layout.entities[e].isBackup { row.backup += 1 } else { row.active += 1 }
                if !drain && !layout.entities[e].isBackup { row.weight += current.weight(e) }
            }
            row.userWeight = row.weight
            row.status = anyRunning ? "UP" : "DOWN"
            row.lastChange = max(0, now - lastChange)
            (_, row.downTransitions, row.downtime) = current.checkCounters(entity, now: now)
        }
        return row
    }

    /// Rows in `show stat` order, optionally only those of one proxy id and type mask.
    public func rows(now: Int) -> [StatsRow] {
        layout.statOrder.map { row($0, now: now) }
    }
}

/// `show stat`: HAProxy 2.6's CSV columns, in its order.
public enum StatsCSV {
    /// Column names, and which kinds fill them (F frontend, B backend, S server).
    public static let columns: [(name: String, kinds: String)] = [
        ("pxname", "FBS"), ("svname", "FBS"), ("qcur", "BS"), ("qmax", "BS"), ("scur", "FBS"), ("smax", "FBS"),
        ("slim", "FBS"), ("stot", "FBS"), ("bin", "FBS"), ("bout", "FBS"), ("dreq", "FB"), ("dresp", "FBS"),
        ("ereq", "F"), ("econ", "BS"), ("eresp", "BS"), ("wretr", "BS"), ("wredis", "BS"), ("status", "FBS"),
        ("weight", "BS"), ("act", "BS"), ("bck", "BS"), ("chkfail", "S"), ("chkdown", "BS"), ("lastchg", "BS"),
        ("downtime", "BS"), ("qlimit", "S"), ("pid", "FBS"), ("iid", "FBS"), ("sid", "FBS"), ("throttle", ""),
        ("lbtot", "BS"), ("tracked", "S"), ("type", "FBS"), ("rate", "FBS"), ("rate_lim", "F"), ("rate_max", "FBS"),
        ("check_status", "S"), ("check_code", "S"), ("check_duration", "S"), ("hrsp_1xx", "FBS"), ("hrsp_2xx", "FBS"),
        ("hrsp_3xx", "FBS"), ("hrsp_4xx", "FBS"), ("hrsp_5xx", "FBS"), ("hrsp_other", "FBS"), ("hanafail", ""),
        ("req_rate", "F"), ("req_rate_max", "F"), ("req_tot", "FBS"), ("cli_abrt", "BS"), ("srv_abrt", "BS"),
        ("comp_in", "FB"), ("comp_out", "FB"), ("comp_byp", "FB"), ("comp_rsp", "FB"), ("lastsess", "BS"),
        ("last_chk", "S"), ("last_agt", "S"), ("qtime", "BS"), ("ctime", "BS"), ("rtime", "BS"), ("ttime", "BS"),
        ("agent_status", "S"), ("agent_code", "S"), ("agent_duration", "S"), ("check_desc", "S"), ("agent_desc", "S"),
        ("check_rise", "S"), ("check_fall", "S"), ("check_health", "S"), ("agent_rise", "S"), ("agent_fall", "S"),
        ("agent_health", "S"), ("addr", "S"), ("cookie", "BS"), ("mode", "FBS"), ("algo", "B"), ("conn_rate", "F"),
        ("conn_rate_max", "F"), ("conn_tot", "F"), ("intercepted", "F"), ("dcon", "F"), ("dses", "F"), ("wrew", "FBS"),
        ("connect", "BS"), ("reuse", "BS"), ("cache_lookups", "FB"), ("cache_hits", "FB"), ("srv_icur", ""),
        ("src_ilim", ""), ("qtime_max", ""), ("ctime_max", ""), ("rtime_max", ""), ("ttime_max", ""), ("eint", "FBS"),
        ("idle_conn_cur", ""), ("safe_conn_cur", ""), ("used_conn_cur", ""), ("need_conn_est", ""), ("uweight", "BS"),
        ("agg_server_status", ""), ("agg_server_check_status", ""), ("agg_check_status", ""),
        // HAProxy ends the static columns with "-", then come its stats
        // modules' columns: those of its `ssl` module, on every row.
        (moduleDelimiter, "FBS"), ("ssl_sess", "FBS"), ("ssl_reused_sess", "FBS"), ("ssl_failed_handshake", "FBS"),
    ]

    /// The column (and the value in every row) that ends the static columns;
    /// `typed` and `json` skip it, and number the module columns after it from its position.
    public static let moduleDelimiter = "-"
    static var delimiterPosition: Int { positions[moduleDelimiter]! }

    /// The field position `typed` and `json` give a column: the delimiter has none.
    static func fieldPosition(_ column: Int) -> Int { column > delimiterPosition ? column - 1 : column }

    public static var header: String { "# " + columns.map(\.name).joined(separator: ",") + ",\n" }

    /// Each column's position by name.
    static let positions: [String: Int] = {
        var positions: [String: Int] = [:]
        for (i, column) in columns.enumerated() { positions[column.name] = i }
        return positions
    }()

    /// The column `name` of a row, as `show stat` prints it ("" when it does not apply).
    public static func value(named name: String, _ row: StatsRow, now: Int) -> String {
        guard let column = positions[name] else { return "" }
        return value(column, row, now: now)
    }

    static func average(_ sum: Int64, _ count: Int64) -> String { count > 0 ? String(sum / count) : "0" }

    /// One column of a row; "" when the column does not apply to the row's kind.
    public static func value(_ column: Int, _ row: StatsRow, now: Int) -> String {
        let (name, kinds) = columns[column]
        let kind: Character = row.info.kind == .frontend ? "F" : row.info.kind == .backend ? "B" : "S"
        guard kinds.contains(kind) else { return "" }
        let http = row.info.isHTTP
        switch name {
        case "pxname": return row.info.proxy
        case "svname": return row.info.kind == .frontend ? "FRONTEND" : row.info.kind == .backend ? "BACKEND" : row.info.server
        case "qcur": return String(row[.queueCurrent])
        case "qmax": return String(row[.queueMax])
        case "scur": return String(row.current)
        case "smax": return String(row.maximum)
        case "slim": return row.limit > 0 ? String(row.limit) : ""
        case "stot": return String(row[.sessionsTotal])
        case "bin": return String(row[.bytesIn])
        case "bout": return String(row[.bytesOut])
        case "dreq": return String(row[.deniedRequests])
        case "dresp": return String(row[.deniedResponses])
        case "ereq": return String(row[.requestErrors])
        case "econ": return String(row[.connectionErrors])
        case "eresp": return String(row[.responseErrors])
        case "wretr": return String(row[.retries])
        case "wredis": return String(row[.redispatches])
        case "status": return row.status
        case "chkfail": return row.info.checkRise > 0 ? String(row.failedChecks) : ""
        case "chkdown":
            return row.info.kind == .backend || row.info.checkRise > 0 ? String(row.downTransitions) : ""
        case "downtime": return row.info.kind == .backend || row.info.checkRise > 0 ? String(row.downtime) : ""
        case "check_status", "check_code", "check_duration", "last_chk", "check_desc", "check_rise", "check_fall",
             "check_health":
            // HAProxy pauses (and hides) the checks while a server is in maintenance.
            guard row.info.checkRise > 0, !row.status.hasPrefix("MAINT") else { return "" }
            return checkField(name, row.check, rise: row.info.checkRise, fall: row.info.checkFall)
        case "agent_status", "agent_code", "agent_duration", "last_agt", "agent_desc", "agent_rise", "agent_fall",
             "agent_health":
            guard row.info.hasAgent, !row.status.hasPrefix("MAINT") else { return "" }
            // An agent's rise and fall are always 1.
            return checkField(name, row.agent, rise: 1, fall: 1)
        case "cookie": return row.info.cookie
        case "algo": return row.info.algorithm
        case "weight": return String(row.weight)
        case "act": return String(row.active)
        case "bck": return String(row.backup)
        case "lastchg": return String(row.lastChange)
        case "pid": return "1"
        case "iid": return String(row.info.proxyID)
        case "sid": return String(row.info.serverID)
        case "lbtot": return String(row[.lbTotal])
        case "tracked": return row.info.tracked
        case "qlimit": return row.info.queueLimit > 0 ? String(row.info.queueLimit) : ""
        case "type": return row.info.kind == .frontend ? "0" : row.info.kind == .backend ? "1" : "2"
        case "rate": return String(row.rates.session)
        case "rate_max": return String(row.rates.sessionMax)
        case "req_rate": return String(row.rates.request)
        case "req_rate_max": return String(row.rates.requestMax)
        case "conn_rate": return String(row.rates.connection)
        case "conn_rate_max": return String(row.rates.connectionMax)
        case "rate_lim": return String(row.sessionRateLimit)
        case "hrsp_1xx": return http ? String(row[.http1xx]) : ""
        case "hrsp_2xx": return http ? String(row[.http2xx]) : ""
        case "hrsp_3xx": return http ? String(row[.http3xx]) : ""
        case "hrsp_4xx": return http ? String(row[.http4xx]) : ""
        case "hrsp_5xx": return http ? String(row[.http5xx]) : ""
        case "hrsp_other": return http ? String(row[.httpOther]) : ""
        case "req_tot": return http ? String(row[.requestsTotal]) : ""
        case "cli_abrt": return String(row[.clientAborts])
        case "srv_abrt": return String(row[.serverAborts])
        case "comp_in": return http ? String(row[.compressionIn]) : ""
        case "comp_out": return http ? String(row[.compressionOut]) : ""
        case "comp_byp": return http ? "0" : ""
        case "comp_rsp": return http ? String(row[.compressedResponses]) : ""
        case "lastsess":
            let last = row[.lastSession]
            return last > 0 ? String(max(0, Int64(now) - last)) : "-1"
        case "qtime": return average(row[.queueTimeSum], row[.timedCount])
        case "ctime": return average(row[.connectTimeSum], row[.connectCount])
        case "rtime": return average(row[.responseTimeSum], row[.responseCount])
        case "ttime": return average(row[.totalTimeSum], row[.timedCount])
        case "addr": return row.info.address
        case "mode": return row.info.isHTTP ? "http" : "tcp"
        case "conn_tot": return String(row[.connectionsTotal])
        case "intercepted": return String(row[.intercepted])
        case "dcon": return String(row[.deniedConnections])
        // What Weir has no feature for (session rules, header rewrites,
        // internal errors, connection reuse, a cache) counts nothing.
        case "dses", "wrew", "eint", "reuse", "cache_lookups", "cache_hits": return "0"
        case "connect": return String(row[.lbTotal])
        case "uweight": return String(row.userWeight)
        case moduleDelimiter: return moduleDelimiter
        case "ssl_sess": return String(row[.sslSessions])
        case "ssl_reused_sess": return String(row[.sslReusedSessions])
        case "ssl_failed_handshake": return String(row[.sslFailedHandshakes])
        default: return ""
        }
    }

    /// A check's (or agent's) column, by the check's name for it (`check_code`,
    /// `agent_code`…): as HAProxy, `INI` before the first result, a code
    /// only from layer 5-7 statuses, a duration once a check ended.
    static func checkField(_ name: String, _ record: SharedSegment.CheckRecord, rise: Int, fall: Int) -> String {
        let status = record.status.isEmpty ? "INI" : record.status
        switch name.split(separator: "_", maxSplits: 1).last ?? "" {
        case "status": return status
        case "code": return ["L7OK", "L7OKC", "L7STS"].contains(status) ? String(record.code ?? 0) : ""
        case "duration": return record.duration.map(String.init) ?? ""
        case "chk", "agt": return record.info
        case "desc": return checkDescriptions[status] ?? ""
        case "rise": return String(rise)
        case "fall": return String(fall)
        case "health": return String(record.health)
        default: return ""
        }
    }

    /// HAProxy's words for each check status (`check_desc`, `agent_desc`).
    static let checkDescriptions: [String: String] = [
        "INI": "Initializing", "HANA": "Health analyze", "SOCKERR": "Socket error", "CHECKED": "No status change",
        "L4OK": "Layer4 check passed", "L4TOUT": "Layer4 timeout", "L4CON": "Layer4 connection problem",
        "L6OK": "Layer6 check passed", "L6TOUT": "Layer6 timeout", "L6RSP": "Layer6 invalid response",
        "L7TOUT": "Layer7 timeout", "L7RSP": "Layer7 invalid response", "L7OK": "Layer7 check passed",
        "L7OKC": "Layer7 check conditionally passed", "L7STS": "Layer7 wrong status",
    ]

    /// The CSV, header first, then one line per row, then an empty line.
    public static func render(_ rows: [StatsRow], now: Int) -> String {
        var text = header
        for row in rows {
            text += (0..<columns.count).map { value($0, row, now: now) }.joined(separator: ",") + ",\n"
        }
        return text
    }

    /// `show stat typed`: one line per non-empty field,
    /// `T.iid.sid.0.pos.name.1:tags:type:value` (T: F, B or S).
    public static func renderTyped(_ rows: [StatsRow], now: Int) -> String {
        var text = ""
        for row in rows {
            let kind = row.info.kind.rawValue
            for column in columns.indices where column != delimiterPosition {
                let value = self.value(column, row, now: now)
                guard !value.isEmpty else { continue }
                let (tags, type) = describe(column, kind: row.info.kind)
                text += "\(kind).\(row.info.proxyID).\(row.info.serverID).\(fieldPosition(column)).\(columns[column].name).1:\(tags):\(type):\(value)\n"
            }
        }
        return text
    }

    /// `show stat json`: an array per row of field objects.
    public static func renderJSON(_ rows: [StatsRow], now: Int) -> String {
        var objects: [String] = []
        for row in rows {
            var fields: [String] = []
            let objType = row.info.kind == .frontend ? "Frontend" : row.info.kind == .backend ? "Backend" : "Server"
            for column in columns.indices where column != delimiterPosition {
                let value = self.value(column, row, now: now)
                guard !value.isEmpty else { continue }
                let (tags, type) = describe(column, kind: row.info.kind)
                let chars = Array(tags)
                let origin = chars[0] == "K" ? "Key" : chars[0] == "C" ? "Config" : chars[0] == "S" ? "Status" : "Metric"
                let nature: String
                switch chars[1] {
                case "N": nature = "Name"
                case "G": nature = "Gauge"
                case "L": nature = "Limit"
                case "a": nature = "Avg"
                case "A": nature = "Age"
                case "O": nature = "Output"
                case "D": nature = "Duration"
                case "M": nature = "Max"
                case "R": nature = "Rate"
                default: nature = "Counter"
                }
                let scope = chars[2] == "S" ? "Service" : "Process"
                let rendered = type == "str" ? "\"" + jsonEscape(value) + "\"" : value
                fields.append("{\"objType\":\"\(objType)\",\"proxyId\":\(row.info.proxyID),\"id\":\(row.info.serverID),"
                    + "\"field\":{\"pos\":\(fieldPosition(column)),\"name\":\"\(columns[column].name)\"},\"processNum\":1,"
                    + "\"tags\":{\"origin\":\"\(origin)\",\"nature\":\"\(nature)\",\"scope\":\"\(scope)\"},"
                    + "\"value\":{\"type\":\"\(type)\",\"value\":\(rendered)}}")
            }
            objects.append("[" + fields.joined(separator: ",") + "]")
        }
        return "[" + objects.joined(separator: ",") + "]\n"
    }

    /// Tags (origin, nature, scope) and value type of a column on a row of
    /// `kind`, as HAProxy 2.6's `show stat typed` prints them: origin K(ey),
    /// C(onfig), S(tatus), M(etric); nature N(ame), G(auge), L(imit),
    /// a(verage), A(ge), O(utput), D(uration), M(ax), C(ounter), R(ate);
    /// scope S(ervice), P(rocess).
    static func describe(_ column: Int, kind: EntityKind) -> (tags: String, type: String) {
        switch columns[column].name {
        case "pxname", "svname": return ("KNS", "str")
        case "status": return ("SGP", "str")
        case "check_status", "last_chk", "check_desc", "agent_status", "last_agt", "agent_desc": return ("MOP", "str")
        case "check_code", "agent_code": return ("MOP", "u32")
        case "addr", "mode", "algo": return ("CGS", "str")
        case "tracked", "cookie": return ("CNS", "str")
        case "pid": return ("KGP", "u32")
        case "iid", "sid": return ("KGS", "u32")
        case "type", "check_rise", "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health":
            return ("CGS", "u32")
        case "slim", "rate_lim": return ("CLP", "u32")
        case "qlimit": return ("CLS", "u32")
        case "weight", "uweight", "qtime", "ctime", "rtime", "ttime": return ("MaP", "u32")
        case "act", "bck": return (kind == .server ? "SGP" : "MGP", "u32")
        case "rate": return (kind == .backend ? "MGP" : "MRP", "u32")
        case "rate_max": return (kind == .backend ? "MGP" : "MMP", "u32")
        case "req_rate", "conn_rate": return ("MRP", "u32")
        case "qcur", "scur", "srv_icur": return ("MGP", "u32")
        case "qmax", "smax", "req_rate_max", "conn_rate_max", "qtime_max", "ctime_max", "rtime_max", "ttime_max":
            return ("MMP", "u32")
        case "lastchg": return ("MAP", "u32")
        case "lastsess": return ("MAP", "s32")
        case "downtime": return ("MCP", "u32")
        case "check_duration", "agent_duration": return ("MDP", "u64")
        default: return ("MCP", "u64")
        }
    }

    static func jsonEscape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
