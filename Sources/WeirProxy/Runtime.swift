import WeirBalance
import WeirConfig
import WeirHealth
import WeirShared
import WeirSystem
import WeirTLS

struct ListenerRuntime {
    var fd: Int32
    var frontend: Int
    /// `bind … ssl`: the contexts its sessions' handshakes start from.
    var tls: TLSFrontend?
    /// Its bind line's position in the frontend (HAProxy's listener id, from 1).
    var bind = 0
    /// `bind … maxconn`: connections it takes at once; 0: no limit of its own.
    var maxconn = 0
    var current = 0
    /// `accept-proxy`: its connections start with a PROXY protocol header.
    var acceptProxy = false
    /// A per-second count covers its connections (a rate limit, or the
    /// `SslRate` of an `ssl` bind): each accept takes its place in it first.
    var rateCounted = false
    /// Paused until a rate limit gives room again (a timer resumes it).
    var waitingForRate = false
    var paused = false
    var closed = false
}

struct FrontendRuntime {
    let name: String
    let nameBytes: [UInt8]
    /// The name and `~`: `%ft` of a TLS session.
    let tlsNameBytes: [UInt8]
    /// 0: no frontend limit (per worker). `set maxconn frontend` changes it.
    var maxconn: Int
    /// `rate-limit sessions`, over every worker; 0: none.
    let sessionRateLimit: Int
    let clientTimeout: Int?
    let clientFinTimeout: Int?
    /// `tcp-request inspect-delay` (ms): how long mode tcp content rules may wait for bytes.
    let inspectDelay: Int?
    let tcpLog: Bool
    let dontLogNull: Bool
    let logTargets: [LogTarget]
    /// `mode http` served by the HTTP engine.
    let isHTTP: Bool
    let httpLog: Bool
    /// `timeout http-request` (the whole request head), falling back to `timeout client`.
    let httpRequestTimeout: Int?
    /// `timeout http-keep-alive` (the wait for the next request), falling back
    /// to `timeout http-request`, then `timeout client`.
    let keepAliveTimeout: Int?
    /// `timeout client-hs`, falling back to `timeout client`: the TLS handshake.
    let handshakeTimeout: Int?
    /// `option httpclose`: one request per client connection.
    let closesClientAfterResponse: Bool
    /// `option http-buffer-request` (here or in a backend it may choose).
    let buffersRequestBody: Bool
    let forwardFor: ForwardedFor?
    /// `option originalto`: the same shape, for the address the client reached.
    let originalTo: ForwardedFor?
    /// `compression …` in mode http; nil otherwise.
    let compression: CompressionSettings?
    /// `option clitcpka`: keep-alive probes on client sockets.
    let tcpKeepAlive: TCPKeepAlive?
    /// `option nolinger`: client sockets are closed with a reset.
    let noLinger: Bool
    /// `option http-ignore-probes`: an empty connection closes silently.
    let ignoreProbes: Bool
    var current = 0
    var cumulated = 0
    /// Lines logged so far (`%lc`).
    var logCount = 0
    var paused = false

