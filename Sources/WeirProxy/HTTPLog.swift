import WeirConfig
import WeirShared
import WeirSystem

/// One frontend's logging, compiled: its line's format (`option httplog`,
/// `option tcplog`, `log-format`), its unique id, and when lines are written.
struct FrontendLogging {
    /// nil: no line per exchange (nor per session with a custom format).
    var format: CompiledLogFormat?
    /// `format` is `option tcplog`'s, which `logSession` writes directly.
    let isTCPLog: Bool
    let uniqueIDFormat: CompiledLogFormat?
    /// `unique-id-header NAME`, added to each request sent to a server.
    let uniqueIDHeader: [UInt8]?
    /// `option dontlog-normal`: only errors are logged.
    let dontLogNormal: Bool
    /// `option log-separate-errors`: errors are logged at `err`, not `info`.
    let logSeparateErrors: Bool
    /// `option logasap` with a line to write.
    let early: Bool
    /// Mode tcp: the `%[…]` of `format` over the request's contents, taken
    /// when the content rules decide (`ContentSamples.swift`).
    var contentSnapshots: [ContentSnapshot] = []
}

extension RuleCompiler {
    mutating func frontendLogging(_ frontend: Frontend) throws(StartupError) -> FrontendLogging {
        var logging = FrontendLogging(format: try frontend.logFormat.map { f throws(StartupError) in try logFormat(f) },
                                      isTCPLog: frontend.logFormat == LogFormat.tcplog,
                                      uniqueIDFormat: try frontend.uniqueIDFormat.map { f throws(StartupError) in try logFormat(f) },
                                      uniqueIDHeader: frontend.uniqueIDHeader.map { Array($0.utf8) },
                                      dontLogNormal: frontend.dontLogNormal, logSeparateErrors: frontend.logSeparateErrors,
                                      early: frontend.logASAP && frontend.logFormat != nil)
        if frontend.mode == .tcp, let format = logging.format {
            (logging.format, logging.contentSnapshots) = snapshotContentSamples(format)
        }
        return logging
    }
}

extension Worker {
    /// Everything a line can say about the slot's current exchange, at `now`.
    mutating func exchangeLogContext(_ slot: UInt32, now: Int64) -> LogContext {
        let s = sessions.pointer(slot)
        if s.pointee.exchange.streamID < 0 {
            s.pointee.exchange.streamID = streamCount
            streamCount += 1
        }
        let e = s.pointee.exchange
        var c = LogContext(slot: slot, frontend: Int(s.pointee.frontend), peer: s.pointee.peer,
                           clientFD: s.pointee.clientFD, isHTTP: true)
        c.tls = s.pointee.tls
        c.serverTLS = s.pointee.serverTLS
        if let destination = proxiedDestination(slot) {
            c.local = destination
            c.localRead = true
        }
        c.streamID = e.streamID
        c.streamWall = e.waitStartWall
        // The request began with its first byte; the stream's start stands in
        // when none came.
        let begun = e.firstByteAt >= 0 ? e.firstByteAt : e.waitStart
        c.requestWall = e.waitStartWall + (begun - e.waitStart)
        c.idleTime = e.firstByteAt >= 0 ? e.firstByteAt - e.waitStart : -1
        if e.requestHeadAt >= 0 && e.firstByteAt >= 0 {
            c.requestTime = e.requestHeadAt - e.firstByteAt
            c.requestHeadersTime = e.requestHeadAt - e.waitStart
        }
        c.responseTime = e.responseHeadAt >= 0 && e.requestSentAt >= 0 ? e.responseHeadAt - e.requestSentAt : -1
        c.dataTime = e.responseHeadAt >= 0 ? now - e.responseHeadAt : -1
        c.activeTime = now - begun
        c.totalTime = now - e.waitStart
        c.status = e.status == 0 ? -1 : Int64(e.status)
        c.bytesOut = e.responseBytes
        c.bytesIn = e.clientRequestBytes
        c.cause = s.pointee.terminationCause
        c.phase = s.pointee.terminationPhase
        (c.requestCookie, c.responseCookie) = cookieTerminationChars(slot)
        // A tarpitted request waits outside any queue: ended there, its
        // phase is `T` (`PT` at the end of the tarpit, `CT` when the client
        // leaves first), and `%Tw` is how long it was held.
        let tarpitted = c.phase == UInt8(ascii: "T")
            || (c.phase == UInt8(ascii: "Q") && rules.sessions.tarpitStatus(slot) != 0)
        if tarpitted {
            c.phase = UInt8(ascii: "T")
            if e.requestHeadAt >= 0 { c.queueTime = now - e.requestHeadAt }
        }
        c.activeConnections = sessions.count
        c.frontendConnections = frontends[c.frontend].current
        let backend = Int(s.pointee.backend)
        if backend >= 0 {
            if !tarpitted { c.queueTime = queueTime(s, now: now) }
            c.connectTime = s.pointee.connectTime
            fillBackend(&c, s, backend: backend)
        }
        if e.requestLine >= 0 && e.requestLineLength > 0 {
            c.requestLine = UnsafeRawBufferPointer(start: lineBuffers.pointer(e.requestLine), count: Int(e.requestLineLength))
        }
        return c
    }

