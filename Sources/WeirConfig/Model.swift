// The validated configuration: what the parser produces and the worker runs.
// Plain values only; nothing here knows about sockets.

/// Where a keyword or argument was written, for `file:line:col` diagnostics.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

public enum ProxyMode: String, Sendable, Hashable {
    case tcp
    case http
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network byte order.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 4 || bytes.count == 16)
        self.bytes = bytes
    }

    public var isV6: Bool { bytes.count == 16 }
    public static let anyV4 = IPAddress(bytes: [0, 0, 0, 0])
    public static let anyV6 = IPAddress(bytes: [UInt8](repeating: 0, count: 16))

    public var description: String {
        if !isV6 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }
}

/// One socket a `bind` line asks for. A port range or a list of addresses
/// on one line becomes several of these.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    case ip(IPAddress, port: UInt16)
    case unix(path: String)
    /// `fd@N`: adopt an inherited, already listening socket.
    case inheritedFD(Int32)

    public var description: String {
        switch self {
        case .ip(let ip, let port): return ip.isV6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        case .unix(let path): return path.hasPrefix("\u{0}") ? "abns@\(path.dropFirst())" : "unix@\(path)"
        case .inheritedFD(let fd): return "fd@\(fd)"
        }
    }
}

/// The socket options of a `bind` line, for each socket it opens.
/// Who may use a UNIX listening socket: `mode`, `user`/`uid` and
/// `group`/`gid` on a `bind` or `stats socket` line, or as `unix-bind`
/// defaults. Names are looked up when the socket is created.
public struct UnixSocketAccess: Sendable, Hashable {
    /// Permissions (octal), nil: as created.
    public var mode: UInt32?
    public var user: String?
    public var uid: UInt32?
    public var group: String?
    public var gid: UInt32?
    public init() {}

    /// This line's settings, and `defaults`' where it has none (an owner
    /// given by name or number counts as given).
    public func filled(from defaults: UnixSocketAccess) -> UnixSocketAccess {
        var access = self
        if access.mode == nil { access.mode = defaults.mode }
        if access.user == nil && access.uid == nil { (access.user, access.uid) = (defaults.user, defaults.uid) }
        if access.group == nil && access.gid == nil { (access.group, access.gid) = (defaults.group, defaults.gid) }
        return access
    }
}

public struct BindOptions: Sendable, Hashable {
    /// `backlog N`: the accept queue's length; nil: the frontend's
    /// `backlog`, else 1024.
    public var backlog: Int?
    /// `maxconn N`: connections this socket takes at once (per worker);
    /// nil: only the frontend's limit.
    public var maxconn: Int?
    /// `v6only` (true) or `v4v6` (false) on an IPv6 socket; nil: the system's default.
    public var v6only: Bool?
    /// `defer-accept`: TCP_DEFER_ACCEPT, a connection is accepted once data arrive.
    public var deferAccept = false
    /// `tfo`: TCP_FASTOPEN.
    public var fastOpen = false
    /// `mss N`: TCP_MAXSEG, or when negative how much to take off the default.
    public var maxSegment: Int?
    /// `interface NAME`: SO_BINDTODEVICE.
    public var interface: String?
    /// `mode`, `user`, `uid`, `group`, `gid` of a UNIX socket (with the
    /// `unix-bind` defaults once the configuration is built).
    public var unixAccess = UnixSocketAccess()
    public init() {}
}

public struct Bind: Sendable, Hashable {
    public var address: ListenAddress
    public var location: SourceLocation
    /// `ssl …`: TLS termination on this socket; nil for plain TCP.
    public var tls: BindTLS?
    /// `backlog`, `maxconn`, `v6only`, `defer-accept`…
    public var options = BindOptions()
    /// `accept-proxy`: every connection starts with a PROXY protocol header.
    public var acceptProxy = false

    public init(address: ListenAddress, location: SourceLocation, tls: BindTLS? = nil) {
        self.address = address
        self.location = location
        self.tls = tls
    }
}

