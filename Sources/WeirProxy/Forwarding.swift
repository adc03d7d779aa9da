import WeirLoop
import WeirSystem
import WeirTLS

/// What one pass of `pump` saw.
struct PumpStatus {
    var sourceActive = false
    var sinkActive = false
    var sourceError: Errno?
    var sinkError: Errno?
}

extension Worker {
    // MARK: - Events

    mutating func clientEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        let slot = token.slot
        guard sessions.matches(slot, generation: token.generation) else { return }
        let s = sessions.pointer(slot)
        if events & (Epoll.readable | Epoll.peerClosed | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toServer.sourceReadable = true
        }
        if events & (Epoll.peerClosed | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toServer.sourceHungUp = true
        }
        if events & (Epoll.writable | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toClient.sinkWritable = true
        }
        service(slot, loop: &loop)
    }

    mutating func serverEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        let slot = token.slot
        guard sessions.matches(slot, generation: token.generation) else { return }
        let s = sessions.pointer(slot)
        if events & (Epoll.readable | Epoll.peerClosed | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toClient.sourceReadable = true
        }
        if events & (Epoll.peerClosed | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toClient.sourceHungUp = true
        }
        if events & (Epoll.writable | Epoll.hangup | Epoll.error) != 0 {
            s.pointee.toServer.sinkWritable = true
        }
        if s.pointee.phase == .connecting {
            connectingServerEvent(token, events: events, loop: &loop)
            return
        }
        service(slot, loop: &loop)
    }

    /// `serverEvent` while the server connection is being established (or
    /// its TLS handshake made). Out of line: most server events are not.
    @inline(never)
    private mutating func connectingServerEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        let slot = token.slot
        let s = sessions.pointer(slot)
        if s.pointee.serverHandshaking {
            continueServerHandshake(slot, loop: &loop)
        } else {
            guard events & (Epoll.writable | Epoll.hangup | Epoll.error) != 0 else { return }
            if let error = Posix.socketError(s.pointee.serverFD) {
                connectFailed(slot, error: error, loop: &loop)
                serviceHTTPReply(token, loop: &loop)
                return
            }
            connectSucceeded(slot, loop: &loop)
        }
        // Still handshaking, retrying, answered (503) or closed.
        guard sessions.matches(slot, generation: token.generation) else { return }
        if s.pointee.phase != .connected {
            serviceHTTPReply(token, loop: &loop)
            return
        }
        if !s.pointee.isHTTP { return }
        service(slot, loop: &loop)
    }

    /// `option abortonclose`: the session waits for its server (queued,
    /// connecting or about to retry) in a backend that drops it once the
    /// client has closed.
    func abortsOnClose(_ slot: UInt32) -> Bool {
        let s = sessions.pointer(slot)
        switch s.pointee.phase {
        case .queued, .connecting, .retryWait:
            return s.pointee.backend >= 0 && backends[Int(s.pointee.backend)].abortOnClose
        default:
            return false
        }
    }

    /// Moves whatever can move for this session, then decides whether it ends.
    @inline(__always)
    mutating func service(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        loop.coalescing.countBusy(&s.pointee.busyStamp)
        // An HTTP exchange, the common case, goes straight to its loop.
        if s.pointee.isHTTP && !s.pointee.isTunnel && !s.pointee.handshaking && s.pointee.phase != .lingering {
            httpService(slot, loop: &loop)
            return
        }
        serviceOutsideHTTPLoop(slot, loop: &loop)
    }

    /// `service` for a TLS handshake, a `mode tcp` session or tunnel, a
    /// lingering close, content inspection, or a session waiting for its server.
    private mutating func serviceOutsideHTTPLoop(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if s.pointee.handshaking {
            if s.pointee.awaitingProxyHeader {
                receiveProxyHeader(slot, loop: &loop)
            } else {
                continueHandshake(slot, loop: &loop)
            }
            return
        }
        switch s.pointee.phase {
        case .connected:
            forward(slot, loop: &loop)
        case .lingering:
            drainLingeringClient(slot, loop: &loop)
        case .httpHead, .httpReply:
            httpService(slot, loop: &loop)
        case .inspecting:
            inspectContent(slot, loop: &loop)
        case .queued, .retryWait, .connecting:
            // Read ahead from the client while the server side is not ready.
            let status = pump(&s.pointee.toServer, from: s.pointee.clientFD, to: -1, sinkReady: false,
                              sourceTLS: s.pointee.tls)
            if let error = status.sourceError {
                _ = error
                close(slot, cause: "C", loop: &loop)
                return
            }
            if s.pointee.toServer.sourceEOF && abortsOnClose(slot) {
                close(slot, cause: "C", loop: &loop)
                return
            }
            if status.sourceActive { touchClient(slot, now: loop.now) }
            rearm(slot, loop: &loop)
        }
    }

    /// After a failure outside the HTTP loop (a timer, a refused connect)
    /// turned into an answer from the proxy, sends it.
    private mutating func serviceHTTPReply(_ token: Token, loop: inout EventLoop) {
        guard sessions.matches(token.slot, generation: token.generation) else { return }
        if sessions.pointer(token.slot).pointee.phase == .httpReply { httpService(token.slot, loop: &loop) }
    }

    /// Both directions of a connected session.
    private mutating func forward(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let clientFD = s.pointee.clientFD
        let serverFD = s.pointee.serverFD
        let tls = s.pointee.tls
        let serverTLS = s.pointee.serverTLS
        let received = s.pointee.toServer.bytes &+ s.pointee.toClient.bytes
        let up = pump(&s.pointee.toServer, from: clientFD, to: serverFD, sinkReady: true, sourceTLS: tls,
                      sinkTLS: serverTLS)
        let down = pump(&s.pointee.toClient, from: serverFD, to: clientFD, sinkReady: true, sourceTLS: serverTLS,
                        sinkTLS: tls)
        loop.coalescing.countBytes(Int(truncatingIfNeeded: s.pointee.toServer.bytes &+ s.pointee.toClient.bytes &- received))
        if up.sourceError != nil || down.sinkError != nil {
            close(slot, cause: "C", loop: &loop)
            return
        }
        if up.sinkError != nil || down.sourceError != nil {
            close(slot, cause: "S", loop: &loop)
            return
        }
        if s.pointee.toServer.isFinished && s.pointee.toClient.isFinished {
            close(slot, cause: "-", loop: &loop)
            return
        }
        if up.sourceActive || down.sinkActive { touchClient(slot, now: loop.now) }
        if up.sinkActive || down.sourceActive { touchServer(slot, now: loop.now) }
        rearm(slot, loop: &loop)
    }

    /// Moves bytes from `source` to `sink` through the direction's buffer until
    /// neither side can make progress. A buffer is held only while it holds bytes.
    @inline(__always)
    /// `sourceTLS`/`sinkTLS`: that side is a TLS connection, read and written
    /// through OpenSSL (which may hold decrypted bytes the socket no longer
    /// has, so only EAGAIN ends its reads).
    mutating func pump(_ d: inout Direction, from source: Int32, to sink: Int32, sinkReady: Bool,
                       sourceTLS: OpaquePointer? = nil, sinkTLS: OpaquePointer? = nil) -> PumpStatus {
        var status = PumpStatus()
        while true {
            var progressed = false
            if d.sourceReadable && !d.sourceEOF && d.tail < bufferSize {
                if d.buffer < 0 {
                    // Out of buffers: leave the bytes in the kernel until one frees up.
                    guard let id = buffers.acquire() else { break }
                    d.buffer = id
                }
                let space = bufferSize - d.tail
                do {
                    let into = buffers.pointer(d.buffer) + d.tail
                    let result = if let sourceTLS { try TLSConnection.read(sourceTLS, into: into, count: space) }
                        else { try Posix.receive(source, into: into, count: space) }
                    switch result {
                    case .processed(0):
                        d.sourceEOF = true
                        status.sourceActive = true
                        progressed = true
                    case .processed(let n):
                        d.tail += n
                        d.bytes += Int64(n)
                        status.sourceActive = true
                        progressed = true
                        // A short read emptied the socket and edge-triggered epoll
                        // reports new data, but not a FIN that came with this edge.
                        if n < space && !d.sourceHungUp && sourceTLS == nil { d.sourceReadable = false }
                    case .wouldBlock:
                        d.sourceReadable = false
                    }
                } catch {
                    status.sourceError = error
                    break
                }
            }
            if sinkReady && d.sinkWritable && d.head < d.tail {
                let count = d.tail - d.head
                do {
                    let from = UnsafeRawPointer(buffers.pointer(d.buffer) + d.head)
                    let result = if let sinkTLS { try TLSConnection.write(sinkTLS, from: from, count: count) }
                        else { try Posix.send(sink, from: from, count: count) }
                    switch result {
                    case .processed(let n):
                        d.head += n
                        status.sinkActive = true
                        progressed = true
                        if d.head == d.tail {
                            d.head = 0
                            d.tail = 0
                        } else {
                            d.sinkWritable = false
                        }
                    case .wouldBlock:
                        d.sinkWritable = false
                    }
                } catch {
                    status.sinkError = error
                    break
                }
            }
            if d.tail == bufferSize && d.head > 0 {
                // Full at the end but drained at the start: slide the rest down.
                let base = buffers.pointer(d.buffer)
                (base).copyMemory(from: base + d.head, byteCount: d.tail - d.head)
                d.tail -= d.head
                d.head = 0
                progressed = true
            }
            if !progressed { break }
        }
        if d.buffer >= 0 && d.head == d.tail {
            buffers.release(d.buffer)
            d.buffer = -1
            d.head = 0
            d.tail = 0
        }
        if sinkReady && d.sourceEOF && d.head == d.tail && !d.sinkShut && status.sinkError == nil {
            if let sinkTLS { TLSConnection.shutdown(sinkTLS) }
            Posix.shutdownWrite(sink)
            d.sinkShut = true
            status.sinkActive = true
        }
        return status
    }

    // MARK: - Timeouts

    /// Client-side inactivity deadline after client I/O: `timeout client`, or
    /// `timeout client-fin` once a direction is shut, or `timeout tunnel` once connected.
    mutating func touchClient(_ slot: UInt32, now: Int64) {
        // Fields are read one by one: copying a whole runtime struct would
        // retain and release every array and string in it.
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        var timeout = frontends[frontend].clientTimeout
        if s.pointee.phase == .connected, s.pointee.backend >= 0,
           let tunnel = backends[Int(s.pointee.backend)].tunnelTimeout {
            timeout = tunnel
        }
        if rules.compiled.setsTimeouts && s.pointee.isTunnel, let tunnel = rules.sessions.timeout(slot, tunnel: true) {
            timeout = tunnel
        }
        if s.pointee.toServer.sourceEOF || s.pointee.toClient.sinkShut, let fin = frontends[frontend].clientFinTimeout {
            timeout = fin
        }
        s.pointee.clientExpiry = timeout.map { now + Int64($0) } ?? .max
    }

    /// Server-side inactivity deadline after server I/O: `timeout server`,
    /// `timeout server-fin` once a direction is shut, or `timeout tunnel`.
    mutating func touchServer(_ slot: UInt32, now: Int64) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        var timeout = backends[backend].tunnelTimeout ?? backends[backend].serverTimeout
        if rules.compiled.setsTimeouts && s.pointee.isHTTP,
           let chosen = rules.sessions.timeout(slot, tunnel: s.pointee.isTunnel) {
            timeout = chosen
        }
        if s.pointee.toClient.sourceEOF || s.pointee.toServer.sinkShut, let fin = backends[backend].serverFinTimeout {
            timeout = fin
        }
        s.pointee.serverExpiry = timeout.map { now + Int64($0) } ?? .max
    }

    /// Pushes a timer only when the session's earliest deadline moved earlier
    /// than the one already queued; later moves are picked up when it fires.
    @inline(__always)
    mutating func rearm(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let deadline = s.pointee.nextDeadline
        if deadline < s.pointee.scheduled {
            s.pointee.scheduled = deadline
            loop.schedule(Token(kind: TokenKind.client.rawValue, slot: slot, generation: sessions.generation(slot)),
                          at: deadline)
        }
    }

    mutating func sessionTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        let slot = token.slot
        guard sessions.matches(slot, generation: token.generation) else { return }
        let s = sessions.pointer(slot)
        if deadline == s.pointee.scheduled { s.pointee.scheduled = .max }
        let now = loop.now
        if s.pointee.phaseExpiry <= now && s.pointee.handshaking {
            handshakeFailed(slot, reason: s.pointee.awaitingProxyHeader ? ProxyProtocol.Failure.timeout.reason
                                : "Timeout during SSL handshake", loop: &loop)
        } else if s.pointee.phaseExpiry <= now {
            s.pointee.phaseExpiry = .max
            phaseTimedOut(slot, loop: &loop)
            serviceHTTPReply(token, loop: &loop)
        } else if s.pointee.clientExpiry <= now {
            close(slot, cause: "c", loop: &loop)
        } else if s.pointee.serverExpiry <= now {
            if s.pointee.isHTTP && !s.pointee.isTunnel && s.pointee.exchange.response == .head
                && s.pointee.exchange.responseBytes == 0 {
                s.pointee.serverExpiry = .max
                guard observeAttempt(slot, .responseTimeout, loop: &loop) else { return }
                if !retryRequest(slot, after: .responseTimeout, loop: &loop) {
                    reply(slot, status: 504, cause: "s", phase: "H", loop: &loop)
                }
                httpService(slot, loop: &loop)
                return
            }
            close(slot, cause: "s", loop: &loop)
        } else {
            rearm(slot, loop: &loop)
        }
    }

    // MARK: - Closing

    /// Ends a session: closes both sides, frees its buffers and server slot,
    /// logs it, and frees its slab slot. `cause` is HAProxy's first
    /// termination letter (`-` normal, `C`/`S` client/server abort, `c`/`s`
    /// timeouts, `P` proxy, `R` resource); `phase` the second, when it is not
    /// the session's current phase.
    mutating func close(_ slot: UInt32, cause: Character, phase: Character? = nil, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if cause != "-" {
            s.pointee.terminationCause = cause.asciiValue!
            s.pointee.terminationPhase = phase?.asciiValue ?? s.pointee.phaseLetter
        }
        if s.pointee.inQueue { dequeue(slot) }
        // A server connection kept idle for this client's next request
        // outlives the client: it goes to the pool.
        if s.pointee.isHTTP && !s.pointee.isTunnel { releaseServerConnection(slot, loop: &loop) }
        if s.pointee.serverFD >= 0 {
            // Its TLS side is freed after the log line, which may name its protocol.
            if serverNoLinger(slot) { Posix.closeWithReset(s.pointee.serverFD) } else { Posix.close(s.pointee.serverFD) }
            s.pointee.serverFD = -1
        }
        // close_notify, best effort, when the session ends normally.
        if let tls = s.pointee.tls, cause == "-" && !s.pointee.handshaking && !s.pointee.toClient.sinkShut {
            TLSConnection.shutdown(tls)
        }
        // An aborted client gets a reset, as HAProxy does, so it sees the error;
        // not a failed handshake, whose alert must reach the client first.
        // `option nolinger` resets every close.
        if ((cause == "C" || cause == "S" || cause == "s" || cause == "c") && !s.pointee.handshaking)
            || frontends[Int(s.pointee.frontend)].noLinger {
            Posix.closeWithReset(s.pointee.clientFD)
        } else {
            Posix.close(s.pointee.clientFD)
        }
        releaseBuffers(&s.pointee.toServer)
        releaseBuffers(&s.pointee.toClient)
        if !longAnswers.isEmpty { longAnswers[slot] = nil }
        if !serverNames.isEmpty { serverNames[slot] = nil }
        if !upgradedBackends.isEmpty { upgradedBackends[slot] = nil }
        if options.debug { debugLine(slot, "close") }
        let frontend = Int(s.pointee.frontend)
        if s.pointee.handshaking {
            // Logged by `handshakeFailed`: no session to account for.
        } else if s.pointee.isHTTP {
            if s.pointee.exchange.started { recordExchange(slot, now: loop.now) }
            if frontends[frontend].httpLog && s.pointee.exchange.started { logExchange(slot, now: loop.now) }
            if s.pointee.exchange.requestLine >= 0 { lineBuffers.release(s.pointee.exchange.requestLine) }
        } else {
            recordSession(slot, now: loop.now)
            if frontends[frontend].tcpLog { logSession(slot, now: loop.now) }
        }
        endStickSession(slot)
        // Freed after the log line, which may name its protocol and cipher.
        if let tls = s.pointee.tls {
            TLSConnection.free(tls)
            s.pointee.tls = nil
        }
        closeServerSocket(slot)
        frontends[frontend].current -= 1
        if s.pointee.listener >= 0 { listeners[Int(s.pointee.listener)].current -= 1 }
        stats.close(stats.frontend(frontend))
        let backend = Int(s.pointee.backend)
        let releasedServer = s.pointee.countedOnServer
        if releasedServer { releaseServer(backend: backend, server: Int(s.pointee.server)) }
        if backend >= 0 {
            backends[backend].current -= 1
            stats.close(stats.backend(backend))
        }
        if s.pointee.hasProxiedDestination { proxiedDestinations[slot] = nil }
        sessions.remove(slot)
        if releasedServer { processQueue(backend: backend, loop: &loop) }
        updateListeners(loop: &loop)
    }
}
