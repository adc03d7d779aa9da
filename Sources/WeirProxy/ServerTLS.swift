import Glibc
import WeirConfig
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// The server name an exchange sends (`server … sni EXPR`): evaluated at
/// its first connect, while the rules engine holds the request, and kept
/// for its retries and redispatches to servers with the same expression.
struct ServerNameChoice {
    var backend: Int32
    /// The expression's group (`CompiledRuleSet.serverSNIGroups`).
    var group: Int
    var name: String?
}

extension Worker {
    // MARK: - Handshake

    /// The TCP connection to a `server … ssl` is up: its TLS handshake
    /// starts, in the `connecting` phase, so `timeout connect` bounds both.
    mutating func startServerHandshake(_ slot: UInt32, context: TLSServerContext, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let name = serverName(slot)
        if rules.compiled.serverSNIByRequest[Int(s.pointee.backend)][Int(s.pointee.server)] {
            s.pointee.connectionSNI = Self.sniHash(name)
        }
        guard let ssl = context.connection(fd: s.pointee.serverFD, serverName: name) else {
            serverHandshakeFailed(slot, reason: "SSL handshake failure (out of memory)", loop: &loop)
            return
        }
        s.pointee.serverTLS = ssl
        s.pointee.serverHandshaking = true
        continueServerHandshake(slot, loop: &loop)
    }

    /// Moves the server side's handshake on after an event on the server
    /// connection; once done, the connection counts as established.
    mutating func continueServerHandshake(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        guard let ssl = s.pointee.serverTLS else { return }
        switch TLSConnection.connect(ssl) {
        case .done:
            s.pointee.serverHandshaking = false
            if options.debug {
                let backend = Int(s.pointee.backend)
                Notice.debug("server TLS handshake with \(backends[backend].name)/"
                             + "\(backends[backend].servers[Int(s.pointee.server)].name) done"
                             + (TLSConnection.resumed(ssl) ? " (session resumed)" : ""))
            }
            connectSucceeded(slot, loop: &loop)
        case .wantRead, .wantWrite:
            rearm(slot, loop: &loop)
        case .closed:
            serverHandshakeFailed(slot, reason: "Connection closed during SSL handshake", loop: &loop)
        case .failed(let reason):
            serverHandshakeFailed(slot, reason: "SSL handshake failure (\(reason))", loop: &loop)
        }
    }

    /// A failed handshake or verification is a failed connect, as in
    /// HAProxy: retried per `retries`, then `SC` (a 503 in mode http). The
    /// reason goes to the log first, on a line of its own.
    private mutating func serverHandshakeFailed(_ slot: UInt32, reason: String, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        logServerConnectionError(slot, reason: reason)
        backends[Int(s.pointee.backend)].serverTLS[Int(s.pointee.server)]?.forgetSession()
        connectFailed(slot, error: Errno(EPROTO), loop: &loop)
    }

    /// `%ci:%cp [%t] %ft %b/%s: REASON`, the line HAProxy writes for a
    /// connection error, naming the server.
    mutating func logServerConnectionError(_ slot: UInt32, reason: String) {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        let backend = Int(s.pointee.backend)
        let server = Int(s.pointee.server)
        if options.debug {
            Notice.debug("connect to \(backends[backend].name)/\(backends[backend].servers[server].name): \(reason)")
        }
        guard !frontends[frontend].logTargets.isEmpty else { return }
        appendConnectionErrorPrefix(slot, wallMilliseconds: Clock.wallMilliseconds())
        logger.line.append(s.pointee.tls == nil ? frontends[frontend].nameBytes : frontends[frontend].tlsNameBytes)
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(backends[backend].nameBytes)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(backends[backend].servers[server].nameBytes)
        logger.line.append(ascii: ": ")
        logger.line.append(Array(reason.utf8))
        logger.emit(level: .info, to: frontends[frontend].logTargets)
    }

    // MARK: - Server name

    /// The SNI towards the session's server: its `sni` expression's value
    /// (nil without one, or when it has none). An expression over the
    /// request is only evaluated while the rules engine still holds it;
    /// later attempts of the exchange reuse what it gave.
    mutating func serverName(_ slot: UInt32) -> String? {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        let server = Int(s.pointee.server)
        guard let sample = rules.compiled.serverSNI[backend][server] else { return nil }
        let group = rules.compiled.serverSNIGroups[backend][server]
        if let kept = serverNames[slot], kept.backend == Int32(backend), kept.group == group { return kept.name }
        if !(rules.kind == .request && rules.input.slot == slot) { rules.beginConnection(sampleInput(slot)) }
        let mark = rules.scratch.mark
        defer { rules.scratch.rewind(to: mark) }
        var name: String?
        if let bytes = rules.bytes(of: rules.sampleValue(sample)), !bytes.isEmpty, bytes.count <= 255 {
            name = String(decoding: bytes, as: UTF8.self)
        }
        serverNames[slot] = ServerNameChoice(backend: Int32(backend), group: group, name: name)
        return name
    }

    /// Whether the server connection the session keeps may carry its new
    /// exchange: always, unless it was made with an SNI taken from a request
    /// and this exchange's differs.
    mutating func keptConnectionFits(_ slot: UInt32) -> Bool {
        let made = sessions.pointer(slot).pointee.connectionSNI
        guard made != 0 else { return true }
        return Self.sniHash(serverName(slot)) == made
    }

    /// FNV-1a of a name taken from a request, never 0 (1: no name), to
    /// tell connections' SNIs apart.
    static func sniHash(_ name: String?) -> UInt64 {
        guard let name else { return 1 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash <= 1 ? 2 : hash
    }

    // MARK: - Closing

    /// Closes the server connection's socket and frees its TLS side.
    /// `reset`: with a RST (connections carrying no request).
    mutating func closeServerSocket(_ slot: UInt32, reset: Bool = false) {
        let s = sessions.pointer(slot)
        if let tls = s.pointee.serverTLS {
            TLSConnection.free(tls)
            s.pointee.serverTLS = nil
        }
        s.pointee.serverHandshaking = false
        guard s.pointee.serverFD >= 0 else { return }
        if reset || serverNoLinger(slot) { Posix.closeWithReset(s.pointee.serverFD) } else { Posix.close(s.pointee.serverFD) }
        s.pointee.serverFD = -1
    }

    /// `option nolinger` in the backend of the session's server connection.
    func serverNoLinger(_ slot: UInt32) -> Bool {
        let backend = Int(sessions.pointer(slot).pointee.connectionBackend)
        return backend >= 0 && backends[backend].noLinger
    }
}
