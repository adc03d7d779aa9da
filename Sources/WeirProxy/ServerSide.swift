import Glibc
import WeirBalance
import WeirConfig
import WeirLoop
import WeirShared
import WeirSystem

extension Worker {
    /// Picks a server for the session and connects, or queues it when every
    /// usable server is at its maxconn, or ends it when no server is usable.
    mutating func assignServer(_ slot: UInt32, excluding: Int? = nil, loop: inout EventLoop) {
        refreshServerStates()
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        loadGlobalConnections(backend: backend)
        // A cookie naming a server takes the request there (CookiePersistence.swift).
        // Then a `use-server` rule (ServerRules.swift), then a stick table
        // naming a server (StickPersistence.swift).
        let persisted = persistentPick(slot, backend: backend, excluding: excluding)
            ?? serverRulePick(slot, backend: backend, excluding: excluding)
            ?? stickPick(slot, backend: backend, excluding: excluding)
        var result: PickResult
        if let persisted {
            result = persisted
            // As in HAProxy, a full queue breaks persistence when
            // redispatch is allowed; otherwise the session fails (`SQ`).
            if result == .queueFull, backends[backend].redispatch, !forbidsRedispatch(slot) {
                s.pointee.queuedServer = -1
                result = backends[backend].balancer.pick(hashKey: balanceKey(slot, backend: backend), excluding: excluding)
            }
        } else {
            result = backends[backend].balancer.pick(hashKey: balanceKey(slot, backend: backend), excluding: excluding)
        }
        // `maxconn` counts every worker's connections: the slot is claimed in
        // shared memory, and a server another worker filled meanwhile is skipped.
        var attempts = backends[backend].servers.count
        while case .server(let server) = result, !claimServer(backend: backend, server: server) {
            backends[backend].balancer.setActiveConnections(backends[backend].balancer.servers[server].maxconn, server: server)
            attempts -= 1
            if attempts < 0 {
                result = .allFull
                break
            }
            result = backends[backend].balancer.pick(hashKey: balanceKey(slot, backend: backend), excluding: excluding)
        }
        switch result {
        case .server(let server):
            backends[backend].balancer.connectionOpened(server: server)
            let entity = stats.server(backend, server)
            stats.add(entity, .lbTotal)
            // The session's (or exchange's) start stands for now: no clock read per pick.
            let wall = s.pointee.isHTTP ? s.pointee.exchange.waitStartWall : s.pointee.acceptedWall
            stats.sessionStarted(entity, wallSeconds: wall / 1000)
            s.pointee.server = Int32(server)
            s.pointee.countedOnServer = true
            if s.pointee.isHTTP && s.pointee.exchange.serverNameAt >= 0 {
                writeServerName(slot, backend: backend, server: server)
            }
            if s.pointee.queuedAt >= 0 && s.pointee.queueTime < 0 {
                s.pointee.queueTime = loop.now - s.pointee.queuedAt
            } else if s.pointee.queueTime < 0 {
                s.pointee.queueTime = 0
            }
            if s.pointee.serverFD >= 0 {
                // HTTP keep-alive: the previous exchange's connection serves
                // this one when it leads to the server picked.
                if s.pointee.connectionBackend == Int32(backend) && s.pointee.connectionServer == Int32(server)
                    && keptConnectionFits(slot) {
                    s.pointee.exchange.reusedConnection = true
                    reuseServerConnection(slot, loop: &loop)
                    return
                }
                releaseServerConnection(slot, betweenExchanges: true, loop: &loop)
            }
            let reuse = backends[backend].reuse
            // `safe` keeps a session's first request off shared connections:
            // it has no earlier request proving the client would retry.
            if s.pointee.isHTTP && reuse != .never && (reuse != .safe || s.pointee.exchange.served > 0)
                && adoptIdleConnection(slot, backend: backend, server: server, loop: &loop) {
                s.pointee.exchange.reusedConnection = true
                reuseServerConnection(slot, loop: &loop)
                return
            }
            connect(slot, loop: &loop)
        case .allFull:
            enqueue(slot, loop: &loop)
        case .noServer:
            // HAProxy logs a missing server as a connection failure: `SC`.
            fail(slot, cause: "S", phase: "C", loop: &loop)
        case .queueFull:
            stats.add(stats.backend(backend), .connectionErrors)
            stats.add(stats.server(backend, Int(s.pointee.queuedServer)), .connectionErrors)
            s.pointee.queuedServer = -1
            fail(slot, cause: "S", phase: "Q", loop: &loop)
        }
    }

