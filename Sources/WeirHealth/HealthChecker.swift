import Glibc
import WeirConfig
import WeirHTTP
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// Active health checks of every server with `check`, run on an event loop
/// that someone else owns: the master's (master-worker mode) or the single
/// process's (`-d`). The host gives the checker one token kind, forwards it
/// the events and timers of that kind, and applies the `CheckEvent`s it
/// returns (publishing them to the balancers and logging them).
///
/// Per server, one check at a time: non-blocking connect, then the
/// backend's steps (send, expect), bounded by `timeout check` (or `inter`),
/// then the next check `inter` later (`fastinter` while the state is
/// changing, `downinter` while DOWN). Checks allocate (their buffers,
/// their request); they are not the traffic's hot path.
public struct HealthChecker {
    /// What every check of a backend does, in order.
    enum Step {
        case connect(port: UInt16?)
        case send([UInt8])
        case expect(Expectation)
        /// Read one HTTP response and check it (no expectation: a 2xx or 3xx
        /// status); `disableOn404`: a 404 is a conditional pass.
        case httpResponse([Expectation], method: HTTPMethod, disableOn404: Bool)
    }

    struct Plan {
        var steps: [Step]
        /// `option tcp-check`: failures name their step.
        var isTCPCheck: Bool
        /// Passing means Layer 7 (something was sent or read).
        var layer7: Bool
    }

    struct Checked {
        let backend: Int
        let server: Int
        let backendName: String
        let serverName: String
        let isBackup: Bool
        let configuredWeight: Int
        let settings: ServerCheck
        /// `check`: the health checks run (without it, the server is here
        /// for its agent only and the checks' state stays UP).
        let runsChecks: Bool
        /// `agent-check`: the server's agent, asked beside the checks.
        var agent: AgentProbe?
        /// Where checks connect; nil while the server has no address (its
        /// name does not resolve): its checks wait.
        var address: SocketAddress?
        /// `source`: the local address checks start from, as traffic does.
        let source: SocketAddress?
        let plan: Int
        let connectTimeout: Int?
        let checkTimeout: Int?
        let logProgress: Bool
        /// `check-ssl` (or `ssl` checked on its own port): the checks' TLS
        /// context and the name they send (`check-sni`).
        let tls: TLSServerContext?
        let sni: String?
        /// `check-send-proxy` (or `send-proxy` checked on the server's own
        /// address): the PROXY header each check connection starts with.
        let sendProxy: ProxyHeaderVersion?
        /// `option external-check`: the program each check runs.
        let command: ExternalCommand?
        var state: CheckState
        var health: ServerHealth

        // The check in progress.
        var running = false
        var fd: Int32 = -1
        /// The external check's program while it runs, and its pidfd.
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        /// The check's TLS connection, and whether its handshake is under way.
        var ssl: OpaquePointer?
        var handshaking = false
        /// Connected (and for a TLS check, its handshake done).
        var connected = false
        var stepStarted = false
        var step = 0
        var started: Int64 = 0
        var deadline: Int64 = 0
        /// Bumped at every start and end of a check: events and timers of an
        /// older attempt are stale.
        var attempt: UInt32 = 1
        var output: [UInt8] = []
        var outputOffset = 0
        var input: [UInt8] = []
        var eof = false
        var lastPassed: Bool?
        /// Slow start: when the server came UP (nil: at full weight).
        var upSince: Int64?
        /// Passive checks: errors in a row seen on live traffic.
        var consecutiveErrors = 0
        /// `disable-on-404`: a 404 took it out of load balancing.
        var stoppedBy404 = false
        /// `disable health` stopped the checks (the last state stays).
        var enabled = true
        /// The last check's verdict (HAProxy's `check_result`): nil before one.
        var lastResult: CheckResult?
        /// Indices into `trackers` of the servers that take this one's health.
        var trackers: [Int] = []
    }

    /// A server as the backend's usable-server counts see it.
    struct Member {
        var isBackup: Bool
        var disabled: Bool
        /// Index into `servers` when checked.
        var checked: Int?
        /// Index into `trackers` when it tracks a checked server.
        var tracker: Int?
    }

    public let tokenKind: UInt8
    /// `spread-checks`: the percentage by which an interval may move either way.
    let spreadPercent: Int
    var plans: [Plan] = []
    var servers: [Checked] = []
    var members: [[Member]] = []
    var trackers: [Tracker] = []
    /// Bytes a check reads at most (`tune.bufsize`).
    let readLimit: Int
    static let rampFlag: UInt32 = 0x4000_0000

    /// Servers whose address cannot be resolved are left unchecked and
    /// reported in `problems`.
    public private(set) var problems: [String] = []

    /// The sessions on a server (backend, server index): HAPROXY_SERVER_CURCONN
    /// of external checks. The host, which sees the shared counts, sets it.
    public var currentConnections: (Int, Int) -> Int = { _, _ in 0 }