    /// What a line can say about a `mode tcp` session, at `now`.
    mutating func sessionLogContext(_ slot: UInt32, now: Int64) -> LogContext {
        let s = sessions.pointer(slot)
        var c = LogContext(slot: slot, frontend: Int(s.pointee.frontend), peer: s.pointee.peer,
                           clientFD: s.pointee.clientFD, isHTTP: false)
        c.tls = s.pointee.tls
        c.serverTLS = s.pointee.serverTLS
        if let destination = proxiedDestination(slot) {
            c.local = destination
            c.localRead = true
        }
        c.streamWall = s.pointee.acceptedWall
        c.requestWall = s.pointee.acceptedWall
        c.queueTime = queueTime(s, now: now)
        c.connectTime = s.pointee.connectTime
        c.totalTime = now - s.pointee.acceptedAt
        c.activeTime = c.totalTime
        c.dataTime = s.pointee.connectTime >= 0 ? now - s.pointee.connectStart - s.pointee.connectTime : -1
        c.bytesOut = s.pointee.toClient.bytes
        c.bytesIn = s.pointee.toServer.bytes
        c.cause = s.pointee.terminationCause
        c.phase = s.pointee.terminationPhase
        c.activeConnections = sessions.count
        c.frontendConnections = frontends[c.frontend].current
        c.streamID = streamCount
        streamCount += 1
        let backend = Int(s.pointee.backend)
        if backend >= 0 {
            fillBackend(&c, s, backend: backend)
        } else {
            c.retries = Int(s.pointee.retriesDone)
            c.redispatched = s.pointee.redispatched
        }
        return c
    }

    /// The backend side of a line: names, connection and queue counts,
    /// retries and redispatch.
    private func fillBackend(_ c: inout LogContext, _ s: UnsafeMutablePointer<Session>, backend: Int) {
        c.backend = backend
        c.backendConnections = backends[backend].current
        c.backendQueue = backends[backend].queueLength
        if s.pointee.server >= 0 {
            c.server = Int(s.pointee.server)
            c.serverConnections = backends[backend].balancer.servers[c.server].activeConnections
        }
        c.retries = Int(s.pointee.retriesDone)
        c.redispatched = s.pointee.redispatched
    }

    /// `%Tw`: the time spent queued; for a session that left the queue
    /// without a server (timeout, client abort), the time it waited there.
    private func queueTime(_ s: UnsafeMutablePointer<Session>, now: Int64) -> Int64 {
        if s.pointee.queueTime < 0 && s.pointee.queuedAt >= 0 { return now - s.pointee.queuedAt }
        return s.pointee.queueTime
    }

    /// The end of an exchange: one line in the frontend's format, unless
    /// `set-log-level silent`, `option dontlog-normal` for a normal one, or
    /// no log target says otherwise. Errors go at `err` with `option
    /// log-separate-errors`. The exchange's rule state (captures, log
    /// level, unique id) is then forgotten, ready for the next one.
    mutating func logExchange(_ slot: UInt32, now: Int64) {
        defer { rules.sessions.startExchange(slot) }
        if sessions.pointer(slot).pointee.loggedEarly {
            sessions.pointer(slot).pointee.loggedEarly = false
            return
        }
        writeExchangeLog(slot, now: now, early: false)
    }

    /// `option logasap`: the exchange's line once its response head is
    /// known; the one at its end is skipped.
    mutating func logExchangeEarly(_ slot: UInt32, now: Int64) {
        writeExchangeLog(slot, now: now, early: true)
        sessions.pointer(slot).pointee.loggedEarly = true
    }

    private mutating func writeExchangeLog(_ slot: UInt32, now: Int64, early: Bool) {
        // Monitor requests are never logged: that is what they are for.
        if sessions.pointer(slot).pointee.exchange.monitor { return }
        let frontend = Int(sessions.pointer(slot).pointee.frontend)
        let logging = rules.compiled.frontendLogging[frontend]
        guard let format = logging.format, !frontends[frontend].logTargets.isEmpty else { return }
        var c = exchangeLogContext(slot, now: now)
        c.early = early
        if early {
            // As HAProxy's, an early %B counts the response head, still on its way out.
            let toClient = sessions.pointer(slot).pointee.toClient
            if toClient.prefix >= 0 { c.bytesOut += Int64(toClient.prefixTail - toClient.prefixHead) }
        }
        let error = c.isError
        if !error && logging.dontLogNormal { return }
        var level = error && logging.logSeparateErrors ? LogLevel.err : .info
        switch rules.exchangeLogLevel(slot) {
        case .silent?: return
        case .level(let chosen)?: level = chosen
        case nil: break
        }
        if let uniqueIDFormat = logging.uniqueIDFormat, !rules.sessions.hasUniqueID(slot) {
            generateUniqueID(slot, uniqueIDFormat, &c, layer4Samples: true)
        }
        renderLog(format, &c, mandatory: true, layer4Samples: true)
        frontends[frontend].logCount += 1
        logger.emit(level: level, to: frontends[frontend].logTargets)
    }

    /// HAProxy's termination state (configuration manual §8.5): who or what
    /// ended the session (`C`, `S`, `P`, `L`, `R`, `I`, `c`, `s`, `-`), the
    /// phase it was in (`R`, `Q`, `C`, `H`, `D`, `L`, `T`, `-`), then with
    /// `cookies` the persistence cookie seen in the request and what was done
    /// to the server's (`-` when the backend has no `cookie` persistence).
    /// The only place these characters are written.
    mutating func appendTerminationState(_ c: LogContext, cookies: Bool) {
        logger.line.append(c.cause)
        logger.line.append(c.phase)
        if cookies {
            logger.line.append(c.requestCookie)
            logger.line.append(c.responseCookie)
        }
    }
}