    /// A session that persistence binds to `server` (cookie, `use-server`,
    /// stick table): the server while it has a free slot; else `.allFull`,
    /// to wait in the queue for it, until `maxqueue` sessions wait for it:
    /// then `.queueFull`. Either way `queuedServer` names it.
    @inline(__always)
    mutating func boundPick(_ slot: UInt32, backend: Int, server: Int) -> PickResult {
        guard backends[backend].balancer.servers[server].isFull else { return .server(server) }
        let limit = backends[backend].serverMaxqueue[server]
        sessions.pointer(slot).pointee.queuedServer = Int32(server)
        return limit > 0 && backends[backend].queuedFor[server] >= limit ? .queueFull : .allFull
    }

    /// Ends a session that never reached a server: in HTTP the client gets
    /// a 503 first.
    mutating func fail(_ slot: UInt32, cause: Character, phase: Character, loop: inout EventLoop) {
        if sessions.pointer(slot).pointee.isHTTP {
            reply(slot, status: 503, cause: cause, phase: phase, loop: &loop)
            return
        }
        close(slot, cause: cause, phase: phase, loop: &loop)
    }

    private mutating func reuseServerConnection(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        s.pointee.phase = .connected
        s.pointee.phaseExpiry = .max
        s.pointee.connectTime = 0
        if s.pointee.stick.keyPending { storeStickKey(slot) }
        s.pointee.toServer.sinkWritable = true
        s.pointee.toServer.sinkShut = false
        // No read until epoll reports one: the connection was drained when
        // it went idle, and re-registering an adopted one reports what came since.
        s.pointee.toClient.sourceEOF = false
        s.pointee.toClient.sourceHungUp = false
        touchServer(slot, now: loop.now)
    }

    /// A server without an address or a port of its own: the address and
    /// port the client connected to take their place, the port moved by the
    /// server's offset. Unchanged when the client came through a UNIX
    /// socket, which has neither.
    private func followClient(_ slot: UInt32, _ address: inout SocketAddress, backend: Int, server: Int) {
        guard let destination = clientDestination(slot), destination.family != AF_UNIX else { return }
        let port = address.port
        if backends[backend].servers[server].takesClientAddress { address = destination }
        if let offset = backends[backend].servers[server].portOffset {
            // As in HAProxy, the sum wraps around in 16 bits.
            address.setPort(UInt16(truncatingIfNeeded: Int(destination.port) + offset))
        } else {
            address.setPort(port)
        }
    }