    public init(configuration: Configuration, tokenKind: UInt8) {
        self.tokenKind = tokenKind
        readLimit = configuration.global.bufferSize
        spreadPercent = configuration.global.spreadChecks
        let layout = SegmentLayout(configuration)
        for (b, backend) in configuration.backends.enumerated() {
            let planIndex = plans.count
            plans.append(HealthChecker.plan(for: backend))
            var list: [Member] = []
            for (s, server) in backend.servers.enumerated() {
                var member = Member(isBackup: server.backup, disabled: server.disabled, checked: nil)
                if (server.check.enabled || server.check.agent.enabled) && !server.disabled {
                    do {
                        var address: SocketAddress?
                        do { address = try HealthChecker.address(of: server) } catch let error as CheckSetupError
                            where error.unresolved {
                            // No address yet (`init-addr none`): checked once
                            // it gets one (`set server addr`, DNS).
                            member.disabled = true
                        }
                        var tls: TLSServerContext?
                        if server.check.enabled && server.checksUseTLS {
                            // An HTTP check speaks HTTP/1.1: `h2` is not offered to it.
                            var http = backend.mode == .http
                            if case .http = backend.healthCheck { http = true }
                            do {
                                tls = try TLSServerContext(server.tls, label: "\(backend.name)/\(server.name)",
                                                           at: server.tls.location ?? server.location, http: http)
                            } catch {
                                throw CheckSetupError(description: error.message)
                            }
                        }
                        let agent = server.check.agent.enabled ? try AgentProbe(server) : nil
                        var command: ExternalCommand?
                        if case .external(let check) = backend.healthCheck {
                            command = ExternalCommand(check, configuration: configuration, layout: layout, backend: b, server: s)
                        }
                        member.checked = servers.count
                        let state = CheckState(rise: server.check.rise, fall: server.check.fall)
                        servers.append(Checked(
                            backend: b, server: s, backendName: backend.name, serverName: server.name,
                            isBackup: server.backup, configuredWeight: server.weight, settings: server.check,
                            runsChecks: server.check.enabled, agent: agent, address: address,
                            source: server.source.map { SocketAddress(ip: $0.ip.bytes, port: $0.port) },
                            plan: planIndex, connectTimeout: backend.timeouts.connect,
                            checkTimeout: backend.timeouts.check, logProgress: backend.logHealthChecks,
                            tls: tls, sni: server.tls.checkSNI, sendProxy: server.checkSendProxy,
                            command: command, state: state,
                            health: ServerHealth(usable: true, weight: server.weight)))
                    } catch {
                        problems.append("\(server.location): server \(backend.name)/\(server.name): "
                                        + "no address to check: \(error)")
                    }
                }
                list.append(member)
            }
            members.append(list)
        }
        for (b, backend) in configuration.backends.enumerated() {
            for (s, server) in backend.servers.enumerated() {
                guard let track = server.track, let root = configuration.trackedRoot(backend: b, server: s),
                      let checked = members[root.backend][root.server].checked else { continue }
                let via = configuration.backends[track.backend]
                members[b][s].tracker = trackers.count
                servers[checked].trackers.append(trackers.count)
                trackers.append(Tracker(backend: b, server: s, backendName: backend.name, serverName: server.name,
                                        isBackup: server.backup, configuredWeight: server.weight, root: checked,
                                        via: "\(via.name)/\(via.servers[track.server].name)",
                                        health: ServerHealth(usable: true, weight: server.weight)))
            }
        }
    }

    public var isEmpty: Bool { servers.isEmpty }

    /// The server's address changed at run time (runtime API, DNS): checks
    /// connect there from the next one on, unless `addr` sends them
    /// elsewhere. nil: it has no address and its checks wait.
    public mutating func follow(backend: Int, server: Int, address: SocketAddress?, loop: inout EventLoop) {
        guard let i = servers.firstIndex(where: { $0.backend == backend && $0.server == server }) else { return }
        followAgent(i, address: address)
        guard servers[i].settings.address == nil else { return }
        var target = address
        if let port = servers[i].settings.port { target?.setPort(port) }
        servers[i].address = target
        members[backend][server].disabled = target == nil
        // A check under way to the old address ends now.
        if servers[i].running, servers[i].fd >= 0 {
            closeSocket(i, loop: &loop)
            servers[i].running = false
            servers[i].attempt &+= 1
            servers[i].deadline = loop.now
            loop.schedule(token(i), at: servers[i].deadline)
        }
    }

    /// The published state of every checked server that differs from the
    /// start state (usable at full weight): what a worker that starts late
    /// must be told.
    public var changedStates: [(backend: Int, server: Int, state: ServerHealth)] {
        servers.filter { !$0.health.usable || $0.health.weight != $0.configuredWeight }
            .map { ($0.backend, $0.server, $0.health) }
            + trackers.filter { !$0.health.usable || $0.health.weight != $0.configuredWeight }
            .map { ($0.backend, $0.server, $0.health) }
    }

    // MARK: Building

    static func plan(for backend: Backend) -> Plan {
        switch backend.healthCheck {
        case .connect:
            return Plan(steps: [.connect(port: nil)], isTCPCheck: false, layer7: false)
        case .http(let check):
            return Plan(steps: [.connect(port: nil), .send(request(check)),
                                .httpResponse(check.expects.map(Expectation.init),
                                              method: Array(check.method.utf8).withUnsafeBytes { HTTPMethod($0) },
                                              disableOn404: check.disableOn404)],
                        isTCPCheck: false, layer7: true)
        case .tcp(let rules):
            var steps: [Step] = []
            for rule in rules {
                switch rule {
                case .connect(let port): steps.append(.connect(port: port))
                case .send(let bytes): steps.append(.send(bytes))
                case .expect(let expect): steps.append(.expect(Expectation(expect)))
                }
            }
            if steps.isEmpty { steps = [.connect(port: nil)] }
            let layer7 = steps.contains { if case .connect = $0 { return false } else { return true } }
            return Plan(steps: steps, isTCPCheck: true, layer7: layer7)
        case .external:
            // Each server's `command` runs instead of steps.
            return Plan(steps: [], isTCPCheck: false, layer7: false)
        }
    }

