import WeirHTTP
import WeirLoop
import WeirSystem

/// What the request rules decided for a request.
enum RequestDecision {
    /// Forward it to this backend, which the session has entered.
    case forward(backend: Int)
    /// The proxy answers it (the answer is prepared).
    case answered
    /// The session was closed.
    case closed
}

extension Worker {
    /// What the rules know of the session besides the message.
    func sampleInput(_ slot: UInt32) -> SampleInput {
        let s = sessions.pointer(slot)
        var input = SampleInput(slot: slot, peer: s.pointee.peer, clientFD: s.pointee.clientFD,
                                local: proxiedDestination(slot), frontend: Int(s.pointee.frontend))
        input.backend = Int(s.pointee.backend)
        input.server = Int(s.pointee.server)
        input.tls = s.pointee.tls
        input.serverTLS = s.pointee.serverTLS
        return input
    }

    /// Puts what the rules know of the session into the engine, in place.
    @inline(__always)
    mutating func loadSampleInput(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        let renewed = rules.setInput(slot: slot, generation: sessions.generation(slot), peer: s.pointee.peer,
                                     clientFD: s.pointee.clientFD, frontend: Int(s.pointee.frontend),
                                     backend: Int(s.pointee.backend), server: Int(s.pointee.server),
                                     tls: s.pointee.tls, serverTLS: s.pointee.serverTLS)
        if renewed && s.pointee.hasProxiedDestination { rules.input.local = proxiedDestinations[slot] }
    }

    /// `nbsrv`: counts the usable servers of every backend, when a rule asks.
    @inline(__always)
    mutating func refreshUsableServers() {
        guard rules.compiled.countsServers else { return }
        countUsableServers()
    }

    private mutating func countUsableServers() {
        for backend in backends.indices {
            var usable = 0
            for server in backends[backend].balancer.servers where server.isCandidate { usable += 1 }
            rules.usableServers[backend] = usable
        }
    }

    // MARK: - Connections

    /// `tcp-request connection`: whether a new client connection may stay.
    /// `rules.connectionExpectsProxy` tells whether `expect-proxy` applied.
    mutating func connectionVerdict(frontend: Int, clientFD: Int32, peer: PeerAddress) -> TCPVerdict {
        rules.connectionExpectsProxy = false
        let connectionRules = rules.compiled.frontends[frontend].tcpConnectionRules
        guard !connectionRules.isEmpty else { return .accept }
        rules.beginConnection(SampleInput(slot: .max, peer: peer, clientFD: clientFD, frontend: frontend))
        return rules.tcpVerdict(connectionRules)
    }

    // MARK: - Requests