/// A server address: an IP literal, a host name resolved when the worker
/// starts, or a UNIX socket path.
public enum ServerAddress: Sendable, Hashable, CustomStringConvertible {
    case ip(IPAddress, port: UInt16)
    case host(String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .ip(let ip, let port): return ip.isV6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        case .host(let name, 0) where name.hasPrefix("_"): return name
        case .host(let name, let port): return "\(name):\(port)"
        case .unix(let path): return path.hasPrefix("\u{0}") ? "abns@\(path.dropFirst())" : path
        }
    }

    /// A name that starts with `_` (`_http._tcp.app`): as in HAProxy, its
    /// DNS SRV records give the servers their hosts, ports and weights.
    public var isServiceName: Bool {
        if case .host(let name, _) = self { return name.hasPrefix("_") }
        return false
    }

    /// `0.0.0.0` or `::`: no address of the server's own (`Server.address`).
    public var isUnspecified: Bool {
        if case .ip(let ip, _) = self { return ip == .anyV4 || ip == .anyV6 }
        return false
    }
}

/// `option clitcpka` / `srvtcpka` / `tcpka` with `clitcpka-*` / `srvtcpka-*`:
/// TCP keep-alive probes (SO_KEEPALIVE) on one side's sockets.
public struct TCPKeepAlive: Sendable, Hashable {
    /// `…-cnt`: TCP_KEEPCNT; nil: the system's `tcp_keepalive_probes`.
    public var probes: Int?
    /// `…-idle`, in seconds: TCP_KEEPIDLE; nil: `tcp_keepalive_time`.
    public var idle: Int?
    /// `…-intvl`, in seconds: TCP_KEEPINTVL; nil: `tcp_keepalive_intvl`.
    public var interval: Int?
    public init(probes: Int? = nil, idle: Int? = nil, interval: Int? = nil) {
        self.probes = probes
        self.idle = idle
        self.interval = interval
    }
}

/// Timeouts in milliseconds; nil means no timeout.
public struct Timeouts: Sendable, Hashable {
    public var connect: Int?
    public var client: Int?
    public var server: Int?
    public var queue: Int?
    public var tunnel: Int?
    public var clientFin: Int?
    public var serverFin: Int?
    /// `timeout http-request`: the whole request head must arrive within it
    /// (frontend side; nil: `timeout client` applies).
    public var httpRequest: Int?
    /// `timeout http-keep-alive`: how long an idle kept-alive client connection
    /// waits for its next request (frontend side; nil: `httpRequest` applies).
    public var httpKeepAlive: Int?
    /// `timeout tarpit`: how long `http-request tarpit` holds a request
    /// (nil: `timeout connect` applies, as in HAProxy).
    public var tarpit: Int?
    /// `timeout check`: how long a health check may take once connected
    /// (nil: the check interval bounds it).
    public var check: Int?
    /// `timeout client-hs`: how long a client may take to complete its TLS
    /// handshake (frontend side; nil: `timeout client` applies).
    public var clientHandshake: Int?

    public init(connect: Int? = nil, client: Int? = nil, server: Int? = nil, queue: Int? = nil,
                tunnel: Int? = nil, clientFin: Int? = nil, serverFin: Int? = nil,
                httpRequest: Int? = nil, httpKeepAlive: Int? = nil, tarpit: Int? = nil) {
        self.connect = connect
        self.client = client
        self.server = server
        self.queue = queue
        self.tunnel = tunnel
        self.clientFin = clientFin
        self.serverFin = serverFin
        self.httpRequest = httpRequest
        self.httpKeepAlive = httpKeepAlive
        self.tarpit = tarpit
    }
}

public enum BalanceAlgorithm: Sendable, Hashable {
    case roundRobin
    case staticRoundRobin
    case leastConn
    case first
    case source
    /// `random` or `random(N)`: N draws, the least loaded of them wins.
    case random(draws: Int)
    /// `balance uri [whole] [len N] [depth N]`: a hash of the path (of the
    /// whole URI, query included, with `whole`), of its first `length`
    /// characters or `depth` directories when given.
    case uri(whole: Bool, length: Int?, depth: Int?)
    /// `balance url_param NAME [check_post]`: a hash of that query
    /// parameter's value, or with `checkPost` of a POST body's (round robin
    /// when absent).
    case urlParam(String, checkPost: Bool = false)
    /// `balance hdr(NAME) [use_domain_only]`: a hash of that request header's
    /// value, or of its main domain name only (round robin when absent).
    case header(String, domainOnly: Bool = false)
    /// `balance hash EXPR`: a hash of the sample's value (round robin when absent).
    case hash(Sample)

