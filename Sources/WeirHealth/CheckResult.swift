import WeirConfig

/// What one check found, in HAProxy's vocabulary (`check_status`): the
/// `reason` of the log line, an optional status `code` and `info` text.
public struct CheckResult: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        /// Layer 4 connection problem (refused, unreachable, reset).
        case layer4Connection
        case layer4Timeout
        case layer4OK
        /// The TLS handshake of a `check-ssl` check failed (or its verification).
        case layer6Invalid
        case layer6Timeout
        /// A connect-only check over TLS passed.
        case layer6OK
        case layer7Timeout
        /// Not a valid response (not HTTP, closed early, empty).
        case layer7Invalid
        /// A response that did not meet the expectation.
        case layer7WrongStatus
        case layer7OK
        /// `http-check disable-on-404` and a 404: the server runs on,
        /// without new sessions from the balancer.
        case layer7Conditional
        /// Passive checks (`observe`) saw `error-limit` errors in a row.
        case healthAnalyze
        /// An agent answered without a health word (`up`, `down`…): the
        /// server's state stays as it is.
        case checked
        /// `option external-check`: the program exited 0, or did not (or
        /// could not start), or ran past the deadline and was killed.
        case processOK
        case processError
        case processTimeout

        public var passed: Bool { self == .layer4OK || self == .layer6OK || self == .layer7OK || self == .processOK }

        /// HAProxy's short `check_status` (the `show stat` column).
        public var code: String {
            switch self {
            case .layer4Connection: return "L4CON"
            case .layer4Timeout: return "L4TOUT"
            case .layer4OK: return "L4OK"
            case .layer6Invalid: return "L6RSP"
            case .layer6Timeout: return "L6TOUT"
            case .layer6OK: return "L6OK"
            case .layer7Timeout: return "L7TOUT"
            case .layer7Invalid: return "L7RSP"
            case .layer7WrongStatus: return "L7STS"
            case .layer7OK: return "L7OK"
            case .layer7Conditional: return "L7OKC"
            case .healthAnalyze: return "HANA"
            case .checked: return "CHECKED"
            case .processOK: return "PROCOK"
            case .processError: return "PROCERR"
            case .processTimeout: return "PROCTOUT"
            }
        }

        /// `reason:` in HAProxy's log line.
        public var reason: String {
            switch self {
            case .layer4Connection: return "Layer4 connection problem"
            case .layer4Timeout: return "Layer4 timeout"
            case .layer4OK: return "Layer4 check passed"
            case .layer6Invalid: return "Layer6 invalid response"
            case .layer6Timeout: return "Layer6 timeout"
            case .layer6OK: return "Layer6 check passed"
            case .layer7Timeout: return "Layer7 timeout"
            case .layer7Invalid: return "Layer7 invalid response"
            case .layer7WrongStatus: return "Layer7 wrong status"
            case .layer7OK: return "Layer7 check passed"
            case .layer7Conditional: return "Layer7 check conditionally passed"
            case .healthAnalyze: return "Health analyze"
            case .checked: return "No status change"
            case .processOK: return "External check passed"
            case .processError: return "External check error"
            case .processTimeout: return "External check timeout"
            }
        }
    }

    public var status: Status
    public var code: Int?
    public var info: String?
    /// Milliseconds from the start of the check to its verdict.
    public var duration: Int64

    public init(_ status: Status, code: Int? = nil, info: String? = nil, duration: Int64 = 0) {
        self.status = status
        self.code = code
        self.info = info
        self.duration = duration
    }

    public var passed: Bool { status.passed }

    /// `reason: …, code: …, info: "…", check duration: Nms`.
    public var summary: String {
        var text = "reason: \(status.reason)"
        if let code { text += ", code: \(code)" }
        if let info, !info.isEmpty { text += ", info: \"\(info)\"" }
        text += ", check duration: \(duration)ms"
        return text
    }
}

/// A change the checker reports: a server went UP or DOWN, its slow-start
/// weight moved, or (with `option log-health-checks`) a check result that
/// changed nothing yet.
public struct CheckEvent: Sendable {
    public enum Kind: Sendable, Hashable {
        case wentUp
        case wentDown
        /// Slow start: the effective weight grew; no log line.
        case weight
        /// `option log-health-checks`: a result within the rise/fall window.
        case progress
        /// `set server … health stopping`: UP, but no new sessions from the balancer.
        case stopping
        /// An agent check ended: its status and reply (`agentReply`) for
        /// the host to record; no log line of its own.
        case agent
        /// A check ended and changed nothing: its result for the host to
        /// record (`show stat`); no log line.
        case checked
    }

    public var kind: Kind
    public var backend: Int
    public var server: Int
    /// The state to publish to whoever balances.
    public var state: ServerHealth
    public var result: CheckResult?
    public var backendName: String
    public var serverName: String
    public var isBackup: Bool
    /// Servers of the backend usable after this change.
    public var activeLeft: Int
    public var backupLeft: Int
    /// For `progress`: `status: 2/3 UP`.
    public var progressText: String = ""
    /// Why, when no check result says it (`changed from CLI`).
    public var cause: String?
    /// For `agent`: what the agent answered (nil when it could not be asked).
    public var agentReply: AgentReply?
    /// The result is the agent's, not the health check's.
    public var fromAgent = false
    /// For a server with `track`: `backend/server` of the server it tracks.
    public var via: String?
    /// The rise/fall counters after this event: the checks' (nil for a
    /// server without `check`) and the agent's (nil without an agent).
    public var checkHealth: Int?
    public var agentHealth: Int?
    /// The check (or agent) that ended failed while the server was not
    /// fully DOWN: HAProxy counts it in `chkfail`. Set on one event per check.
    public var countsFailure = false