    /// Runs what applies to a parsed request, in HAProxy's order: the
    /// frontend's `tcp-request content`, `http-request` and `redirect`
    /// rules, the choice of the backend, then the backend's rules. The
    /// request head must still be in the session's buffer, ending at `requestEnd`.
    mutating func applyRequestRules(_ slot: UInt32, head: UnsafeRawBufferPointer, request: RequestHead, requestEnd: Int,
                                    loop: inout EventLoop) -> RequestDecision {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        refreshUsableServers()
        loadSampleInput(slot)
        rules.countStickRequest(slot)
        rules.beginRequest(head: head, headers: headers, request: request)
        if rules.compiled.readsRequestBody { loadRequestBody(slot, request: request, requestEnd: requestEnd) }
        // The proxy told the client to send its body: the server is not asked again.
        if s.pointee.exchange.sentContinue { rules.removeFields(named: Self.expectName, match: .exact) }
        // No `unique-id-format` anywhere: no call.
        if rules.sessions.uniqueIDCapacity > 0 { generateUniqueIDIfNeeded(slot, now: loop.now) }
        let frontendPlan = rules.plan.frontend(frontend)
        if frontendPlan.pointee.hasTCPContentRules {
            let verdict = rules.tcpVerdict(rules.compiled.frontends[frontend].tcpContentRules)
            guard verdict == .accept else {
                if verdict == .silentDrop { Posix.prepareSilentReset(s.pointee.clientFD) }
                close(slot, cause: "P", phase: "R", loop: &loop)
                return .closed
            }
        }
        // Monitor requests are answered before any http-request rule, as in HAProxy.
        if frontendPlan.pointee.hasMonitor, let monitor = rules.compiled.frontendMonitors[frontend],
           serveMonitor(monitor, slot: slot, head: head, request: request, requestEnd: requestEnd, loop: &loop) {
            return .answered
        }
        switch rules.run(frontendPlan.pointee.requestRules, then: frontendPlan.pointee.redirectRules) {
        case .proceed:
            break
        case let verdict:
            answer(slot, verdict, request: request, requestEnd: requestEnd,
                   tarpitTimeout: rules.compiled.frontends[frontend].tarpitTimeout, loop: &loop)
            return .answered
        }
        if frontendPlan.pointee.hasStatsPage, let page = rules.compiled.frontendStatsPages[frontend],
           serveStatsPage(page, slot: slot, head: head, request: request, requestEnd: requestEnd, loop: &loop) {
            return .answered
        }
        var backend = rules.chooseBackend(frontendPlan)
        if backend < 0 {
            // No backend, or a session its backend upgraded to HTTP, which
            // stays there (its frontend's plan chooses none).
            backend = upgradedBackend(slot)
            guard backend >= 0 else {
                reply(slot, status: 503, cause: "P", phase: "R", loop: &loop)
                return .answered
            }
        }
        // The exchange enters the backend: its rules see it, its counters count it.
        s.pointee.backend = Int32(backend)
        backends[backend].current += 1
        backends[backend].cumulated += 1
        stats.open(stats.backend(backend))
        stats.sessionStarted(stats.backend(backend), wallSeconds: s.pointee.exchange.waitStartWall / 1000)
        if backends[backend].closesClientAfterResponse { s.pointee.exchange.clientKeepAlive = false }
        rules.input.backend = backend
        guard backend != frontendPlan.pointee.ownBackend else { return .forward(backend: backend) }
        let backendPlan = rules.plan.backend(backend)
        if backendPlan.pointee.hasTCPContentRules {
            let verdict = rules.tcpVerdict(rules.compiled.backends[backend].tcpContentRules)
            guard verdict == .accept else {
                if verdict == .silentDrop { Posix.prepareSilentReset(s.pointee.clientFD) }
                close(slot, cause: "P", phase: "R", loop: &loop)
                return .closed
            }
        }
        switch rules.run(backendPlan.pointee.requestRules, then: backendPlan.pointee.redirectRules) {
        case .proceed:
            if backendPlan.pointee.hasStatsPage, let page = rules.compiled.backendStatsPages[backend],
               serveStatsPage(page, slot: slot, head: head, request: request, requestEnd: requestEnd, loop: &loop) {
                return .answered
            }
            return .forward(backend: backend)
        case let verdict:
            answer(slot, verdict, request: request, requestEnd: requestEnd,
                   tarpitTimeout: rules.compiled.backends[backend].tarpitTimeout, loop: &loop)
            return .answered
        }
    }

    // MARK: - Responses

    /// Runs the backend's then the frontend's `http-response` rules over a
    /// parsed response head; false when the proxy answers instead.
    mutating func applyResponseRules(_ slot: UInt32, head: UnsafeRawBufferPointer, response: ResponseHead,
                                     loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        let backend = Int(s.pointee.backend)
        loadSampleInput(slot)
        rules.beginResponse(head: head, headers: headers, response: response)
        let frontendPlan = rules.plan.frontend(frontend)
        var verdict = RuleVerdict.proceed
        if backend >= 0 && backend != frontendPlan.pointee.ownBackend {
            verdict = rules.run(rules.plan.backend(backend).pointee.responseRules)
        }
        if case .proceed = verdict { verdict = rules.run(frontendPlan.pointee.responseRules) }
        if case .proceed = verdict {
            s.pointee.exchange.status = Int32(rules.status)
            return true
        }
        answer(slot, verdict, request: nil, requestEnd: nil, tarpitTimeout: nil, loop: &loop)
        return false
    }

    // MARK: - Answers