    /// Whether the server follows from the request or the client (a hash),
    /// which `option prefer-last-server` leaves alone.
    public var isDeterministic: Bool {
        switch self {
        case .roundRobin, .staticRoundRobin, .leastConn, .first, .random: false
        case .source, .uri, .urlParam, .header, .hash: true
        }
    }
}

/// `source ADDR[:PORT]`: the local address of connections to servers;
/// port 0 lets the kernel choose one.
public struct SourceAddress: Sendable, Hashable {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }
}

public struct Server: Sendable, Hashable {
    public var name: String
    /// An address of `0.0.0.0`, `::` or `*` stands for the one the client
    /// connected to (HAProxy's transparent servers).
    public var address: ServerAddress
    /// No port after the address, or `+N` or `-N`: the server's port is the
    /// one the client connected to plus this offset (HAProxy's port
    /// mapping), and `address`'s is 0; nil: `address`'s own port.
    public var portOffset: Int?
    /// 0...256, default 1.
    public var weight: Int = 1
    /// 0 means no limit.
    public var maxconn: Int = 0
    /// `maxqueue N`: how many sessions bound to this server (cookie,
    /// `use-server`, stick table) may wait for it at most; 0 for no limit.
    public var maxqueue: Int = 0
    /// `minconn N`: the connection limit while the backend is lightly
    /// loaded; it grows towards `maxconn` as the backend's load nears its
    /// `fullconn`. 0, or equal to `maxconn`: a fixed limit.
    public var minconn: Int = 0
    /// `track [BACKEND/]SERVER`: the server's health is that server's.
    public var track: ServerTrack?
    public var backup: Bool = false
    public var disabled: Bool = false
    /// `cookie VALUE`: the value the backend's persistence cookie names this server by.
    public var cookie: String?
    /// `id N`, or the server's 1-based position when not given.
    public var id: Int
    /// `check`, `inter`, `rise`, `fall`, `slowstart`, `observe`…
    public var check = ServerCheck()
    /// `ssl`, `verify`, `ca-file`, `crt`, `sni`…: TLS towards the server
    /// (for its traffic when `tls.enabled`, for its checks when `checksUseTLS`).
    public var tls = ServerTLS()
    /// `send-proxy`, `send-proxy-v2`: a PROXY protocol header starts every
    /// connection to the server (version 2 when both are set, as in HAProxy).
    public var sendProxyV1 = false
    public var sendProxyV2 = false
    /// `source ADDR[:PORT]` (the server's, else its backend's): the local
    /// address its connections and checks start from.
    public var source: SourceAddress?
    /// `resolvers`, `resolve-prefer`, `resolve-net`: the master resolves the
    /// server's name at run time (only for a name, not an IP address).
    public var resolution: ServerResolution?
    /// Servers of one `server-template` line share a number (the index of
    /// its first server); nil for a `server` line.
    public var template: Int?
    public var location: SourceLocation

    public init(name: String, address: ServerAddress, id: Int, location: SourceLocation) {
        self.name = name
        self.address = address
        self.id = id
        self.location = location
    }

    /// Checks go over TLS: `check-ssl`, or a server with `ssl` whose checks
    /// go to its own address and port (no `port` nor `addr`), as in HAProxy.
    public var checksUseTLS: Bool {
        check.ssl || (tls.enabled && check.port == nil && check.address == nil)
    }

    /// The server's traffic or its checks go over TLS.
    public var usesTLS: Bool { tls.enabled || (check.enabled && checksUseTLS) }

    /// The PROXY protocol version the server's traffic starts with, nil for none.
    public var sendProxy: ProxyHeaderVersion? { sendProxyV2 ? .v2 : sendProxyV1 ? .v1 : nil }

    /// The PROXY protocol version checks start with: `check-send-proxy`, or
    /// the traffic's when checks go to the server's own address and port
    /// (no `port` nor `addr`), as in HAProxy. Version 2 only with `send-proxy-v2`.
    public var checkSendProxy: ProxyHeaderVersion? {
        guard check.sendProxy || (sendProxy != nil && check.port == nil && check.address == nil) else { return nil }
        return sendProxyV2 ? .v2 : .v1
    }
}

/// `track [BACKEND/]SERVER`: another server whose health (UP, DOWN,
/// stopping) this one takes as its own.
public struct ServerTrack: Sendable, Hashable {
    /// nil: the tracking server's own backend.
    public var backendName: String?
    public var serverName: String
    public var location: SourceLocation
    /// Indices into `Configuration.backends` and its `servers`, set once
    /// every section is read.
    public var backend = -1
    public var server = -1

