import WeirBalance
import WeirConfig
import WeirSystem
import WeirHealth
import WeirLoop
import WeirShared

// Server health as the worker sees it. In `-d` mode the worker runs the
// checks itself (`Worker.checker`) and applies their events directly; under
// a master the master runs them once for all workers and sends each change
// over the control channel (`ControlMessage.serverState`), applied here
// the same way. Either way the state also goes to the shared health slot,
// which `show stat` and every worker's balancer read.
extension Worker {
    /// Events of the worker's own checker (`-d` mode): applied and logged.
    mutating func checkerEvents(_ events: [CheckEvent], loop: inout EventLoop) {
        for event in events {
            let sessions = backends[event.backend].balancer.servers[event.server].activeConnections
            // What an agent's answer changes, the balancer reads from the
            // shared state; a bare check result changes nothing for it.
            if event.changesState {
                applyServerHealth(backend: event.backend, server: event.server, event.state,
                                  stopping: event.kind == .stopping, loop: &loop)
            }
            if let line = event.record(in: stats.segment) { Notice.warning(line) }
            if let line = event.logLine(sessions: sessions) {
                Notice.warning(line)
                mailAlerts?.alert(event, logged: line, loop: &loop)
            }
            if event.backendHasNoServer { Notice.alert("backend '\(event.backendName)' has no server available!") }
        }
    }

    /// `-d` mode: the checks follow the addresses the DNS client set.
    mutating func followAddresses(_ changes: [DNSClient.AddressChange], loop: inout EventLoop) {
        for change in changes {
            checker?.follow(backend: change.backend, server: change.server, address: change.address, loop: &loop)
        }
    }

    /// Live traffic on a server, for passive checks (`observe`). Only errors,
    /// and the first success after them, leave the worker: the common case
    /// costs a branch.
    @inline(__always)
    mutating func observed(backend: Int, server: Int, _ outcome: PassiveOutcome, loop: inout EventLoop) {
        guard backend >= 0, server >= 0, let mode = backends[backend].servers[server].observe else { return }
        reportObserved(backend: backend, server: server, outcome, mode: mode, loop: &loop)
    }

    private mutating func reportObserved(backend: Int, server: Int, _ outcome: PassiveOutcome, mode: ObserveMode,
                                         loop: inout EventLoop) {
        guard let isError = outcome.isError(under: mode) else { return }
        if !isError {
            guard backends[backend].passiveFailing[server] else { return }
            backends[backend].passiveFailing[server] = false
        } else {
            backends[backend].passiveFailing[server] = true
        }
        if checker != nil {
            if let events = checker?.observe(backend: backend, server: server, outcome, loop: &loop) {
                checkerEvents(events, loop: &loop)
            }
        } else if let control = options.control {
            try? Channel.send(control, ControlMessage.observed(backend: backend, server: server, outcome: outcome.wire).encoded())
        }
    }

    /// Makes a server usable or not, at an effective weight, in this
    /// worker's balancer; closes sessions as `on-marked-down` and
    /// `on-marked-up` ask. `stopping`: the change is to HAProxy's NOLB
    /// (the master, which knows, has already written it to shared memory).
    mutating func applyServerHealth(backend: Int, server: Int, _ state: ServerHealth, stopping: Bool = false,
                                    loop: inout EventLoop) {
        guard backend >= 0, backend < backends.count, server >= 0, server < backends[backend].servers.count else { return }
        let wasUsable = backends[backend].balancer.servers[server].isUsable
        // Into shared memory too, where `show stat` reads it and where every
        // worker's refresh of its balancer (WorkerStats.swift) starts from.
        let entity = stats.server(backend, server)
        let nolb = state.usable && state.weight == 0 && (stopping || stats.segment.health(entity) == .stopping)
        stats.segment.setHealth(!state.usable ? .down : nolb ? .stopping : .up, entity)
        backends[backend].checkWeights[server] = state.weight
        let admin = stats.segment.admin(entity)
        let weight = admin.isDraining ? 0 : min(state.weight, stats.segment.weight(entity))
        backends[backend].balancer.setWeight(weight, server: server)
        backends[backend].balancer.setUsable(state.usable && !admin.inMaintenance, server: server)
        let settings = backends[backend].servers[server]
        if wasUsable && !state.usable && settings.shutdownSessionsOnDown {
            shutdownSessions(backend: backend, loop: &loop) { $0 == server }
        }
        if !wasUsable && state.usable && settings.shutdownBackupSessionsOnUp && !settings.isBackup {
            let servers = backends[backend].servers
            shutdownSessions(backend: backend, loop: &loop) { servers[$0].isBackup }
        }
        // Sessions queued for a server that can take them now.
        if state.usable { processQueue(backend: backend, loop: &loop) }
    }

    /// Closes the sessions connected to the servers `matching` chooses, as
    /// HAProxy's `shutdown-sessions` does (termination state `D`).
    private mutating func shutdownSessions(backend: Int, loop: inout EventLoop, matching: (Int) -> Bool) {
        var victims: [UInt32] = []
        for slot in 0..<UInt32(sessions.slotBound) where sessions.isLive(slot) {
            let s = sessions[slot]
            guard s.serverFD >= 0, Int(s.connectionBackend) == backend, s.connectionServer >= 0,
                  matching(Int(s.connectionServer)) else { continue }
            victims.append(slot)
        }
        for slot in victims where sessions.isLive(slot) { close(slot, cause: "D", loop: &loop) }
    }
}