    /// Sends what a rule decided instead of the server's response. Answers
    /// to a request keep the client connection when it allows it and has no
    /// body to skip; answers replacing a response close it.
    mutating func answer(_ slot: UInt32, _ verdict: RuleVerdict, request: RequestHead?, requestEnd: Int?,
                         tarpitTimeout: Int?, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let phase: Character = request == nil ? "H" : "R"
        let keepAlive = request != nil && request!.framing == .none && s.pointee.exchange.clientKeepAlive && !stopping
        let connection: AnswerConnection = !keepAlive ? .close
            : s.pointee.exchange.clientMinor == 0 ? .keepAliveHTTP10 : .keepAlive
        let omitBody = s.pointee.exchange.method == .head
        switch verdict {
        case .proceed:
            return
        case .service(.prometheusExporter):
            servePrometheus(slot, request: request, requestEnd: requestEnd, loop: &loop)
        case .deny(let status, let custom):
            countDenied(slot, response: request == nil)
            if let custom {
                sendDenial(slot, custom, phase: phase, loop: &loop)
            } else {
                reply(slot, status: status, cause: "P", phase: phase, loop: &loop)
            }
        case .failed:
            reply(slot, status: request == nil ? 502 : 500, cause: "I", phase: phase, loop: &loop)
        case .reject, .silentDrop:
            countDenied(slot, response: request == nil)
            closeWithoutAnswer(slot, silently: verdict.isSilentDrop, phase: phase, loop: &loop)
        case .tarpit(let status, let custom):
            countDenied(slot, response: false)
            startTarpit(slot, status: status, answer: custom, timeout: tarpitTimeout, loop: &loop)
        case .auth(let realm):
            guard let id = buffers.acquire() else {
                close(slot, cause: "R", phase: phase, loop: &loop)
                return
            }
            var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
            rules.writeAuthChallenge(realm: realm, into: &writer, connection: connection, omitBody: omitBody)
            commitAnswer(slot, buffer: id, count: writer.count, status: 401, cause: "P", phase: phase,
                         keepAlive: keepAlive, requestEnd: requestEnd, loop: &loop)
        case .redirect(let redirect):
            guard let id = buffers.acquire() else {
                close(slot, cause: "R", phase: phase, loop: &loop)
                return
            }
            var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
            guard rules.writeRedirect(redirect, into: &writer, connection: connection) else {
                buffers.release(id)
                reply(slot, status: 500, cause: "I", phase: phase, loop: &loop)
                return
            }
            commitAnswer(slot, buffer: id, count: writer.count, status: redirect.code, cause: "L", phase: phase,
                         keepAlive: keepAlive, requestEnd: requestEnd, loop: &loop)
        case .answer(let answer):
            if case .errorPage = answer.body {
                reply(slot, status: answer.status, cause: "L", phase: phase, loop: &loop)
                return
            }
            guard let id = buffers.acquire() else {
                close(slot, cause: "R", phase: phase, loop: &loop)
                return
            }
            let keeps = keepAlive && !answer.closesConnection
            var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
            guard rules.writeReturn(answer, into: &writer, connection: keeps ? connection : .close,
                                    omitBody: omitBody) else {
                buffers.release(id)
                reply(slot, status: 500, cause: "I", phase: phase, loop: &loop)
                return
            }
            commitAnswer(slot, buffer: id, count: writer.count, status: answer.status, cause: "L", phase: phase,
                         keepAlive: keeps, requestEnd: requestEnd, loop: &loop)
        }
    }

    /// Makes the answer written in pooled buffer `buffer` (nil: none could
    /// be had) the session's response: the server side is let go, and the
    /// exchange ends once it is sent. With `requestEnd`, the request head is
    /// consumed, so that a kept connection reads the next request after it.
    mutating func commitAnswer(_ slot: UInt32, buffer: Int32?, count: Int, status: Int, cause: Character,
                               phase: Character, keepAlive: Bool, requestEnd: Int?, loop: inout EventLoop) {
        var buffer = buffer, count = count, status = status, cause = cause
        if let id = buffer, hasAfterResponseRules(slot) {
            let edited = editAnswer(slot, buffer: id, count: count, status: status)
            buffer = edited.buffer
            count = edited.count
            status = edited.status
            if edited.failed { cause = "I" }
        }
        let s = sessions.pointer(slot)
        s.pointee.terminationCause = cause.asciiValue!
        s.pointee.terminationPhase = phase.asciiValue!
        s.pointee.exchange.started = true
        s.pointee.exchange.status = Int32(status)
        s.pointee.exchange.clientKeepAlive = keepAlive
        s.pointee.exchange.request = .complete
        s.pointee.exchange.response = .complete
        if s.pointee.inQueue { dequeue(slot) }
        detachServerConnection(slot)
        releaseBuffers(&s.pointee.toClient)
        // The request will not be forwarded: what was built for it is not needed.
        if s.pointee.toServer.prefix >= 0 {
            buffers.release(s.pointee.toServer.prefix)
            s.pointee.toServer.prefix = -1
            s.pointee.toServer.prefixHead = 0
            s.pointee.toServer.prefixTail = 0
        }
        if let requestEnd {
            s.pointee.toServer.head = requestEnd
            s.pointee.toServer.limit = requestEnd
        }
        s.pointee.phase = .httpReply
        s.pointee.phaseExpiry = .max
        s.pointee.serverExpiry = .max
        touchClient(slot, now: loop.now)
        guard let buffer else { return }
        s.pointee.toClient.prefix = buffer
        s.pointee.toClient.prefixHead = 0
        s.pointee.toClient.prefixTail = count
    }

