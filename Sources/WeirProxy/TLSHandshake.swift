import WeirLoop
import WeirSystem
import WeirTLS

extension Worker {
    /// Moves a session's TLS handshake on, after any event on its client
    /// side: OpenSSL's WANT_READ/WANT_WRITE just wait for the next edge.
    /// Once done, the session starts as a plain one would after its accept.
    mutating func continueHandshake(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        guard let tls = s.pointee.tls else { return }
        switch TLSConnection.handshake(tls) {
        case .done:
            s.pointee.handshaking = false
            // OpenSSL may already hold request bytes: read until it says EAGAIN.
            s.pointee.toServer.sourceReadable = true
            s.pointee.toClient.sinkWritable = true
            let frontend = Int(s.pointee.frontend)
            if s.pointee.isHTTP {
                s.pointee.phaseExpiry = frontends[frontend].httpRequestTimeout.map { loop.now + Int64($0) } ?? .max
            } else {
                s.pointee.phaseExpiry = .max
            }
            if options.debug { debugLine(slot, "handshake") }
            countHandshake(frontend, tls: tls)
            beginTraffic(slot, loop: &loop)
        case .wantRead, .wantWrite:
            rearm(slot, loop: &loop)
        case .closed:
            stats.add(stats.frontend(Int(s.pointee.frontend)), .sslFailedHandshakes)
            handshakeFailed(slot, reason: "Connection closed during SSL handshake", loop: &loop)
        case .failed(let reason):
            stats.add(stats.frontend(Int(s.pointee.frontend)), .sslFailedHandshakes)
            // A refused client certificate says so, as HAProxy does.
            let why = TLSConnection.verificationFailure(tls) ?? "SSL handshake failure (\(reason))"
            handshakeFailed(slot, reason: why, loop: &loop)
        }
    }

    /// HAProxy's `ssl` stats module: `ssl_sess`, `ssl_reused_sess`.
    private func countHandshake(_ frontend: Int, tls: OpaquePointer) {
        stats.add(stats.frontend(frontend), .sslSessions)
        if TLSConnection.sessionReused(tls) { stats.add(stats.frontend(frontend), .sslReusedSessions) }
    }

    /// Logs a handshake that did not complete the way HAProxy logs a
    /// connection error (`%ci:%cp [%t] %ft/%bind: reason`), then closes it.
    mutating func handshakeFailed(_ slot: UInt32, reason: String, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        stats.add(stats.frontend(frontend), .requestErrors)
        if !frontends[frontend].logTargets.isEmpty {
            appendConnectionErrorPrefix(slot, wallMilliseconds: s.pointee.acceptedWall)
            logger.line.append(frontends[frontend].nameBytes)
            logger.line.append(UInt8(ascii: "/"))
            let listener = Int(s.pointee.listener)
            logger.line.append(decimal: listener >= 0 ? listeners[listener].bind + 1 : 1)
            logger.line.append(ascii: ": ")
            logger.line.append(Array(reason.utf8))
            logger.emit(level: .info, to: frontends[frontend].logTargets)
        }
        if options.debug { debugLine(slot, "handshake failed: \(reason)") }
        close(slot, cause: "C", phase: "-", loop: &loop)
    }

    /// `%ci:%cp [%t] `: how a connection error line starts.
    mutating func appendConnectionErrorPrefix(_ slot: UInt32, wallMilliseconds: Int64) {
        var host = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let peer = sessions.pointer(slot).pointee.peer
        withUnsafeMutableBytes(of: &host) { raw in
            let text = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            let n = peer.formatHost(into: text)
            logger.line.append(UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
        }
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(decimal: Int(peer.port))
        logger.line.append(ascii: " [")
        logger.appendLogDate(wallMilliseconds: wallMilliseconds)
        logger.line.append(ascii: "] ")
    }
}
