import Glibc
import WeirConfig
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

enum MasterToken: UInt8 {
    case signal = 1
    /// A worker's control channel; the slot is the worker's pid.
    case channel
    case cliListener
    /// A master CLI connection; the slot is its descriptor.
    case cliClient
    /// Timers.
    case startDeadline
    case hardStop
    case watchdog
    case killStragglers
    /// A health check's socket or timer (MasterHealth.swift).
    case check
    /// A stats socket, and a connection to one (slot: its descriptor; also its timeout timer).
    case statsListener
    case statsClient
    /// Timer: a new TLS ticket key (MasterTicketKeys.swift).
    case ticketKeys
    /// Timer: once a second, the statistics' rates (MasterStats.swift).
    case rates
    /// A name server's UDP socket (slot: its index) or a name's timer
    /// (slot: its resolution) (MasterDNS.swift).
    case dns
    /// An email alert's SMTP connection or its timer (slot: the delivery).
    case mail
}

public struct MasterOptions: Sendable {
    /// `-f` arguments, read again from disk on every reload.
    public var configPaths: [String]
    /// The command line, for re-executing on reload.
    public var arguments: [String]
    /// `-S`: where the master CLI listens (a path or `fd@N`).
    public var cliAddress: String?
    public var quiet = false
    /// `-sf`/`-st`: processes told to finish (SIGUSR1) or stop (SIGTERM) once we serve.
    public var finishPIDs: [Int32] = []
    public var terminatePIDs: [Int32] = []
    public var version: String
    /// A daemon's pipe to the command that started it: written to once the
    /// first generation serves (-1: not a daemon).
    public var readinessFD: Int32 = -1

    /// With `-sf`/`-st` the ports are expected to be held by the process we
    /// take over from, so the probe that refuses to share a port is skipped.
    var probeForStrangers: Bool { finishPIDs.isEmpty && terminatePIDs.isEmpty }

    public init(configPaths: [String], arguments: [String], cliAddress: String?, quiet: Bool,
                finishPIDs: [Int32], terminatePIDs: [Int32], version: String) {
        self.configPaths = configPaths
        self.arguments = arguments
        self.cliAddress = cliAddress
        self.quiet = quiet
        self.finishPIDs = finishPIDs
        self.terminatePIDs = terminatePIDs
        self.version = version
    }
}

/// The master process: binds listeners, spawns and supervises workers, and
/// reloads by re-executing itself. It never proxies traffic. One thread, one
/// epoll loop; timers and signals arrive through the same loop.
public struct Master: ~Copyable, EventHandler {
    let options: MasterOptions
    let signals: SignalFd
    /// Workers receive the master's environment minus what is the master's own.
    let workerEnvironment: [String]
    var configuration: Configuration {
        didSet { certificateInventory = nil }
    }
    /// `show ssl cert`: the certificate files of `configuration`, read on
    /// the first such command after a (re)load.
    var certificateInventory: TLSInventory?
    /// The `set ssl …` changes sent to the workers of a generation.
    var tlsUpdates: (generation: Int, messages: [ControlMessage]) = (0, [])
    var files: [ConfigFile]
    /// The current generation's listening sockets.
    var listeners: [OpenListener] = []
    var generations: [Int: Generation] = [:]
    var workers: [WorkerProcess] = []
    var current = 0
    var pending: PendingGeneration?
    var reloads = 0
    var failedReloads = 0
    var startedWall: Int64
    var cliListener: Int32 = -1
    /// Partial command lines of open CLI connections.
    var cliClients: [Int32: [UInt8]] = [:]
    /// The CLI connection waiting for the outcome of a reload.
    var reloadReply: Int32 = -1
    /// Exit times (monotonic ms) of recent crashes, for crash-loop detection.
    var crashes: [Int64] = []
    var stopping = false
    var exitStatus: Int32 = 0
    /// The binary to execute on reload: the path we were started from.
    var executable: String
    /// Health checks of the current generation's servers, run here once for all workers.
    var checker: HealthChecker?
    /// Email alerts about the checks' state changes.
    var mailAlerts: MailAlerts?
    /// The DNS client of the current generation's `resolvers` servers.
    var resolver: DNSClient?
    var resolverGeneration = 0
    /// The generation whose workers receive the checks' results.
    var checksGeneration = 0
    /// `stats socket`s and their connections; the lines they were bound from.
    var statsServer = StatsServer(listeners: [])
    var statsSockets: [StatsSocket] = []
    /// When the ticket-key timer armed last fires (0: none armed).
    var ticketKeysDue: Int64 = 0
    /// The statistics' per-second rates, and when their timer fires next (0: not armed).
    var rates = RateSampler()
    var ratesDue: Int64 = 0

