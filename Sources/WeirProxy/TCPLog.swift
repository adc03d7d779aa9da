import WeirConfig
import WeirSystem

extension Worker {
    /// One line in HAProxy's `option tcplog` format:
    /// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`,
    /// or in the frontend's `log-format`. `option dontlog-normal` and
    /// `option log-separate-errors` apply as in HTTP (`HTTPLog.swift`).
    /// `early` (`option logasap`): the server connection just came up, and
    /// `%Tt` and `%B` so far get a `+`; the line at the end is then skipped.
    mutating func logSession(_ slot: UInt32, now: Int64, early: Bool = false) {
        if sessions.pointer(slot).pointee.loggedEarly { return }
        sessions.pointer(slot).pointee.loggedEarly = early
        let s = sessions[slot]
        let frontend = Int(s.frontend)
        // An early line goes out before any byte could flow: `dontlognull` cannot judge it.
        if !early && frontends[frontend].dontLogNull && s.toServer.bytes == 0 && s.toClient.bytes == 0 { return }
        let logging = rules.compiled.frontendLogging[frontend]
        var c = sessionLogContext(slot, now: now)
        c.early = early
        let error = c.isError
        if !error && logging.dontLogNormal { return }
        let level = error && logging.logSeparateErrors ? LogLevel.err : .info
        if let format = logging.format, !logging.isTCPLog {
            if let uniqueIDFormat = logging.uniqueIDFormat {
                generateUniqueID(slot, uniqueIDFormat, &c, layer4Samples: true)
            }
            renderLog(format, &c, mandatory: true, layer4Samples: true)
            frontends[frontend].logCount += 1
            logger.emit(level: level, to: frontends[frontend].logTargets)
            return
        }
        var host = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &host) { raw in
            let text = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            let n = s.peer.formatHost(into: text)
            logger.line.append(UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
        }
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(decimal: Int(s.peer.port))
        logger.line.append(ascii: " [")
        logger.appendLogDate(wallMilliseconds: s.acceptedWall)
        logger.line.append(ascii: "] ")
        logger.line.append(s.tls == nil ? frontends[frontend].nameBytes : frontends[frontend].tlsNameBytes)
        logger.line.append(UInt8(ascii: " "))
        let backend = Int(s.backend)
        var serverConnections = 0
        var backendConnections = 0
        var backendQueue = 0
        if backend >= 0 {
            logger.line.append(backends[backend].nameBytes)
            logger.line.append(UInt8(ascii: "/"))
            if s.server >= 0 {
                logger.line.append(backends[backend].servers[Int(s.server)].nameBytes)
                serverConnections = backends[backend].balancer.servers[Int(s.server)].activeConnections
            } else {
                logger.line.append(ascii: "<NOSRV>")
            }
            backendConnections = backends[backend].current
            backendQueue = backends[backend].queueLength
        } else {
            logger.line.append(frontends[frontend].nameBytes)
            logger.line.append(ascii: "/<NOSRV>")
        }
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(decimal: s.queueTime)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: s.connectTime)
        logger.line.append(UInt8(ascii: "/"))
        if early { logger.line.append(UInt8(ascii: "+")) }
        logger.line.append(decimal: now - s.acceptedAt)
        logger.line.append(UInt8(ascii: " "))
        if early { logger.line.append(UInt8(ascii: "+")) }
        logger.line.append(decimal: s.toClient.bytes)
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(s.terminationCause)
        logger.line.append(s.terminationPhase)
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(decimal: sessions.count)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: frontends[frontend].current)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: backendConnections)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: serverConnections)
        logger.line.append(UInt8(ascii: "/"))
        if s.redispatched { logger.line.append(UInt8(ascii: "+")) }
        logger.line.append(decimal: Int(s.retriesDone))
        logger.line.append(ascii: " 0/")
        logger.line.append(decimal: backendQueue)
        logger.emit(level: level, to: frontends[frontend].logTargets)
    }
}
