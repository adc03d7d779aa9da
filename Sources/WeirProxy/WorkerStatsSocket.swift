import Glibc
import WeirConfig
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// `-d` mode: with no master, the process serves its `stats socket`s itself.
extension Worker {
    func statsView() -> StatsView {
        StatsView(current: stats.segment)
    }

    func statsProcessInfo() -> StatsProcessInfo {
        StatsProcessInfo(pid: getpid(), workers: 1, startedWall: startedWall, version: ConfigParser.version,
                         maxconn: maxconn, fileLimit: fileLimit, listeners: listeners.count,
                         stopping: stopping)
    }

    mutating func acceptStats(listener index: Int, loop: inout EventLoop) {
        statsServer.accept(index, tokenKind: TokenKind.statsClient.rawValue, timeout: statsTimeout, loop: &loop)
    }

    mutating func statsEvent(fd: Int32, loop: inout EventLoop) {
        let view = statsView()
        let info = statsProcessInfo()
        let checker = self.checker
        var requests: [HealthRequest] = []
        var inventory = certificateInventory
        var updates: [ControlMessage.TLSUpdate] = []
        let configuration = self.configuration
        let done = statsServer.serve(fd, now: loop.now, timeout: statsTimeout) { command, level in
            if let tls = TLSRuntimeCommands.run(command, level: level, inventory: &inventory, configuration: configuration,
                                                updates: &updates) {
                return tls
            }
            return StatsCommands.run(command, view: view, process: info, level: level,
                              checks: { b, s in checker?.report(backend: b, server: s).map(CheckColumns.init) },
                              health: &requests)
        }
        certificateInventory = inventory
        for update in updates { applyTLS(update) }
        if done {
            loop.deregister(fd)
            statsServer.close(fd)
        }
        for request in requests { runHealthRequest(request, loop: &loop) }
    }

    /// `set ssl ocsp-response`, `set ssl tls-key` (from the master, or from
    /// this process's own stats socket in `-d` mode): applied to every
    /// `bind … ssl` line's contexts.
    func applyTLS(_ update: ControlMessage.TLSUpdate) {
        var seen = Set<ObjectIdentifier>()
        for listener in listeners {
            guard let tls = listener.tls, seen.insert(ObjectIdentifier(tls)).inserted else { continue }
            tls.apply(update)
        }
    }

    /// `disable|enable health`, `set server … health`: carried out by the
    /// process's own checker.
    private mutating func runHealthRequest(_ request: HealthRequest, loop: inout EventLoop) {
        let (b, s) = (request.backend, request.server)
        switch request.action {
        case .disable, .enable:
            checker?.setEnabled(request.action == .enable, backend: b, server: s, loop: &loop)
        case .up, .stopping, .down:
            let forced: ForcedHealth = request.action == .up ? .up : request.action == .down ? .down : .stopping
            if let events = checker?.force(forced, backend: b, server: s, loop: &loop) {
                checkerEvents(events, loop: &loop)
            } else {
                request.applyWithoutCheck(stats.segment, stats.segment.layout)
            }
        case .address:
            let address = stats.segment.runtimeAddress(stats.server(b, s)).socketAddress
            checker?.follow(backend: b, server: s, address: address, loop: &loop)
        }
    }

    /// `stats timeout`: an idle connection is closed.
    mutating func statsTimer(fd: Int32, loop: inout EventLoop) {
        guard let deadline = statsServer.deadline(fd) else { return }
        if deadline <= loop.now {
            loop.deregister(fd)
            statsServer.close(fd)
        } else {
            loop.schedule(Token(kind: TokenKind.statsClient.rawValue, slot: UInt32(bitPattern: fd)), at: deadline)
        }
    }
}

extension CheckColumns {
    init(_ report: CheckReport) {
        self.init(status: report.statusCode, result: report.resultCode, health: report.health, state: report.stateFlags)
    }
}
