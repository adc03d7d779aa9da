import Glibc
import WeirBalance
import WeirConfig
import WeirDeflate
import WeirHTTP
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// The registrants an epoll token or a timer can name.
enum TokenKind: UInt8 {
    case listener = 1
    case client
    case server
    case signal
    /// Timer: accepting was paused after running out of descriptors.
    case acceptResume
    /// The channel to the master.
    case control
    /// An idle server connection in the reuse pool (its events).
    case idle
    /// Timer: retire the pooled server connections idle for too long.
    case idleSweep
    /// A health check (`-d` mode only: under a master, the master checks).
    case check
    /// `-d` mode: a stats socket and a connection to it (slot: its descriptor).
    case statsListener
    case statsClient
    /// Timer: retry the backend queues (a slot may have freed in another worker).
    case queuePoll
    /// Timer, `-d` mode only: a new TLS ticket key (under a master, the master rotates them).
    case ticketKeys
    /// `-d` mode only: a name server's socket (slot: its index) or a name's
    /// timer (slot: its resolution); under a master, the master resolves.
    case dns
    /// `-d` mode only: an email alert's SMTP connection or its timer (slot:
    /// the delivery); under a master, the master sends them.
    case mail
    /// Timer: a listener paused by a rate limit may accept again (slot: the listener).
    case rateResume
}

public struct WorkerOptions: @unchecked Sendable {
    /// `-d`: one line per accepted and closed connection on stderr.
    public var debug = false
    /// `-q`: no startup notices.
    public var quiet = false
    /// Under a master: the control channel (READY, DRAIN, STOP; end-of-file
    /// means the master is gone).
    public var control: Int32?
    /// The generation's shared memory and this worker's slot in it; nil in
    /// `-d` mode, where the worker creates a segment of its own (one slot).
    public var segment: SharedSegment?
    public var slot: Int
    /// `-d` mode: the `stats socket`s this process serves itself (under a
    /// master, the master serves them).
    public var statsSockets: [StatsSocketListener]

    public init(debug: Bool = false, quiet: Bool = false, control: Int32? = nil,
                segment: SharedSegment? = nil, slot: Int = 0, statsSockets: [StatsSocketListener] = []) {
        self.debug = debug
        self.quiet = quiet
        self.control = control
        self.segment = segment
        self.slot = slot
        self.statsSockets = statsSockets
    }
}

