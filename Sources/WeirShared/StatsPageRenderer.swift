/// The HTML statistics page of `stats enable`/`stats uri`, in the spirit of
/// HAProxy's: a summary of the process, then one table per proxy (its
/// frontend, its servers, its backend), status cells coloured by state.
/// Values come from `StatsCSV`, the same as `show stat`.
public enum StatsPageRenderer {
    public struct Options: Sendable {
        /// The page's URI (`stats uri`), without `;` options, for links and the form.
        public var uri: String
        /// `stats refresh`, in seconds; nil or `;norefresh`: none.
        public var refresh: Int?
        public var hideVersion: Bool
        public var showLegends: Bool
        /// `stats admin` holds for this request: server checkboxes and actions.
        public var admin: Bool
        /// `;up`: only servers that are UP (or not checked).
        public var onlyUp: Bool
        /// `;st=…` after an admin action.
        public var outcome: String?
        /// `stats show-node`, `stats show-desc`: after the pid in the title.
        public var node: String?
        public var description: String?
        /// `stats scope`: the only proxies shown; nil: all.
        public var scope: Set<String>?

        public init(uri: String, refresh: Int? = nil, hideVersion: Bool = false, showLegends: Bool = false,
                    admin: Bool = false, onlyUp: Bool = false, outcome: String? = nil) {
            self.uri = uri
            self.refresh = refresh
            self.hideVersion = hideVersion
            self.showLegends = showLegends
            self.admin = admin
            self.onlyUp = onlyUp
            self.outcome = outcome
        }
    }

    /// The page's columns: a group title, then each column's title and `show stat` name.
    static let groups: [(title: String, columns: [(title: String, name: String)])] = [
        ("Queue", [("Cur", "qcur"), ("Max", "qmax")]),
        ("Sessions", [("Cur", "scur"), ("Max", "smax"), ("Limit", "slim"), ("Total", "stot"), ("LbTot", "lbtot"),
                      ("Last", "lastsess")]),
        ("Bytes", [("In", "bin"), ("Out", "bout")]),
        ("Denied", [("Req", "dreq"), ("Resp", "dresp")]),
        ("Errors", [("Req", "ereq"), ("Conn", "econ"), ("Resp", "eresp")]),
        ("Warnings", [("Retr", "wretr"), ("Redis", "wredis")]),
        ("Server", [("Status", "status"), ("LastChk", "check_status"), ("Wght", "weight"), ("Act", "act"),
                    ("Bck", "bck")]),
    ]

    static let outcomes: [String: String] = [
        "DONE": "The requested action was applied.",
        "NONE": "Nothing has changed.",
        "PART": "The action was applied to some of the servers only.",
        "ERRP": "The request could not be understood.",
        "EXCD": "The request was too large.",
        "DENY": "You are not allowed to change server states.",
    ]

    public static func render(view: StatsView, process: StatsProcessInfo, options: Options, now: Int) -> String {
        var out = ""
        out.reserveCapacity(32768)
        out += "<!DOCTYPE html>\n<html><head><title>Statistics Report for Weir"
        out += options.hideVersion ? "" : " " + escape(process.version)
        out += "</title>\n<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n"
        if let refresh = options.refresh { out += "<meta http-equiv=\"refresh\" content=\"\(refresh)\">\n" }
        out += style
        out += "</head>\n<body><h1>Weir"
        if !options.hideVersion { out += " version " + escape(process.version) }
        out += "</h1>\n<h2>Statistics Report for pid \(process.pid)"
        if let node = options.node { out += " on " + escape(node) }
        if let description = options.description { out += ": " + escape(description) }
        out += "</h2>\n"
        if let outcome = options.outcome, let text = outcomes[outcome] {
            let good = outcome == "DONE"
            out += "<p class=\"\(good ? "done" : "failed")\">" + text + " <a href=\"" + escape(options.uri)
                + "\">[close]</a></p>\n"
        }
        let totals = StatsCommands.processTotals(view: view, now: now)
        let up = max(0, Int64(now) - process.startedWall / 1000)
        out += "<p class=\"info\">pid = \(process.pid) (workers: \(process.workers)); uptime = "
            + StatsCommands.uptime(up) + "; maxconn = \(process.maxconn); current conns = \(totals.currentConnections);"
            + " total conns = \(totals.connections); total requests = \(totals.requests)</p>\n"
        out += "<p class=\"links\"><a href=\"" + escape(options.uri) + ";csv\">CSV export</a>"
        let base = escape(options.uri)
        out += options.onlyUp ? " | <a href=\"\(base)\">Show all servers</a>" : " | <a href=\"\(base);up\">Hide DOWN servers</a>"
        if options.refresh != nil { out += " | <a href=\"\(base);norefresh\">Disable refresh</a>" }
        out += "</p>\n"
        if options.showLegends { out += legend }

        // Rows grouped by proxy, in `show stat` order.
        var proxies: [(name: String, id: Int, rows: [StatsRow])] = []
        for row in view.rows(now: now) {
            if options.onlyUp, row.info.kind == .server, row.status != "UP", row.status != "no check" { continue }
            if let scope = options.scope, !scope.contains(row.info.proxy) { continue }
            if let last = proxies.last, last.id == row.info.proxyID {
                proxies[proxies.count - 1].rows.append(row)
            } else {
                proxies.append((row.info.proxy, row.info.proxyID, [row]))
            }
        }
        for proxy in proxies {
            let hasServers = proxy.rows.contains { $0.info.kind == .server }
            let adminForm = options.admin && hasServers
            if adminForm {
                out += "<form action=\"" + base + "\" method=\"post\">\n"
            }
            out += "<table class=\"tbl\">\n<tr class=\"titre\"><th class=\"pxname\" colspan=\"\(columnCount + (adminForm ? 2 : 1))\">"
                + escape(proxy.name) + "</th></tr>\n<tr class=\"titre\">"
            if adminForm { out += "<th rowspan=\"2\"></th>" }
            out += "<th rowspan=\"2\"></th>"
            for group in groups { out += "<th colspan=\"\(group.columns.count)\">\(group.title)</th>" }
            out += "</tr>\n<tr class=\"titre\">"
            for group in groups { for column in group.columns { out += "<th>\(column.title)</th>" } }
            out += "</tr>\n"
            for row in proxy.rows {
                let name = row.info.kind == .frontend ? "Frontend" : row.info.kind == .backend ? "Backend" : row.info.server
                out += "<tr class=\"" + rowClass(row) + "\">"
                if adminForm {
                    out += row.info.kind == .server
                        ? "<td><input type=\"checkbox\" name=\"s\" value=\"" + escape(row.info.server) + "\"></td>"
                        : "<td></td>"
                }
                out += "<td class=\"name\">" + escape(name) + "</td>"
                for group in groups {
                    for column in group.columns {
                        // A tracking server has no check of its own: HAProxy names the tracked one.
                        var text = column.name != "check_status" ? StatsCSV.value(named: column.name, row, now: now)
                            : row.info.tracked.isEmpty ? row.checkStatus : "via " + row.info.tracked
                        if column.name == "lastsess", text == "-1" { text = "" }
                        if column.name == "status", row.info.kind != .frontend, !text.isEmpty {
                            text += " " + duration(row.lastChange)
                        }
                        out += "<td>" + escape(text) + "</td>"
                    }
                }
                out += "</tr>\n"
            }
            out += "</table>\n"
            if adminForm {
                out += "<p>Choose the action to perform on the checked servers: <select name=\"action\">"
                    + "<option value=\"\">---</option><option value=\"ready\">Set state to READY</option>"
                    + "<option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option>"
                    + "</select><input type=\"hidden\" name=\"b\" value=\"#\(proxy.id)\">"
                    + "<input type=\"submit\" value=\"Apply\"></p>\n</form>\n"
            }
        }
        out += "</body></html>\n"
        return out
    }