    init(_ frontend: Frontend) {
        name = frontend.name
        nameBytes = Array(frontend.name.utf8)
        tlsNameBytes = nameBytes + [UInt8(ascii: "~")]
        maxconn = frontend.maxconn
        sessionRateLimit = frontend.sessionRateLimit
        clientTimeout = frontend.timeouts.client
        clientFinTimeout = frontend.timeouts.clientFin
        inspectDelay = frontend.tcpInspectDelay
        // `option tcplog`, or a `log-format` in `mode tcp`.
        tcpLog = frontend.tcpLog || (frontend.mode == .tcp && frontend.logFormat != nil)
        dontLogNull = frontend.dontLogNull
        logTargets = frontend.logs
        isHTTP = frontend.mode == .http
        // Exchanges are logged (and their request lines kept) under `option
        // httplog` or `log-format`, and given ids under `unique-id-format`;
        // in mode tcp, those of the sessions a backend upgraded to HTTP, in
        // the frontend's format, as HAProxy logs each of their streams.
        httpLog = (isHTTP || frontend.upgradesToHTTP) && (frontend.logFormat != nil || frontend.uniqueIDFormat != nil)
        httpRequestTimeout = frontend.timeouts.httpRequest ?? frontend.timeouts.client
        keepAliveTimeout = frontend.timeouts.httpKeepAlive ?? httpRequestTimeout
        handshakeTimeout = frontend.timeouts.clientHandshake ?? frontend.timeouts.client
        // HTTP options of a mode tcp frontend are ignored, as in HAProxy,
        // even for the sessions a backend upgrades: the backend's apply.
        closesClientAfterResponse = isHTTP && frontend.connectionMode == .close
        buffersRequestBody = frontend.buffersRequestBody
        forwardFor = isHTTP ? frontend.forwardFor.map(ForwardedFor.init) : nil
        originalTo = isHTTP ? frontend.originalTo.map(ForwardedFor.init) : nil
        compression = isHTTP ? frontend.compression.map(CompressionSettings.init) : nil
        tcpKeepAlive = frontend.clientTCPKeepAlive
        noLinger = frontend.noLinger
        ignoreProbes = frontend.ignoreProbes
    }
}

struct ServerRuntime {
    let name: String
    let nameBytes: [UInt8]
    /// Where connections go: the address the server started with, then
    /// the one the master sets at run time (`applyServerStates`).
    var address: SocketAddress
    /// The generation of the run-time address applied (0: none yet).
    var addressGeneration = 0
    let isBackup: Bool
    /// `on-marked-down shutdown-sessions`.
    let shutdownSessionsOnDown: Bool
    /// `on-marked-up shutdown-backup-sessions`.
    let shutdownBackupSessionsOnUp: Bool
    /// `observe`: live traffic reported to the checks (only with `check`).
    let observe: ObserveMode?
    /// `send-proxy`, `send-proxy-v2`.
    let sendProxy: ProxyHeaderVersion?
    /// No port, `+N` or `-N`: the port is the client's destination port
    /// plus this offset (`Server.portOffset`).
    let portOffset: Int?
    /// `0.0.0.0`, `::` or `*`: the address is the client's destination address.
    let takesClientAddress: Bool
    /// `source`: the local address connections start from.
    let source: SocketAddress?

    /// Where a connection goes depends on the client connection: each one
    /// is the session's own, never pooled for another client.
    var followsClient: Bool { portOffset != nil || takesClientAddress }
}

