import WeirConfig
import WeirHealth
import WeirLoop
import WeirShared

// Health checks in master-worker mode: the master runs them once, in its
// own event loop, for the current generation, and publishes each change to
// that generation's workers.
extension Master {
    /// (Re)starts the checks for the configuration that just became current.
    mutating func startChecks(loop: inout EventLoop) {
        checker?.stop(loop: &loop)
        checker = nil
        // Alerts already on their way finish; new ones follow the new settings.
        if mailAlerts == nil {
            mailAlerts = MailAlerts(configuration: configuration, tokenKind: MasterToken.mail.rawValue)
        } else {
            mailAlerts?.reconfigure(configuration)
        }
        var fresh = HealthChecker(configuration: configuration, tokenKind: MasterToken.check.rawValue)
        if let segment = generations[current]?.segment {
            fresh.currentConnections = { segment.current(segment.layout.server(backend: $0, $1)) }
        }
        for problem in fresh.problems { Notice.warning(problem) }
        guard !fresh.isEmpty else { return }
        checker = fresh
        checksGeneration = current
        generations[current]?.segment?.markCheckedServersUp(configuration)
        checker?.start(loop: &loop)
    }

    mutating func stopChecks(loop: inout EventLoop) {
        checker?.stop(loop: &loop)
        checker = nil
    }

    mutating func checkEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        guard let events = checker?.handleEvent(token, events: events, loop: &loop) else { return }
        applyCheckEvents(events, loop: &loop)
    }

    mutating func checkTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        guard let events = checker?.handleTimer(token, deadline: deadline, loop: &loop) else { return }
        applyCheckEvents(events, loop: &loop)
    }

    /// A worker's report of live traffic (passive checks), for the current generation's servers.
    mutating func observed(backend: Int, server: Int, outcome wire: String, loop: inout EventLoop) {
        guard let outcome = PassiveOutcome(wire: Substring(wire)),
              let events = checker?.observe(backend: backend, server: server, outcome, loop: &loop) else { return }
        applyCheckEvents(events, loop: &loop)
    }

    /// Writes the checks' results to shared memory, publishes them to the
    /// workers, logs the state changes and mails them (`email-alert`).
    mutating func applyCheckEvents(_ events: [CheckEvent], loop: inout EventLoop) {
        let segment = generations[checksGeneration]?.segment
        for event in events {
            var sessions = 0
            if let segment {
                let entity = segment.layout.server(backend: event.backend, event.server)
                if event.kind == .stopping {
                    segment.setHealth(.stopping, entity)
                } else if event.kind == .wentUp || event.kind == .wentDown {
                    segment.setHealth(event.state.usable ? .up : .down, entity)
                }
                if let line = event.record(in: segment) { Notice.warning(line) }
                sessions = segment.current(entity)
            }
            // What an agent's answer changes, the workers read from the shared state;
            // a bare check result changes nothing for them.
            if event.changesState { publish(backend: event.backend, server: event.server, state: event.state) }
            if let line = event.logLine(sessions: sessions) {
                Notice.warning(line)
                mailAlerts?.alert(event, logged: line, loop: &loop)
            }
            if event.backendHasNoServer { Notice.alert("backend '\(event.backendName)' has no server available!") }
        }
    }

    /// Makes a server's health known to every worker that balances over it.
    ///
    /// This is the one place where checked state leaves the master: a
    /// `SERVER` message on each current worker's control channel (the
    /// slow-start weight and the `on-marked-*` session shutdowns need the
    /// worker to act). The health slot of the shared segment, which `show
    /// stat` and every worker's balancer read, is written by
    /// `applyCheckEvents` and again by each worker on the message.
    func publish(backend: Int, server: Int, state: ServerHealth) {
        let message = ControlMessage.serverState(.init(backend: backend, server: server, usable: state.usable,
                                                       weight: state.weight))
        for index in workers.indices where workers[index].generation == checksGeneration && !workers[index].draining {
            send(message, to: index)
        }
    }

    /// A worker of the checked generation that starts late (a replacement
    /// for a crashed one) learns every state that differs from the start,
    /// queued on its channel right after its `hello`, so it has them
    /// before its first accept.
    func sendHealthStates(to index: Int) {
        guard let checker, workers[index].generation == checksGeneration else { return }
        for changed in checker.changedStates {
            send(.serverState(.init(backend: changed.backend, server: changed.server, usable: changed.state.usable,
                                    weight: changed.state.weight)), to: index)
        }
    }
}
