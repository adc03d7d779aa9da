import WeirConfig
import WeirSystem

extension Worker {
    /// One line per exchange in HAProxy's `option httplog` format:
    /// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r`
    /// (no header captures yet, so `%hr %hs` are empty and take no space).
    mutating func logExchange(_ slot: UInt32, now: Int64) {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        let e = s.pointee.exchange
        var host = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &host) { raw in
            let n = s.pointee.peer.formatHost(into: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            logger.line.append(UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
        }
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(decimal: Int(s.pointee.peer.port))
        logger.line.append(ascii: " [")
        // %tr: when the request began (its first byte, else the wait for it).
        let begun = e.firstByteAt >= 0 ? e.firstByteAt : e.waitStart
        logger.appendLogDate(wallMilliseconds: e.waitStartWall + (begun - e.waitStart))
        logger.line.append(ascii: "] ")
        logger.line.append(frontends[frontend].nameBytes)
        logger.line.append(UInt8(ascii: " "))
        let backend = Int(s.pointee.backend)
        var serverConnections = 0
        var backendConnections = 0
        var backendQueue = 0
        if backend >= 0 {
            logger.line.append(backends[backend].nameBytes)
            logger.line.append(UInt8(ascii: "/"))
            if s.pointee.server >= 0 {
                logger.line.append(backends[backend].servers[Int(s.pointee.server)].nameBytes)
                serverConnections = backends[backend].balancer.servers[Int(s.pointee.server)].activeConnections
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
        // %TR/%Tw/%Tc/%Tr/%Ta: -1 for a step never reached.
        let headTime = e.requestHeadAt >= 0 && e.firstByteAt >= 0 ? e.requestHeadAt - e.firstByteAt : -1
        logger.line.append(decimal: headTime)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: backend >= 0 ? s.pointee.queueTime : -1)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: backend >= 0 ? s.pointee.connectTime : -1)
        logger.line.append(UInt8(ascii: "/"))
        let responseTime = e.responseHeadAt >= 0 && e.requestSentAt >= 0 ? e.responseHeadAt - e.requestSentAt : -1
        logger.line.append(decimal: responseTime)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: now - begun)
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(decimal: Int64(e.status == 0 ? -1 : e.status))
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(decimal: e.responseBytes)
        // %CC %CS: no cookie captures.
        logger.line.append(ascii: " - - ")
        logger.line.append(s.pointee.terminationCause)
        logger.line.append(s.pointee.terminationPhase)
        let (cookieRequest, cookieResponse) = cookieTerminationChars(slot)
        logger.line.append(cookieRequest)
        logger.line.append(cookieResponse)
        logger.line.append(UInt8(ascii: " "))
        logger.line.append(decimal: sessions.count)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: frontends[frontend].current)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: backendConnections)
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: serverConnections)
        logger.line.append(UInt8(ascii: "/"))
        if s.pointee.redispatched { logger.line.append(UInt8(ascii: "+")) }
        logger.line.append(decimal: Int(s.pointee.retriesDone))
        logger.line.append(ascii: " 0/")
        logger.line.append(decimal: backendQueue)
        logger.line.append(ascii: " \"")
        if e.requestLine >= 0 && e.requestLineLength > 0 {
            logger.line.append(UnsafeRawBufferPointer(start: lineBuffers.pointer(e.requestLine), count: Int(e.requestLineLength)))
        } else {
            logger.line.append(ascii: "<BADREQ>")
        }
        logger.line.append(UInt8(ascii: "\""))
        logger.emit(level: .info, to: frontends[frontend].logTargets)
    }
}