struct BackendRuntime {
    let name: String
    let nameBytes: [UInt8]
    var balancer: Balancer
    var servers: [ServerRuntime]
    /// `balance` and `hash-type`: the algorithm and where its key comes from.
    let hashing: BalanceHashing
    let connectTimeout: Int?
    let serverTimeout: Int?
    let queueTimeout: Int?
    let tunnelTimeout: Int?
    let serverFinTimeout: Int?
    /// `tcp-request inspect-delay` (ms), for this backend's content rules.
    let inspectDelay: Int?
    let retries: Int
    let redispatch: Bool
    /// `option redispatch N` (-1: on the last retry).
    let redispatchInterval: Int
    /// `retry-on`.
    let retryOn: RetryOn
    /// `retry-on` asks for a failure after the request was sent: requests
    /// that fit a buffer are held until the response head is known.
    let holdsRequests: Bool
    /// `balance roundrobin|static-rr`: any server will do, so a failed
    /// request may go to another one at once (HAProxy's redispatch rule).
    let balancesRoundRobin: Bool
    let forwardFor: ForwardedFor?
    /// `option originalto`: the same shape, for the address the client reached.
    let originalTo: ForwardedFor?
    /// `option http-keep-alive` (the default): server connections outlive the exchange.
    let keepsServerConnections: Bool
    /// Requests tell the server `Connection: close`: the connection ends
    /// with the exchange, unless `option http-pretend-keepalive` hides it.
    let sendsConnectionClose: Bool
    /// `option prefer-last-server` (ServerRules.swift).
    let preferLastServer: Bool
    /// `option httpclose` in the backend: the client connection closes after the response too.
    let closesClientAfterResponse: Bool
    /// `http-reuse`: whether idle server connections are shared between sessions.
    let reuse: HTTPReuse
    /// `option srvtcpka`: keep-alive probes on server sockets.
    let tcpKeepAlive: TCPKeepAlive?
    /// `option nolinger`: server sockets are closed with a reset.
    let noLinger: Bool
    /// `option abortonclose`.
    let abortOnClose: Bool
    /// `http-send-name-header` (its name is compiled with the rules).
    let sendsServerName: Bool
    /// `cookie`: cookie persistence (CookiePersistence.swift), nil without.
    let cookie: CookieSettings?
    /// `cookie != nil`, readable without copying the settings out.
    let hasCookie: Bool
    /// Each server's `id`: what stick tables store.
    let serverIDs: [Int]
    /// `option persist`: a persistent client keeps a server that is down.
    let persist: Bool
    /// `compression …` in mode http; nil otherwise.
    let compression: CompressionSettings?
    /// This backend's `stick-table` in shared memory (StickPersistence.swift).
    var stickTable: StickTable?
    /// Per server: the first idle connection (a slot in the worker's idle
    /// table, -1 when none) and how many there are.
    var idleHeads: [Int32]
    var idleCounts: [Int32]
    /// Per server: this worker reported a passive error since the last success.
    var passiveFailing: [Bool]
    /// Per server: its TLS context (`ssl`), nil for plain TCP (set by the worker).
    var serverTLS: [TLSServerContext?]
    var queueHead: Int32 = -1
    var queueTail: Int32 = -1
    var queueLength = 0
    var current = 0
    var cumulated = 0
    /// Per server, `maxconn` (0: none), counted over every worker; `set
    /// maxconn server` changes it.
    var serverMaxconn: [Int]
    /// Per server, `maxqueue` (0: none), and the sessions of this worker's
    /// queue bound to it.
    let serverMaxqueue: [Int]
    var queuedFor: [Int]
    /// Per server, `minconn` below its `maxconn` (0: a fixed limit), and
    /// the backend's `fullconn`: the limit follows the backend's load.
    let serverMinconn: [Int]
    let fullconn: Int
    let hasDynamicLimits: Bool
    /// The weight the health checks last gave each server (`slowstart`
    /// ramps it), -1 before any: the balancer uses the lower of it and the
    /// shared weight.
    var checkWeights: [Int]
    /// Servers started without an address (`init-addr … none`).
    let addressless: [Int]
    /// The algorithm or a limit reads server loads: they are taken from
    /// shared memory before each pick.
    var usesGlobalLoad: Bool
    /// `leastconn` or `random`: the algorithm itself reads the loads.
    let balancesByLoad: Bool

