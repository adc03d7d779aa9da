import WeirBalance
import WeirConfig
import WeirLoop
import WeirShared
import WeirSystem

/// This worker's view of the shared segment: its own counter slot, written
/// with plain stores, and the servers' shared state (atomics) it balances by.
/// Every call here is allocation-free.
struct WorkerStats {
    let segment: SharedSegment
    let slot: Int
    let header: UnsafeMutablePointer<WorkerCounters>
    /// This worker's counters: `Counter.stride` words per entity.
    let words: UnsafeMutablePointer<Int64>
    let backendBase: Int
    /// Per backend, the entity index of its first server.
    let serverBase: [Int]
    /// The segment's state version the balancers last reflected.
    var seenVersion = -1

    init(segment: SharedSegment, slot: Int) {
        self.segment = segment
        self.slot = slot
        header = segment.workerCounters(slot)
        words = segment.counters(slot: slot)
        backendBase = segment.layout.frontendCount
        serverBase = segment.layout.serverBase
    }

    @inline(__always) func frontend(_ index: Int) -> Int { index }
    @inline(__always) func backend(_ index: Int) -> Int { backendBase + index }
    @inline(__always) func server(_ backend: Int, _ index: Int) -> Int { serverBase[backend] + index }

    // Entity indices come from the segment's layout: the word offsets
    // cannot overflow, and wrapping arithmetic spares a check per counter.
    @inline(__always)
    func add(_ entity: Int, _ counter: Counter, _ n: Int64 = 1) {
        words[entity &* Counter.stride &+ counter.rawValue] &+= n
    }

    @inline(__always)
    func set(_ entity: Int, _ counter: Counter, _ value: Int64) {
        words[entity &* Counter.stride &+ counter.rawValue] = value
    }

    @inline(__always)
    func get(_ entity: Int, _ counter: Counter) -> Int64 {
        words[entity &* Counter.stride &+ counter.rawValue]
    }

    /// One more session (connection, for a server) open on `entity`, in the
    /// shared count and in this worker's own, which the master takes back
    /// from the shared count if this worker dies.
    @inline(__always)
    func open(_ entity: Int) {
        segment.open(entity)
        add(entity, .openHere)
    }

    /// `open` unless the server is at `limit` (0: none) counting every worker.
    @inline(__always)
    func claim(_ entity: Int, limit: Int) -> Bool {
        guard segment.open(entity, limit: limit) else { return false }
        add(entity, .openHere)
        return true
    }

    @inline(__always)
    func close(_ entity: Int) {
        segment.close(entity)
        add(entity, .openHere, -1)
    }

    /// A session starts on `entity` (a backend or server): counted, stamped.
    @inline(__always)
    func sessionStarted(_ entity: Int, wallSeconds: Int64) {
        add(entity, .sessionsTotal)
        set(entity, .lastSession, wallSeconds)
    }

    /// Times of one finished session or exchange; negative ones are unknown.
    @inline(__always)
    func addTimes(_ entity: Int, queue: Int64, connect: Int64, response: Int64, total: Int64) {
        add(entity, .timedCount)
        add(entity, .queueTimeSum, max(0, queue))
        add(entity, .totalTimeSum, max(0, total))
        if connect >= 0 {
            add(entity, .connectCount)
            add(entity, .connectTimeSum, connect)
        }
        if response >= 0 {
            add(entity, .responseCount)
            add(entity, .responseTimeSum, response)
        }
    }
}

extension Worker {
    /// The weight and usability the balancer sees for a server, from the
    /// shared state: maintenance or DOWN takes it out; draining sets its
    /// weight to 0 (persistent clients still reach it).
    /// Unchanged states (most often) cost no call.
    @inline(__always)
    mutating func refreshServerStates() {
        let version = stats.segment.stateVersion
        guard version != stats.seenVersion else { return }
        stats.seenVersion = version
        applyServerStates()
    }

    private mutating func applyServerStates() {
        for b in backends.indices {
            for s in backends[b].servers.indices {
                let entity = stats.server(b, s)
                if let addresses = stats.segment.addresses,
                   addresses.generation(entity) != backends[b].servers[s].addressGeneration {
                    followAddress(backend: b, server: s, addresses.load(entity))
                }
                let admin = stats.segment.admin(entity)
                let usable = !admin.inMaintenance && stats.segment.health(entity) != .down
                backends[b].balancer.setUsable(usable, server: s)
                let checkWeight = backends[b].checkWeights[s]
                let weight = checkWeight >= 0 ? min(checkWeight, stats.segment.weight(entity)) : stats.segment.weight(entity)
                backends[b].balancer.setWeight(admin.isDraining ? 0 : weight, server: s)
                let maxconn = stats.segment.maxconn(entity)
                if maxconn != backends[b].serverMaxconn[s] {
                    backends[b].serverMaxconn[s] = maxconn
                    backends[b].balancer.setMaxconn(maxconn, server: s)
                }
            }
            backends[b].usesGlobalLoad = backends[b].balancesByLoad || backends[b].serverMaxconn.contains { $0 > 0 }
        }
        for f in frontends.indices { frontends[f].maxconn = stats.segment.maxconn(stats.frontend(f)) }
        applyRateLimits()
    }