    public init(backendName: String?, serverName: String, location: SourceLocation) {
        self.backendName = backendName
        self.serverName = serverName
        self.location = location
    }
}

/// `send-proxy` (1) or `send-proxy-v2` (2).
public enum ProxyHeaderVersion: Sendable, Hashable {
    case v1
    case v2
}

/// A file a server line names (`ca-file`, `crt`), with where it is written.
public struct ServerFile: Sendable, Hashable {
    public var path: String
    public var location: SourceLocation
    public init(path: String, location: SourceLocation) {
        self.path = path
        self.location = location
    }
}

public enum LogDestination: Sendable, Hashable {
    case stdout
    case stderr
    /// Syslog over UDP or a UNIX datagram socket.
    case udp(IPAddress, port: UInt16)
    case unixDatagram(path: String)
}

/// The framing of a log line sent to a target (`log … format F`).
public enum SyslogFormat: String, Sendable, Hashable {
    case raw
    case rfc3164
    case rfc5424
}

public enum LogLevel: Int, Sendable, Hashable, Comparable {
    case emerg = 0, alert, crit, err, warning, notice, info, debug

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

public struct LogTarget: Sendable, Hashable {
    public var destination: LogDestination
    public var format: SyslogFormat = .rfc3164
    /// Syslog facility number (local0 = 16).
    public var facility: Int
    /// Highest level sent; nil sends everything.
    public var maxLevel: LogLevel?
    /// Lowest level sent (`log … LEVEL MINLEVEL`); nil sets no floor.
    public var minLevel: LogLevel?
    /// `len N`: longest line sent, 1024 by default.
    public var maxLength: Int = 1024
    public var location: SourceLocation

    public init(destination: LogDestination, facility: Int, location: SourceLocation) {
        self.destination = destination
        self.facility = facility
        self.location = location
    }
}

/// A `use_backend` rule.
public struct BackendRule: Sendable, Hashable {
    /// Index into `Configuration.backends`; -1 when `dynamicName` is set.
    public var backend: Int
    public var condition: Condition
    /// `use_backend %[…]`: the backend's name is computed per request; when
    /// no backend has that name, the rule does not apply.
    public var dynamicName: LogFormat?
    public var location: SourceLocation

    public init(backend: Int, condition: Condition, dynamicName: LogFormat? = nil, location: SourceLocation) {
        self.backend = backend
        self.condition = condition
        self.dynamicName = dynamicName
        self.location = location
    }
}

public struct Frontend: Sendable, Hashable {
    public var name: String
    public var mode: ProxyMode = .tcp
    public var binds: [Bind] = []
    /// 0 means the global limit alone applies.
    public var maxconn: Int = 0
    /// `rate-limit sessions N`: sessions accepted per second, over every
    /// worker; 0: no limit.
    public var sessionRateLimit = 0
    /// `backlog N`: the accept queue of binds that set none; nil: 1024.
    public var backlog: Int?
    public var timeouts = Timeouts()
    /// Index into `Configuration.backends`.
    public var defaultBackend: Int?
    public var useBackends: [BackendRule] = []
    public var logs: [LogTarget] = []
    public var tcpLog = false
    /// `option httplog` in a `mode http` proxy (in tcp mode it falls back to tcplog).
    public var httpLog = false
    public var dontLogNull = false
    /// `option logasap`: an exchange is logged once the response head is
    /// known (a tcp session once its server connection is up), `%Tt` and
    /// `%B` then being what they are so far, shown with a `+`.
    public var logASAP = false
    /// For the frontend half of a `listen` section, its backend half (index
    /// into `Configuration.backends`). A listen section's rules are in both
    /// halves; HAProxy runs a proxy's rules once, so a stream whose backend is
    /// `ownBackend` skips the backend's rules.
    public var ownBackend: Int?
    /// Mode tcp: a backend it may choose is in mode http. A session that
    /// reaches one is handled as HTTP from then on (HAProxy's implicit
    /// upgrade), its later requests staying in that backend.
    public var upgradesToHTTP = false

