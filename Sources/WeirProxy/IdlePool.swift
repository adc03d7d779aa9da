import WeirConfig
import WeirLoop
import WeirSystem
import WeirTLS

/// A server connection between two exchanges, parked for reuse (`http-reuse`).
struct IdleConnection {
    var fd: Int32
    /// Its TLS connection (`server … ssl`), nil when plain.
    var tls: OpaquePointer?
    var backend: Int32
    var server: Int32
    var parkedAt: Int64
    /// `send-proxy`: the fingerprint of the PROXY header it started with, 0 for none.
    var proxyHeader: UInt64
    /// The server's idle list, most recently parked first (slots, -1 at the ends).
    var next: Int32 = -1
    var prev: Int32 = -1
}

extension Worker {
    /// How long an idle server connection is kept (HAProxy's `pool-purge-delay`).
    static let idlePurgeDelay: Int64 = 5000
    /// Idle connections kept per server in one worker, beyond which a
    /// finished connection is closed instead of parked.
    static let idlePerServer: Int32 = 256

    /// Moves the session's server connection to its server's idle list, or
    /// closes it when the list is full.
    mutating func parkServerConnection(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.connectionBackend)
        let server = Int(s.pointee.connectionServer)
        s.pointee.connectionBackend = -1
        s.pointee.connectionServer = -1
        s.pointee.serverExpiry = .max
        // A connection whose SNI came from its request serves no other
        // request, nor one whose destination came from its client.
        guard backends[backend].idleCounts[server] < Self.idlePerServer, !stopping, s.pointee.connectionSNI == 0,
              !backends[backend].servers[server].followsClient else {
            closeServerSocket(slot, reset: true)
            return
        }
        let fd = s.pointee.serverFD
        let tls = s.pointee.serverTLS
        s.pointee.serverFD = -1
        s.pointee.serverTLS = nil
        let head = backends[backend].idleHeads[server]
        let idleSlot = idle.insert(IdleConnection(fd: fd, tls: tls, backend: Int32(backend), server: Int32(server),
                                                  parkedAt: loop.now, proxyHeader: s.pointee.connectionProxyHeader,
                                                  next: head))
        if head >= 0 { idle.pointer(UInt32(head)).pointee.prev = Int32(idleSlot) }
        backends[backend].idleHeads[server] = Int32(idleSlot)
        backends[backend].idleCounts[server] += 1
        let token = Token(kind: TokenKind.idle.rawValue, slot: idleSlot, generation: idle.generation(idleSlot))
        // Anything from an idle connection (a close, stray bytes) retires it.
        do {
            try loop.modify(fd, events: Epoll.readable | Epoll.peerClosed | Epoll.edgeTriggered, token: token)
        } catch {
            retireIdle(idleSlot)
            return
        }
        // One sweep timer for the whole pool, not one timer per parking:
        // connections come and go far more often than they expire.
        if idleSweepAt == .max {
            idleSweepAt = loop.now + Self.idlePurgeDelay
            loop.schedule(Token(kind: TokenKind.idleSweep.rawValue, slot: 0), at: idleSweepAt)
        }
    }

    /// Gives up the server connection a session kept from its last exchange:
    /// to the pool when it is idle and reusable, else closed. `betweenExchanges`:
    /// the caller knows no request was sent on it since (a new request is
    /// being assigned); otherwise the session must be waiting for a request.
    mutating func releaseServerConnection(_ slot: UInt32, betweenExchanges: Bool = false, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        guard s.pointee.serverFD >= 0 else { return }
        let backend = Int(s.pointee.connectionBackend)
        let idleBetweenExchanges = (betweenExchanges || s.pointee.phase == .httpHead) && backend >= 0
            && !s.pointee.toClient.sourceEOF && s.pointee.toClient.head == s.pointee.toClient.tail
        if idleBetweenExchanges && backends[backend].reuse != .never {
            if s.pointee.toClient.buffer >= 0 && s.pointee.toClient.prefix < 0 {
                buffers.release(s.pointee.toClient.buffer)
                s.pointee.toClient.buffer = -1
                s.pointee.toClient.head = 0
                s.pointee.toClient.limit = 0
                s.pointee.toClient.tail = 0
            }
            parkServerConnection(slot, loop: &loop)
        } else {
            detachServerConnection(slot)
        }
    }

    /// Hands the most recently parked connection to `server` over to the
    /// session, or returns false when there is none. With `send-proxy`, only
    /// a connection that started with the very header this session would
    /// send may serve it, as HAProxy 2.6 hashes the PROXY line into its
    /// connection key: in practice, the same client connection's.
    mutating func adoptIdleConnection(_ slot: UInt32, backend: Int, server: Int, loop: inout EventLoop) -> Bool {
        var entry = backends[backend].idleHeads[server]
        var proxyHeader: UInt64 = 0
        if entry >= 0, let version = backends[backend].servers[server].sendProxy {
            proxyHeader = proxyHeaderFingerprint(slot, version: version)
            while entry >= 0 && idle.pointer(UInt32(entry)).pointee.proxyHeader != proxyHeader {
                entry = idle.pointer(UInt32(entry)).pointee.next
            }
        }
        guard entry >= 0 else { return false }
        let fd = idle.pointer(UInt32(entry)).pointee.fd
        let tls = idle.pointer(UInt32(entry)).pointee.tls
        unlinkIdle(UInt32(entry))
        idle.remove(UInt32(entry))
        let s = sessions.pointer(slot)
        s.pointee.serverFD = fd
        s.pointee.serverTLS = tls
        s.pointee.connectionSNI = 0
        s.pointee.connectionProxyHeader = proxyHeader
        s.pointee.connectionBackend = Int32(backend)
        s.pointee.connectionServer = Int32(server)
        s.pointee.toClient.sourceReadable = false
        let token = Token(kind: TokenKind.server.rawValue, slot: slot, generation: sessions.generation(slot))
        do {
            try loop.modify(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered, token: token)
        } catch {
            closeServerSocket(slot)
            s.pointee.connectionBackend = -1
            s.pointee.connectionServer = -1
            return false
        }
        return true
    }

    /// The server closed or wrote to an idle connection. Over TLS, a record
    /// without data (a late session ticket) leaves it parked.
    mutating func idleEvent(_ token: Token) {
        guard idle.matches(token.slot, generation: token.generation) else { return }
        if let tls = idle.pointer(token.slot).pointee.tls {
            var byte: UInt8 = 0
            let result = try? TLSConnection.read(tls, into: &byte, count: 1)
            if case .wouldBlock? = result { return }
        }
        retireIdle(token.slot)
    }

    /// Retires the connections parked for the purge delay or longer, and
    /// schedules the next sweep for when the oldest remaining one expires.
    mutating func sweepIdleConnections(loop: inout EventLoop) {
        idleSweepAt = .max
        var oldest = Int64.max
        for backend in backends.indices {
            for server in backends[backend].idleHeads.indices {
                var entry = backends[backend].idleHeads[server]
                while entry >= 0 {
                    let next = idle.pointer(UInt32(entry)).pointee.next
                    let parkedAt = idle.pointer(UInt32(entry)).pointee.parkedAt
                    if parkedAt + Self.idlePurgeDelay <= loop.now {
                        retireIdle(UInt32(entry))
                    } else {
                        oldest = min(oldest, parkedAt)
                    }
                    entry = next
                }
            }
        }
        if oldest != .max {
            idleSweepAt = oldest + Self.idlePurgeDelay
            loop.schedule(Token(kind: TokenKind.idleSweep.rawValue, slot: 0), at: idleSweepAt)
        }
    }

    /// Closes the idle connections to one server (its address changed).
    mutating func retireIdleConnections(backend: Int, server: Int) {
        while backends[backend].idleHeads[server] >= 0 {
            retireIdle(UInt32(backends[backend].idleHeads[server]))
        }
    }

    /// Closes every idle connection (soft stop).
    mutating func closeIdleConnections() {
        for backend in backends.indices {
            for server in backends[backend].idleHeads.indices {
                retireIdleConnections(backend: backend, server: server)
            }
        }
    }

    /// Closes a pooled connection with a reset, as HAProxy does: it carries
    /// no request, and a FIN would leave it in TIME_WAIT on this side, where
    /// thousands per second would use up the ports towards the server.
    private mutating func retireIdle(_ idleSlot: UInt32) {
        if let tls = idle.pointer(idleSlot).pointee.tls { TLSConnection.free(tls) }
        Posix.closeWithReset(idle.pointer(idleSlot).pointee.fd)
        unlinkIdle(idleSlot)
        idle.remove(idleSlot)
    }

    private mutating func unlinkIdle(_ idleSlot: UInt32) {
        let entry = idle.pointer(idleSlot).pointee
        let backend = Int(entry.backend)
        let server = Int(entry.server)
        if entry.prev >= 0 {
            idle.pointer(UInt32(entry.prev)).pointee.next = entry.next
        } else {
            backends[backend].idleHeads[server] = entry.next
        }
        if entry.next >= 0 { idle.pointer(UInt32(entry.next)).pointee.prev = entry.prev }
        backends[backend].idleCounts[server] -= 1
    }
}
