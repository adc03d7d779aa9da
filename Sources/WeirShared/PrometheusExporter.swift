/// `http-request use-service prometheus-exporter`: the statistics in
/// Prometheus' text exposition format (version 0.0.4), with the metric names,
/// types and labels of HAProxy's exporter (promex). Values are those of
/// `show stat`, read through `StatsCSV` so both always agree.
public enum PrometheusExporter {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    enum Kind { case gauge, counter }

    /// One `haproxy_<scope>_<name>` family: the `show stat` column it shows,
    /// which rows have it (F, B, S), whether only HTTP proxies do, and how
    /// the column's text becomes the value.
    struct Family {
        var name: String
        var column: String
        var kind: Kind
        var help: String
        var scopes: String
        var httpOnly = false
        /// Milliseconds in the column, seconds in the metric.
        var milliseconds = false
    }

    /// In `show stat` column order, as HAProxy's exporter lists them
    /// (help texts as HAProxy 2.6.12 prints them).
    static let families: [Family] = [
        Family(name: "current_queue", column: "qcur", kind: .gauge, help: "Number of current queued connections", scopes: "BS"),
        Family(name: "max_queue", column: "qmax", kind: .gauge, help: "Highest value of queued connections encountered since process started", scopes: "BS"),
        Family(name: "current_sessions", column: "scur", kind: .gauge, help: "Number of current sessions on the frontend, backend or server", scopes: "FBS"),
        Family(name: "max_sessions", column: "smax", kind: .gauge, help: "Highest value of current sessions encountered since process started", scopes: "FBS"),
        Family(name: "limit_sessions", column: "slim", kind: .gauge, help: "Frontend/listener/server's maxconn, backend's fullconn", scopes: "FBS"),
        Family(name: "sessions_total", column: "stot", kind: .counter, help: "Total number of sessions since process started", scopes: "FBS"),
        Family(name: "bytes_in_total", column: "bin", kind: .counter, help: "Total number of request bytes since process started", scopes: "FBS"),
        Family(name: "bytes_out_total", column: "bout", kind: .counter, help: "Total number of response bytes since process started", scopes: "FBS"),
        Family(name: "requests_denied_total", column: "dreq", kind: .counter,
               help: "Total number of denied requests since process started", scopes: "FB"),
        Family(name: "responses_denied_total", column: "dresp", kind: .counter,
               help: "Total number of denied responses since process started", scopes: "FBS"),
        Family(name: "request_errors_total", column: "ereq", kind: .counter,
               help: "Total number of invalid requests since process started", scopes: "F"),
        Family(name: "connection_errors_total", column: "econ", kind: .counter,
               help: "Total number of failed connections to server since the worker process started", scopes: "BS"),
        Family(name: "response_errors_total", column: "eresp", kind: .counter,
               help: "Total number of invalid responses since the worker process started", scopes: "BS"),
        Family(name: "retry_warnings_total", column: "wretr", kind: .counter,
               help: "Total number of server connection retries since the worker process started", scopes: "BS"),
        Family(name: "redispatch_warnings_total", column: "wredis", kind: .counter,
               help: "Total number of server redispatches due to connection failures since the worker process started", scopes: "BS"),
        Family(name: "status", column: "status", kind: .gauge,
               help: "Current status of the service, per state label value.", scopes: "FBS"),
        Family(name: "weight", column: "weight", kind: .gauge,
               help: "Server's effective weight, or sum of active servers' effective weights for a backend", scopes: "BS"),
        Family(name: "active_servers", column: "act", kind: .gauge,
               help: "Total number of active UP servers with a non-zero weight", scopes: "B"),
        Family(name: "backup_servers", column: "bck", kind: .gauge,
               help: "Total number of backup UP servers with a non-zero weight", scopes: "B"),
        Family(name: "check_failures_total", column: "chkfail", kind: .counter,
               help: "Total number of failed individual health checks per server/backend, since the worker process started",
               scopes: "S"),
        Family(name: "check_up_down_total", column: "chkdown", kind: .counter,
               help: "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started",
               scopes: "BS"),
        Family(name: "check_last_change_seconds", column: "lastchg", kind: .gauge,
               help: "How long ago the last server state changed, in seconds", scopes: "BS"),
        Family(name: "downtime_seconds_total", column: "downtime", kind: .counter,
               help: "Total time spent in DOWN state, for server or backend", scopes: "BS"),
        Family(name: "queue_limit", column: "qlimit", kind: .gauge,
               help: "Limit on the number of connections in queue, for servers only (maxqueue argument)", scopes: "S"),
        Family(name: "loadbalanced_total", column: "lbtot", kind: .counter,
               help: "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)",
               scopes: "BS"),
        Family(name: "limit_session_rate", column: "rate_lim", kind: .gauge,
               help: "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)",
               scopes: "F"),
        Family(name: "max_session_rate", column: "rate_max", kind: .gauge,
               help: "Highest value of sessions per second observed since the worker process started", scopes: "FBS"),
        Family(name: "check_code", column: "check_code", kind: .gauge,
               help: "layer5-7 code, if available of the last health check.", scopes: "S"),
        Family(name: "check_duration_seconds", column: "check_duration", kind: .gauge,
               help: "Total duration of the latest server health check, in seconds.", scopes: "S", milliseconds: true),
        Family(name: "http_responses_total", column: "hrsp_*", kind: .counter,
               help: "Total number of HTTP responses with status 100-199 returned by this object since the worker process started", scopes: "FBS", httpOnly: true),
        Family(name: "http_requests_rate_max", column: "req_rate_max", kind: .gauge,
               help: "Highest value of http requests observed since the worker process started", scopes: "F",
               httpOnly: true),
        Family(name: "http_requests_total", column: "req_tot", kind: .counter,
               help: "Total number of HTTP requests processed by this object since the worker process started", scopes: "FB", httpOnly: true),
        Family(name: "client_aborts_total", column: "cli_abrt", kind: .counter,
               help: "Total number of requests or connections aborted by the client since the worker process started", scopes: "BS"),
        Family(name: "server_aborts_total", column: "srv_abrt", kind: .counter,
               help: "Total number of requests or connections aborted by the server since the worker process started", scopes: "BS"),
        Family(name: "last_session_seconds", column: "lastsess", kind: .gauge,
               help: "How long ago some traffic was seen on this object on this worker process, in seconds", scopes: "BS"),
        Family(name: "queue_time_average_seconds", column: "qtime", kind: .gauge,
               help: "Avg. queue time for last 1024 successful connections.", scopes: "BS", milliseconds: true),
        Family(name: "connect_time_average_seconds", column: "ctime", kind: .gauge,
               help: "Avg. connect time for last 1024 successful connections.", scopes: "BS", milliseconds: true),
        Family(name: "response_time_average_seconds", column: "rtime", kind: .gauge,
               help: "Avg. response time for last 1024 successful connections.", scopes: "BS", milliseconds: true),
        Family(name: "total_time_average_seconds", column: "ttime", kind: .gauge,
               help: "Avg. total time for last 1024 successful connections.", scopes: "BS", milliseconds: true),
        Family(name: "connections_rate_max", column: "conn_rate_max", kind: .gauge,
               help: "Highest value of connections per second observed since the worker process started", scopes: "F"),
        Family(name: "connections_total", column: "conn_tot", kind: .counter,
               help: "Total number of new connections accepted on this frontend since the worker process started", scopes: "F"),
        Family(name: "intercepted_requests_total", column: "intercepted", kind: .counter,
               help: "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started", scopes: "F", httpOnly: true),
        Family(name: "denied_connections_total", column: "dcon", kind: .counter,
               help: "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started", scopes: "F"),
        Family(name: "connection_attempts_total", column: "connect", kind: .counter,
               help: "Total number of outgoing connection attempts on this backend/server since the worker process started", scopes: "BS"),
        Family(name: "uweight", column: "uweight", kind: .gauge,
               help: "Server's user weight, or sum of active servers' user weights for a backend", scopes: "BS"),
    ]