    static var columnCount: Int { groups.reduce(0) { $0 + $1.columns.count } }

    /// HAProxy's row classes: the state colours the whole server row.
    static func rowClass(_ row: StatsRow) -> String {
        switch row.info.kind {
        case .frontend: return "frontend"
        case .backend: return row.status == "UP" ? "backend" : "backend_down"
        case .server:
            let prefix = row.info.isBackup ? "backup" : "active"
            switch row.status {
            case "UP": return prefix + "_up"
            case "NOLB": return prefix + "_nolb"
            case "DOWN": return prefix + "_down"
            case "DRAIN": return "draining"
            // `MAINT`, `MAINT (resolution)`, `MAINT (via …)`.
            case let status where status.hasPrefix("MAINT"): return "maintain"
            default: return prefix + "_no_check"
            }
        }
    }

    /// `1h02m`-style age of the last state change.
    static func duration(_ seconds: Int) -> String {
        let d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60
        if d > 0 { return "\(d)d\(h)h" }
        if h > 0 { return "\(h)h\(m)m" }
        if m > 0 { return "\(m)m\(s)s" }
        return "\(s)s"
    }

    /// Text for HTML content and attribute values.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
            return text
        }
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static let style = """
        <style type="text/css">
        body { font-family: arial, helvetica, sans-serif; font-size: 12px; background: #fff; color: #000; }
        h1 { font-size: 18px; color: #fff; background: #20446a; padding: 4px; }
        h2 { font-size: 14px; color: #20446a; }
        table.tbl { border-collapse: collapse; border: 1px solid #999; margin-bottom: 12px; }
        table.tbl td, table.tbl th { border: 1px solid #ccc; padding: 1px 4px; text-align: right; }
        th.pxname { background: #b00040; color: #ffff40; text-align: left; }
        tr.titre th { background: #20446a; color: #fff; }
        td.name { text-align: left; font-weight: bold; }
        tr.frontend, tr.backend { background: #e8e8d0; }
        tr.backend_down { background: #ff9090; }
        tr.active_up { background: #c0ffc0; }
        tr.active_down { background: #ff9090; }
        tr.active_no_check, tr.backup_no_check { background: #e0e0e0; }
        tr.backup_up { background: #b0d0ff; }
        tr.active_nolb, tr.backup_nolb { background: #ffffa0; }
        tr.backup_down { background: #ff9090; }
        tr.maintain { background: #c07820; }
        tr.draining { background: #20a0ff; }
        p.done { background: #20a0ff; padding: 4px; }
        p.failed { background: #ff9090; padding: 4px; }
        </style>

        """

    static let legend = """
        <table class="tbl"><tr><th>Legend</th></tr>
        <tr class="active_up"><td>active UP</td></tr><tr class="backup_up"><td>backup UP</td></tr>
        <tr class="active_down"><td>active or backup DOWN</td></tr><tr class="active_no_check"><td>not checked</td></tr>
        <tr class="active_nolb"><td>active or backup UP, taking no new sessions (NOLB)</td></tr>
        <tr class="maintain"><td>active or backup DOWN for maintenance (MAINT)</td></tr>
        <tr class="draining"><td>active or backup SOFT STOPPED for maintenance (DRAIN)</td></tr></table>

        """
}