    // HTTP mode.
    public var httpRequestRules: [HTTPRule] = []
    public var httpResponseRules: [HTTPRule] = []
    /// `http-after-response` rules: run after the `http-response` ones, on
    /// the proxy's own answers too.
    public var httpAfterResponseRules: [HTTPRule] = []
    /// `redirect` lines, evaluated after `httpRequestRules`.
    public var redirectRules: [HTTPRule] = []
    public var forwardFor: ForwardedHeader?
    public var originalTo: ForwardedHeader?
    public var connectionMode: HTTPConnectionMode = .keepAlive
    /// `compression …`; nil when the section has none.
    public var compression: HTTPCompression?
    public var requestCaptures: [HeaderCapture] = []
    public var responseCaptures: [HeaderCapture] = []
    /// `capture cookie NAME len N`: logged as `%CC` and `%CS`.
    public var cookieCapture: HeaderCapture?
    /// The log line's format: `log-format`, or the format of `option
    /// httplog` (tcplog's in tcp mode) or `option tcplog`, whichever was
    /// written last; nil: HAProxy's default one-line connection log.
    public var logFormat: LogFormat?
    public var uniqueIDFormat: LogFormat?
    /// `unique-id-header NAME`: the unique id is added to requests under this name.
    public var uniqueIDHeader: String?
    /// `option dontlog-normal`: only log errors, timeouts, retries, redispatches, 5xx.
    /// `option http-buffer-request` here or in a backend the frontend may
    /// choose: a request's body is read (up to a buffer) before its rules run.
    public var buffersRequestBody = false
    public var dontLogNormal = false
    /// `option log-separate-errors`: errors are logged at level err instead of info.
    public var logSeparateErrors = false
    public var errorPages: [Int: ErrorPage] = [:]
    public var tcpRequestConnectionRules: [TCPRule] = []
    /// `stick-table` in a frontend section (a listen section's is its backend's).
    public var stickTable: StickTableSpec?
    public var tcpRequestContentRules: [TCPRule] = []
    /// `tcp-request inspect-delay`: how long content rules may wait for data (ms).
    public var tcpInspectDelay: Int?
    /// `stats enable|uri|auth|…`: the HTML statistics page; nil: none.
    public var statsPage: StatsPage?
    /// `monitor-uri URI`: requests for it are answered by the proxy (200,
    /// or 503 when a `monitor fail` condition says so) before the
    /// `http-request` rules, and not logged.
    public var monitorURI: String?
    /// `monitor fail if|unless COND` lines (`unless` is a negated condition).
    public var monitorFail: [Condition] = []
    /// `option clitcpka` (or `tcpka`): keep-alive probes on client sockets; nil: none.
    public var clientTCPKeepAlive: TCPKeepAlive?
    /// `option nolinger`: client sockets are closed with a reset (SO_LINGER 0).
    public var noLinger = false
    /// `option http-ignore-probes`: a connection that never sent a byte is
    /// closed without a 408, a log line or an error count.
    public var ignoreProbes = false
    /// `id N`: the proxy id statistics show; nil: the lowest free one.
    public var id: Int?
    /// `disabled`: checked but not started: its binds are not opened.
    public var disabled = false
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

public struct Backend: Sendable, Hashable {
    public var name: String
    /// `email-alert …`: state changes of its servers mailed; nil: none.
    public var emailAlert: EmailAlert?
    public var mode: ProxyMode = .tcp
    public var balance: BalanceAlgorithm = .roundRobin
    public var servers: [Server] = []
    public var timeouts = Timeouts()
    /// `retries N`, 3 by default as in HAProxy.
    public var retries = 3
    /// `fullconn N`, or HAProxy's default: a tenth of the `maxconn` of the
    /// frontends that may use the backend. Sessions at which its servers
    /// with `minconn` reach their `maxconn`.
    public var fullconn = 1
    /// The server-state file this backend's servers take their state from
    /// at startup and reload (`load-server-state-from-file`), resolved
    /// against `server-state-base`; nil for none.
    public var serverStateFile: String?
    public var redispatch = false
    /// `option redispatch [INTERVAL]`: redispatch on every INTERVALth retry
    /// when positive; when negative, on the INTERVALth retry before the last
    /// (-1, the default: the last one).
    public var redispatchInterval = -1
    /// `retry-on`: which failures are retried (`conn-failure` by default).
    public var retryOn: RetryOn = .connFailure
    /// What servers with `check` are checked with.
    public var healthCheck: HealthCheckKind = .connect
    /// `option log-health-checks`: log every check result change, not only UP and DOWN.
    public var logHealthChecks = false
    /// `option allbackups`: when no active server is usable, every backup serves, not only the first.
    public var allBackups = false

