import WeirLoop
import WeirSystem

// Mode tcp before a server is chosen: the frontend's `tcp-request content`
// rules, the backend (`use_backend`, `default_backend`), then the backend's
// content rules, each over the bytes the client sent so far. A stage whose
// proxy sets `tcp-request inspect-delay` and whose rules cannot be decided
// yet (a ClientHello half read) holds the session in the `inspecting` phase:
// its bytes are read into the client-to-server buffer, and the rules run
// again as they arrive, until they decide, the buffer is full, the client
// ends its side, or the delay passes (one deadline for both stages, as
// HAProxy's). The buffered bytes go to the server first once connected.
// Without a delay the rules see what is there at once, and nothing is read.
// A backend in mode http makes the session an HTTP one (`upgradeToHTTP`).

extension Worker {
    /// Runs the stages not yet decided; the session ends up waiting for
    /// bytes, closed, or on its way to a server.
    mutating func analyseTCPContent(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        refreshUsableServers()
        if s.pointee.backend < 0 {
            guard contentRulesAccept(slot, rules.compiled.frontends[frontend].tcpContentRules,
                                     delay: frontends[frontend].inspectDelay, loop: &loop) else { return }
            // `use_backend` decides on what is there, as HAProxy's switching rules.
            rules.input.contentFinal = true
            let backend = rules.chooseBackend(frontend: frontend)
            guard backend >= 0 else {
                keepContentForLog(slot)
                close(slot, cause: "P", phase: "R", loop: &loop)
                return
            }
            if rules.compiled.backends[backend].isHTTP {
                upgradeToHTTP(slot, backend: backend, loop: &loop)
                return
            }
            enterBackend(slot, backend)
        }
        let backend = Int(s.pointee.backend)
        if backend != rules.compiled.frontends[frontend].ownBackend,
           !rules.compiled.backends[backend].tcpContentRules.isEmpty,
           !contentRulesAccept(slot, rules.compiled.backends[backend].tcpContentRules,
                               delay: backends[backend].inspectDelay, loop: &loop) {
            return
        }
        keepContentForLog(slot)
        // The client left before sending anything to forward: HAProxy's `CR`.
        if s.pointee.toServer.sourceEOF && s.pointee.toServer.isEmpty {
            close(slot, cause: "C", phase: "R", loop: &loop)
            return
        }
        s.pointee.phase = .queued
        s.pointee.phaseExpiry = .max
        if rules.plan.backends[backend].hasStickRules || rules.plan.backends[backend].hasServerRules {
            beginContent(slot)
            analyseServerRules(slot, backend: backend)
            analyseStickRules(slot, backend: backend)
        }
        assignServer(slot, loop: &loop)
    }

    /// One stage's content rules over what is buffered: true when they
    /// accept; otherwise the session now waits for bytes, or is closed.
    private mutating func contentRulesAccept(_ slot: UInt32, _ contentRules: [CompiledTCPRule], delay: Int?,
                                             loop: inout EventLoop) -> Bool {
        beginContent(slot, final: contentIsFinal(slot, delay: delay, now: loop.now))
        switch rules.contentVerdict(contentRules) {
        case .accept: return true
        case .wait: waitForContent(slot, delay: delay ?? 0, loop: &loop)
        case .reject: rejectContent(slot, silently: false, loop: &loop)
        case .silentDrop: rejectContent(slot, silently: true, loop: &loop)
        }
        return false
    }

    /// `.inspecting`: reads what the client sent, then runs the rules again
    /// if anything came (bytes or its end-of-file).
    mutating func inspectContent(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let status = pump(&s.pointee.toServer, from: s.pointee.clientFD, to: -1, sinkReady: false,
                          sourceTLS: s.pointee.tls)
        if status.sourceError != nil {
            keepContentForLog(slot)
            close(slot, cause: "C", loop: &loop)
            return
        }
        guard status.sourceActive else {
            rearm(slot, loop: &loop)
            return
        }
        touchClient(slot, now: loop.now)
        analyseTCPContent(slot, loop: &loop)
    }