    /// The master moved a server: new connections go to its new address,
    /// and the idle ones to the old address are closed so no request
    /// reuses them. Sessions holding a connection keep it, as in HAProxy.
    private mutating func followAddress(backend b: Int, server s: Int, _ address: RuntimeAddress) {
        backends[b].servers[s].addressGeneration = address.generation
        // Without an address the server is in resolution maintenance: the
        // balancer skips it and the old address stays unused.
        if let socketAddress = address.socketAddress { backends[b].servers[s].address = socketAddress }
        retireIdleConnections(backend: b, server: s)
    }

    /// Before a pick in a backend whose algorithm or limits read the load:
    /// the balancer sees every worker's connections.
    @inline(__always)
    mutating func loadGlobalConnections(backend b: Int) {
        guard backends[b].usesGlobalLoad else { return }
        for s in backends[b].servers.indices {
            backends[b].balancer.setActiveConnections(stats.segment.current(stats.server(b, s)), server: s)
        }
        if backends[b].hasDynamicLimits { applyDynamicLimits(backend: b) }
    }

    /// `minconn`: each such server's limit for the backend's load now
    /// (sessions in it, every worker's, queued ones included).
    private mutating func applyDynamicLimits(backend b: Int) {
        let load = stats.segment.current(stats.backend(b))
        let fullconn = backends[b].fullconn
        for s in backends[b].servers.indices where backends[b].serverMinconn[s] > 0 {
            let limit = Server.dynamicMaxconn(minconn: backends[b].serverMinconn[s], maxconn: backends[b].serverMaxconn[s],
                                              load: load, fullconn: fullconn)
            backends[b].balancer.setMaxconn(limit, server: s)
        }
    }
}

extension Worker {
    static let queuePollInterval: Int64 = 5

    /// Claims a connection slot on a server in shared memory; false when the
    /// server's limit (`maxconn`, or `minconn`'s for the load) is reached
    /// counting every worker.
    @inline(__always)
    mutating func claimServer(backend b: Int, server s: Int) -> Bool {
        stats.claim(stats.server(b, s), limit: backends[b].balancer.servers[s].maxconn)
    }

    /// The session no longer counts on the server: locally and in shared memory.
    @inline(__always)
    mutating func releaseServer(backend b: Int, server s: Int) {
        backends[b].balancer.connectionClosed(server: s)
        stats.close(stats.server(b, s))
    }

    /// The queue of backend `b` grew or shrank `by` one session, bound to
    /// `server` (-1: to none); the counts `show stat` reads follow.
    @inline(__always)
    mutating func countQueue(backend b: Int, server: Int, by change: Int) {
        setQueueCounters(stats.backend(b), length: backends[b].queueLength)
        guard server >= 0 else { return }
        backends[b].queuedFor[server] += change
        setQueueCounters(stats.server(b, server), length: backends[b].queuedFor[server])
    }

    @inline(__always)
    private func setQueueCounters(_ entity: Int, length: Int) {
        stats.set(entity, .queueCurrent, Int64(length))
        if Int64(length) > stats.get(entity, .queueMax) { stats.set(entity, .queueMax, Int64(length)) }
    }

    /// The queue timer: hands freed server slots (maybe freed by another
    /// worker) to the sessions waiting, and polls again while any wait.
    mutating func pollQueues(loop: inout EventLoop) {
        queuePollArmed = false
        var waiting = false
        for b in backends.indices where backends[b].queueLength > 0 {
            processQueue(backend: b, loop: &loop)
            if backends[b].queueLength > 0 { waiting = true }
        }
        if waiting && !queuePollArmed {
            queuePollArmed = true
            loop.schedule(Token(kind: TokenKind.queuePoll.rawValue, slot: 0), at: loop.now + Worker.queuePollInterval)
        }
    }

    /// An `http-request deny` or `tarpit` (or `http-response deny`).
    mutating func countDenied(_ slot: UInt32, response: Bool) {
        let s = sessions.pointer(slot)
        let counter: Counter = response ? .deniedResponses : .deniedRequests
        stats.add(stats.frontend(Int(s.pointee.frontend)), counter)
        if s.pointee.backend >= 0 { stats.add(stats.backend(Int(s.pointee.backend)), counter) }
    }