    /// The check request, written with WeirHTTP's head writer.
    static func request(_ check: HTTPCheck) -> [UInt8] {
        let body = Array((check.body ?? "").utf8)
        var capacity = 64 + check.method.utf8.count + check.uri.utf8.count
        for header in check.headers { capacity += header.name.utf8.count + header.value.utf8.count + 4 }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        var writer = HeadWriter(buffer, capacity: capacity)
        func append(_ text: String) {
            var text = text
            text.withUTF8 { writer.append(UnsafeRawBufferPointer($0)) }
        }
        append(check.method)
        writer.append(byte: UInt8(ascii: " "))
        append(check.uri)
        writer.append(byte: UInt8(ascii: " "))
        append(check.version)
        writer.append("\r\n")
        var hasLength = false
        var hasConnection = false
        for header in check.headers {
            var name = header.name
            var value = header.value
            let lower = name.lowercased()
            if lower == "content-length" { hasLength = true }
            if lower == "connection" { hasConnection = true }
            name.withUTF8 { n in value.withUTF8 { v in
                writer.appendHeader(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))
            } }
        }
        if !body.isEmpty && !hasLength {
            writer.append("content-length: ")
            writer.append(decimal: body.count)
            writer.append("\r\n")
        }
        // One request per connection: the check closes it after the response.
        if !hasConnection && check.version == "HTTP/1.1" { writer.append("connection: close\r\n") }
        writer.append("\r\n")
        return Array(writer.written) + body
    }

    static func address(of server: Server) throws -> SocketAddress {
        var port: UInt16 = 0
        switch server.address {
        case .ip(_, let p), .host(_, let p): port = p
        case .unix: break
        }
        var base: SocketAddress
        do {
            switch try InitialAddress.resolve(server) {
            case .address(let a): base = a
            case .unresolved(let reason): throw CheckSetupError(description: reason, unresolved: true)
            }
        } catch let error as InitialAddress.Failure {
            throw CheckSetupError(description: error.description)
        }
        let checkPort = server.check.port ?? port
        switch server.check.address {
        case .ip(let ip)?:
            return SocketAddress(ip: ip.bytes, port: checkPort)
        case .host(let host)?:
            do { return try SocketAddress.resolve(host: host, port: checkPort) } catch {
                throw CheckSetupError(description: "\(error)")
            }
        case nil:
            if server.check.port != nil, base.family != AF_UNIX { base.setPort(checkPort) }
            return base
        }
    }

    // MARK: Running

    /// Schedules every server's first check, spread over its interval.
    public mutating func start(loop: inout EventLoop) {
        let count = Int64(max(1, servers.count))
        for i in servers.indices where servers[i].runsChecks {
            let spread = Int64(i) * Int64(servers[i].settings.inter) / count
            servers[i].deadline = loop.now + spread
            loop.schedule(token(i), at: servers[i].deadline)
        }
        startAgents(loop: &loop)
    }

    /// Closes every check in progress (the host is stopping or reloading).
    public mutating func stop(loop: inout EventLoop) {
        for i in servers.indices {
            closeAgent(i, loop: &loop)
            servers[i].agent?.running = false
            servers[i].agent?.attempt &+= 1
            guard servers[i].fd >= 0 || servers[i].pid > 0 else { continue }
            closeSocket(i, loop: &loop)
            servers[i].running = false
            servers[i].attempt &+= 1
        }
    }

    func token(_ i: Int) -> Token {
        Token(kind: tokenKind, slot: UInt32(i), generation: servers[i].attempt)
    }

    public mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) -> [CheckEvent] {
        if token.slot & HealthChecker.agentFlag != 0 {
            return agentEvent(Int(token.slot & ~HealthChecker.agentFlag), token, events: events, loop: &loop)
        }
        let i = Int(token.slot)
        guard i < servers.count, servers[i].running, token.generation == servers[i].attempt & 0xFF_FFFF else { return [] }
        if servers[i].pid > 0 { return commandEnded(i, loop: &loop) }
        if !servers[i].connected {
            if servers[i].handshaking {
                if let failure = continueHandshake(i) { return finish(i, failure, loop: &loop) }
            } else {
                if let error = Posix.socketError(servers[i].fd) {
                    return finish(i, CheckResult(.layer4Connection, info: stepInfo(i, error.description)), loop: &loop)
                }
                guard events & (Epoll.writable | Epoll.readable | Epoll.hangup | Epoll.error) != 0 else { return [] }
                if let failure = established(i) { return finish(i, failure, loop: &loop) }
            }
            guard servers[i].connected else { return [] }
            if servers[i].step == 0, let timeout = servers[i].checkTimeout {
                servers[i].deadline = loop.now + Int64(timeout)
                loop.schedule(self.token(i), at: servers[i].deadline)
            }
        }
        return drive(i, loop: &loop)
    }

    public mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) -> [CheckEvent] {
        if token.slot & HealthChecker.rampFlag != 0 {
            return ramp(Int(token.slot & ~HealthChecker.rampFlag), loop: &loop)
        }
        if token.slot & HealthChecker.agentFlag != 0 {
            return agentTimer(Int(token.slot & ~HealthChecker.agentFlag), token, loop: &loop)
        }
        let i = Int(token.slot)
        guard i < servers.count, servers[i].enabled, token.generation == servers[i].attempt & 0xFF_FFFF,
              loop.now >= servers[i].deadline else { return [] }
        guard servers[i].address != nil || servers[i].running else {
            servers[i].deadline = loop.now + Int64(servers[i].settings.inter)
            loop.schedule(self.token(i), at: servers[i].deadline)
            return []
        }
        if servers[i].running {
            if servers[i].pid > 0 { return commandTimedOut(i, loop: &loop) }
            if servers[i].handshaking {
                return finish(i, CheckResult(.layer6Timeout, info: stepInfo(i, "Timeout during SSL handshake")),
                              loop: &loop)
            }
            if !servers[i].connected {
                return finish(i, CheckResult(.layer4Timeout, info: stepInfo(i, nil)), loop: &loop)
            }
            return finish(i, CheckResult(.layer7Timeout, info: stepInfo(i, nil)), loop: &loop)
        }
        return begin(i, loop: &loop)
    }

    private mutating func begin(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        servers[i].attempt &+= 1
        servers[i].running = true
        servers[i].started = loop.now
        servers[i].step = 0
        servers[i].stepStarted = false
        servers[i].connected = false
        servers[i].input.removeAll(keepingCapacity: true)
        servers[i].eof = false
        let inter = Int64(servers[i].settings.inter)
        if let command = servers[i].command {
            servers[i].deadline = loop.now + Int64(servers[i].checkTimeout ?? servers[i].settings.inter)
            loop.schedule(token(i), at: servers[i].deadline)
            return startCommand(i, command, loop: &loop)
        }
        if servers[i].checkTimeout != nil {
            servers[i].deadline = loop.now + min(inter, Int64(servers[i].connectTimeout ?? servers[i].settings.inter))
        } else {
            servers[i].deadline = loop.now + inter
        }
        loop.schedule(token(i), at: servers[i].deadline)
        return drive(i, loop: &loop)
    }

    /// Runs the steps as far as the socket allows; the check's verdict when it is known.
    private mutating func drive(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        let plan = plans[servers[i].plan]
        while servers[i].step < plan.steps.count {
            switch plan.steps[servers[i].step] {
            case .connect(let port):
                if !servers[i].stepStarted {
                    servers[i].stepStarted = true
                    if let failure = openConnection(i, port: port, loop: &loop) { return finish(i, failure, loop: &loop) }
                }
                guard servers[i].connected else { return [] }
            case .send(let bytes):
                if !servers[i].stepStarted {
                    servers[i].stepStarted = true
                    servers[i].output = bytes
                    servers[i].outputOffset = 0
                    servers[i].input.removeAll(keepingCapacity: true)
                }
                if let failure = flush(i) { return finish(i, failure, loop: &loop) }
                guard servers[i].outputOffset == servers[i].output.count else { return [] }
            case .expect(let expectation):
                receive(i)
                let found = expectation.found(in: servers[i].input)
                if found {
                    if expectation.rule.negated {
                        return finish(i, CheckResult(.layer7WrongStatus, info: "TCPCHK matched unwanted content '\(expectation.rule.pattern)' at step \(servers[i].step + 1)"), loop: &loop)
                    }
                } else {
                    let final = servers[i].eof || servers[i].input.count >= readLimit
                    guard final else { return [] }
                    if !expectation.rule.negated {
                        if servers[i].input.isEmpty {
                            return finish(i, CheckResult(.layer7Invalid, info: "TCPCHK got an empty response at step \(servers[i].step + 1)"), loop: &loop)
                        }
                        return finish(i, CheckResult(.layer7WrongStatus, info: "TCPCHK did not match content '\(expectation.rule.pattern)' at step \(servers[i].step + 1)"), loop: &loop)
                    }
                }
            case .httpResponse(let expectations, let method, let disableOn404):
                receive(i)
                guard let result = evaluateHTTP(i, expectations, method: method, disableOn404: disableOn404) else {
                    return []
                }
                return finish(i, result, loop: &loop)
            }
            servers[i].step += 1
            servers[i].stepStarted = false
        }
        let passed: CheckResult.Status = plan.layer7 ? .layer7OK : servers[i].tls != nil ? .layer6OK : .layer4OK
        return finish(i, CheckResult(passed, info: plan.isTCPCheck && plan.layer7 ? "(tcp-check)" : nil), loop: &loop)
    }

    /// Opens the connection of a connect step (closing the previous one).
    private mutating func openConnection(_ i: Int, port: UInt16?, loop: inout EventLoop) -> CheckResult? {
        closeSocket(i, loop: &loop)
        servers[i].connected = false
        servers[i].eof = false
        servers[i].input.removeAll(keepingCapacity: true)
        guard var address = servers[i].address else {
            return CheckResult(.layer4Connection, info: stepInfo(i, "no address"))
        }
        if let port, address.family != AF_UNIX { address.setPort(port) }
        let fd: Int32
        do { fd = try Posix.socket(domain: address.family, type: Posix.streamType).release() } catch {
            return CheckResult(.layer4Connection, info: stepInfo(i, error.description))
        }
        servers[i].fd = fd
        if address.family != AF_UNIX {
            Posix.setNoDelay(fd)
            if let source = servers[i].source {
                do { try Posix.bindSource(fd, to: source) } catch {
                    return CheckResult(.layer4Connection, info: stepInfo(i, "source \(source): \(error)"))
                }
            }
        }
        let connected: Bool
        do { connected = try Posix.connect(fd, to: address) } catch {
            return CheckResult(.layer4Connection, info: stepInfo(i, error.description))
        }
        do {
            try loop.register(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered,
                              token: token(i))
        } catch {
            return CheckResult(.layer4Connection, info: stepInfo(i, error.description))
        }
        return connected ? established(i) : nil
    }

    /// The TCP connection is up: a PROXY header goes first, then a TLS
    /// check starts its handshake.
    private mutating func established(_ i: Int) -> CheckResult? {
        if let version = servers[i].sendProxy, let failure = sendProxyHeader(i, version: version) { return failure }
        guard let tls = servers[i].tls else {
            servers[i].connected = true
            return nil
        }
        guard let ssl = tls.connection(fd: servers[i].fd, serverName: servers[i].sni) else {
            return CheckResult(.layer6Invalid, info: stepInfo(i, "SSL handshake failure (out of memory)"))
        }
        servers[i].ssl = ssl
        servers[i].handshaking = true
        return continueHandshake(i)
    }

    /// HAProxy's header for a connection it makes for itself: version 1
    /// carries the check connection's own addresses, version 2 says LOCAL.
    private func sendProxyHeader(_ i: Int, version: ProxyHeaderVersion) -> CheckResult? {
        let fd = servers[i].fd
        let source = try? Posix.localAddress(fd)
        let destination = try? Posix.peerAddress(fd)
        return withUnsafeTemporaryAllocation(byteCount: ProxyProtocol.maxEncodedLength, alignment: 8) { out -> CheckResult? in
            let count = ProxyProtocol.encode(version == .v2 ? .v2 : .v1, source: source, destination: destination,
                                             local: true, into: out)
            do throws(Errno) {
                // A connection just made takes so few bytes whole.
                guard case .processed(let sent) = try Posix.send(fd, from: out.baseAddress!, count: count), sent == count else {
                    return CheckResult(.layer4Connection, info: stepInfo(i, "cannot send the PROXY header"))
                }
            } catch {
                return CheckResult(.layer4Connection, info: stepInfo(i, error.description))
            }
            return nil
        }
    }

    /// One step of a TLS check's handshake; its failure as HAProxy reports it
    /// (`Layer6 invalid response`, with OpenSSL's reason).
    private mutating func continueHandshake(_ i: Int) -> CheckResult? {
        guard let ssl = servers[i].ssl else { return nil }
        switch TLSConnection.connect(ssl) {
        case .done:
            servers[i].handshaking = false
            servers[i].connected = true
            return nil
        case .wantRead, .wantWrite:
            return nil
        case .closed:
            return CheckResult(.layer6Invalid, info: stepInfo(i, "Connection closed during SSL handshake"))
        case .failed(let reason):
            servers[i].tls?.forgetSession()
            return CheckResult(.layer6Invalid, info: stepInfo(i, "SSL handshake failure (\(reason))"))
        }
    }

    private mutating func flush(_ i: Int) -> CheckResult? {
        while servers[i].outputOffset < servers[i].output.count {
            let fd = servers[i].fd
            let ssl = servers[i].ssl
            let offset = servers[i].outputOffset
            let outcome: Result<IOResult, Errno> = servers[i].output.withUnsafeBytes { p in
                do throws(Errno) {
                    if let ssl { return .success(try TLSConnection.write(ssl, from: p.baseAddress! + offset, count: p.count - offset)) }
                    return .success(try Posix.send(fd, from: p.baseAddress! + offset, count: p.count - offset))
                } catch {
                    return .failure(error)
                }
            }
            let result: IOResult
            switch outcome {
            case .success(let r): result = r
            case .failure(let error): return CheckResult(.layer4Connection, info: stepInfo(i, error.description))
            }
            switch result {
            case .wouldBlock: return nil
            case .processed(let n): servers[i].outputOffset += n
            }
        }
        return nil
    }

    /// Reads what is available, up to `readLimit` bytes in all.
    private mutating func receive(_ i: Int) {
        guard servers[i].fd >= 0, !servers[i].eof else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while servers[i].input.count < readLimit {
            let want = min(chunk.count, readLimit - servers[i].input.count)
            let fd = servers[i].fd
            let ssl = servers[i].ssl
            let outcome: Result<IOResult, Errno> = chunk.withUnsafeMutableBytes { p in
                do throws(Errno) {
                    if let ssl { return .success(try TLSConnection.read(ssl, into: p.baseAddress!, count: want)) }
                    return .success(try Posix.read(fd, into: p.baseAddress!, count: want))
                } catch {
                    return .failure(error)
                }
            }
            guard case .success(let result) = outcome else {
                servers[i].eof = true
                return
            }
            switch result {
            case .wouldBlock: return
            case .processed(0):
                servers[i].eof = true
                return
            case .processed(let n): servers[i].input.append(contentsOf: chunk[0..<n])
            }
        }
    }

    /// The verdict on an HTTP response read so far, nil while more is needed.
    private func evaluateHTTP(_ i: Int, _ expectations: [Expectation], method: HTTPMethod,
                              disableOn404: Bool) -> CheckResult? {
        let input = servers[i].input
        let final = servers[i].eof || input.count >= readLimit
        var scanner = HeadScanner()
        let limits = HTTPLimits(maxHeadBytes: max(1024, readLimit), maxHeaders: 101)
        let scan = input.withUnsafeBytes { scanner.scan($0, limits: limits) }
        let headLength: Int
        switch scan {
        case .incomplete:
            guard final else { return nil }
            if input.isEmpty { return CheckResult(.layer7Invalid, info: "Connection closed before a response") }
            return CheckResult(.layer7Invalid, info: "Incomplete HTTP response")
        case .tooLarge:
            return CheckResult(.layer7Invalid, info: "HTTP response head too large")
        case .complete(let length):
            headLength = length
        }
        var headers = HeaderTable(capacity: 101)
        let head: ResponseHead
        do {
            head = try input.withUnsafeBytes { p throws(HTTPParseError) in
                try HTTPParser.parseResponse(UnsafeRawBufferPointer(rebasing: p[0..<headLength]), requestMethod: method,
                                             headers: &headers, limits: limits)
            }
        } catch {
            return CheckResult(.layer7Invalid, info: "Invalid HTTP response")
        }
        let code = head.status
        let reason = String(decoding: input[head.reasonStart..<head.reasonEnd], as: UTF8.self)
        // Before any expectation, as in HAProxy.
        if disableOn404 && code == 404 { return CheckResult(.layer7Conditional, code: code, info: reason) }
        if expectations.isEmpty {
            if (200..<400).contains(code) { return CheckResult(.layer7OK, code: code, info: reason) }
            return CheckResult(.layer7WrongStatus, code: code, info: reason)
        }
        // Body expectations need the body (what fits in the buffer).
        let needsBody = expectations.contains { !$0.isStatus }
        var body: [UInt8] = []
        if needsBody {
            body = Array(input[headLength...])
            switch head.framing {
            case .none: body = []
            case .contentLength(let n):
                if Int64(body.count) < n && !final { return nil }
                if Int64(body.count) > n { body = Array(body[0..<Int(n)]) }
            case .chunked:
                if !final && !Expectation.contains(body, Array("0\r\n\r\n".utf8)) { return nil }
            case .untilClose:
                if !final { return nil }
            }
        }
        for expectation in expectations {
            let matched = expectation.isStatus ? expectation.statusMatches(code) : expectation.found(in: body)
            if matched == expectation.rule.negated {
                let info = expectation.isStatus ? "HTTP status check returned code <\(code)>"
                    : "HTTP content check did not match"
                return CheckResult(.layer7WrongStatus, code: code, info: info)
            }
        }
        return CheckResult(.layer7OK, code: code, info: reason)
    }

    /// For tcp-check: where a failure happened, as HAProxy says it.
    private func stepInfo(_ i: Int, _ text: String?) -> String? {
        let plan = plans[servers[i].plan]
        guard plan.isTCPCheck, plan.steps.count > 1 || servers[i].step > 0 else { return text }
        let step = servers[i].step
        let what: String
        switch plan.steps[min(step, plan.steps.count - 1)] {
        case .connect(let port): what = port.map { "connect port \($0)" } ?? "connect"
        case .send: what = "send"
        case .expect(let e): what = e.rule.description
        case .httpResponse: what = "expect http"
        }
        return "\(text ?? "") at step \(step + 1) of tcp-check (\(what))"
    }

    /// Closes the check's connection, or ends its program.
    private mutating func closeSocket(_ i: Int, loop: inout EventLoop) {
        endCommand(i, loop: &loop)
        if let ssl = servers[i].ssl {
            TLSConnection.free(ssl)
            servers[i].ssl = nil
        }
        servers[i].handshaking = false
        guard servers[i].fd >= 0 else { return }
        loop.deregister(servers[i].fd)
        Posix.closeWithReset(servers[i].fd)
        servers[i].fd = -1
    }

    /// Ends the check: closes its connection, feeds the state machine,
    /// schedules the next check.
    mutating func finish(_ i: Int, _ result: CheckResult, loop: inout EventLoop) -> [CheckEvent] {
        var result = result
        result.duration = max(0, loop.now - servers[i].started)
        closeSocket(i, loop: &loop)
        servers[i].running = false
        servers[i].attempt &+= 1
        let previousHealth = servers[i].state.health
        // A conditional pass keeps a running server running, never brings a stopped one up.
        let success = result.passed || (result.status == .layer7Conditional && servers[i].state.isUp)
        let transition = servers[i].state.record(success: success)
        var events = changed(i, transition, result, previousHealth: previousHealth, loop: &loop)
        events += softStop(i, result)
        // Every check's result reaches the host, for `show stat`.
        if events.isEmpty { events.append(event(i, .checked, result)) }
        // HAProxy counts a failure unless the server was already fully DOWN.
        events[0].countsFailure = !success && previousHealth > 0
        servers[i].lastPassed = result.passed
        servers[i].lastResult = result
        let interval = servers[i].settings.interval(transitioning: servers[i].state.isTransitioning,
                                                    down: !servers[i].state.isUp)
        servers[i].deadline = loop.now + Int64(HealthChecker.spread(interval, percent: spreadPercent))
        loop.schedule(token(i), at: servers[i].deadline)
        return withTrackers(events)
    }

    /// `interval` moved by a random amount of up to `percent` of it, either way.
    static func spread(_ interval: Int, percent: Int) -> Int {
        let reach = interval * percent / 100
        return reach > 0 ? interval + Int.random(in: -reach...reach) : interval
    }

    /// The events of a state machine step; updates the published state.
    /// The server is UP when its checks and its agent (if any) both say so.
    mutating func changed(_ i: Int, _ transition: CheckState.Transition, _ result: CheckResult,
                                  previousHealth: Int, loop: inout EventLoop) -> [CheckEvent] {
        var events: [CheckEvent] = []
        switch transition {
        case .wentDown:
            servers[i].upSince = nil
            // Already DOWN by its agent's word.
            guard servers[i].health.usable else { return [] }
            servers[i].health = ServerHealth(usable: false, weight: servers[i].configuredWeight)
            events.append(event(i, .wentDown, result))
        case .wentUp:
            // DOWN by its agent's word until the agent says `up`.
            guard servers[i].agent?.up ?? true else { return [] }
            if let slowstart = servers[i].settings.slowstart, slowstart > 0 {
                servers[i].upSince = loop.now
                servers[i].health = ServerHealth(usable: true, weight: HealthChecker.rampWeight(
                    servers[i].configuredWeight, elapsed: 0, slowstart: slowstart))
                loop.schedule(Token(kind: tokenKind, slot: UInt32(i) | HealthChecker.rampFlag),
                              at: loop.now + HealthChecker.rampStep(slowstart))
            } else {
                servers[i].health = ServerHealth(usable: true, weight: servers[i].configuredWeight)
            }
            events.append(event(i, .wentUp, result))
        case .none:
            if servers[i].logProgress && (servers[i].lastPassed != result.passed || previousHealth != servers[i].state.health) {
                var e = event(i, .progress, result)
                let p = servers[i].state.progress
                e.progressText = "\(p.count)/\(p.of) \(servers[i].state.isUp ? "UP" : "DOWN")"
                events.append(e)
            }
        }
        return events
    }

    /// `http-check disable-on-404`: a running server answering 404 stops
    /// taking new sessions (weight 0, still usable for persistence) until
    /// it answers a passing status again.
    private mutating func softStop(_ i: Int, _ result: CheckResult) -> [CheckEvent] {
        guard servers[i].state.isUp, servers[i].agent?.up ?? true else {
            servers[i].stoppedBy404 = false
            return []
        }
        if result.status == .layer7Conditional {
            guard !servers[i].stoppedBy404 else { return [] }
            servers[i].stoppedBy404 = true
            servers[i].upSince = nil
            servers[i].health = ServerHealth(usable: true, weight: 0)
            var e = event(i, .stopping, result)
            e.cause = result.summary
            return [e]
        }
        guard servers[i].stoppedBy404, result.passed else { return [] }
        servers[i].stoppedBy404 = false
        servers[i].health = ServerHealth(usable: true, weight: servers[i].configuredWeight)
        return [event(i, .wentUp, result)]
    }

    // MARK: Passive checks

    /// An outcome of live traffic on a server with `observe`: `error-limit`
    /// errors in a row apply `on-error`, and the next check comes at
    /// `fastinter`.
    public mutating func observe(backend: Int, server: Int, _ outcome: PassiveOutcome,
                                 loop: inout EventLoop) -> [CheckEvent] {
        guard backend >= 0, backend < members.count, server >= 0, server < members[backend].count,
              let i = members[backend][server].checked, servers[i].enabled, let mode = servers[i].settings.observe,
              let isError = outcome.isError(under: mode) else { return [] }
        guard isError else {
            servers[i].consecutiveErrors = 0
            return []
        }
        servers[i].consecutiveErrors += 1
        let count = servers[i].consecutiveErrors
        guard count >= servers[i].settings.errorLimit else { return [] }
        servers[i].consecutiveErrors = 0
        let result = CheckResult(.healthAnalyze, info: "Detected \(count) consecutive errors, last one was: \(outcome)")
        let previousHealth = servers[i].state.health
        var events: [CheckEvent] = []
        switch servers[i].settings.onError {
        case .fastinter:
            break
        case .failCheck:
            let transition = servers[i].state.record(success: false)
            events = changed(i, transition, result, previousHealth: previousHealth, loop: &loop)
        case .suddenDeath:
            servers[i].state.suddenDeath()
            events = changed(i, .none, result, previousHealth: previousHealth, loop: &loop)
        case .markDown:
            let transition = servers[i].state.markDown()
            events = changed(i, transition, result, previousHealth: previousHealth, loop: &loop)
        }
        // An `on-error` that fails the check records its result, as a check's.
        if servers[i].settings.onError != .fastinter {
            if events.isEmpty { events.append(event(i, .checked, result)) }
            events[0].countsFailure = previousHealth > 0
        }
        servers[i].lastPassed = false
        // The next check comes sooner.
        if !servers[i].running, let fast = servers[i].settings.fastinter, loop.now + Int64(fast) < servers[i].deadline {
            servers[i].attempt &+= 1
            servers[i].deadline = loop.now + Int64(fast)
            loop.schedule(token(i), at: servers[i].deadline)
        }
        return withTrackers(events)
    }

    // MARK: Runtime API

    /// What `show servers state` says of a server's check, nil when the
    /// server has none.
    public func report(backend: Int, server: Int) -> CheckReport? {
        guard backend >= 0, backend < members.count, server >= 0, server < members[backend].count,
              let i = members[backend][server].checked, servers[i].runsChecks else { return nil }
        let s = servers[i]
        return CheckReport(enabled: s.enabled, running: s.running, health: s.state.health,
                           passed: s.lastResult.map(\.passed), status: s.lastResult?.status)
    }

    /// `disable health` (false) and `enable health` (true): checks stop,
    /// the server keeping the state they last gave it, or start again at
    /// once from that state. False when the server has no check.
    @discardableResult
    public mutating func setEnabled(_ enabled: Bool, backend: Int, server: Int, loop: inout EventLoop) -> Bool {
        guard backend >= 0, backend < members.count, server >= 0, server < members[backend].count,
              let i = members[backend][server].checked, servers[i].runsChecks else { return false }
        guard servers[i].enabled != enabled else { return true }
        servers[i].enabled = enabled
        // Timers and events of the check in progress are dropped with it.
        closeSocket(i, loop: &loop)
        servers[i].running = false
        servers[i].attempt &+= 1
        servers[i].consecutiveErrors = 0
        if enabled {
            servers[i].deadline = loop.now
            loop.schedule(token(i), at: servers[i].deadline)
        }
        return true
    }

    /// `set server BE/SRV health up|stopping|down`: the server's state as
    /// given, whatever the checks said; the checks (when enabled) go on from
    /// there. Nil when the server has no check.
    public mutating func force(_ forced: ForcedHealth, backend: Int, server: Int, loop: inout EventLoop) -> [CheckEvent]? {
        guard backend >= 0, backend < members.count, server >= 0, server < members[backend].count,
              let i = members[backend][server].checked else { return nil }
        let was = servers[i].health
        let transition = servers[i].state.force(up: forced != .down)
        servers[i].upSince = nil
        servers[i].stoppedBy404 = false
        servers[i].consecutiveErrors = 0
        let weight = forced == .stopping ? 0 : servers[i].configuredWeight
        servers[i].health = ServerHealth(usable: forced != .down, weight: weight)
        guard servers[i].health != was || transition != .none else { return [] }
        let kind: CheckEvent.Kind = forced == .stopping ? .stopping : forced == .up ? .wentUp : .wentDown
        var e = event(i, kind, nil)
        e.cause = "changed from CLI"
        return withTrackers([e])
    }

    func event(_ i: Int, _ kind: CheckEvent.Kind, _ result: CheckResult?) -> CheckEvent {
        let s = servers[i]
        let online = onlineCounts(s.backend)
        var e = CheckEvent(kind: kind, backend: s.backend, server: s.server, state: s.health, result: result,
                           backendName: s.backendName, serverName: s.serverName, isBackup: s.isBackup,
                           activeLeft: online.active, backupLeft: online.backup)
        e.checkHealth = s.runsChecks ? s.state.health : nil
        e.agentHealth = s.agent.map { $0.up ? 1 : 0 }
        return e
    }

    /// The backend's servers that take new sessions.
    func onlineCounts(_ backend: Int) -> (active: Int, backup: Int) {
        var active = 0
        var backup = 0
        for member in members[backend] where !member.disabled {
            // A stopping server (weight 0) is not online, as HAProxy counts.
            // A tracking server with an agent needs both its tracked server
            // and its agent.
            let own = member.checked.map { servers[$0].health }
            let tracked = member.tracker.map { trackers[$0].health }
            guard own.map({ $0.usable && $0.weight > 0 }) ?? true, tracked.map({ $0.usable && $0.weight > 0 }) ?? true
            else { continue }
            if member.isBackup { backup += 1 } else { active += 1 }
        }
        return (active, backup)
    }

    // MARK: Slow start

    /// The effective weight `elapsed` ms into a slow start: proportional,
    /// at least 1, the full weight once `slowstart` has passed.
    public static func rampWeight(_ weight: Int, elapsed: Int64, slowstart: Int) -> Int {
        guard weight > 0 else { return 0 }
        guard elapsed < Int64(slowstart), slowstart > 0 else { return weight }
        let scaled = (Int64(weight) * elapsed + Int64(slowstart) - 1) / Int64(slowstart)
        return max(1, Int(scaled))
    }

    /// How often the weight is raised: a twentieth of the slow start, at least 100ms.
    static func rampStep(_ slowstart: Int) -> Int64 { max(100, Int64(slowstart) / 20) }

    private mutating func ramp(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        guard i < servers.count, let since = servers[i].upSince, servers[i].state.isUp,
              let slowstart = servers[i].settings.slowstart else { return [] }
        let weight = HealthChecker.rampWeight(servers[i].configuredWeight, elapsed: loop.now - since, slowstart: slowstart)
        if weight >= servers[i].configuredWeight {
            servers[i].upSince = nil
        } else {
            loop.schedule(Token(kind: tokenKind, slot: UInt32(i) | HealthChecker.rampFlag),
                          at: loop.now + HealthChecker.rampStep(slowstart))
        }
        guard weight != servers[i].health.weight else { return [] }
        servers[i].health.weight = weight
        return withTrackers([event(i, .weight, nil)])
    }
}