/// One worker: a single thread running one epoll loop over its listeners,
/// sessions and signals. In `-d` mode it binds its own listeners; under a
/// master it receives them already bound.
public struct Worker: ~Copyable, EventHandler {
    var sessions: Slab<Session>
    /// Server connections parked between exchanges (`http-reuse`).
    var idle: Slab<IdleConnection>
    /// When the idle-pool sweep timer fires; `.max` when none is scheduled.
    var idleSweepAt: Int64 = .max
    var buffers: BufferPool
    /// Small buffers for what an HTTP log line keeps of a request (`%r`).
    var lineBuffers: BufferPool
    /// `tune.http.logurilen`: the most bytes of a request line kept for the log.
    let requestLineLimit: Int
    /// The fields of the message head being analysed (one at a time per worker).
    var headers: HeaderTable
    let httpLimits: HTTPLimits
    let errorPages: ErrorPages
    /// ACLs, rules and the view of the message they edit (`Rules/`).
    var rules: RuleEngine
    let responseReaders: ResponseReaders
    /// Some frontend or backend compresses responses (`Compression.swift`).
    let compresses: Bool
    /// The deflate encoder's match table, shared by every stream.
    var deflateTable: DeflateTable
    let forwardedFor: ForwardedForTable
    var logger: Logger
    var listeners: [ListenerRuntime]
    /// Owned buffers (freed in deinit) rather than arrays: the counters and
    /// balancers updated per request are then written in place, without the
    /// uniqueness check an array element's mutation costs.
    let frontends: UnsafeMutableBufferPointer<FrontendRuntime>
    let backends: UnsafeMutableBufferPointer<BackendRuntime>
    let signals: SignalFd
    let options: WorkerOptions
    let bufferSize: Int
    let maxconn: Int
    /// `tune.rcvbuf.*`, `tune.sndbuf.*`: SO_RCVBUF and SO_SNDBUF per side (nil: the kernel's).
    let clientBuffers: (receive: Int32?, send: Int32?)
    let serverBuffers: (receive: Int32?, send: Int32?)
    var stopping = false
    var acceptPaused = false
    /// `maxconnrate`, `maxsessrate`, `maxsslrate` as the shared segment
    /// holds them (`RateLimiting.swift`); 0: no limit.
    var globalRateLimits = (connections: 0, sessions: 0, sslSessions: 0)
    /// Sessions accepted since start.
    var cumulated = 0
    /// `tune.wakeup-coalesce`, in microseconds.
    let wakeupCoalesce: Int
    /// Streams (HTTP exchanges) numbered so far, for `%rt`.
    var streamCount: Int64 = 0
    var exitStatus: Int32 = 0
    /// Active health checks, run here only without a master (`-d`).
    var checker: HealthChecker?
    /// DNS resolution of the servers with `resolvers`, here only without a master.
    var resolver: DNSClient?
    /// Email alerts about the checks' state changes, here only without a master.
    var mailAlerts: MailAlerts?
    /// Counters and server state in shared memory.
    var stats: WorkerStats
    /// A timer polls the backend queues while sessions wait: a server slot
    /// another worker frees wakes no event here.
    var queuePollArmed = false
    /// `-d` mode: the stats sockets served by this process.
    var statsServer: StatsServer
    let statsTimeout: Int
    /// `-d` mode: the certificate and ticket key files the runtime API
    /// shows, read when first asked.
    var certificateInventory: TLSInventory?
    /// The configuration, for `certificateInventory`.
    let configuration: Configuration
    /// Answers longer than a buffer still being sent, by session slot (`StatsPage.swift`).
    var longAnswers: [UInt32: LongAnswer] = [:]
    /// The destinations PROXY protocol headers carried, by session slot
    /// (`Session.hasProxiedDestination`).
    var proxiedDestinations: [UInt32: SocketAddress] = [:]
    /// The SNI each exchange chose, by session slot (`ServerTLS.swift`).
    var serverNames: [UInt32: ServerNameChoice] = [:]
    /// The backend of each mode tcp session upgraded to HTTP, by session
    /// slot (`ContentInspection.swift`).
    var upgradedBackends: [UInt32: Int32] = [:]
    let startedWall: Int64
    let fileLimit: Int
    /// `-d` mode with a `bind … ssl`: `tune.ssl.lifetime`, which paces this
    /// process's own ticket keys; nil otherwise.
    let ticketKeyLifetime: Int?

