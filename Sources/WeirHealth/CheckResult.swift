/// What one check found, in HAProxy's vocabulary (`check_status`): the
/// `reason` of the log line, an optional status `code` and `info` text.
public struct CheckResult: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        /// Layer 4 connection problem (refused, unreachable, reset).
        case layer4Connection
        case layer4Timeout
        case layer4OK
        case layer7Timeout
        /// Not a valid response (not HTTP, closed early, empty).
        case layer7Invalid
        /// A response that did not meet the expectation.
        case layer7WrongStatus
        case layer7OK

        public var passed: Bool { self == .layer4OK || self == .layer7OK }

        /// `reason:` in HAProxy's log line.
        public var reason: String {
            switch self {
            case .layer4Connection: return "Layer4 connection problem"
            case .layer4Timeout: return "Layer4 timeout"
            case .layer4OK: return "Layer4 check passed"
            case .layer7Timeout: return "Layer7 timeout"
            case .layer7Invalid: return "Layer7 invalid response"
            case .layer7WrongStatus: return "Layer7 wrong status"
            case .layer7OK: return "Layer7 check passed"
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

    /// The backend has no usable server left (HAProxy's ALERT line follows the DOWN one).
    public var backendHasNoServer: Bool { kind == .wentDown && activeLeft == 0 && backupLeft == 0 }

    /// HAProxy's line for this event (nil for a silent weight change).
    /// `sessions` is the number of sessions on the server (DOWN lines).
    public func logLine(sessions: Int = 0) -> String? {
        let who = "\(isBackup ? "Backup " : "")Server \(backendName)/\(serverName)"
        let running = backupLeft > 0 && activeLeft == 0 ? " Running on backup." : ""
        switch kind {
        case .weight:
            return nil
        case .wentDown:
            let summary = result.map { ", " + $0.summary } ?? ""
            return "\(who) is DOWN\(summary). \(activeLeft) active and \(backupLeft) backup servers left.\(running)"
                + " \(sessions) sessions active, 0 requeued, 0 remaining in queue."
        case .wentUp:
            let summary = result.map { ", " + $0.summary } ?? ""
            return "\(who) is UP\(summary). \(activeLeft) active and \(backupLeft) backup servers online.\(running)"
                + " 0 sessions requeued, 0 total in queue."
        case .progress:
            guard let result else { return nil }
            return "Health check for \(isBackup ? "backup " : "")server \(backendName)/\(serverName) "
                + "\(result.passed ? "succeeded" : "failed"), \(result.summary), status: \(progressText)."
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