    // HTTP mode.
    public var httpRequestRules: [HTTPRule] = []
    public var httpResponseRules: [HTTPRule] = []
    /// `http-after-response` rules: run after the `http-response` ones, on
    /// the proxy's own answers too.
    public var httpAfterResponseRules: [HTTPRule] = []
    /// `redirect` lines of the backend, evaluated after `httpRequestRules`.
    public var redirectRules: [HTTPRule] = []
    public var tcpRequestContentRules: [TCPRule] = []
    /// `tcp-request inspect-delay`: how long this backend's content rules may wait for data (ms).
    public var tcpInspectDelay: Int?
    public var forwardFor: ForwardedHeader?
    public var originalTo: ForwardedHeader?
    public var connectionMode: HTTPConnectionMode = .keepAlive
    /// `compression …`; nil when the section has none.
    public var compression: HTTPCompression?
    public var httpReuse: HTTPReuse = .safe
    public var errorPages: [Int: ErrorPage] = [:]
    public var hashType = HashType()
    public var cookie: CookiePersistence?
    /// `option persist`: keep sending a client to its cookie's server even when it is down.
    public var persist = false
    /// `option http-buffer-request`: its frontends read a request's body
    /// (up to a buffer) before their rules run.
    public var buffersRequestBody = false
    /// `force-persist if …` and `ignore-persist if …` lines in their order:
    /// the first whose condition holds decides (HAProxy's `persist_rules`).
    public var persistRules: [PersistRule] = []
    /// `force-persist if …`: honour the cookie even when its server is down.
    public var forcePersist: [Condition] { persistRules.filter { $0.kind == .force }.map(\.condition) }
    /// `ignore-persist if …`: ignore the cookie.
    public var ignorePersist: [Condition] { persistRules.filter { $0.kind == .ignore }.map(\.condition) }
    /// `use-server … if|unless …` lines in their order: the first whose
    /// condition holds and whose server may take the request picks it,
    /// before stick tables and the balancer.
    public var serverRules: [ServerRule] = []
    /// `stats enable|uri|auth|…`: the HTML statistics page; nil: none.
    public var statsPage: StatsPage?
    /// `stick-table`: this backend's table in shared memory.
    public var stickTable: StickTableSpec?
    /// `stick` rules in their order.
    public var stickRules: [StickRule] = []
    /// `option srvtcpka` (or `tcpka`): keep-alive probes on server sockets; nil: none.
    public var serverTCPKeepAlive: TCPKeepAlive?
    /// `option nolinger`: server sockets are closed with a reset (SO_LINGER 0).
    public var noLinger = false
    /// `option abortonclose`: a client that closes while its request waits
    /// in the queue or for the connect is dropped instead of served.
    public var abortOnClose = false
    /// `option http-pretend-keepalive`: with `http-server-close` or
    /// `httpclose`, no `Connection: close` towards the server, which then
    /// answers as it would to a keep-alive client (the connection still
    /// closes after the response).
    public var pretendKeepAlive = false
    /// `option prefer-last-server`: a request goes to the server of the
    /// connection its client still holds, when usable, before balancing
    /// (only with algorithms that do not hash the request).
    public var preferLastServer = false
    /// `id N`: the proxy id statistics show; nil: the lowest free one.
    public var id: Int?
    /// `disabled`: checked but not started: every server is in
    /// maintenance from the start and unchecked, so requests routed here get 503.
    public var disabled = false
    /// `http-send-name-header NAME`: each request carries the name of the
    /// server it is sent to in this header, replacing any the client sent.
    public var serverNameHeader: String?
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// What a `stats socket` connection may do: `user` reads, `operator` also
/// clears counters, `admin` changes servers too.
public enum StatsLevel: Int, Sendable, Hashable, Comparable {
    case user = 0
    case `operator` = 1
    case admin = 2

    public static func < (a: StatsLevel, b: StatsLevel) -> Bool { a.rawValue < b.rawValue }

    public init?(name: String) {
        switch name {
        case "user": self = .user
        case "operator": self = .operator
        case "admin": self = .admin
        default: return nil
        }
    }

