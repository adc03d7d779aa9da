import Glibc
import WeirConfig
import WeirLoop
import WeirSystem
import WeirTLS

extension Worker {
    // MARK: - Receiving (`accept-proxy`, `expect-proxy`)

    /// Reads the PROXY protocol header a connection must start with. The
    /// bytes are peeked into the session's buffer and only the header is
    /// taken off the socket, so what follows (a TLS ClientHello, a request)
    /// is read as if the connection had just been accepted. A header split
    /// over several reads is waited for, within the handshake deadline.
    mutating func receiveProxyHeader(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if s.pointee.toServer.buffer < 0 {
            guard let buffer = buffers.acquire() else {
                close(slot, cause: "R", loop: &loop)
                return
            }
            s.pointee.toServer.buffer = buffer
        }
        let base = buffers.pointer(s.pointee.toServer.buffer)
        let fd = s.pointee.clientFD
        let peeked: IOResult
        do { peeked = try Posix.peek(fd, into: base, count: bufferSize) } catch {
            proxyHeaderFailed(slot, .aborted, loop: &loop)
            return
        }
        guard case .processed(let count) = peeked else {
            rearm(slot, loop: &loop)
            return
        }
        guard count > 0 else {
            proxyHeaderFailed(slot, .closed, loop: &loop)
            return
        }
        let header: ProxyProtocol.Header
        switch ProxyProtocol.parse(UnsafeRawBufferPointer(start: base, count: count), capacity: bufferSize) {
        case .needMore:
            // Peeked bytes stay queued: the next edge comes with new bytes or the end.
            if s.pointee.toServer.sourceHungUp {
                proxyHeaderFailed(slot, .truncated, loop: &loop)
            } else {
                rearm(slot, loop: &loop)
            }
            return
        case .failed(let failure):
            proxyHeaderFailed(slot, failure, loop: &loop)
            return
        case .header(let parsed):
            header = parsed
        }
        guard case .processed(let taken)? = try? Posix.receive(fd, into: base, count: header.length),
              taken == header.length else {
            proxyHeaderFailed(slot, .aborted, loop: &loop)
            return
        }
        // `fc_pp_unique_id`, kept only when a rule or log format reads it.
        if let id = header.uniqueID, rules.sessions.proxyUniqueIDCapacity > 0 {
            rules.sessions.setProxyUniqueID(slot, UnsafeRawBufferPointer(start: base + id.lowerBound, count: id.count))
        }
        buffers.release(s.pointee.toServer.buffer)
        s.pointee.toServer.buffer = -1
        if let source = header.source, let destination = header.destination {
            s.pointee.peer = PeerAddress(source)
            s.pointee.hasProxiedDestination = true
            proxiedDestinations[slot] = destination
        }
        s.pointee.awaitingProxyHeader = false
        if options.debug { debugLine(slot, "proxy") }
        if listeners[Int(s.pointee.listener)].tls != nil {
            // Still handshaking: the TLS handshake keeps the same deadline.
            startTransport(slot, loop: &loop)
            return
        }
        s.pointee.handshaking = false
        let frontend = Int(s.pointee.frontend)
        s.pointee.phaseExpiry = s.pointee.isHTTP
            ? frontends[frontend].httpRequestTimeout.map { loop.now + Int64($0) } ?? .max : .max
        s.pointee.toServer.sourceReadable = true
        startTransport(slot, loop: &loop)
    }

    /// Closes a connection whose header did not come right, with the line
    /// HAProxy logs for it (`handshakeFailed`).
    private mutating func proxyHeaderFailed(_ slot: UInt32, _ failure: ProxyProtocol.Failure, loop: inout EventLoop) {
        handshakeFailed(slot, reason: failure.reason, loop: &loop)
    }

    /// The destination the session's PROXY header carried, if any.
    @inline(__always)
    func proxiedDestination(_ slot: UInt32) -> SocketAddress? {
        guard sessions.pointer(slot).pointee.hasProxiedDestination else { return nil }
        return proxiedDestinations[slot]
    }

    /// The address the client connected to: the one its PROXY header
    /// carried, else the socket's own.
    func clientDestination(_ slot: UInt32) -> SocketAddress? {
        if let destination = proxiedDestination(slot) { return destination }
        return try? Posix.localAddress(sessions.pointer(slot).pointee.clientFD)
    }

    // MARK: - Sending (`send-proxy`, `send-proxy-v2`)

    /// Writes the session's PROXY header on its new server connection,
    /// before anything else (a TLS ClientHello included); the error when
    /// it could not be written whole.
    mutating func sendProxyHeader(_ slot: UInt32, version: ProxyHeaderVersion) -> Errno? {
        let s = sessions.pointer(slot)
        return withUnsafeTemporaryAllocation(byteCount: ProxyProtocol.maxEncodedLength, alignment: 8) { out -> Errno? in
            let count = encodeProxyHeader(slot, version, into: out)
            s.pointee.connectionProxyHeader = ProxyProtocol.fingerprint(UnsafeRawBufferPointer(rebasing: out[0..<count]))
            // A connection just made has an empty send buffer, far larger
            // than a header: it is taken whole or the connection is broken.
            do throws(Errno) {
                guard case .processed(let sent) = try Posix.send(s.pointee.serverFD, from: out.baseAddress!, count: count),
                      sent == count else { return .wouldBlock }
            } catch {
                return error
            }
            return nil
        }
    }

    /// The fingerprint of the header the session would send `version`
    /// (`ProxyProtocol.fingerprint`): which pooled connection it may reuse.
    mutating func proxyHeaderFingerprint(_ slot: UInt32, version: ProxyHeaderVersion) -> UInt64 {
        return withUnsafeTemporaryAllocation(byteCount: ProxyProtocol.maxEncodedLength, alignment: 8) { out in
            let count = encodeProxyHeader(slot, version, into: out)
            return ProxyProtocol.fingerprint(UnsafeRawBufferPointer(rebasing: out[0..<count]))
        }
    }

    /// The client's addresses as received (by `accept-proxy` too), and over
    /// TLS the ALPN protocol agreed, in a v2 TLV as HAProxy sends it.
    private func encodeProxyHeader(_ slot: UInt32, _ version: ProxyHeaderVersion,
                                   into out: UnsafeMutableRawBufferPointer) -> Int {
        let s = sessions.pointer(slot)
        let alpn = s.pointee.tls.map { TLSConnection.alpn($0) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        return ProxyProtocol.encode(version == .v2 ? .v2 : .v1, source: s.pointee.peer.socketAddress,
                                    destination: clientDestination(slot), alpn: alpn, into: out)
    }
}