    public init(configuration: Configuration, listeners bound: [BoundListener], options: WorkerOptions) throws(StartupError) {
        // Everything that can fail comes first: the owned resources below
        // cannot be conditionally initialized.
        var backends: [BackendRuntime] = []
        for backend in configuration.backends { backends.append(try BackendRuntime(backend)) }
        let compiledRules = try RuleCompiler.compile(configuration)
        do {
            let serverTLS = try TLSSetup.buildServers(configuration, traffic: true)
            for b in backends.indices { backends[b].serverTLS = serverTLS[b] }
        } catch { throw StartupError("\(error)") }
        let segment: SharedSegment
        if let given = options.segment {
            segment = given
        } else {
            do { segment = try SharedSegment.create(configuration: configuration, slots: 1).segment } catch {
                throw StartupError("cannot create the shared memory: \(error)")
            }
            for warning in ServerStateFile.apply(configuration: configuration, to: segment,
                                                 now: Int(Clock.wallMilliseconds() / 1000), read: ServerStateFile.read) {
                Notice.warning(warning)
            }
        }
        let tls: [[TLSFrontend?]]
        do { tls = try TLSSetup.build(configuration, store: TLSSessionStore(segment: segment, configuration: configuration)) } catch {
            throw StartupError("\(error)")
        }
        // `-d`: this process makes its own ticket keys, as a master would.
        let selfKeyed = options.segment == nil && tls.contains { $0.contains { $0 != nil } }
        signals = try Worker.makeSignalFd()
        stats = WorkerStats(segment: segment, slot: options.segment == nil ? 0 : options.slot)
        statsServer = StatsServer(listeners: options.statsSockets)
        self.configuration = configuration
        // The address a name resolved to, for `show servers state` and the
        // master's DNS client (the first worker to start stores it).
        for (b, backend) in configuration.backends.enumerated() {
            for (s, server) in backend.servers.enumerated() where !backends[b].addressless.contains(s) {
                guard case .host = server.address, let address = RuntimeAddress(backends[b].servers[s].address) else { continue }
                stats.segment.addresses?.store(RuntimeAddress(ip: address.ip, port: address.port, initial: true),
                                               stats.server(b, s))
            }
        }
        // A server without an address is in resolution maintenance (as
        // HAProxy's RMAINT) until the master gives it one.
        for b in backends.indices {
            for server in backends[b].addressless {
                let entity = stats.server(b, server)
                guard !stats.segment.runtimeAddress(entity).isSet else { continue }
                stats.segment.setAdmin(stats.segment.admin(entity).union(.resolution), entity)
            }
        }
        for b in backends.indices where configuration.backends[b].stickTable != nil {
            backends[b].stickTable = segment.table(named: backends[b].name)
        }
        responseReaders = ResponseReaders(compiledRules, backendCookies: backends.map(\.hasCookie))
        self.backends = .allocate(capacity: backends.count)
        _ = self.backends.initialize(fromContentsOf: backends)
        self.options = options
        let fileLimit = Posix.raiseFileLimit()
        self.fileLimit = fileLimit
        statsTimeout = configuration.global.statsTimeout
        ticketKeyLifetime = selfKeyed ? configuration.global.sslLifetime : nil
        startedWall = Clock.wallMilliseconds()
        maxconn = configuration.global.maxconn > 0 ? configuration.global.maxconn : max(16, (fileLimit - 64) / 2)
        bufferSize = configuration.global.bufferSize
        clientBuffers = (configuration.global.clientReceiveBuffer.map(Int32.init), configuration.global.clientSendBuffer.map(Int32.init))
        serverBuffers = (configuration.global.serverReceiveBuffer.map(Int32.init), configuration.global.serverSendBuffer.map(Int32.init))
        wakeupCoalesce = configuration.global.wakeupCoalesceMicroseconds
        sessions = Slab(initialCapacity: min(maxconn, 1024))
        idle = Slab(initialCapacity: 64)
        buffers = BufferPool(bufferSize: bufferSize, limit: maxconn * 2 + 64)
        requestLineLimit = configuration.global.logURILength
        lineBuffers = BufferPool(bufferSize: max(1024, configuration.global.logURILength), limit: maxconn + 64)
        httpLimits = HTTPLimits(maxHeadBytes: bufferSize - configuration.global.maxRewrite,
                                maxHeaders: configuration.global.maxHeaders)
        headers = HeaderTable(capacity: configuration.global.maxHeaders)
        errorPages = ErrorPages(extraStatuses: compiledRules.errorStatuses)
        rules = RuleEngine(compiled: compiledRules, arenaSize: bufferSize, maxHeaders: configuration.global.maxHeaders,
                           sessionCapacity: min(maxconn, 1024))
        rules.stick.tables = segment.tables
        logger = Logger(sendHostname: configuration.global.logSendHostname, tag: configuration.global.logTag)
        frontends = .allocate(capacity: configuration.frontends.count)
        _ = frontends.initialize(fromContentsOf: configuration.frontends.map(FrontendRuntime.init))
        // From the locals: a closure reading `self` before every stored
        // property is set miscompiles in release builds (Swift 6.3).
        compresses = configuration.frontends.contains { $0.mode == .http && $0.compression != nil }
            || backends.contains { $0.compression != nil }
        deflateTable = DeflateTable()
        forwardedFor = ForwardedForTable(frontends: frontends.map(\.forwardFor), backends: self.backends.map(\.forwardFor))
        listeners = bound.map {
            let binds = configuration.frontends[$0.frontend].binds
            return ListenerRuntime(fd: $0.fd, frontend: $0.frontend,
                                   tls: $0.bind < tls[$0.frontend].count ? tls[$0.frontend][$0.bind] : nil, bind: $0.bind,
                                   maxconn: $0.bind < binds.count ? binds[$0.bind].options.maxconn ?? 0 : 0,
                                   acceptProxy: $0.bind < binds.count && binds[$0.bind].acceptProxy)
        }
        if options.control == nil {
            var checker = HealthChecker(configuration: configuration, tokenKind: TokenKind.check.rawValue)
            let segment = stats.segment
            checker.currentConnections = { segment.current(segment.layout.server(backend: $0, $1)) }
            for problem in checker.problems { Notice.warning(problem) }
            self.checker = checker.isEmpty ? nil : checker
            if !checker.isEmpty { stats.segment.markCheckedServersUp(configuration) }
        }
        Signals.ignoreBrokenPipe()
    }