    /// Writes the answer for `status` (the proxy's page for it, or the
    /// built-in one) into a pooled buffer; nil when none is free.
    mutating func writeErrorAnswer(_ slot: UInt32, status: Int) -> (buffer: Int32, count: Int)? {
        let s = sessions.pointer(slot)
        guard let id = buffers.acquire() else { return nil }
        if let page = rules.errorPage(status, frontend: Int(s.pointee.frontend), backend: Int(s.pointee.backend)) {
            var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
            if rules.writeErrorPage(page, status: status, into: &writer) { return (id, writer.count) }
        }
        let page = errorPages.page(for: status)
        let count = min(page.count, bufferSize)
        page.withUnsafeBytes { buffers.pointer(id).copyMemory(from: $0.baseAddress!, byteCount: count) }
        return (id, count)
    }

    // MARK: - Tarpit

    /// `http-request tarpit`: the request is held, without a server, until
    /// `timeout tarpit` (else `timeout connect`) passes; then `reply` sends
    /// the status, logged `PT`. The session waits in the queued phase
    /// outside any queue, so that its phase deadline ends it through `fail`.
    /// A custom answer with log-format fields is written now, while the
    /// request is at hand, and parked as the client side's prefix (nothing
    /// sends it in the queued phase; a close releases it).
    private mutating func startTarpit(_ slot: UInt32, status: Int, answer: Int, timeout: Int?, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        var status = status
        var answer = answer
        let custom = answer != 0 ? rules.compiled.tarpitAnswers[answer - 1] : nil
        if let custom, custom.readsRequest {
            // Without a buffer, the tarpit ends with the page for its
            // status; with an answer too large, with a 500.
            if s.pointee.toClient.prefix < 0, let id = buffers.acquire() {
                if let count = writeDenial(slot, custom, into: id) {
                    s.pointee.toClient.prefix = id
                    s.pointee.toClient.prefixHead = 0
                    s.pointee.toClient.prefixTail = count
                } else {
                    buffers.release(id)
                    status = 500
                    answer = 0
                }
            } else {
                answer = 0
            }
        }
        rules.sessions.setTarpitAnswer(slot, answer)
        rules.sessions.setTarpitStatus(slot, status)
        s.pointee.exchange.started = true
        s.pointee.exchange.clientKeepAlive = false
        s.pointee.exchange.request = .complete
        s.pointee.exchange.response = .idle
        detachServerConnection(slot)
        if s.pointee.toServer.prefix >= 0 {
            buffers.release(s.pointee.toServer.prefix)
            s.pointee.toServer.prefix = -1
            s.pointee.toServer.prefixHead = 0
            s.pointee.toServer.prefixTail = 0
        }
        s.pointee.phase = .queued
        s.pointee.clientExpiry = .max
        s.pointee.phaseExpiry = loop.now + Int64(timeout ?? 0)
        rearm(slot, loop: &loop)
    }

    /// The status a tarpit held for the slot, which is now over; 0 when
    /// the slot was not tarpitted.
    mutating func endTarpit(_ slot: UInt32) -> Int {
        let status = rules.sessions.tarpitStatus(slot)
        if status != 0 { rules.sessions.setTarpitStatus(slot, 0) }
        return status
    }
}