    public var name: String { self == .user ? "user" : self == .operator ? "operator" : "admin" }
}

/// `stats socket ADDRESS [mode M] [level L]`: where the runtime API listens.
public struct StatsSocket: Sendable, Hashable {
    /// A UNIX socket path, an `ipv4@`/`ipv6@` address, or an inherited `fd@N`.
    public var address: ListenAddress
    /// `mode`, `user`, `group`... of a UNIX socket; without a mode, 0600.
    public var access = UnixSocketAccess()
    /// `level`, `operator` unless given, as in HAProxy.
    public var level: StatsLevel = .operator
    public var location: SourceLocation

    public init(address: ListenAddress, location: SourceLocation) {
        self.address = address
        self.location = location
    }
}

/// `cpu-map [auto:]GROUP[/THREADS] CPUS`: the CPUs worker processes may run
/// on (a Weir worker stands for one of HAProxy's threads, and there is one
/// thread group).
public struct CPUMapping: Sendable, Hashable {
    /// The 1-based worker numbers named, in order; nil for all of them.
    public var workers: [Int]?
    /// The CPUs, in order.
    public var cpus: [Int]
    /// `auto:`: the workers take the CPUs one each, in order (all of them
    /// the one CPU when only one is given).
    public var oneEach: Bool

    public init(workers: [Int]?, cpus: [Int], oneEach: Bool) {
        self.workers = workers
        self.cpus = cpus
        self.oneEach = oneEach
    }