    /// Starts the rules engine on the session with its buffered bytes;
    /// `final`: no more will be waited for.
    mutating func beginContent(_ slot: UInt32, final: Bool = true) {
        let d = sessions.pointer(slot).pointee.toServer
        var input = sampleInput(slot)
        input.content = d.buffer >= 0
            ? UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + d.head, count: d.tail - d.head)
            : UnsafeRawBufferPointer(start: nil, count: 0)
        input.contentFinal = final
        rules.beginConnection(input)
    }

    /// The bytes are final without an inspection delay, once it passed, at
    /// the client's end-of-file, and when the buffer is full.
    private func contentIsFinal(_ slot: UInt32, delay: Int?, now: Int64) -> Bool {
        let s = sessions.pointer(slot)
        return delay == nil || s.pointee.phaseExpiry <= now || s.pointee.toServer.sourceEOF
            || s.pointee.toServer.tail >= bufferSize
    }

    /// The rules wait: the inspection deadline is set once, and the first
    /// wait reads what may already be there.
    private mutating func waitForContent(_ slot: UInt32, delay: Int, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if s.pointee.phaseExpiry == .max { s.pointee.phaseExpiry = loop.now + Int64(delay) }
        guard s.pointee.phase == .inspecting else {
            s.pointee.phase = .inspecting
            inspectContent(slot, loop: &loop)
            return
        }
        rearm(slot, loop: &loop)
    }

    /// `tcp-request content reject|silent-drop`: counted as a denied
    /// request, logged `PR`; `silently`, closed by a reset that dies at
    /// the first router.
    private mutating func rejectContent(_ slot: UInt32, silently: Bool, loop: inout EventLoop) {
        countDenied(slot, response: false)
        keepContentForLog(slot)
        if silently { Posix.prepareSilentReset(sessions.pointer(slot).pointee.clientFD) }
        close(slot, cause: "P", phase: "R", loop: &loop)
    }

    /// The backend chosen is in mode http: from here on the session is an
    /// HTTP session of its frontend, as HAProxy's implicit upgrade makes it,
    /// and the bytes read so far begin its first request. Every request on
    /// the connection goes to this backend (`upgradedBackend`), which runs
    /// its own rules, `tcp-request content` included, on each; the
    /// frontend's rules ran once, on the connection, and it has no HTTP ones.
    private mutating func upgradeToHTTP(_ slot: UInt32, backend: Int, loop: inout EventLoop) {
        keepContentForLog(slot)
        let s = sessions.pointer(slot)
        upgradedBackends[slot] = Int32(backend)
        s.pointee.isHTTP = true
        s.pointee.phase = .httpHead
        s.pointee.toServer.limit = s.pointee.toServer.head
        // The first request was awaited from the accept, as on an HTTP frontend.
        s.pointee.exchange.waitStart = s.pointee.acceptedAt
        s.pointee.exchange.waitStartWall = s.pointee.acceptedWall
        s.pointee.clientExpiry = .max
        s.pointee.phaseExpiry = frontends[Int(s.pointee.frontend)].httpRequestTimeout.map { loop.now + Int64($0) } ?? .max
        httpService(slot, loop: &loop)
    }

    /// The backend that upgraded the session to HTTP, -1 when none did.
    /// Out of line: the request path of other sessions never calls it.
    @inline(never)
    func upgradedBackend(_ slot: UInt32) -> Int {
        guard !upgradedBackends.isEmpty, let backend = upgradedBackends[slot] else { return -1 }
        return Int(backend)
    }

    /// The session enters its backend: counted there from now on.
    private mutating func enterBackend(_ slot: UInt32, _ backend: Int) {
        let s = sessions.pointer(slot)
        s.pointee.backend = Int32(backend)
        s.pointee.retriesLeft = Int32(backends[backend].retries)
        backends[backend].current += 1
        backends[backend].cumulated += 1
        stats.open(stats.backend(backend))
        stats.sessionStarted(stats.backend(backend), wallSeconds: s.pointee.acceptedWall / 1000)
    }

    /// Takes the log line's `%[…]` over the contents now, while the bytes
    /// are still buffered (`ContentSnapshot`).
    private mutating func keepContentForLog(_ slot: UInt32) {
        let frontend = Int(sessions.pointer(slot).pointee.frontend)
        guard !rules.compiled.frontendLogging[frontend].contentSnapshots.isEmpty else { return }
        beginContent(slot)
        for snapshot in rules.compiled.frontendLogging[frontend].contentSnapshots {
            rules.scratch.reset()
            rules.sessions.set(slot, snapshot.variable, rules.sampleValue(snapshot.sample))
        }
    }
}