    /// Starts a non-blocking connect to the assigned server.
    mutating func connect(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let server = Int(s.pointee.server)
        var address = backends[backend].servers[server].address
        if backends[backend].servers[server].followsClient { followClient(slot, &address, backend: backend, server: server) }
        s.pointee.phase = .connecting
        s.pointee.connectStart = loop.now
        s.pointee.phaseExpiry = backends[backend].connectTimeout.map { loop.now + Int64($0) } ?? .max
        let socket: FileDescriptor
        do { socket = try Posix.socket(domain: address.family, type: Posix.streamType) } catch {
            connectFailed(slot, error: error, loop: &loop)
            return
        }
        let fd = socket.release()
        s.pointee.serverFD = fd
        s.pointee.connectionSNI = 0
        s.pointee.connectionProxyHeader = 0
        s.pointee.connectionBackend = Int32(backend)
        s.pointee.connectionServer = s.pointee.server
        s.pointee.toServer.sinkWritable = false
        s.pointee.toServer.sinkShut = false
        s.pointee.toClient.sourceReadable = false
        s.pointee.toClient.sourceEOF = false
        s.pointee.toClient.sourceHungUp = false
        if address.family != AF_UNIX {
            Posix.setNoDelay(fd)
            if let k = backends[backend].tcpKeepAlive {
                Posix.setKeepAlive(fd, probes: k.probes, idle: k.idle, interval: k.interval)
            }
            // Tested before it is read: reading the optional out copies its
            // 128-byte address on every connect.
            if backends[backend].servers[server].source != nil {
                do { try Posix.bindSource(fd, to: backends[backend].servers[server].source!) } catch {
                    connectFailed(slot, error: error, loop: &loop)
                    return
                }
            }
        }
        if serverBuffers.receive != nil || serverBuffers.send != nil {
            Posix.setBufferSizes(fd, receive: serverBuffers.receive, send: serverBuffers.send)
        }
        let connected: Bool
        do { connected = try Posix.connect(fd, to: address) } catch {
            connectFailed(slot, error: error, loop: &loop)
            return
        }
        let token = Token(kind: TokenKind.server.rawValue, slot: slot, generation: sessions.generation(slot))
        do {
            try loop.register(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered,
                              token: token)
        } catch {
            connectFailed(slot, error: error, loop: &loop)
            return
        }
        if connected {
            connectSucceeded(slot, loop: &loop)
        } else {
            rearm(slot, loop: &loop)
        }
    }

    /// The connection to the server is up (and for a `server … ssl`, its
    /// TLS handshake done: it starts here).
    mutating func connectSucceeded(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let server = Int(s.pointee.server)
        // The TCP connection just came up (a TLS one comes back here once
        // its handshake is done): a PROXY header goes first, before TLS.
        if s.pointee.serverTLS == nil, let version = backends[backend].servers[server].sendProxy,
           let error = sendProxyHeader(slot, version: version) {
            connectFailed(slot, error: error, loop: &loop)
            return
        }
        if s.pointee.serverTLS == nil, let context = backends[backend].serverTLS[server] {
            startServerHandshake(slot, context: context, loop: &loop)
            return
        }
        s.pointee.phase = .connected
        s.pointee.phaseExpiry = .max
        s.pointee.connectTime = loop.now - s.pointee.connectStart
        if s.pointee.stick.keyPending { storeStickKey(slot) }
        observed(backend: Int(s.pointee.backend), server: Int(s.pointee.server), .connected, loop: &loop)
        s.pointee.toServer.sinkWritable = true
        s.pointee.toClient.sourceReadable = true
        touchClient(slot, now: loop.now)
        touchServer(slot, now: loop.now)
        // An HTTP session is inside its own loop or gets the writable event
        // of the new connection: it moves on from there.
        if !s.pointee.isHTTP {
            let frontend = Int(s.pointee.frontend)
            if frontends[frontend].tcpLog && rules.compiled.frontendLogging[frontend].early {
                logSession(slot, now: loop.now, early: true)
            }
            service(slot, loop: &loop)
        }
    }

    /// A refused or timed-out connect: retry while `retries` allow, on another
    /// server for the last retry with `option redispatch`; else end with `SC`/`sC`.
    mutating func connectFailed(_ slot: UInt32, error: Errno?, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        observed(backend: backend, server: Int(s.pointee.server), .connectFailed, loop: &loop)
        if s.pointee.serverFD >= 0 {
            closeServerSocket(slot)
            s.pointee.connectionBackend = -1
            s.pointee.connectionServer = -1
        }
        stats.add(stats.backend(backend), .connectionErrors)
        stats.add(stats.server(backend, Int(s.pointee.server)), .connectionErrors)
        if options.debug {
            Notice.debug("connect to \(backends[backend].name)/\(backends[backend].servers[Int(s.pointee.server)].name) failed: \(error.map { $0.description } ?? "timeout")")
        }
        // `retry-on` without `conn-failure` leaves a failed connect unretried.
        guard s.pointee.retriesLeft > 0 && backends[backend].retryOn.contains(.connFailure) else {
            fail(slot, cause: error == nil ? "s" : "S", phase: "C", loop: &loop)
            return
        }
        countRetry(slot, backend: backend)
        if shouldRedispatch(slot, backend: backend) {
            redispatch(slot, backend: backend, loop: &loop)
            return
        }
        // HAProxy's turn-around delay before hitting the same server again:
        // min(timeout connect, 1s), so a restarting server is not hammered.
        let delay = min(Int64(backends[backend].connectTimeout ?? 1000), 1000)
        s.pointee.phase = .retryWait
        s.pointee.phaseExpiry = error == nil ? loop.now : loop.now + delay
        rearm(slot, loop: &loop)
    }