    static let statusClasses: [(code: String, column: String)] = [
        ("1xx", "hrsp_1xx"), ("2xx", "hrsp_2xx"), ("3xx", "hrsp_3xx"), ("4xx", "hrsp_4xx"), ("5xx", "hrsp_5xx"),
        ("other", "hrsp_other"),
    ]

    /// The whole exposition: process metrics, then frontends, backends and
    /// servers, each family with its `# HELP` and `# TYPE` lines once.
    public static func render(view: StatsView, process: StatsProcessInfo, now: Int) -> String {
        var out = ""
        out.reserveCapacity(16384)
        renderProcess(&out, view: view, process: process, now: now)
        let rows = view.rows(now: now)
        let scopes: [(letter: Character, name: String, kind: EntityKind)] = [
            ("F", "frontend", .frontend), ("B", "backend", .backend), ("S", "server", .server),
        ]
        for scope in scopes {
            let scoped = rows.filter { $0.info.kind == scope.kind }
            guard !scoped.isEmpty else { continue }
            for f in families where f.scopes.contains(scope.letter) {
                if f.column == "status" {
                    family(&out, "haproxy_\(scope.name)_status", .gauge, f.help)
                    let states = scope.kind == .server ? ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"] : ["DOWN", "UP"]
                    for row in scoped {
                        let current = statusState(row)
                        for state in states {
                            sample(&out, "haproxy_\(scope.name)_status", labels(row) + ",state=\"\(state)\"",
                                   current == state ? "1" : "0")
                        }
                    }
                    continue
                }
                let applicable = scoped.filter { !f.httpOnly || $0.info.isHTTP }
                guard !applicable.isEmpty else { continue }
                let name = "haproxy_\(scope.name)_\(f.name)"
                var lines = ""
                for row in applicable {
                    if f.column == "hrsp_*" {
                        for (code, column) in statusClasses {
                            let text = StatsCSV.value(named: column, row, now: now)
                            sample(&lines, name, labels(row) + ",code=\"\(code)\"", text.isEmpty ? "0" : text)
                        }
                        continue
                    }
                    let text = StatsCSV.value(named: f.column, row, now: now)
                    // An empty column (no limit set): promex leaves such values out or writes 0.
                    let value = text.isEmpty ? "0" : f.milliseconds ? seconds(text) : text
                    sample(&lines, name, labels(row), value)
                }
                family(&out, name, f.kind, f.help)
                out += lines
            }
        }
        return out
    }

