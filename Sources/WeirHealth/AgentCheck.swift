import Glibc
import WeirConfig
import WeirLoop
import WeirSystem

/// A server's agent check (`agent-check`): every `agent-inter`, connect to
/// the agent, send `agent-send`, read one line (`AgentReply`). Its
/// administrative state, weight and maxconn go to the host to apply as the
/// runtime API does; its health words move the server UP or DOWN beside the
/// health check. An agent that cannot be reached changes nothing: the
/// health check tests the server itself.
struct AgentProbe {
    /// Where the agent listens; nil while the server has no address.
    var address: SocketAddress?
    let port: UInt16
    /// `agent-addr` was given: the agent stays there when the server moves.
    let fixedAddress: Bool
    let request: [UInt8]
    let inter: Int

    var running = false
    var fd: Int32 = -1
    var connected = false
    var attempt: UInt32 = 1
    var deadline: Int64 = 0
    var started: Int64 = 0
    var sent = 0
    var input: [UInt8] = []
    /// The agent's own health (HAProxy's agent rise and fall are 1): false
    /// from its `down`, `stopped` or `fail` until its `up`.
    var up = true

    init(_ server: Server) throws {
        let settings = server.check.agent
        port = settings.port ?? 0
        request = Array((settings.send ?? "").utf8)
        inter = settings.inter ?? server.check.inter
        switch settings.address {
        case .ip(let ip)?:
            address = SocketAddress(ip: ip.bytes, port: port)
            fixedAddress = true
        case .host(let host)?:
            do { address = try SocketAddress.resolve(host: host, port: port) } catch {
                throw CheckSetupError(description: "agent-addr \(host): \(error)")
            }
            fixedAddress = true
        case nil:
            // The server's own address (none yet: the agent waits for one).
            if case .address(var own)? = try? InitialAddress.resolve(server) {
                own.setPort(port)
                address = own
            } else {
                address = nil
            }
            fixedAddress = false
        }
    }
}

extension HealthChecker {
    static let agentFlag: UInt32 = 0x2000_0000

    func agentToken(_ i: Int) -> Token {
        Token(kind: tokenKind, slot: UInt32(i) | HealthChecker.agentFlag, generation: servers[i].agent?.attempt ?? 0)
    }

    /// Schedules every agent's first check, spread over its interval.
    mutating func startAgents(loop: inout EventLoop) {
        let count = Int64(max(1, servers.count))
        for i in servers.indices {
            guard let inter = servers[i].agent?.inter else { continue }
            servers[i].agent?.deadline = loop.now + Int64(i) * Int64(inter) / count
            loop.schedule(agentToken(i), at: servers[i].agent!.deadline)
        }
    }

    mutating func closeAgent(_ i: Int, loop: inout EventLoop) {
        guard let fd = servers[i].agent?.fd, fd >= 0 else { return }
        loop.deregister(fd)
        Posix.closeWithReset(fd)
        servers[i].agent?.fd = -1
    }

    /// The server moved (runtime API, DNS): an agent on its address follows.
    mutating func followAgent(_ i: Int, address: SocketAddress?) {
        guard let agent = servers[i].agent, !agent.fixedAddress else { return }
        var target = address
        target?.setPort(agent.port)
        servers[i].agent?.address = target
    }

    mutating func agentTimer(_ i: Int, _ token: Token, loop: inout EventLoop) -> [CheckEvent] {
        guard i < servers.count, let agent = servers[i].agent, token.generation == agent.attempt & 0xFF_FFFF,
              loop.now >= agent.deadline else { return [] }
        if agent.running {
            return finishAgent(i, CheckResult(agent.connected ? .layer7Timeout : .layer4Timeout), reply: nil, loop: &loop)
        }
        guard let address = agent.address else {
            servers[i].agent?.deadline = loop.now + Int64(agent.inter)
            loop.schedule(agentToken(i), at: servers[i].agent!.deadline)
            return []
        }
        servers[i].agent?.attempt &+= 1
        servers[i].agent?.running = true
        servers[i].agent?.connected = false
        servers[i].agent?.started = loop.now
        servers[i].agent?.sent = 0
        servers[i].agent?.input.removeAll(keepingCapacity: true)
        // As for the health check: the connection has min(inter, timeout
        // connect) when `timeout check` is set, the whole check `inter` otherwise.
        let inter = Int64(agent.inter)
        let connectTime = servers[i].checkTimeout != nil ? min(inter, Int64(servers[i].connectTimeout ?? agent.inter)) : inter
        servers[i].agent?.deadline = loop.now + connectTime
        loop.schedule(agentToken(i), at: servers[i].agent!.deadline)
        if let failure = connectAgent(i, to: address, loop: &loop) {
            return finishAgent(i, failure, reply: nil, loop: &loop)
        }
        return servers[i].agent!.connected ? converseWithAgent(i, loop: &loop) : []
    }

