import WeirHTTP
import WeirLoop
import WeirSystem
import WeirTLS

/// What a read or a write pass on one side did.
struct TransferStatus {
    var bytes = 0
    var endOfFile = false
    var error: Errno?

    var progressed: Bool { bytes > 0 || endOfFile }
}

extension Worker {
    // MARK: - Byte movement

    /// Reads what the source has into the direction's buffer, up to a full
    /// buffer, without sending anything: HTTP analyses before it forwards.
    /// `tls`: the source is a TLS connection (see `pump`).
    @inline(__always)
    mutating func fill(_ d: inout Direction, from fd: Int32, tls: OpaquePointer? = nil) -> TransferStatus {
        // The service loop asks often when there is nothing to read: that
        // answer costs no call.
        guard d.sourceReadable && !d.sourceEOF else {
            if d.buffer >= 0 && d.tail == 0 {
                buffers.release(d.buffer)
                d.buffer = -1
            }
            return TransferStatus()
        }
        return fillReadable(&d, from: fd, tls: tls)
    }

    // Offsets and counts here stay within one buffer: the arithmetic wraps
    // rather than checks for an overflow that cannot happen.
    private mutating func fillReadable(_ d: inout Direction, from fd: Int32, tls: OpaquePointer?) -> TransferStatus {
        var status = TransferStatus()
        while d.sourceReadable && !d.sourceEOF {
            if d.buffer < 0 {
                // Out of buffers: leave the bytes in the kernel until one frees up.
                guard let id = buffers.acquire() else { break }
                d.buffer = id
                d.head = 0
                d.limit = 0
                d.tail = 0
            }
            if d.tail == bufferSize {
                guard d.head > 0 else { break }
                // Making room moves the held request: it can no longer be replayed.
                if d.holdBody {
                    dropReplay(&d)
                    // All of it was sent: the buffer went back, take a fresh one.
                    if d.buffer < 0 { continue }
                }
                compact(&d)
            }
            let space = bufferSize &- d.tail
            do {
                let into = buffers.pointer(d.buffer) + d.tail
                let result = if let tls { try TLSConnection.read(tls, into: into, count: space) }
                    else { try Posix.receive(fd, into: into, count: space) }
                switch result {
                case .processed(0):
                    d.sourceEOF = true
                    status.endOfFile = true
                case .processed(let n):
                    d.tail &+= n
                    d.bytes &+= Int64(n)
                    status.bytes &+= n
                    // See `pump`: a FIN in the same edge gets no edge of its own.
                    if n < space && !d.sourceHungUp && tls == nil { d.sourceReadable = false }
                case .wouldBlock:
                    d.sourceReadable = false
                }
            } catch {
                status.error = error
                break
            }
        }
        if d.buffer >= 0 && d.tail == 0 {
            buffers.release(d.buffer)
            d.buffer = -1
        }
        return status
    }

    /// Slides the unsent bytes to the start of the buffer.
    private mutating func compact(_ d: inout Direction) {
        let base = buffers.pointer(d.buffer)
        base.copyMemory(from: base + d.head, byteCount: d.tail - d.head)
        d.limit -= d.head
        d.tail -= d.head
        d.head = 0
    }

    /// Sends the direction's prefix (a head built by the proxy), then the
    /// analysed bytes `head..<limit`, in one `sendmsg` when both are pending.
    /// `tls`: the sink is a TLS connection: the prefix and the bytes go in
    /// separate writes, the prefix first, so a retried write repeats its bytes.
    @inline(__always)
    mutating func flush(_ d: inout Direction, to fd: Int32, tls: OpaquePointer? = nil) -> TransferStatus {
        // As `fill`: nothing to send, or no room for it, costs no call.
        let pending = (d.prefix >= 0 ? d.prefixTail &- d.prefixHead : 0) &+ (d.buffer >= 0 ? d.limit &- d.head : 0)
        guard d.sinkWritable && pending > 0 else {
            releaseSent(&d)
            return TransferStatus()
        }
        return flushPending(&d, to: fd, tls: tls)
    }