    /// The names and help of the `show info` rates (`processRates`), in its order.
    static let rateMetrics: [(String, String)] = [
        ("current_connection_rate", "Number of front connections created on this worker process over the last second"),
        ("limit_connection_rate", "Hard limit for ConnRate (global.maxconnrate)"),
        ("max_connection_rate", "Highest ConnRate reached on this worker process since started (in connections per second)"),
        ("current_session_rate", "Number of sessions created on this worker process over the last second"),
        ("limit_session_rate", "Hard limit for SessRate (global.maxsessrate)"),
        ("max_session_rate", "Highest SessRate reached on this worker process since started (in sessions per second)"),
        ("current_ssl_rate", "Number of SSL connections created on this worker process over the last second"),
        ("limit_ssl_rate", "Hard limit for SslRate (global.maxsslrate)"),
        ("max_ssl_rate", "Highest SslRate reached on this worker process since started (in connections per second)"),
    ]

    static func renderProcess(_ out: inout String, view: StatsView, process: StatsProcessInfo, now: Int) {
        let totals = StatsCommands.processTotals(view: view, now: now)
        let started = process.startedWall / 1000
        let up = max(0, Int64(now) - started)
        let metrics: [(String, Kind, String, String)] = [
            ("nbthread", .gauge, "Number of started threads (global.nbthread)", String(process.workers)),
            ("nbproc", .gauge, "Number of started worker processes (historical, always 1)", "1"),
            ("relative_process_id", .gauge, "Relative worker process number (1)", "1"),
            ("uptime_seconds", .gauge, "How long ago this worker process was started (seconds)", String(up)),
            ("max_fds", .gauge, "Hard limit on the number of per-process file descriptors", String(process.fileLimit)),
            ("max_connections", .gauge, "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)",
             String(process.maxconn)),
            ("hard_max_connections", .gauge, "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)",
             String(process.maxconn)),
            ("current_connections", .gauge, "Current number of connections on this worker process",
             String(totals.currentConnections)),
            ("connections_total", .counter, "Total number of connections on this worker process since started",
             String(totals.connections)),
            ("requests_total", .counter, "Total number of requests on this worker process since started",
             String(totals.requests)),
        ] + zip(rateMetrics, StatsCommands.processRates(view: view)).map { ($0.0, .gauge, $0.1, String($1.value)) } + [
            ("stopping", .gauge, "1 if the worker process is currently stopping, otherwise zero", process.stopping ? "1" : "0"),
            ("jobs", .gauge, "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)",
             String(totals.currentConnections + process.listeners)),
            ("listeners", .gauge, "Current number of active listeners on the current worker process",
             String(process.listeners)),
            ("bytes_out_total", .counter, "Total number of bytes emitted by current worker process since started",
             String(totals.bytesOut)),
        ]
        for (name, kind, help, value) in metrics {
            family(&out, "haproxy_process_" + name, kind, help)
            sample(&out, "haproxy_process_" + name, nil, value)
        }
        family(&out, "haproxy_process_build_info", .gauge, "Build info")
        sample(&out, "haproxy_process_build_info", "version=\"\(escape(process.version))\"", "1")
        // HAProxy 2.6 lists the start time last.
        family(&out, "haproxy_process_start_time_seconds", .gauge, "Start time in seconds")
        sample(&out, "haproxy_process_start_time_seconds", nil, String(started))
    }

    /// HAProxy's exporter's server states: MAINT over everything, DRAIN for
    /// a running server being drained, NOLB for a stopping one, UP or DOWN
    /// otherwise.
    static func statusState(_ row: StatsRow) -> String {
        switch row.status {
        case "MAINT", "DRAIN", "DOWN", "NOLB": return row.status
        case "OPEN", "UP", "no check": return "UP"
        // `MAINT (resolution)`, `MAINT (via …)`.
        case let status where status.hasPrefix("MAINT"): return "MAINT"
        default: return "DOWN"
        }
    }

    static func labels(_ row: StatsRow) -> String {
        var text = "proxy=\"" + escape(row.info.proxy) + "\""
        if row.info.kind == .server { text += ",server=\"" + escape(row.info.server) + "\"" }
        return text
    }

    static func family(_ out: inout String, _ name: String, _ kind: Kind, _ help: String) {
        out += "# HELP " + name + " " + help + "\n# TYPE " + name + (kind == .gauge ? " gauge\n" : " counter\n")
    }

    static func sample(_ out: inout String, _ name: String, _ labels: String?, _ value: String) {
        out += name
        if let labels { out += "{" + labels + "}" }
        out += " " + value + "\n"
    }

    /// `1234` ms as `1.234`.
    static func seconds(_ milliseconds: String) -> String {
        guard let ms = Int64(milliseconds) else { return "0" }
        let whole = ms / 1000, fraction = abs(ms % 1000)
        let digits = String(fraction)
        return "\(whole).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return text }
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