    init(_ backend: Backend) throws(StartupError) {
        name = backend.name
        nameBytes = Array(backend.name.utf8)
        var servers: [ServerRuntime] = []
        var slots: [ServerSlot] = []
        var addressless: [Int] = []
        for server in backend.servers {
            var address = SocketAddress(ip: [0, 0, 0, 0], port: 0)
            var resolved = true
            do {
                switch try InitialAddress.resolve(server) {
                case .address(let a): address = a
                case .unresolved(let reason):
                    // `init-addr none`: the server waits without an address, taking no traffic.
                    Notice.warning("\(server.location): server \(backend.name)/\(server.name) has no address (\(reason)): "
                                   + "it takes no traffic")
                    resolved = false
                    addressless.append(servers.count)
                }
            } catch {
                throw StartupError("\(server.location): server \(backend.name)/\(server.name): \(error)")
            }
            servers.append(ServerRuntime(name: server.name, nameBytes: Array(server.name.utf8), address: address,
                                         isBackup: server.backup,
                                         shutdownSessionsOnDown: server.check.shutdownSessionsOnDown,
                                         shutdownBackupSessionsOnUp: server.check.shutdownBackupSessionsOnUp,
                                         observe: server.check.enabled ? server.check.observe : nil,
                                         sendProxy: server.sendProxy, portOffset: server.portOffset,
                                         takesClientAddress: server.address.isUnspecified,
                                         source: server.source.map { SocketAddress(ip: $0.ip.bytes, port: $0.port) }))
            slots.append(ServerSlot(weight: server.weight, isBackup: server.backup, isUsable: !server.disabled && resolved,
                                    maxconn: server.maxconn, id: server.id))
        }
        self.servers = servers
        serverMaxconn = backend.servers.map(\.maxconn)
        serverMaxqueue = backend.servers.map(\.maxqueue)
        queuedFor = Array(repeating: 0, count: backend.servers.count)
        serverMinconn = backend.servers.map(\.minconn)
        fullconn = backend.fullconn
        hasDynamicLimits = serverMinconn.contains { $0 > 0 }
        checkWeights = Array(repeating: -1, count: backend.servers.count)
        self.addressless = addressless
        switch backend.balance {
        case .leastConn, .random: balancesByLoad = true
        default: balancesByLoad = false
        }
        usesGlobalLoad = balancesByLoad || backend.servers.contains { $0.maxconn > 0 }
        idleHeads = Array(repeating: -1, count: servers.count)
        idleCounts = Array(repeating: 0, count: servers.count)
        passiveFailing = Array(repeating: false, count: servers.count)
        serverTLS = Array(repeating: nil, count: servers.count)
        // Hashing algorithms use the map-based table, or with
        // `hash-type consistent` the ring (see `BalanceHashing`).
        hashing = BalanceHashing(balance: backend.balance, hashType: backend.hashType)
        balancer = Balancer(algorithm: hashing.algorithm, servers: slots, allBackups: backend.allBackups, seed: 0x5765_6972)
        connectTimeout = backend.timeouts.connect
        serverTimeout = backend.timeouts.server
        queueTimeout = backend.timeouts.queue ?? backend.timeouts.connect
        tunnelTimeout = backend.timeouts.tunnel
        serverFinTimeout = backend.timeouts.serverFin
        inspectDelay = backend.tcpInspectDelay
        retries = backend.retries
        redispatch = backend.redispatch
        redispatchInterval = backend.redispatchInterval
        retryOn = backend.retryOn
        holdsRequests = backend.mode == .http && backend.retries > 0 && backend.retryOn.needsReplay
        switch backend.balance {
        case .roundRobin, .staticRoundRobin: balancesRoundRobin = true
        default: balancesRoundRobin = false
        }
        forwardFor = backend.forwardFor.map(ForwardedFor.init)
        originalTo = backend.originalTo.map(ForwardedFor.init)
        keepsServerConnections = backend.connectionMode == .keepAlive
        sendsConnectionClose = !keepsServerConnections && !backend.pretendKeepAlive
        preferLastServer = backend.preferLastServer
        closesClientAfterResponse = backend.connectionMode == .close
        reuse = backend.httpReuse
        tcpKeepAlive = backend.serverTCPKeepAlive
        noLinger = backend.noLinger
        abortOnClose = backend.abortOnClose
        sendsServerName = backend.serverNameHeader != nil
        cookie = backend.mode == .http ? backend.cookie.map { CookieSettings($0, backend: backend) } : nil
        hasCookie = cookie != nil
        serverIDs = backend.servers.map(\.id)
        persist = backend.persist
        compression = backend.mode == .http ? backend.compression.map(CompressionSettings.init) : nil
    }
}


/// `option forwardfor`, ready for the request path: the header name as bytes
/// and the excepted networks as masks.
struct ForwardedFor {
    let header: [UInt8]
    let ifNone: Bool
    let except: [(address: [UInt8], prefixLength: Int)]

    init(_ option: ForwardedHeader) {
        header = Array(option.header.utf8)
        ifNone = option.ifNone
        except = option.except.map { ($0.address.bytes, $0.prefixLength) }
    }

    /// The client is in an `except` network: no header for it.
    func isExcepted(_ peer: PeerAddress) -> Bool {
        guard !except.isEmpty else { return false }
        return peer.withIPBytes { ip in
            except.contains { network in
                guard network.address.count == ip.count else { return false }
                var bits = network.prefixLength
                for i in 0..<ip.count where bits > 0 {
                    let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
                    if ip[i] & mask != network.address[i] & mask { return false }
                    bits -= 8
                }
                return true
            }
        }
    }
}
