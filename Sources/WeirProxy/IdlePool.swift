import WeirConfig
import WeirLoop
import WeirSystem

/// A server connection between two exchanges, parked for reuse (`http-reuse`).
struct IdleConnection {
    var fd: Int32
    var backend: Int32
    var server: Int32
    var parkedAt: Int64
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
        let fd = s.pointee.serverFD
        let backend = Int(s.pointee.connectionBackend)
        let server = Int(s.pointee.connectionServer)
        s.pointee.serverFD = -1
        s.pointee.connectionBackend = -1
        s.pointee.connectionServer = -1
        s.pointee.serverExpiry = .max
        guard backends[backend].idleCounts[server] < Self.idlePerServer, !stopping else {
            Posix.close(fd)
            return
        }
        let head = backends[backend].idleHeads[server]
        let idleSlot = idle.insert(IdleConnection(fd: fd, backend: Int32(backend), server: Int32(server),
                                                  parkedAt: loop.now, next: head))
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
        loop.schedule(token, at: loop.now + Self.idlePurgeDelay)
    }

    /// Hands the most recently parked connection to `server` over to the
    /// session, or returns false when there is none.
    mutating func adoptIdleConnection(_ slot: UInt32, backend: Int, server: Int, loop: inout EventLoop) -> Bool {
        let head = backends[backend].idleHeads[server]
        guard head >= 0 else { return false }
        let fd = idle.pointer(UInt32(head)).pointee.fd
        unlinkIdle(UInt32(head))
        idle.remove(UInt32(head))
        let s = sessions.pointer(slot)
        s.pointee.serverFD = fd
        s.pointee.connectionBackend = Int32(backend)
        s.pointee.connectionServer = Int32(server)
        let token = Token(kind: TokenKind.server.rawValue, slot: slot, generation: sessions.generation(slot))
        do {
            try loop.modify(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered, token: token)
        } catch {
            Posix.close(fd)
            s.pointee.serverFD = -1
            s.pointee.connectionBackend = -1
            s.pointee.connectionServer = -1
            return false
        }
        return true
    }

    /// The server closed or wrote to an idle connection.
    mutating func idleEvent(_ token: Token) {
        guard idle.matches(token.slot, generation: token.generation) else { return }
        retireIdle(token.slot)
    }

    /// The purge delay of an idle connection passed.
    mutating func idleTimer(_ token: Token, now: Int64) {
        guard idle.matches(token.slot, generation: token.generation) else { return }
        retireIdle(token.slot)
    }

    /// Closes every idle connection (soft stop).
    mutating func closeIdleConnections() {
        for backend in backends.indices {
            for server in backends[backend].idleHeads.indices {
                while backends[backend].idleHeads[server] >= 0 {
                    retireIdle(UInt32(backends[backend].idleHeads[server]))
                }
            }
        }
    }

    private mutating func retireIdle(_ idleSlot: UInt32) {
        Posix.close(idle.pointer(idleSlot).pointee.fd)
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