    deinit {
        frontends.deinitialize().deallocate()
        backends.deinitialize().deallocate()
    }

    private static func makeSignalFd() throws(StartupError) -> SignalFd {
        do {
            return try SignalFd(signals: [SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGUSR2])
        } catch {
            throw StartupError("cannot create signalfd: \(error)")
        }
    }

    /// Runs until stopped by a signal; returns the process exit status.
    public consuming func run() -> Int32 {
        let loop: EventLoop
        if wakeupCoalesce > 0 {
            // The default timer slack (50 µs) would stretch each nap, by
            // more than it lasts when few connections are busy.
            Processes.setTimerSlack(nanoseconds: WakeupCoalescing.napPerBusyConnection)
        }
        do { loop = try EventLoop(coalescing: WakeupCoalescing(napNanoseconds: wakeupCoalesce * 1000)) } catch {
            Notice.alert("cannot create epoll instance: \(error)")
            return 1
        }
        var eventLoop = loop
        do {
            for (index, listener) in listeners.enumerated() {
                try eventLoop.register(listener.fd, events: Epoll.readable,
                                       token: Token(kind: TokenKind.listener.rawValue, slot: UInt32(index)))
            }
            try eventLoop.register(signals.descriptor.rawValue, events: Epoll.readable,
                                   token: Token(kind: TokenKind.signal.rawValue, slot: 0))
            for (index, listener) in statsServer.listeners.enumerated() {
                try eventLoop.register(listener.fd, events: Epoll.readable,
                                       token: Token(kind: TokenKind.statsListener.rawValue, slot: UInt32(index)))
            }
            if let control = options.control {
                try eventLoop.register(control, events: Epoll.readable, token: Token(kind: TokenKind.control.rawValue, slot: 0))
                try Channel.send(control, ControlMessage.ready.encoded())
            }
        } catch {
            Notice.alert("cannot register with epoll: \(error)")
            return 1
        }
        if !options.quiet { Notice.notice("Loading success.") }
        checker?.start(loop: &eventLoop)
        if options.control == nil {
            resolver = DNSClient(configuration: configuration, segment: stats.segment, tokenKind: TokenKind.dns.rawValue,
                                 loop: &eventLoop)
            mailAlerts = MailAlerts(configuration: configuration, tokenKind: TokenKind.mail.rawValue)
        }
        rotateTicketKeys(loop: &eventLoop)
        eventLoop.run(&self)
        // External checks' programs end with the process.
        checker?.stop(loop: &eventLoop)
        statsServer.closeAll()
        logger.flushBeforeExit()
        return exitStatus
    }