    /// The CPUs of worker `n` (1-based), nil when this line does not name it.
    public func cpus(forWorker n: Int) -> [Int]? {
        let position: Int
        if let workers {
            guard let i = workers.firstIndex(of: n) else { return nil }
            position = i
        } else {
            position = n - 1
        }
        guard oneEach, cpus.count > 1 else { return cpus }
        return position < cpus.count ? [cpus[position]] : nil
    }
}

extension GlobalSettings {
    /// The CPUs `cpu-map` gives worker `n` (1-based), nil when none does.
    public func cpus(forWorker n: Int) -> [Int]? {
        for mapping in cpuMaps.reversed() {
            if let cpus = mapping.cpus(forWorker: n) { return cpus }
        }
        return nil
    }
}

public struct GlobalSettings: Sendable, Hashable {
    /// 0 means the default computed from the file-descriptor limit.
    public var maxconn: Int = 0
    /// `maxconnrate`, `maxsessrate`, `maxsslrate`: connections, sessions and
    /// sessions on `ssl` binds accepted per second, over every worker; 0: no limit.
    public var maxConnectionRate = 0
    public var maxSessionRate = 0
    public var maxSSLRate = 0
    /// `node NAME`: this process's name on statistics pages; nil: the host's name.
    public var node: String?
    /// `log-send-hostname [NAME]`: empty for the host's name; nil when not set.
    public var logSendHostname: String?
    /// `log-tag TAG`: the program name in syslog headers; nil: `weir`.
    public var logTag: String?
    /// `description TEXT`: shown by `stats show-desc` without text.
    public var description: String?
    /// `server-state-file`, and the `server-state-base` a relative one (and
    /// a backend's relative `server-state-file-name`) is read from.
    public var serverStateFile: String?
    public var serverStateBase: String?
    /// Number of worker processes; nil means one per CPU.
    public var nbthread: Int?
    public var logs: [LogTarget] = []
    public var pidfile: String?
    public var daemon = false
    /// `unix-bind prefix P`: put before the path of every UNIX socket Weir
    /// listens on (binds and stats sockets), as HAProxy does.
    public var unixBindPrefix: String?
    /// `unix-bind mode|user|uid|group|gid`: defaults for those sockets.
    public var unixBindAccess = UnixSocketAccess()
    /// `user`, `group`, `chroot`: applied by workers once they hold their sockets.
    public var user: String?
    public var group: String?
    public var chroot: String?
    /// `uid`, `gid`: numeric ids, taking precedence over `user` and `group`.
    public var uid: UInt32?
    public var gid: UInt32?
    /// The environment once `setenv`, `presetenv`, `unsetenv` and `resetenv`
    /// have run (they also change what later lines expand); nil when the
    /// configuration uses none of them and the process's own applies.
    public var environment: [String: String]?
    /// `spread-checks PERCENT`: each check interval moves by up to this
    /// share, either way, so that checks of many servers do not fall in step.
    public var spreadChecks = 0
    /// `external-check` and `insecure-fork-wanted`: both allow `option external-check`.
    public var externalCheck = false
    public var insecureForkWanted = false
    /// `tune.rcvbuf.client`, `tune.sndbuf.client`, `tune.rcvbuf.server`,
    /// `tune.sndbuf.server`: SO_RCVBUF and SO_SNDBUF of each side's sockets
    /// (nil: the kernel's default, which it tunes itself).
    public var clientReceiveBuffer: Int?
    public var clientSendBuffer: Int?
    public var serverReceiveBuffer: Int?
    public var serverSendBuffer: Int?
    /// `tune.http.logurilen`: the most bytes of a request line kept for the logs.
    public var logURILength = 1024
    /// `cpu-map` lines in order: a later line that names a worker wins.
    public var cpuMaps: [CPUMapping] = []
    /// `zero-warning`: a warning refuses the configuration, as `-dW` does.
    public var zeroWarning = false
    /// `quiet`: no startup messages, as `-q`.
    public var quiet = false
    /// `tune.bufsize`, bytes per pooled buffer.
    public var bufferSize = 16384
    /// `ulimit-n`: the file-descriptor limit to set; nil computes it from maxconn.
    public var fileLimit: Int?
    /// `strict-limits` (HAProxy's default since 2.6): a file-descriptor
    /// limit that cannot be set stops startup; `no strict-limits` makes it
    /// a warning.
    public var strictLimits = true
    /// `set-dumpable`: core dumps stay possible after workers change user.
    public var setDumpable = false
    /// `noreuseport`: one listening socket per address, shared by every
    /// worker, instead of one SO_REUSEPORT socket per worker.
    public var noReusePort = false
    /// `hard-stop-after`: how long (ms) an old generation may drain after a
    /// reload or soft stop before it is killed; nil waits for ever.
    public var hardStopAfter: Int?
    /// `mworker-max-reloads`: reloads a worker may survive while draining
    /// before it is told to stop; nil means no limit.
    public var maxReloads: Int?
    /// `stats socket` lines, in order.
    public var statsSockets: [StatsSocket] = []
    /// `stats timeout`: how long a stats socket connection may stay idle (ms).
    public var statsTimeout = 10_000
    /// `tune.http.maxhdr`: the most header lines a request or response may have.
    public var maxHeaders = 101
    /// `tune.wakeup-coalesce` (a Weir extension): the longest (µs) a busy
    /// worker naps before it waits for events; 0 turns it off.
    public var wakeupCoalesceMicroseconds = GlobalSettings.defaultWakeupCoalesce
    public static let defaultWakeupCoalesce = 300
    /// `tune.maxrewrite`: bytes of each buffer kept free for header rewrites.
    public var maxRewrite = 1024
    /// `ssl-default-bind-ciphers`, `…-ciphersuites`, `…-options` (versions):
    /// what a `bind … ssl` line that does not say otherwise uses.
    public var defaultBindTLS = DefaultBindTLS()
    /// `crt-base`: the directory a relative `crt` path is read from.
    public var certificateBase: String?
    /// `ca-base`: the directory a relative `ca-file` or `crl-file` path is read from.
    public var caBase: String?
    /// `ssl-dh-param-file`: the Diffie-Hellman parameters for DHE ciphers,
    /// with where the keyword was written.
    public var dhParamFile: String?
    public var dhParamFileLocation: SourceLocation?
    /// `tune.ssl.cachesize`: entries of the session cache all workers share
    /// (session-ID and TLS 1.3 stateful-ticket resumption); 0 disables it.
    public var sslCacheSize = 20000
    /// `tune.ssl.lifetime`: seconds a TLS session may be resumed (cached
    /// sessions and tickets alike); also paces the master's ticket keys.
    public var sslLifetime = 300
    /// `ssl-default-server-ciphers`, `…-ciphersuites`, `…-options`.
    public var defaultServerTLS = DefaultServerTLS()
    /// `ssl-server-verify`: what a server without `verify` does (HAProxy's
    /// default: required).
    public var serverVerify = ServerTLS.Verify.required

    public init() {}
}

public struct Configuration: Sendable, Hashable {
    public var global = GlobalSettings()
    /// Frontends and the frontend half of each `listen` section, in file order.
    public var frontends: [Frontend] = []
    /// Backends and the backend half of each `listen` section, in file order.
    public var backends: [Backend] = []
    /// `userlist` sections, in file order.
    public var userlists: [Userlist] = []
    /// `resolvers` sections, in file order.
    public var resolvers: [ResolversSection] = []
    public var mailers: [MailersSection] = []

    public init() {}
}