    /// One HTTP exchange ends (answered, or cut): its request, status class,
    /// bytes, errors and times go to its frontend, backend and server.
    mutating func recordExchange(_ slot: UInt32, now: Int64) {
        let s = sessions.pointer(slot)
        let status = Int(s.pointee.exchange.status)
        // Found once for the three entities.
        let statusClass = status > 0 ? Counter.statusClass(status) : nil
        let cause = s.pointee.terminationCause, phase = s.pointee.terminationPhase
        // `bin`: what the client sent, as `%U` counts it.
        let requestIn = s.pointee.exchange.clientRequestBytes
        let responseOut = s.pointee.exchange.responseBytes
        let clientAbort = cause == UInt8(ascii: "C") && phase == UInt8(ascii: "D")
        let frontend = stats.frontend(Int(s.pointee.frontend))
        stats.add(frontend, .requestsTotal)
        stats.add(frontend, .bytesIn, requestIn)
        stats.add(frontend, .bytesOut, responseOut)
        if let statusClass { stats.add(frontend, statusClass) }
        if phase == UInt8(ascii: "R")
            && (cause == UInt8(ascii: "C") || cause == UInt8(ascii: "c") || status == 400 || status == 408) {
            stats.add(frontend, .requestErrors)
        }
        if clientAbort { stats.add(frontend, .clientAborts) }
        if cause == UInt8(ascii: "L") || (cause == UInt8(ascii: "P") && status != 403 && phase == UInt8(ascii: "R")) {
            stats.add(frontend, .intercepted)
        }
        let b = Int(s.pointee.backend)
        guard b >= 0 else { return }
        let responseError = cause == UInt8(ascii: "S") && (phase == UInt8(ascii: "H") || phase == UInt8(ascii: "D"))
        let serverAbort = cause == UInt8(ascii: "S") && phase == UInt8(ascii: "D")
        let requestSentAt = s.pointee.exchange.requestSentAt, responseHeadAt = s.pointee.exchange.responseHeadAt
        let response = responseHeadAt >= 0 && requestSentAt >= 0 ? responseHeadAt - requestSentAt : -1
        let queue = s.pointee.queueTime, connect = s.pointee.connectTime
        let total = now - s.pointee.exchange.waitStart
        // The same counts for the backend and, once one was assigned, its server.
        func count(on entity: Int) {
            stats.add(entity, .requestsTotal)
            stats.add(entity, .bytesIn, requestIn)
            stats.add(entity, .bytesOut, responseOut)
            if let statusClass { stats.add(entity, statusClass) }
            if responseError { stats.add(entity, .responseErrors) }
            if clientAbort { stats.add(entity, .clientAborts) }
            if serverAbort { stats.add(entity, .serverAborts) }
            stats.addTimes(entity, queue: queue, connect: connect, response: response, total: total)
        }
        count(on: stats.backend(b))
        let server = Int(s.pointee.server)
        if server >= 0 { count(on: stats.server(b, server)) }
    }

    /// A `mode tcp` session ends: its bytes, aborts and times.
    mutating func recordSession(_ slot: UInt32, now: Int64) {
        let s = sessions.pointer(slot)
        let frontend = stats.frontend(Int(s.pointee.frontend))
        let bytesIn = s.pointee.toServer.bytes, bytesOut = s.pointee.toClient.bytes
        let cause = s.pointee.terminationCause, phase = s.pointee.terminationPhase
        stats.add(frontend, .bytesIn, bytesIn)
        stats.add(frontend, .bytesOut, bytesOut)
        let clientAbort = cause == UInt8(ascii: "C") && phase == UInt8(ascii: "D")
        let serverAbort = cause == UInt8(ascii: "S") && phase == UInt8(ascii: "D")
        if clientAbort { stats.add(frontend, .clientAborts) }
        let b = Int(s.pointee.backend)
        guard b >= 0 else { return }
        let server = s.pointee.server
        for step in 0..<2 {
            if step == 1 && server < 0 { break }
            let entity = step == 0 ? stats.backend(b) : stats.server(b, Int(server))
            stats.add(entity, .bytesIn, bytesIn)
            stats.add(entity, .bytesOut, bytesOut)
            if clientAbort { stats.add(entity, .clientAborts) }
            if serverAbort { stats.add(entity, .serverAborts) }
            stats.addTimes(entity, queue: s.pointee.queueTime, connect: s.pointee.connectTime, response: -1,
                           total: now - s.pointee.acceptedAt)
        }
    }
}