    private mutating func connectAgent(_ i: Int, to address: SocketAddress, loop: inout EventLoop) -> CheckResult? {
        let fd: Int32
        do { fd = try Posix.socket(domain: address.family, type: Posix.streamType).release() } catch {
            return CheckResult(.layer4Connection, info: error.description)
        }
        servers[i].agent?.fd = fd
        if address.family != AF_UNIX {
            Posix.setNoDelay(fd)
            if let source = servers[i].source {
                do { try Posix.bindSource(fd, to: source) } catch {
                    return CheckResult(.layer4Connection, info: "source \(source): \(error)")
                }
            }
        }
        do {
            let connected = try Posix.connect(fd, to: address)
            try loop.register(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered,
                              token: agentToken(i))
            if connected { agentConnected(i, loop: &loop) }
        } catch {
            return CheckResult(.layer4Connection, info: error.description)
        }
        return nil
    }

    private mutating func agentConnected(_ i: Int, loop: inout EventLoop) {
        servers[i].agent?.connected = true
        if let timeout = servers[i].checkTimeout {
            servers[i].agent?.deadline = loop.now + Int64(timeout)
            loop.schedule(agentToken(i), at: servers[i].agent!.deadline)
        }
    }

    mutating func agentEvent(_ i: Int, _ token: Token, events: UInt32, loop: inout EventLoop) -> [CheckEvent] {
        guard i < servers.count, let agent = servers[i].agent, agent.running,
              token.generation == agent.attempt & 0xFF_FFFF else { return [] }
        if !agent.connected {
            if let error = Posix.socketError(agent.fd) {
                return finishAgent(i, CheckResult(.layer4Connection, info: error.description), reply: nil, loop: &loop)
            }
            guard events & (Epoll.writable | Epoll.readable | Epoll.hangup | Epoll.error) != 0 else { return [] }
            agentConnected(i, loop: &loop)
        }
        return converseWithAgent(i, loop: &loop)
    }

    /// Sends the request, then reads until the reply's line ends (or the
    /// agent closes, or `tune.bufsize` bytes came without an end).
    private mutating func converseWithAgent(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        guard let agent = servers[i].agent else { return [] }
        let fd = agent.fd
        var sent = agent.sent
        while sent < agent.request.count {
            let outcome: Result<IOResult, Errno> = agent.request.withUnsafeBytes { p in
                do throws(Errno) {
                    return .success(try Posix.send(fd, from: p.baseAddress! + sent, count: p.count - sent))
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .failure(let error):
                return finishAgent(i, CheckResult(.layer4Connection, info: error.description), reply: nil, loop: &loop)
            case .success(.wouldBlock):
                servers[i].agent?.sent = sent
                return []
            case .success(.processed(let n)):
                sent += n
            }
        }
        servers[i].agent?.sent = sent
        var input = agent.input
        var closed = false
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 1) { chunk in
            while input.count < readLimit {
                let want = min(chunk.count, readLimit - input.count)
                guard case .processed(let n) = (try? Posix.read(fd, into: chunk.baseAddress!, count: want)) ?? .processed(0)
                else { return }
                guard n > 0 else {
                    closed = true
                    return
                }
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            }
        }
        servers[i].agent?.input = input
        if let reply = AgentReply(input) {
            return finishAgent(i, CheckResult(reply.status, info: reply.info), reply: reply, loop: &loop)
        }
        guard closed || input.count >= readLimit else { return [] }
        // The check's status stays; the line is reported, not applied.
        return finishAgent(i, CheckResult(.checked, info: "Ignoring incomplete line from agent"), reply: nil, loop: &loop)
    }

    /// Ends the agent's check: closes its connection, schedules the next
    /// one, and says what it found: an `agent` event (the reply for the
    /// host to apply, the status for `show stat`), then any UP or DOWN its
    /// health word brings.
    private mutating func finishAgent(_ i: Int, _ result: CheckResult, reply: AgentReply?,
                                      loop: inout EventLoop) -> [CheckEvent] {
        var result = result
        result.duration = max(0, loop.now - (servers[i].agent?.started ?? loop.now))
        closeAgent(i, loop: &loop)
        servers[i].agent?.running = false
        servers[i].agent?.attempt &+= 1
        let inter = servers[i].agent?.inter ?? servers[i].settings.inter
        servers[i].agent?.deadline = loop.now + Int64(HealthChecker.spread(inter, percent: spreadPercent))
        loop.schedule(agentToken(i), at: servers[i].agent!.deadline)

        let wasUp = servers[i].agent?.up ?? true
        var changes: [CheckEvent] = []
        switch reply?.health {
        case .up?:
            // As in HAProxy, the agent's `up` also counts the health check
            // fully UP: the server runs until checks fail `fall` times.
            servers[i].agent?.up = true
            _ = servers[i].state.force(up: true)
            if !servers[i].health.usable {
                changes = changed(i, .wentUp, result, previousHealth: servers[i].state.health, loop: &loop)
            }
        case .down?, .stopped?, .fail?:
            servers[i].agent?.up = false
            _ = servers[i].state.force(up: false)
            servers[i].stoppedBy404 = false
            if servers[i].health.usable {
                changes = changed(i, .wentDown, result, previousHealth: servers[i].state.health, loop: &loop)
            }
        case nil:
            break
        }
        // Built once the reply is applied, so it carries the counters after it.
        var answer = event(i, .agent, result)
        answer.agentReply = reply
        answer.fromAgent = true
        // An agent that could not be asked fails nothing (HAProxy); one that says down does.
        answer.countsFailure = wasUp && result.status == .layer7WrongStatus
        var events = [answer]
        for var change in changes {
            change.fromAgent = true
            events.append(change)
        }
        return events
    }
}