    // As in `fillReadable`, the arithmetic wraps.
    private mutating func flushPending(_ d: inout Direction, to fd: Int32, tls: OpaquePointer?) -> TransferStatus {
        var status = TransferStatus()
        // The last read filled the buffer, so the source has more bytes
        // ready: the kernel may hold these to send them with those (one
        // segment instead of two), as HAProxy does with MSG_MORE. The
        // pass pushes them if no send follows (`pushCorked`).
        let more = d.sourceReadable && !d.sourceEOF && d.limit == d.tail
        sending: while d.sinkWritable {
            let prefixCount = d.prefix >= 0 ? d.prefixTail &- d.prefixHead : 0
            let bodyCount = d.buffer >= 0 ? d.limit &- d.head : 0
            if prefixCount == 0 && bodyCount == 0 { break }
            let result: IOResult
            do {
                if let tls {
                    if prefixCount > 0 {
                        result = try TLSConnection.write(tls, from: buffers.pointer(d.prefix) + d.prefixHead, count: prefixCount)
                        if case .processed(let n) = result {
                            status.bytes += n
                            d.prefixHead += n
                            if n < prefixCount { d.sinkWritable = false }
                            continue
                        }
                    } else {
                        result = try TLSConnection.write(tls, from: buffers.pointer(d.buffer) + d.head, count: bodyCount)
                    }
                } else if prefixCount > 0 && bodyCount > 0 {
                    result = try Posix.send(fd, UnsafeRawBufferPointer(start: buffers.pointer(d.prefix) + d.prefixHead, count: prefixCount),
                                            UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + d.head, count: bodyCount),
                                            more: more)
                    d.sinkCorked = more
                } else if prefixCount > 0 {
                    result = try Posix.send(fd, from: buffers.pointer(d.prefix) + d.prefixHead, count: prefixCount)
                    d.sinkCorked = false
                } else {
                    result = try Posix.send(fd, from: buffers.pointer(d.buffer) + d.head, count: bodyCount, more: more)
                    d.sinkCorked = more
                }
            } catch {
                status.error = error
                break
            }
            switch result {
            case .processed(let n):
                status.bytes &+= n
                let fromPrefix = min(n, prefixCount)
                d.prefixHead &+= fromPrefix
                d.head &+= n &- fromPrefix
                if n < prefixCount &+ bodyCount {
                    d.sinkWritable = false
                } else {
                    // All of it went: another pass would find nothing to send.
                    break sending
                }
            case .wouldBlock:
                d.sinkWritable = false
            }
        }
        releaseSent(&d)
        return status
    }

    /// Gives back the prefix once sent, and the buffer once empty.
    @inline(__always)
    mutating func releaseSent(_ d: inout Direction) {
        if d.prefix >= 0 && d.prefixHead == d.prefixTail && !d.holdPrefix {
            buffers.release(d.prefix)
            d.prefix = -1
            d.prefixHead = 0
            d.prefixTail = 0
        }
        if d.buffer >= 0 && d.head == d.tail && !d.holdBody {
            buffers.release(d.buffer)
            d.buffer = -1
            d.head = 0
            d.limit = 0
            d.tail = 0
        }
    }

    /// Stops holding a sent request for a replay and gives back what was
    /// held only for it.
    mutating func dropReplay(_ d: inout Direction) {
        guard d.holdPrefix || d.holdBody else { return }
        d.holdPrefix = false
        d.holdBody = false
        releaseSent(&d)
    }

    /// Nothing analysed is waiting to be sent this way.
    @inline(__always)
    func isFlushed(_ d: Direction) -> Bool {
        d.prefixHead == d.prefixTail && d.head == d.limit
    }

    // MARK: - The HTTP session

    /// Moves an HTTP session forward as far as it can: read, analyse, write,
    /// on both sides, until nothing changes.
    mutating func httpService(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        while true {
            var progressed = false

            // Client side in: read ahead, bounded by one buffer.
            let fromClient = fill(&s.pointee.toServer, from: s.pointee.clientFD, tls: s.pointee.tls)
            if fromClient.error != nil {
                // Bytes read before the error (a request, then a bad TLS
                // record or a reset) began an exchange: logged as CR.
                if fromClient.bytes > 0 { requestBegan(slot, now: loop.now) }
                abortExchange(slot, cause: "C", loop: &loop)
                return
            }
            if fromClient.progressed {
                progressed = true
                if s.pointee.phase != .httpHead { touchClient(slot, now: loop.now) }
            }

            // Request analysis.
            switch analyseRequest(slot, loop: &loop) {
            case .closed: return
            case .progressed: progressed = true
            case .idle: break
            }

            // Server side.
            if s.pointee.serverFD >= 0 {
                if s.pointee.phase == .connected {
                    let up = flush(&s.pointee.toServer, to: s.pointee.serverFD, tls: s.pointee.serverTLS)
                    if up.error != nil {
                        if serverFailed(slot, loop: &loop) { continue }
                        return
                    }
                    if up.progressed {
                        loop.coalescing.countBytes(up.bytes)
                        progressed = true
                        if s.pointee.exchange.requestSentAt < 0 { s.pointee.exchange.requestSentAt = loop.now }
                        touchServer(slot, now: loop.now)
                    }
                    let fromServer = fill(&s.pointee.toClient, from: s.pointee.serverFD, tls: s.pointee.serverTLS)
                    if fromServer.error != nil {
                        if serverFailed(slot, loop: &loop) { continue }
                        return
                    }
                    if fromServer.progressed {
                        progressed = true
                        touchServer(slot, now: loop.now)
                    }
                    switch analyseResponse(slot, loop: &loop) {
                    case .closed: return
                    case .progressed: progressed = true
                    case .idle: break
                    }
                } else if s.pointee.phase == .httpHead {
                    checkIdleServerConnection(slot)
                }
            }

            // Client side out.
            if !longAnswers.isEmpty { refillLongAnswer(slot) }
            let down = flush(&s.pointee.toClient, to: s.pointee.clientFD, tls: s.pointee.tls)
            if !longAnswers.isEmpty { refillLongAnswer(slot) }
            if down.error != nil {
                abortExchange(slot, cause: "C", loop: &loop)
                return
            }
            // The exchange ends once its response is out.
            let exchangeEnds = s.pointee.exchange.response == .complete && isFlushed(s.pointee.toClient)
                && (longAnswers.isEmpty || longAnswers[slot] == nil)
            if down.progressed {
                loop.coalescing.countBytes(down.bytes)
                progressed = true
                s.pointee.exchange.responseBytes += Int64(down.bytes)
                // An ending exchange sets the client's deadline itself.
                if s.pointee.phase != .httpHead && !exchangeEnds { touchClient(slot, now: loop.now) }
            }
            if exchangeEnds {
                if !finishExchange(slot, loop: &loop) { return }
                progressed = true
            }
            if s.pointee.exchange.response == .tunnel && isFlushed(s.pointee.toClient) && isFlushed(s.pointee.toServer) {
                // Both heads are out: from here on bytes flow as in mode tcp.
                s.pointee.isTunnel = true
                pushCorked(s)
                touchClient(slot, now: loop.now)
                touchServer(slot, now: loop.now)
                service(slot, loop: &loop)
                return
            }
            if !progressed { break }
            // Skip the pass that would find nothing to do.
            if longAnswers.isEmpty && !Worker.mayProgressAgain(s) { break }
        }
        if s.pointee.phase == .httpHead && s.pointee.toServer.sourceEOF {
            // The client closed between requests, or before finishing a head.
            if s.pointee.exchange.started {
                abortExchange(slot, cause: "C", loop: &loop)
            } else {
                close(slot, cause: "-", loop: &loop)
            }
            return
        }
        if s.pointee.toServer.sourceEOF && abortsOnClose(slot) {
            abortExchange(slot, cause: "C", loop: &loop)
            return
        }
        pushCorked(s)
        rearm(slot, loop: &loop)
    }

    /// Sends what a send with MSG_MORE left queued when the bytes it
    /// expected did not follow in the same pass.
    @inline(__always)
    private func pushCorked(_ s: UnsafeMutablePointer<Session>) {
        if s.pointee.toClient.sinkCorked { pushPending(&s.pointee.toClient, to: s.pointee.clientFD) }
        if s.pointee.toServer.sinkCorked { pushPending(&s.pointee.toServer, to: s.pointee.serverFD) }
    }

    @inline(never)
    private func pushPending(_ d: inout Direction, to fd: Int32) {
        d.sinkCorked = false
        if fd >= 0 { Posix.pushPending(fd) }
    }

    /// After a pass of `httpService` that progressed: whether another pass
    /// might do more. A pass's steps run in the order bytes flow (read,
    /// analyse, send; the client side's request, then the server's
    /// response), so most progress is taken up by the steps after it; this
    /// is true whenever a step's guard might hold again (long answers
    /// aside: the caller checks those). It errs towards true: the cost of
    /// a wrong true is one pass that finds nothing.
    @inline(__always)
    private static func mayProgressAgain(_ s: UnsafeMutablePointer<Session>) -> Bool {
        let response = s.pointee.exchange.response
        // Fields read through pointers, each only when needed.
        return mayMove(s.pointer(to: \.toServer)!, analysingEndOfFile: s.pointee.exchange.request == .body)
            || mayMove(s.pointer(to: \.toClient)!, analysingEndOfFile: response == .head || response == .body)
    }

    /// Whether `fill`, `flush` or the analysis of a direction's bytes might
    /// do anything: a read stopped before the socket was drained (a full
    /// buffer, or none free); an end of file the analysis has yet to see
    /// (`analysingEndOfFile`: a body or a response head is being read);
    /// bytes to send on a writable side; bytes not analysed yet (a
    /// pipelined request, the final response after an interim one); a
    /// buffer `fill` (empty) or `releaseSent` (sent, not held) gives back.
    @inline(__always)
    private static func mayMove(_ d: UnsafeMutablePointer<Direction>, analysingEndOfFile: Bool) -> Bool {
        if d.pointee.sourceReadable && !d.pointee.sourceEOF { return true }
        if d.pointee.sourceEOF && analysingEndOfFile { return true }
        let buffer = d.pointee.buffer, prefix = d.pointee.prefix
        // Nothing held: nothing to send, analyse or give back.
        if buffer < 0 && prefix < 0 { return false }
        if prefix >= 0 && d.pointee.prefixHead == d.pointee.prefixTail {
            if !d.pointee.holdPrefix { return true }
        } else if prefix >= 0 && d.pointee.sinkWritable {
            return true
        }
        guard buffer >= 0 else { return false }
        let head = d.pointee.head, limit = d.pointee.limit, tail = d.pointee.tail
        if limit > head && d.pointee.sinkWritable { return true }
        return tail > limit || tail == 0 || (head == tail && !d.pointee.holdBody)
    }

    /// An attached server connection idles while the client prepares its next
    /// request: anything from it (end-of-file, error, stray bytes) retires it.
    private mutating func checkIdleServerConnection(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        guard s.pointee.toClient.sourceReadable else { return }
        // A TLS record without data (a session ticket) is no progress.
        let status = fill(&s.pointee.toClient, from: s.pointee.serverFD, tls: s.pointee.serverTLS)
        if status.progressed || status.error != nil {
            detachServerConnection(slot)
        }
    }

    /// Closes the server connection kept from an earlier exchange.
    mutating func detachServerConnection(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        guard s.pointee.serverFD >= 0 else { return }
        closeServerSocket(slot)
        s.pointee.connectionBackend = -1
        s.pointee.connectionServer = -1
        s.pointee.serverExpiry = .max
        let d = s.pointee.toClient
        if d.buffer >= 0 && d.head == d.limit && d.prefix < 0 {
            // Stray bytes from the retired server are dropped with it.
            buffers.release(d.buffer)
            s.pointee.toClient.buffer = -1
            s.pointee.toClient.head = 0
            s.pointee.toClient.limit = 0
            s.pointee.toClient.tail = 0
        }
        s.pointee.toClient.sourceEOF = false
        s.pointee.toClient.sourceHungUp = false
        s.pointee.toClient.sourceReadable = false
    }
}