    /// One retry of the session's request is spent: counted for the log
    /// (`%rc`) and on the backend and the server that failed (`wretr`).
    mutating func countRetry(_ slot: UInt32, backend: Int) {
        let s = sessions.pointer(slot)
        s.pointee.retriesLeft -= 1
        s.pointee.retriesDone += 1
        stats.add(stats.backend(backend), .retries)
        stats.add(stats.server(backend, Int(s.pointee.server)), .retries)
    }

    /// After `countRetry`: whether this retry goes to another server, as
    /// HAProxy decides with `option redispatch [N]`: unless `force-persist`
    /// holds the request, when the server is no longer usable, on every Nth
    /// retry (N > 0) or the -Nth before the last (N < 0; the last one by
    /// default), or at once when the request is not held by a cookie and
    /// round robin has another active server to offer.
    mutating func shouldRedispatch(_ slot: UInt32, backend: Int) -> Bool {
        let s = sessions.pointer(slot)
        guard backends[backend].redispatch, !forbidsRedispatch(slot) else { return false }
        let server = Int(s.pointee.server)
        if server >= 0 && !backends[backend].balancer.servers[server].isUsable { return true }
        let done = Int(s.pointee.retriesDone)
        let interval = backends[backend].redispatchInterval
        if interval > 0 && done % interval == 0 { return true }
        if interval < 0 {
            let period = backends[backend].retries + 1 + interval
            if period > 0 && done % period == 0 { return true }
        }
        if backends[backend].balancesRoundRobin && !s.pointee.exchange.cookie.direct {
            var active = 0
            for candidate in backends[backend].balancer.servers where candidate.isCandidate && !candidate.isBackup {
                active += 1
            }
            if active > 1 { return true }
        }
        return false
    }

    /// Sends the session to another server than the one that failed it
    /// (`wredis`, the `+` of `%rc`).
    mutating func redispatch(_ slot: UInt32, backend: Int, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let failed = Int(s.pointee.server)
        stats.add(stats.backend(backend), .redispatches)
        stats.add(stats.server(backend, failed), .redispatches)
        if s.pointee.countedOnServer {
            releaseServer(backend: backend, server: failed)
            s.pointee.countedOnServer = false
        }
        s.pointee.redispatched = true
        s.pointee.phase = .retryWait
        assignServer(slot, excluding: failed, loop: &loop)
    }

    /// `timeout http-request` or `timeout http-keep-alive` passed: a request
    /// begun (or the first one awaited) gets a 408; an idle keep-alive
    /// connection just closes.
    mutating func requestTimedOut(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        // `option http-ignore-probes`: a browser's pre-connect that never
        // sent a byte goes without a 408, a log line or an error count.
        if !s.pointee.exchange.started && s.pointee.exchange.served == 0 && frontends[Int(s.pointee.frontend)].ignoreProbes {
            close(slot, cause: "-", loop: &loop)
            return
        }
        if s.pointee.exchange.started || s.pointee.exchange.served == 0 {
            reply(slot, status: 408, cause: "c", phase: "R", loop: &loop)
        } else {
            close(slot, cause: "-", loop: &loop)
        }
    }