    static let startTimeout: Int64 = 15_000
    static let crashLimit = 5
    static let crashWindow: Int64 = 10_000

    var slotsPerGeneration: Int { configuration.global.nbthread ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    init(options: MasterOptions, configuration: Configuration, files: [ConfigFile]) throws(StartupError) {
        do { signals = try SignalFd(signals: [SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, Processes.childSignal]) } catch {
            throw StartupError("cannot create signalfd: \(error)")
        }
        self.options = options
        self.configuration = configuration
        self.files = files
        startedWall = Clock.wallMilliseconds()
        executable = resolvedExecutablePath()
        workerEnvironment = Processes.environment().filter {
            !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("WATCHDOG_") && !$0.hasPrefix(ReexecState.environmentKey + "=")
        }
        Signals.ignoreBrokenPipe()
    }

    // MARK: - Running

    /// A fresh start: binds, starts generation 1, runs until stopped.
    public static func start(options: MasterOptions, configuration: Configuration, files: [ConfigFile],
                             messages: [String]) -> Int32 {
        do {
            var master = try Master(options: options, configuration: configuration, files: files)
            var loop = try EventLoop()
            try master.openCLI(loop: &loop)
            try master.openStats(loop: &loop)
            try master.registerSignals(loop: &loop)
            var inherited: [ListenerKey: Int32] = [:]
            let opened = try ListenerBinding.bindAll(configuration, slots: master.slotsPerGeneration, reusing: &inherited,
                                                     probe: options.probeForStrangers)
            master.announce(opened, configuration)
            try master.startGeneration(1, configuration: configuration, files: files, listeners: opened,
                                       messages: messages, loop: &loop)
            master.armWatchdog(loop: &loop)
            loop.run(&master)
            return master.finish()
        } catch {
            return startupFailed(error)
        }
    }

    private static func startupFailed(_ error: any Error) -> Int32 {
        Notice.alert((error as? StartupError)?.description ?? "\(error)")
        return 1
    }

    /// After a re-exec: takes back the state the previous image handed over,
    /// then starts the generation of the new configuration.
    public static func resume(options: MasterOptions, state: ReexecState) -> Int32 {
        do {
            var master = try Master(options: options, configuration: Configuration(), files: [])
            var loop = try EventLoop()
            try master.restore(state, loop: &loop)
            master.executable = state.executable
            try master.openStats(loop: &loop)
            try master.registerSignals(loop: &loop)
            master.armWatchdog(loop: &loop)
            master.reloadAfterExec(loop: &loop)
            loop.run(&master)
            return master.finish()
        } catch {
            return startupFailed(error)
        }
    }

    private func registerSignals(loop: inout EventLoop) throws(StartupError) {
        do {
            try loop.register(signals.descriptor.rawValue, events: Epoll.readable,
                              token: Token(kind: MasterToken.signal.rawValue, slot: 0))
        } catch {
            throw StartupError("cannot register signals: \(error)")
        }
    }

    private func announce(_ opened: [OpenListener], _ configuration: Configuration) {
        guard !options.quiet else { return }
        for listener in opened where listener.key.slot == 0 {
            Notice.notice("Proxy \(configuration.frontends[listener.frontend].name) listening on \(listener.name)")
        }
    }

    mutating func armWatchdog(loop: inout EventLoop) {
        if let interval = SystemdNotify.watchdogInterval() {
            loop.schedule(Token(kind: MasterToken.watchdog.rawValue, slot: 0), at: loop.now + max(1, interval / 2))
        }
    }

    consuming func finish() -> Int32 {
        if cliListener >= 0, let address = options.cliAddress, address.hasPrefix("/") { unlink(address) }
        statsServer.closeAll()
        return exitStatus
    }

    // MARK: - Events

    public mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        switch MasterToken(rawValue: token.kind) {
        case .signal: handleSignals(loop: &loop)
        case .channel: channelEvent(pid: Int32(bitPattern: token.slot), loop: &loop)
        case .cliListener: acceptCLI(loop: &loop)
        case .cliClient: cliEvent(fd: Int32(bitPattern: token.slot), loop: &loop)
        case .check: checkEvent(token, events: events, loop: &loop)
        case .dns: resolutionEvent(token, loop: &loop)
        case .mail: mailAlerts?.handleEvent(token, events: events, loop: &loop)
        case .statsListener: acceptStats(listener: Int(token.slot), loop: &loop)
        case .statsClient: statsEvent(fd: Int32(bitPattern: token.slot), loop: &loop)
        default: break
        }
    }

