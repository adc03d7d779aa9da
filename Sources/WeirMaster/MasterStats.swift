import Glibc
import WeirConfig
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// The `stats socket`s, served by the master from the shared memory of every
/// generation it keeps; and the counters and server states a new generation
/// takes over.
extension Master {
    /// Binds the configuration's stats sockets (at start, after a re-exec,
    /// and when a reload changed them).
    mutating func openStats(loop: inout EventLoop) throws(StartupError) {
        var listeners: [StatsSocketListener] = []
        for socket in configuration.global.statsSockets {
            do { listeners.append(try StatsSocketListener.bind(socket)) } catch {
                for listener in listeners { listener.close() }
                throw error
            }
        }
        statsServer = StatsServer(listeners: listeners)
        statsSockets = configuration.global.statsSockets
        if ratesDue == 0 { sampleRates(loop: &loop) }
        for (index, listener) in listeners.enumerated() {
            do {
                try loop.register(listener.fd, events: Epoll.readable,
                                  token: Token(kind: MasterToken.statsListener.rawValue, slot: UInt32(index)))
            } catch {
                throw StartupError("stats socket \(listener.name): \(error)")
            }
        }
    }

    /// Before a re-exec: the next image binds them again.
    mutating func closeStats(loop: inout EventLoop) {
        for listener in statsServer.listeners { loop.deregister(listener.fd) }
        statsServer.closeAll()
    }

    /// A reload that changed the `stats socket` lines rebinds them.
    mutating func reopenStatsIfChanged(loop: inout EventLoop) {
        guard configuration.global.statsSockets != statsSockets else { return }
        closeStats(loop: &loop)
        do { try openStats(loop: &loop) } catch {
            Notice.alert("\(error)")
        }
    }

    mutating func acceptStats(listener index: Int, loop: inout EventLoop) {
        statsServer.accept(index, tokenKind: MasterToken.statsClient.rawValue, timeout: configuration.global.statsTimeout,
                           loop: &loop)
    }

    mutating func statsEvent(fd: Int32, loop: inout EventLoop) {
        let view = statsView()
        let info = StatsProcessInfo(pid: getpid(), workers: slotsFor(configuration), startedWall: startedWall,
                                    version: options.version, maxconn: configuration.global.maxconn,
                                    fileLimit: currentFileLimit(), listeners: listeners.count, stopping: stopping)
        // The checks of the current generation, when they are its own.
        let checker = checksGeneration == current ? self.checker : nil
        var requests: [HealthRequest] = []
        var inventory = certificateInventory
        var updates: [ControlMessage.TLSUpdate] = []
        let running = configuration
        let done = statsServer.serve(fd, now: loop.now, timeout: configuration.global.statsTimeout) { command, level in
            if let tls = TLSRuntimeCommands.run(command, level: level, inventory: &inventory, configuration: running,
                                                updates: &updates) {
                return tls
            }
            guard let view else { return "The first generation of workers is not ready yet.\n" }
            return StatsCommands.run(command, view: view, process: info, level: level,
                                     checks: { b, s in checker?.report(backend: b, server: s).map(CheckColumns.init) },
                                     health: &requests)
        }
        certificateInventory = inventory
        for update in updates { publishTLS(update) }
        if done {
            loop.deregister(fd)
            statsServer.close(fd)
        }
        for request in requests { runHealthRequest(request, loop: &loop) }
    }

    /// `disable|enable health`, `set server … health`: the master runs the
    /// checks, so it carries them out, and publishes a forced state to the
    /// workers as it publishes a checked one.
    private mutating func runHealthRequest(_ request: HealthRequest, loop: inout EventLoop) {
        let (b, s) = (request.backend, request.server)
        let checked = checksGeneration == current && checker?.report(backend: b, server: s) != nil
        switch request.action {
        case .disable, .enable:
            guard checked else { return }
            checker?.setEnabled(request.action == .enable, backend: b, server: s, loop: &loop)
        case .up, .stopping, .down:
            let forced: ForcedHealth = request.action == .up ? .up : request.action == .down ? .down : .stopping
            if checked, let events = checker?.force(forced, backend: b, server: s, loop: &loop) {
                applyCheckEvents(events, loop: &loop)
            } else if let segment = generations[current]?.segment {
                request.applyWithoutCheck(segment, segment.layout)
            }
        case .address:
            guard checked, let segment = generations[current]?.segment else { return }
            let address = segment.runtimeAddress(segment.layout.server(backend: b, s)).socketAddress
            checker?.follow(backend: b, server: s, address: address, loop: &loop)
        }
    }

    /// `set ssl ocsp-response`, `set ssl tls-key`: each worker holds its
    /// own OpenSSL contexts, so the master, which checked the change, sends
    /// it to every worker of the current generation on its control channel
    /// (as it sends health changes), and again to a worker that replaces a
    /// dead one; a reload reads the files again, as in HAProxy.
    mutating func publishTLS(_ update: ControlMessage.TLSUpdate) {
        if tlsUpdates.generation != current { tlsUpdates = (current, []) }
        tlsUpdates.messages.append(.tls(update))
        for index in workers.indices where workers[index].generation == current && !workers[index].draining {
            send(.tls(update), to: index)
        }
    }

    /// A worker that replaces a dead one learns the runtime TLS changes of its generation.
    func sendTLSUpdates(to index: Int) {
        guard workers[index].generation == tlsUpdates.generation else { return }
        for message in tlsUpdates.messages { send(message, to: index) }
    }

    mutating func statsTimer(fd: Int32, loop: inout EventLoop) {
        guard let deadline = statsServer.deadline(fd) else { return }
        if deadline <= loop.now {
            loop.deregister(fd)
            statsServer.close(fd)
        } else {
            loop.schedule(Token(kind: MasterToken.statsClient.rawValue, slot: UInt32(bitPattern: fd)), at: deadline)
        }
    }

    /// Once a second: the rates of the last second, which every reader
    /// (stats socket, stats page, exporter) finds in the current segment.
    mutating func sampleRates(loop: inout EventLoop) {
        if let view = statsView() { rates.tick(view, now: loop.now) }
        ratesDue = loop.now + 1000
        loop.schedule(Token(kind: MasterToken.rates.rawValue, slot: 0), at: ratesDue)
    }

    /// The current generation's segment, with the older ones still draining.
    func statsView() -> StatsView? {
        guard let segment = generations[current]?.segment else { return nil }
        let older = generations.values.filter { $0.number < current }.sorted { $0.number < $1.number }.compactMap(\.segment)
        return StatsView(current: segment, older: older)
    }

    /// A generation whose workers are all gone: what it counted after
    /// handing over goes to the current generation, so nothing is lost.
    func foldIntoCurrent(_ released: Generation) {
        guard released.number < current, let target = generations[current]?.segment, let old = released.segment else { return }
        var index: [String: Int] = [:]
        for (i, entity) in target.layout.entities.enumerated() { index[entity.key] = i }
        for (o, entity) in old.layout.entities.enumerated() {
            guard let i = index[entity.key] else { continue }
            target.carry(old.countedSinceHandOver(o), into: i)
        }
        old.markHandedOver()
    }

    private func currentFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return Int(limit.rlim_cur)
    }
}

extension CheckColumns {
    init(_ report: CheckReport) {
        self.init(status: report.statusCode, result: report.resultCode, health: report.health, state: report.stateFlags)
    }
}