    /// Whether the event changes what the balancers use (not a bare result).
    public var changesState: Bool { kind != .agent && kind != .checked }

    /// The backend has no usable server left (HAProxy's ALERT line follows the DOWN one).
    public var backendHasNoServer: Bool { kind == .wentDown && activeLeft == 0 && backupLeft == 0 }

    /// HAProxy's line for this event (nil for a silent weight change).
    /// `sessions` is the number of sessions on the server (DOWN lines).
    public func logLine(sessions: Int = 0) -> String? {
        let who = "\(isBackup ? "Backup " : "")Server \(backendName)/\(serverName)"
        let running = backupLeft > 0 && activeLeft == 0 ? " Running on backup." : ""
        let summary = via.map { " via " + $0 } ?? cause.map { ", " + $0 } ?? result.map { ", " + $0.summary } ?? ""
        switch kind {
        case .weight, .agent, .checked:
            return nil
        case .wentDown:
            return "\(who) is DOWN\(summary). \(activeLeft) active and \(backupLeft) backup servers left.\(running)"
                + " \(sessions) sessions active, 0 requeued, 0 remaining in queue."
        case .stopping:
            return "\(who) is stopping\(summary). \(activeLeft) active and \(backupLeft) backup servers online."
                + "\(running) 0 sessions requeued, 0 total in queue."
        case .wentUp:
            return "\(who) is UP\(summary). \(activeLeft) active and \(backupLeft) backup servers online.\(running)"
                + " 0 sessions requeued, 0 total in queue."
        case .progress:
            guard let result else { return nil }
            return "Health check for \(isBackup ? "backup " : "")server \(backendName)/\(serverName) "
                + "\(result.passed ? "succeeded" : "failed"), \(result.summary), status: \(progressText)."
        }
    }
}

/// What live traffic told about a server, for passive checks (`observe`).
public enum PassiveOutcome: Sendable, Hashable, CustomStringConvertible {
    /// A connection to the server failed (refused, timed out).
    case connectFailed
    /// A connection to the server was established.
    case connected
    /// The server answered with this status.
    case httpStatus(Int)
    /// The server's response was not valid HTTP.
    case invalidResponse
    /// The server closed, or its connection failed, before any response.
    case noResponse
    /// `timeout server` passed while waiting for the response.
    case responseTimeout

    /// Whether it counts as an error (true), clears the error count
    /// (false), or is not looked at (nil) under `mode`, as HAProxy's
    /// `observe` tables say: layer 4 watches connections, layer 7 HTTP
    /// responses (5xx but 501 and 505 are errors) and failed connections.
    public func isError(under mode: ObserveMode) -> Bool? {
        switch (self, mode) {
        case (.connectFailed, _): return true
        case (.connected, .layer4): return false
        case (.connected, .layer7): return nil
        case (.httpStatus, .layer4), (.invalidResponse, .layer4), (.noResponse, .layer4), (.responseTimeout, .layer4):
            return nil
        case (.httpStatus(let code), .layer7): return code >= 500 && code != 501 && code != 505
        case (.invalidResponse, .layer7), (.noResponse, .layer7), (.responseTimeout, .layer7): return true
        }
    }

    /// HAProxy's words for it in the log line.
    public var description: String {
        switch self {
        case .connectFailed: return "L4 unsuccessful connection"
        case .connected: return "L4 successful connection"
        case .httpStatus(let code): return code >= 500 ? "Wrong http response" : "Correct http response"
        case .invalidResponse: return "Invalid http response"
        case .noResponse: return "Read error (http)"
        case .responseTimeout: return "Read timeout (http)"
        }
    }

    /// Compact form for the control channel: `L4ERR`, `L4OK`, `HTTP 503`,
    /// `HTTPINV`, `HTTPNONE`, `HTTPTOUT`.
    public var wire: String {
        switch self {
        case .connectFailed: return "L4ERR"
        case .connected: return "L4OK"
        case .httpStatus(let code): return "HTTP\(code)"
        case .invalidResponse: return "HTTPINV"
        case .noResponse: return "HTTPNONE"
        case .responseTimeout: return "HTTPTOUT"
        }
    }

    public init?(wire: Substring) {
        switch wire {
        case "L4ERR": self = .connectFailed
        case "L4OK": self = .connected
        case "HTTPINV": self = .invalidResponse
        case "HTTPNONE": self = .noResponse
        case "HTTPTOUT": self = .responseTimeout
        default:
            guard wire.hasPrefix("HTTP"), let code = Int(wire.dropFirst(4)), (100...999).contains(code) else { return nil }
            self = .httpStatus(code)
        }
    }
}

/// What workers need to know of a server's health: whether it may take
/// traffic, and its effective weight (below the configured one during
/// slow start). This is what the shared-memory segment will hold per server.
public struct ServerHealth: Sendable, Hashable {
    public var usable: Bool
    /// 0...256.
    public var weight: Int

    public init(usable: Bool, weight: Int) {
        self.usable = usable
        self.weight = weight
    }
}
