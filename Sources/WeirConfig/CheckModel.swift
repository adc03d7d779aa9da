// Health checks in the validated configuration: a server's `check`
// settings and a backend's check kind (`option httpchk`, `option tcp-check`
// and their rules). Plain values; `WeirHealth` runs them.

/// What a server line (or `default-server`) says about its checks and about
/// how it fails and recovers.
public struct ServerCheck: Sendable, Hashable {
    /// `check`: active checks run for this server.
    public var enabled = false
    /// `inter`: the interval between checks while the server is steady (ms).
    public var inter = 2000
    /// `fastinter`: the interval while a state change is in progress (nil: `inter`).
    public var fastinter: Int?
    /// `downinter`: the interval while the server is fully DOWN (nil: `inter`).
    public var downinter: Int?
    /// `rise`: consecutive successes that mark a DOWN server UP.
    public var rise = 2
    /// `fall`: consecutive failures that mark an UP server DOWN.
    public var fall = 3
    /// `port`: the port checks connect to (nil: the server's).
    public var port: UInt16?
    /// `addr`: the address checks connect to (nil: the server's).
    public var address: CheckAddress?
    /// `init-addr`: how the server's address is found at start, in order.
    public var initAddr: [InitAddrMethod] = [.last, .libc]
    /// `observe layer4|layer7`: passive checks on live traffic.
    public var observe: ObserveMode?
    /// `error-limit`: consecutive passive errors before `on-error` applies.
    public var errorLimit = 10
    /// `on-error`: what `error-limit` passive errors do.
    public var onError: OnErrorAction = .fastinter
    /// `on-marked-down shutdown-sessions`: close the server's sessions when it goes DOWN.
    public var shutdownSessionsOnDown = false
    /// `on-marked-up shutdown-backup-sessions`: close backup servers'
    /// sessions when this (active) server comes UP.
    public var shutdownBackupSessionsOnUp = false
    /// `slowstart`: how long a recovered server takes to reach its full weight (ms).
    public var slowstart: Int?
    /// `check-ssl`: checks go over TLS even when the traffic does not.
    public var ssl = false
    /// `check-send-proxy`: checks start with a PROXY protocol header even
    /// when the traffic does not (`Server.checkSendProxy`).
    public var sendProxy = false
    /// `agent-check` and its settings: the server's agent, asked for its
    /// weight and state beside (or instead of) the checks.
    public var agent = AgentCheck()

    public init() {}

    /// The interval after a check, as HAProxy chooses it: `fastinter`
    /// while moving between states, `downinter` while fully DOWN.
    public func interval(transitioning: Bool, down: Bool) -> Int {
        if down && !transitioning { return downinter ?? inter }
        if transitioning { return fastinter ?? inter }
        return inter
    }
}

/// `agent-check`, `agent-port`, `agent-addr`, `agent-inter`, `agent-send`:
/// a second check, independent of `check`, that connects to an agent
/// which answers one line (a weight, an administrative or operational
/// state).
public struct AgentCheck: Sendable, Hashable {
    /// `agent-check` (`no-agent-check`: false).
    public var enabled = false
    /// `agent-port`: required when enabled.
    public var port: UInt16?
    /// `agent-addr`: where the agent listens (nil: the server's address).
    public var address: CheckAddress?
    /// `agent-inter` in ms (nil: the server's `inter`).
    public var inter: Int?
    /// `agent-send`: what the check sends once connected.
    public var send: String?

    public init() {}
}

/// `addr`: where checks connect instead of the server's address.
public enum CheckAddress: Sendable, Hashable, CustomStringConvertible {
    case ip(IPAddress)
    case host(String)

    public var description: String {
        switch self {
        case .ip(let ip): return ip.description
        case .host(let name): return name
        }
    }
}