    public mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        switch MasterToken(rawValue: token.kind) {
        case .startDeadline:
            if let pending, pending.number == Int(token.slot), pending.deadline <= loop.now {
                abortPending("the new workers did not report ready within \(Master.startTimeout / 1000)s", loop: &loop)
            }
        case .hardStop:
            hardStop(generation: Int(token.slot), loop: &loop)
        case .watchdog:
            SystemdNotify.watchdog()
            armWatchdog(loop: &loop)
        case .killStragglers:
            for worker in workers { Processes.signal(worker.pid, SIGKILL) }
        case .check:
            checkTimer(token, deadline: deadline, loop: &loop)
        case .dns:
            resolutionTimer(token, deadline: deadline, loop: &loop)
        case .mail:
            mailAlerts?.handleTimer(token, deadline: deadline, loop: &loop)
        case .statsClient:
            statsTimer(fd: Int32(bitPattern: token.slot), loop: &loop)
        case .rates:
            if deadline == ratesDue { sampleRates(loop: &loop) }
        case .ticketKeys:
            if deadline == ticketKeysDue {
                ticketKeysDue = 0
                tendTicketKeys(lifetime: (pending?.configuration ?? configuration).global.sslLifetime, loop: &loop)
            }
        default:
            break
        }
    }

    public mutating func endOfTick(loop: inout EventLoop) {
        if stopping && workers.isEmpty { loop.stop() }
    }

    // MARK: - Signals

    private mutating func handleSignals(loop: inout EventLoop) {
        while let signal = signals.next() {
            switch signal {
            case SIGINT, SIGTERM:
                stop(soft: false, loop: &loop)
            case SIGUSR1:
                stop(soft: true, loop: &loop)
            case SIGUSR2, SIGHUP:
                reload(reply: -1, loop: &loop)
            case Processes.childSignal:
                reapWorkers(loop: &loop)
            default:
                break
            }
        }
    }

    /// SIGTERM/SIGINT stop every worker now; SIGUSR1 lets them drain first.
    mutating func stop(soft: Bool, loop: inout EventLoop) {
        if !stopping {
            SystemdNotify.stopping()
            if !options.quiet { Notice.notice(soft ? "Soft stop: draining every worker." : "Stopping every worker.") }
        }
        stopping = true
        stopChecks(loop: &loop)
        stopResolution(loop: &loop)
        // Our copies of the listening sockets would keep queueing connections
        // nobody accepts: close them so new clients are refused.
        for listener in listeners { Posix.close(listener.fd) }
        listeners = []
        if let pending { closeUnshared(pending.listeners) }
        pending = nil
        for index in workers.indices {
            send(soft ? .drain : .stop, to: index)
            workers[index].draining = true
        }
        if !soft {
            loop.schedule(Token(kind: MasterToken.killStragglers.rawValue, slot: 0), at: loop.now + 5000)
        } else if let hardStop = configuration.global.hardStopAfter {
            for number in generations.keys {
                loop.schedule(Token(kind: MasterToken.hardStop.rawValue, slot: UInt32(number)), at: loop.now + Int64(hardStop))
            }
        }
        answerReload(success: false, messages: ["the master is stopping"])
    }

    // MARK: - Workers

    /// Starts `number`'s workers on `listeners`; the generation becomes
    /// current once every worker said READY.
    mutating func startGeneration(_ number: Int, configuration: Configuration, files: [ConfigFile],
                                  listeners: [OpenListener], messages: [String], loop: inout EventLoop) throws(StartupError) {
        let slots = configuration.global.nbthread ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let generation: Generation
        do {
            let configFD = try MemoryFile.create(name: "weir-config", bytes: ConfigBundle.encode(files))
            let shared = try SharedSegment.create(configuration: configuration, slots: slots)
            // Counters and server states of the running generation carry over, by name.
            if let running = generations[current]?.segment { shared.segment.takeOver(from: running) }
            // Then what the operator saved with `show servers state`, if the configuration says so.
            for warning in ServerStateFile.apply(configuration: configuration, to: shared.segment,
                                                 now: Int(Clock.wallMilliseconds() / 1000), read: ServerStateFile.read) {
                Notice.warning(warning)
            }
            generation = Generation(number: number, configFD: configFD, sharedFD: shared.fd, segment: shared.segment)
        } catch {
            throw StartupError("cannot create the shared memory of generation \(number): \(error)")
        }
        generations[number] = generation
        // Its workers find a ticket key (the running one's, or a first one) when they start.
        tendTicketKeys(lifetime: configuration.global.sslLifetime, loop: &loop)
        pending = PendingGeneration(number: number, configuration: configuration, files: files, listeners: listeners,
                                    messages: messages, deadline: loop.now + Master.startTimeout)
        loop.schedule(Token(kind: MasterToken.startDeadline.rawValue, slot: UInt32(number)), at: loop.now + Master.startTimeout)
        for slot in 0..<slots {
            do {
                try spawnWorker(generation: number, slot: slot, listeners: listeners, loop: &loop)
            } catch {
                abortPending("cannot start worker \(slot): \(error)", loop: &loop)
                return
            }
        }
    }

    /// Spawns one worker and hands it its sockets, configuration and shared memory.
    mutating func spawnWorker(generation number: Int, slot: Int, listeners: [OpenListener],
                              loop: inout EventLoop) throws(StartupError) {
        guard let generation = generations[number] else { throw StartupError("no generation \(number)") }
        let (mine, theirs): (Int32, Int32)
        do { (mine, theirs) = try Channel.pair() } catch { throw StartupError("socketpair: \(error)") }
        let pid: Int32
        do {
            pid = try Processes.spawn(path: "/proc/self/exe", arguments: [options.arguments.first ?? "weir", "--worker"],
                                      environment: workerEnvironment, channel: theirs)
        } catch {
            Posix.close(mine)
            Posix.close(theirs)
            throw StartupError("cannot spawn a worker: \(error)")
        }
        Posix.close(theirs)
        let workerConfiguration: Configuration
        if let pending, pending.number == number { workerConfiguration = pending.configuration } else { workerConfiguration = configuration }
        let slots = slotsFor(workerConfiguration)
        if let cpus = workerConfiguration.global.cpus(forWorker: slot + 1) {
            // Not fatal, as in HAProxy: the worker runs, on any CPU.
            do { try Posix.setAffinity(pid, cpus: cpus) } catch {
                Notice.warning("cpu-map: cannot bind worker \(slot + 1) to CPU(s) \(cpus.map(String.init).joined(separator: ",")): \(error)")
            }
        }
        let mineForSlot = listeners.filter { $0.key.slot % slots == slot || $0.shared }
        let hello = ControlMessage.Hello(generation: number, slot: slot, masterPID: getpid(),
                                         listeners: mineForSlot.map { .init(frontend: $0.frontend, bind: $0.bind, name: $0.name) })
        do {
            try Channel.send(mine, ControlMessage.hello(hello).encoded(),
                             fds: [generation.configFD, generation.sharedFD] + mineForSlot.map(\.fd))
            try loop.register(mine, events: Epoll.readable, token: Token(kind: MasterToken.channel.rawValue, slot: UInt32(bitPattern: pid)))
        } catch {
            Processes.signal(pid, SIGKILL)
            Posix.close(mine)
            throw StartupError("cannot hand worker \(slot) its sockets: \(error)")
        }
        workers.append(WorkerProcess(pid: pid, generation: number, slot: slot, channel: mine,
                                     startedWall: Clock.wallMilliseconds(), version: options.version))
        // A replacement worker learns the servers' health before it accepts.
        sendHealthStates(to: workers.count - 1)
        sendTLSUpdates(to: workers.count - 1)
    }

    private mutating func channelEvent(pid: Int32, loop: inout EventLoop) {
        guard let index = workers.firstIndex(where: { $0.pid == pid }) else { return }
        let channel = workers[index].channel
        let received: (bytes: [UInt8], fds: [Int32])?
        do { received = try Channel.receive(channel) } catch { received = ([], []) }
        guard let (bytes, fds) = received else { return }
        fds.forEach(Posix.close)
        if bytes.isEmpty {
            // The worker is gone or going; SIGCHLD tells how.
            loop.deregister(channel)
            Posix.close(channel)
            workers[index].channel = -1
            return
        }
        if case .observed(let backend, let server, let outcome)? = ControlMessage.decode(bytes) {
            observed(backend: backend, server: server, outcome: outcome, loop: &loop)
            return
        }
        if ControlMessage.decode(bytes) == .ready && !workers[index].ready {
            workers[index].ready = true
            if !options.quiet { Notice.notice("worker \(workers[index].slot) (pid \(pid)) ready") }
            checkPendingReady(loop: &loop)
        }
    }

    func send(_ message: ControlMessage, to index: Int) {
        guard workers[index].channel >= 0 else { return }
        try? Channel.send(workers[index].channel, message.encoded())
    }

    /// A generation is ready when all its workers are: it becomes current and
    /// the older ones drain.
    private mutating func checkPendingReady(loop: inout EventLoop) {
        guard let pending else { return }
        let members = workers.filter { $0.generation == pending.number }
        guard members.count == slotsFor(pending.configuration), members.allSatisfy(\.ready) else { return }
        let previous = current
        // Sockets of the old set that the new configuration no longer binds.
        let kept = Set(pending.listeners.map(\.fd))
        for listener in listeners where !kept.contains(listener.fd) { Posix.close(listener.fd) }
        listeners = pending.listeners
        configuration = pending.configuration
        files = pending.files
        current = pending.number
        self.pending = nil
        // The rates count from here, before the new workers' first second.
        if let view = statsView() { rates.tick(view, now: loop.now) }
        reopenStatsIfChanged(loop: &loop)
        if previous > 0 { reloads += 1 }
        drainOlderGenerations(loop: &loop)
        startChecks(loop: &loop)
        startResolution(loop: &loop)
        let status = "ready, generation \(current), \(members.count) worker\(members.count == 1 ? "" : "s")"
        if !options.quiet { Notice.notice("Loading success.") }
        SystemdNotify.ready(status: status)
        answerReload(success: true, messages: pending.messages)
        if previous == 0 {
            if options.readinessFD >= 0 {
                Posix.writeAll(options.readinessFD, "1")
                Posix.close(options.readinessFD)
                Notice.detachFromTerminal()
            }
            for pid in options.finishPIDs { Processes.signal(pid, SIGUSR1) }
            for pid in options.terminatePIDs { Processes.signal(pid, SIGTERM) }
        }
    }

    func slotsFor(_ configuration: Configuration) -> Int {
        configuration.global.nbthread ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    private mutating func drainOlderGenerations(loop: inout EventLoop) {
        var drainingGenerations = Set<Int>()
        for index in workers.indices where workers[index].generation < current {
            // Counted as HAProxy does: the reload that makes a worker old is its first.
            workers[index].reloadsSurvived += 1
            if let limit = configuration.global.maxReloads, workers[index].reloadsSurvived > limit {
                send(.stop, to: index)
                workers[index].draining = true
                continue
            }
            if workers[index].draining { continue }
            send(.drain, to: index)
            workers[index].draining = true
            drainingGenerations.insert(workers[index].generation)
        }
        if let hardStop = configuration.global.hardStopAfter {
            for number in drainingGenerations {
                generations[number]?.hardStopDeadline = loop.now + Int64(hardStop)
                loop.schedule(Token(kind: MasterToken.hardStop.rawValue, slot: UInt32(number)), at: loop.now + Int64(hardStop))
            }
        }
    }

    private mutating func hardStop(generation number: Int, loop: inout EventLoop) {
        for worker in workers where worker.generation == number && (worker.draining || stopping) {
            if !options.quiet { Notice.warning("hard-stop-after: killing worker \(worker.slot) (pid \(worker.pid)) of generation \(number)") }
            Processes.signal(worker.pid, SIGKILL)
        }
    }

    /// The new generation could not start: stop its workers, keep the old one.
    mutating func abortPending(_ reason: String, loop: inout EventLoop) {
        guard let failed = pending else { return }
        pending = nil
        for index in workers.indices where workers[index].generation == failed.number {
            Processes.signal(workers[index].pid, SIGKILL)
            workers[index].draining = true
        }
        // New sockets this attempt opened are closed; kept ones stay.
        let old = Set(listeners.map(\.fd))
        for listener in failed.listeners where !old.contains(listener.fd) { Posix.close(listener.fd) }
        if current == 0 {
            Notice.alert("Startup failed: \(reason)")
            exitStatus = 1
            stopping = true
            return
        }
        failReload(reason, messages: failed.messages)
    }

    private func closeUnshared(_ set: [OpenListener]) {
        let old = Set(listeners.map(\.fd))
        for listener in set where !old.contains(listener.fd) { Posix.close(listener.fd) }
    }

    private mutating func reapWorkers(loop: inout EventLoop) {
        // Worker by worker: waitpid(-1) would also take the exit status of
        // children that others wait for by pid.
        let ended = workers.compactMap { worker in Processes.reap(worker.pid).map { (worker.pid, $0) } }
        for (pid, exit) in ended {
            guard let index = workers.firstIndex(where: { $0.pid == pid }) else { continue }
            let worker = workers.remove(at: index)
            // Its sessions are gone: the shared counts forget them.
            generations[worker.generation]?.segment?.releaseWorker(worker.slot)
            if worker.channel >= 0 {
                loop.deregister(worker.channel)
                Posix.close(worker.channel)
            }
            if !workers.contains(where: { $0.generation == worker.generation }) && worker.generation != current
                && worker.generation != pending?.number {
                releaseGeneration(worker.generation)
            }
            if stopping || worker.draining {
                if !options.quiet && worker.generation != current {
                    Notice.notice("worker \(worker.slot) (pid \(pid)) of generation \(worker.generation) exited (\(exit))")
                }
                continue
            }
            if worker.generation == pending?.number {
                abortPending("worker \(worker.slot) (pid \(pid)) exited before it was ready: \(exit)", loop: &loop)
                continue
            }
            Notice.alert("worker \(worker.slot) (pid \(pid)) exited: \(exit)")
            crashes.append(loop.now)
            crashes.removeAll { $0 < loop.now - Master.crashWindow }
            if crashes.count >= Master.crashLimit {
                Notice.alert("workers crashed \(crashes.count) times within \(Master.crashWindow / 1000)s: stopping")
                exitStatus = 1
                stop(soft: false, loop: &loop)
                continue
            }
            do {
                try spawnWorker(generation: worker.generation, slot: worker.slot, listeners: listeners, loop: &loop)
            } catch {
                Notice.alert("cannot replace worker \(worker.slot): \(error)")
            }
        }
    }

    private mutating func releaseGeneration(_ number: Int) {
        guard let generation = generations.removeValue(forKey: number) else { return }
        foldIntoCurrent(generation)
        Posix.close(generation.configFD)
        Posix.close(generation.sharedFD)
        generation.segment?.unmap()
    }
}