    public mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        // Sessions' events, nearly all of them, by their raw kind: no enum
        // conversion, and none of the other registrants' code in this frame.
        if token.kind == TokenKind.client.rawValue {
            clientEvent(token, events: events, loop: &loop)
        } else if token.kind == TokenKind.server.rawValue {
            serverEvent(token, events: events, loop: &loop)
        } else {
            handleRegistrantEvent(token, events: events, loop: &loop)
        }
    }

    /// The events of everything but a session: listeners, signals, the
    /// master's channel, pooled connections, checks, stats sockets.
    @inline(never)
    private mutating func handleRegistrantEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        switch TokenKind(rawValue: token.kind) {
        case .listener: acceptConnections(listener: Int(token.slot), loop: &loop)
        case .signal: handleSignals(loop: &loop)
        case .control: handleControl(loop: &loop)
        case .idle: idleEvent(token)
        case .check:
            if let events = checker?.handleEvent(token, events: events, loop: &loop) { checkerEvents(events, loop: &loop) }
        case .statsListener: acceptStats(listener: Int(token.slot), loop: &loop)
        case .statsClient: statsEvent(fd: Int32(bitPattern: token.slot), loop: &loop)
        case .dns:
            if let changes = resolver?.handleEvent(token, loop: &loop) { followAddresses(changes, loop: &loop) }
        case .mail: mailAlerts?.handleEvent(token, events: events, loop: &loop)
        // Sessions' events never come here: `handleEvent` took them.
        case .client, .server, .acceptResume, .idleSweep, .queuePoll, .ticketKeys, .rateResume, nil: break
        }
    }

    public mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        switch TokenKind(rawValue: token.kind) {
        case .client: sessionTimer(token, deadline: deadline, loop: &loop)
        case .idleSweep: sweepIdleConnections(loop: &loop)
        case .check:
            if let events = checker?.handleTimer(token, deadline: deadline, loop: &loop) { checkerEvents(events, loop: &loop) }
        case .acceptResume:
            acceptPaused = false
            updateListeners(loop: &loop)
        case .rateResume:
            resumeAfterRateLimit(listener: Int(token.slot), loop: &loop)
        case .queuePoll:
            pollQueues(loop: &loop)
        case .statsClient:
            statsTimer(fd: Int32(bitPattern: token.slot), loop: &loop)
        case .ticketKeys:
            rotateTicketKeys(loop: &loop)
        case .dns:
            if let changes = resolver?.handleTimer(token, deadline: deadline, loop: &loop) {
                followAddresses(changes, loop: &loop)
            }
        case .mail: mailAlerts?.handleTimer(token, deadline: deadline, loop: &loop)
        default: break
        }
    }

    /// `-d` mode: a new ticket key every `tune.ssl.lifetime` (`TLSTicketKeys`).
    private func rotateTicketKeys(loop: inout EventLoop) {
        guard let lifetime = ticketKeyLifetime, let ring = stats.segment.ticketKeys else { return }
        if TLSTicketKeys.isDue(ring, lifetime: lifetime, now: loop.now) {
            ring.publish(TLSTicketKeys.generate(), now: loop.now)
        }
        loop.schedule(Token(kind: TokenKind.ticketKeys.rawValue, slot: 0), at: TLSTicketKeys.nextRotation(ring, lifetime: lifetime))
    }

    public mutating func endOfTick(loop: inout EventLoop) {
        if logger.stdoutPending.count > 0 || logger.stderrPending.count > 0 { flushLog() }
        stats.header.pointee.sessions = Int64(sessions.count)
        stats.header.pointee.cumulated = Int64(cumulated)
        if stopping && sessions.count == 0 { stopAfterDrain(loop: &loop) }
    }

    /// Out of line: the writes it inlines would make every tick pay for
    /// their stack frame.
    @inline(never)
    private mutating func flushLog() { logger.flush() }

    /// The last session of a stopping worker is gone. Kept out of
    /// `endOfTick`, which runs every tick (and mutating: a borrowing call
    /// from there would copy the worker onto its stack).
    @inline(never)
    private mutating func stopAfterDrain(loop: inout EventLoop) {
        for frontend in frontends where !options.quiet {
            Notice.notice("Proxy \(frontend.name) stopped (cumulated conns: FE: \(frontend.cumulated)).")
        }
        loop.stop()
    }

    // MARK: - Accepting

    private mutating func acceptConnections(listener index: Int, loop: inout EventLoop) {
        // A drain in the same batch may have closed it (and its number may be reused).
        guard !listeners[index].closed else { return }
        refreshServerStates()
        let frontendIndex = listeners[index].frontend
        let fd = listeners[index].fd
        // A bounded batch per tick keeps one busy listener from starving the rest.
        for _ in 0..<64 {
            if sessions.count >= maxconn { break }
            let limit = frontends[frontendIndex].maxconn
            if limit > 0 && frontends[frontendIndex].current >= limit { break }
            if listeners[index].maxconn > 0 && listeners[index].current >= listeners[index].maxconn { break }
            let rateCounted = listeners[index].rateCounted
            if rateCounted && !takeRates(listener: index, loop: &loop) { break }
            var peer = SocketAddress()
            let accepted: Int32?
            do { accepted = try Posix.accept(fd, peer: &peer) } catch {
                if rateCounted { giveBackRates(listener: index, from: .connections, now: loop.now) }
                if error == .tooManyOpenFiles || error == .systemTooManyOpenFiles {
                    Notice.warning("accept on proxy \(frontends[frontendIndex].name): \(error); pausing for 100ms")
                    acceptPaused = true
                    loop.schedule(Token(kind: TokenKind.acceptResume.rawValue, slot: 0), at: loop.now + 100)
                }
                break
            }
            guard let clientFD = accepted else {
                if rateCounted { giveBackRates(listener: index, from: .connections, now: loop.now) }
                break
            }
            startSession(clientFD: clientFD, peer: PeerAddress(peer), listener: index, loop: &loop)
        }
        updateListeners(loop: &loop)
    }

    private mutating func startSession(clientFD: Int32, peer: PeerAddress, listener: Int, loop: inout EventLoop) {
        let index = listeners[listener].frontend
        if peer.family != AF_UNIX {
            Posix.setNoDelay(clientFD)
            if let k = frontends[index].tcpKeepAlive {
                Posix.setKeepAlive(clientFD, probes: k.probes, idle: k.idle, interval: k.interval)
            }
        }
        if clientBuffers.receive != nil || clientBuffers.send != nil {
            Posix.setBufferSizes(clientFD, receive: clientBuffers.receive, send: clientBuffers.send)
        }
        // `tcp-request connection reject|silent-drop`: closed before it becomes a session.
        stats.add(stats.frontend(index), .connectionsTotal)
        let verdict = connectionVerdict(frontend: index, clientFD: clientFD, peer: peer)
        guard verdict == .accept else {
            // Counted as a connection, not as a session.
            if listeners[listener].rateCounted { giveBackRates(listener: listener, from: .sessions, now: loop.now) }
            rules.stick.release(.max, all: true, status: 0, bytesIn: 0, bytesOut: 0, now: Clock.monotonicMilliseconds())
            stats.add(stats.frontend(index), .deniedConnections)
            if verdict == .silentDrop { Posix.prepareSilentReset(clientFD) }
            Posix.close(clientFD)
            return
        }
        let http = frontends[index].isHTTP
        let wall = loop.wallNow
        var session = Session(clientFD: clientFD, frontend: Int32(index), phase: http ? .httpHead : .queued, peer: peer,
                              now: loop.now, wall: wall)
        if http {
            session.isHTTP = true
            session.exchange.waitStart = loop.now
            session.exchange.waitStartWall = wall
            session.phaseExpiry = frontends[index].httpRequestTimeout.map { loop.now + Int64($0) } ?? .max
        }
        session.listener = Int32(listener)
        let slot = sessions.insert(session)
        rules.sessions.startSession(slot)
        rules.stick.adoptAccepted(slot)
        frontends[index].current += 1
        listeners[listener].current += 1
        frontends[index].cumulated += 1
        cumulated += 1
        stats.open(stats.frontend(index))
        stats.sessionStarted(stats.frontend(index), wallSeconds: wall / 1000)
        let token = Token(kind: TokenKind.client.rawValue, slot: slot, generation: sessions.generation(slot))
        do {
            try loop.register(clientFD, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered,
                              token: token)
        } catch {
            close(slot, cause: "R", loop: &loop)
            return
        }
        if options.debug { debugLine(slot, "accept") }
        if listeners[listener].acceptProxy || rules.connectionExpectsProxy {
            // The header and a TLS handshake after it share one deadline, as in HAProxy.
            let s = sessions.pointer(slot)
            s.pointee.handshaking = true
            s.pointee.awaitingProxyHeader = true
            s.pointee.phaseExpiry = frontends[index].handshakeTimeout.map { loop.now + Int64($0) } ?? .max
            receiveProxyHeader(slot, loop: &loop)
            return
        }
        startTransport(slot, loop: &loop)
    }

    /// After the accept (and a PROXY header): a TLS handshake on an `ssl`
    /// bind, else the traffic itself.
    mutating func startTransport(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if let tls = listeners[Int(s.pointee.listener)].tls {
            guard let ssl = tls.connection(fd: s.pointee.clientFD) else {
                close(slot, cause: "R", loop: &loop)
                return
            }
            s.pointee.tls = ssl
            if !s.pointee.handshaking {
                s.pointee.handshaking = true
                s.pointee.phaseExpiry = frontends[Int(s.pointee.frontend)].handshakeTimeout.map { loop.now + Int64($0) } ?? .max
            }
            continueHandshake(slot, loop: &loop)
            return
        }
        beginTraffic(slot, loop: &loop)
    }

    /// What follows the accept (and the TLS handshake): the first request is
    /// read, or a `mode tcp` session's content rules choose its backend
    /// (`ContentInspection.swift`).
    mutating func beginTraffic(_ slot: UInt32, loop: inout EventLoop) {
        if sessions.pointer(slot).pointee.isHTTP {
            // The first request may be on its way already.
            httpService(slot, loop: &loop)
            return
        }
        touchClient(slot, now: loop.now)
        analyseTCPContent(slot, loop: &loop)
    }

    /// Pauses listeners at a connection limit and resumes them below it.
    mutating func updateListeners(loop: inout EventLoop) {
        // `set maxconn frontend` may have moved a limit.
        refreshServerStates()
        let globalFull = sessions.count >= maxconn || acceptPaused || stopping
        for index in listeners.indices where !listeners[index].closed {
            let frontend = listeners[index].frontend
            let limit = frontends[frontend].maxconn
            let full = globalFull || (limit > 0 && frontends[frontend].current >= limit)
                || (listeners[index].maxconn > 0 && listeners[index].current >= listeners[index].maxconn)
                || listeners[index].waitingForRate
            guard full != listeners[index].paused else { continue }
            listeners[index].paused = full
            let token = Token(kind: TokenKind.listener.rawValue, slot: UInt32(index))
            try? loop.modify(listeners[index].fd, events: full ? 0 : Epoll.readable, token: token)
        }
    }

    // MARK: - Signals

    private mutating func handleSignals(loop: inout EventLoop) {
        while let signal = signals.next() {
            switch signal {
            case SIGINT, SIGTERM:
                if !options.quiet { Notice.notice("Stopping at once (signal \(signal)).") }
                loop.stop()
            case SIGUSR1:
                if !options.quiet { Notice.notice("Soft stop: closing listeners, finishing \(sessions.count) connections.") }
                softStop(loop: &loop)
            default:
                break
            }
        }
    }

    /// A message from the master, or its end-of-file: the master is gone, and
    /// a worker never outlives it.
    private mutating func handleControl(loop: inout EventLoop) {
        guard let control = options.control else { return }
        let received: (bytes: [UInt8], fds: [Int32])?
        do { received = try Channel.receive(control) } catch {
            loop.stop()
            return
        }
        guard let (bytes, fds) = received else { return }
        fds.forEach(Posix.close)
        if bytes.isEmpty {
            loop.deregister(control)
            loop.stop()
            return
        }
        switch ControlMessage.decode(bytes) {
        case .drain:
            if !stopping { softStop(loop: &loop) }
        case .stop:
            loop.stop()
        case .serverState(let s):
            applyServerHealth(backend: s.backend, server: s.server, ServerHealth(usable: s.usable, weight: s.weight),
                              loop: &loop)
        case .tls(let update):
            applyTLS(update)
        default:
            break
        }
    }

    /// Closes every listener and every idle keep-alive client connection; the
    /// loop ends once the last session is gone. An idle client would hold
    /// the worker until `timeout http-keep-alive`; closed between requests,
    /// it opens a new connection, which the next generation accepts.
    private mutating func softStop(loop: inout EventLoop) {
        stopping = true
        closeIdleConnections()
        for slot in 0..<UInt32(sessions.slotBound) where sessions.isLive(slot) {
            let s = sessions.pointer(slot)
            if s.pointee.isHTTP && s.pointee.phase == .httpHead && !s.pointee.exchange.started
                && s.pointee.exchange.served > 0 {
                close(slot, cause: "-", loop: &loop)
            }
        }
        for index in listeners.indices where !listeners[index].closed {
            loop.deregister(listeners[index].fd)
            Posix.close(listeners[index].fd)
            listeners[index].closed = true
        }
    }

    // MARK: - Helpers

    func debugLine(_ slot: UInt32, _ what: String) {
        let s = sessions[slot]
        Notice.debug("\(frontends[Int(s.frontend)].name).\(what)(fd \(s.clientFD)) from \(s.peer.description)")
    }
}