/// One method of `init-addr`.
public enum InitAddrMethod: Sendable, Hashable {
    /// The address kept in a server-state file (none yet: skipped).
    case last
    /// The system resolver.
    case libc
    /// Start without an address: the server is unusable until it gets one.
    case none
    /// A fixed address.
    case ip(IPAddress)
}

public enum ObserveMode: String, Sendable, Hashable {
    case layer4
    case layer7
}

/// `on-error`.
public enum OnErrorAction: String, Sendable, Hashable {
    /// Check again at `fastinter` (the default).
    case fastinter
    /// Count as a failed check and check again at `fastinter`.
    case failCheck = "fail-check"
    /// Count as failed checks down to one short of DOWN.
    case suddenDeath = "sudden-death"
    /// Mark DOWN at once.
    case markDown = "mark-down"
}

/// What a backend's checks do after connecting.
public enum HealthCheckKind: Sendable, Hashable {
    /// The connection alone (the default).
    case connect
    /// `option httpchk`: one HTTP request, its response checked by `expects`.
    case http(HTTPCheck)
    /// `option tcp-check`: a sequence of connect, send and expect steps.
    case tcp([TCPCheckStep])
    /// `option external-check`: a program run per check, passing when it exits 0.
    case external(ExternalCheck)
}

/// `external-check command` and `external-check path` of a backend.
public struct ExternalCheck: Sendable, Hashable {
    /// The program, resolved against `path` when written without a slash.
    public var command: String
    /// The program's PATH (`external-check path`, empty by default).
    public var path: String

    public init(command: String, path: String) {
        self.command = command
        self.path = path
    }
}

/// `option httpchk` with its `http-check send` and `http-check expect` lines.
public struct HTTPCheck: Sendable, Hashable {
    public var method = "OPTIONS"
    public var uri = "/"
    public var version = "HTTP/1.0"
    /// `hdr NAME VALUE` of `http-check send`.
    public var headers: [CheckHeader] = []
    /// `body S` of `http-check send`.
    public var body: String?
    /// Checked in order; none: a 2xx or 3xx status passes.
    public var expects: [CheckExpect] = []
    /// `http-check disable-on-404`: a 404 takes a running server out of
    /// load balancing (persistence still reaches it), before any `expect`.
    public var disableOn404 = false

    public init() {}
}

public struct CheckHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One step of `option tcp-check`.
public enum TCPCheckStep: Sendable, Hashable {
    /// `tcp-check connect [port N]`.
    case connect(port: UInt16?)
    /// `tcp-check send S` or `send-binary HEX`.
    case send([UInt8])
    case expect(CheckExpect)
}

/// `http-check expect` or `tcp-check expect`: `[!] KIND PATTERN`.
public struct CheckExpect: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Status codes: single codes and `low-high` ranges.
        case status([ClosedRange<Int>])
        /// A regular expression over the status code's three digits.
        case statusRegex(String)
        /// These bytes somewhere in the body (HTTP) or the data read (TCP).
        case string([UInt8])
        /// A regular expression over the body or the data read.
        case regex(String)
        /// `tcp-check expect binary HEX`.
        case binary([UInt8])
        /// `tcp-check expect rbinary REGEX`: a regular expression over the
        /// data read written in upper-case hexadecimal, two digits a byte.
        case binaryRegex(String)
    }

    public var kind: Kind
    /// `!`: the check passes when the pattern does not match.
    public var negated = false
    /// The pattern as written, for log lines.
    public var pattern: String

    public init(kind: Kind, negated: Bool = false, pattern: String) {
        self.kind = kind
        self.negated = negated
        self.pattern = pattern
    }

    /// As HAProxy names it in log lines: `expect ! string 'x'`.
    public var description: String {
        let name: String
        switch kind {
        case .status: name = "status"
        case .statusRegex: name = "rstatus"
        case .string: name = "string"
        case .regex: name = "rstring"
        case .binary: name = "binary"
        case .binaryRegex: name = "rbinary"
        }
        return "expect \(negated ? "! " : "")\(name) '\(pattern)'"
    }
}