    /// The queue, connect or retry deadline passed.
    mutating func phaseTimedOut(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        switch s.pointee.phase {
        case .queued:
            fail(slot, cause: "s", phase: "Q", loop: &loop)
        case .httpHead:
            requestTimedOut(slot, loop: &loop)
        case .retryWait:
            connect(slot, loop: &loop)
        case .connecting:
            if s.pointee.serverHandshaking { logServerConnectionError(slot, reason: "Timeout during SSL handshake") }
            connectFailed(slot, error: nil, loop: &loop)
        case .inspecting:
            // The deadline stays passed, so that every stage left decides now.
            s.pointee.phaseExpiry = loop.now
            analyseTCPContent(slot, loop: &loop)
        default:
            rearm(slot, loop: &loop)
        }
    }

    // MARK: - Backend queue

    mutating func enqueue(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        s.pointee.phase = .queued
        if s.pointee.queuedAt < 0 { s.pointee.queuedAt = loop.now }
        s.pointee.phaseExpiry = backends[backend].queueTimeout.map { s.pointee.queuedAt + Int64($0) } ?? .max
        s.pointee.queuePrev = backends[backend].queueTail
        s.pointee.queueNext = -1
        if backends[backend].queueTail >= 0 {
            sessions.pointer(UInt32(backends[backend].queueTail)).pointee.queueNext = Int32(slot)
        } else {
            backends[backend].queueHead = Int32(slot)
        }
        backends[backend].queueTail = Int32(slot)
        backends[backend].queueLength += 1
        s.pointee.inQueue = true
        countQueue(backend: backend, server: Int(s.pointee.queuedServer), by: 1)
        rearm(slot, loop: &loop)
        if !queuePollArmed {
            queuePollArmed = true
            loop.schedule(Token(kind: TokenKind.queuePoll.rawValue, slot: 0), at: loop.now + Worker.queuePollInterval)
        }
    }

    mutating func dequeue(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let prev = s.pointee.queuePrev
        let next = s.pointee.queueNext
        if prev >= 0 { sessions.pointer(UInt32(prev)).pointee.queueNext = next } else { backends[backend].queueHead = next }
        if next >= 0 { sessions.pointer(UInt32(next)).pointee.queuePrev = prev } else { backends[backend].queueTail = prev }
        s.pointee.queuePrev = -1
        s.pointee.queueNext = -1
        s.pointee.inQueue = false
        s.pointee.phaseExpiry = .max
        backends[backend].queueLength -= 1
        countQueue(backend: backend, server: Int(s.pointee.queuedServer), by: -1)
        s.pointee.queuedServer = -1
    }

    /// A server slot freed up: hand it to the sessions waiting longest.
    mutating func processQueue(backend: Int, loop: inout EventLoop) {
        while backends[backend].queueHead >= 0 {
            let slot = UInt32(backends[backend].queueHead)
            dequeue(slot)
            let before = backends[backend].queueLength
            assignServer(slot, loop: &loop)
            // Still full: it went back to the tail; put it first again and stop.
            if backends[backend].queueLength > before {
                let bound = sessions.pointer(slot).pointee.queuedServer
                dequeue(slot)
                requeueAtHead(slot, bound: bound)
                break
            }
        }
    }

    private mutating func requeueAtHead(_ slot: UInt32, bound: Int32) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let head = backends[backend].queueHead
        s.pointee.queuePrev = -1
        s.pointee.queueNext = head
        if head >= 0 { sessions.pointer(UInt32(head)).pointee.queuePrev = Int32(slot) } else { backends[backend].queueTail = Int32(slot) }
        backends[backend].queueHead = Int32(slot)
        backends[backend].queueLength += 1
        s.pointee.queuedServer = bound
        countQueue(backend: backend, server: Int(bound), by: 1)
        s.pointee.inQueue = true
        s.pointee.phaseExpiry = backends[backend].queueTimeout.map { s.pointee.queuedAt + Int64($0) } ?? .max
    }
}
