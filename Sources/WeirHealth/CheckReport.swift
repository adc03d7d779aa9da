// What the checker reports and accepts besides its events: setup errors,
// the states the runtime API may force, and a server's check for `show
// servers state`.
struct CheckSetupError: Error, CustomStringConvertible {
    var description: String
    /// `init-addr none` left the server without an address: not a problem
    /// to report, the server is simply out of service.
    var unresolved = false
}

/// `set server … health`: the states the runtime API may force.
public enum ForcedHealth: String, Sendable, Hashable {
    case up, stopping, down
}

/// A server's check as `show servers state` reports it.
public struct CheckReport: Sendable, Hashable {
    public var enabled: Bool
    public var running: Bool
    /// The rise/fall counter.
    public var health: Int
    /// The last check's verdict, nil before one.
    public var passed: Bool?
    public var status: CheckResult.Status?

    /// HAProxy's `srv_check_state`: CHK_ST_CONFIGURED (2), ENABLED (4), INPROGRESS (1).
    public var stateFlags: Int { 2 | (enabled ? 4 : 0) | (running ? 1 : 0) }
    /// HAProxy's `srv_check_result`: unknown 0, failed 2, passed 3.
    public var resultCode: Int { passed.map { $0 ? 3 : 2 } ?? 0 }
    /// HAProxy's `srv_check_status` (`HCHK_STATUS_*`).
    public var statusCode: Int {
        switch status {
        case nil: return 1 // HCHK_STATUS_INI
        case .layer4Connection?: return 8 // L4CON
        case .layer4Timeout?: return 7 // L4TOUT
        case .layer4OK?: return 6 // L4OK
        case .layer6OK?: return 9 // L6OK
        case .layer6Timeout?: return 10 // L6TOUT
        case .layer6Invalid?: return 11 // L6RSP
        case .layer7Timeout?: return 12 // L7TOUT
        case .layer7Invalid?: return 13 // L7RSP
        case .layer7WrongStatus?: return 17 // L7STS
        case .layer7OK?: return 15 // L7OKD
        case .layer7Conditional?: return 16 // L7OKCD
        case .healthAnalyze?: return 4 // HANA
        case .checked?: return 3 // CHECKED
        case .processError?: return 18 // PROCERR
        case .processTimeout?: return 19 // PROCTOUT
        case .processOK?: return 20 // PROCOK
        }
    }
}
