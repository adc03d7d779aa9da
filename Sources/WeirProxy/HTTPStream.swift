import WeirConfig
import WeirDeflate
import WeirHTTP
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// What analysing one side did to the session.
enum AnalysisStep {
    case idle
    case progressed
    /// The session was closed: its slot must not be touched again.
    case closed
}

extension Worker {
    // MARK: - Request

    mutating func analyseRequest(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        switch s.pointee.exchange.request {
        case .head:
            // A head is analysed once everything before it has left. The
            // service loop asks again after each step: nothing new costs no call.
            let d = s.pointee.toServer
            guard s.pointee.phase == .httpHead, d.buffer >= 0, d.tail > d.limit, isFlushed(d) else { return .idle }
            return analyseRequestHead(slot, loop: &loop)
        case .body:
            return advanceRequestBody(slot, loop: &loop)
        case .complete:
            return .idle
        }
    }

    /// The request has begun: `timeout http-request` now bounds its head,
    /// and the exchange is logged however it ends.
    mutating func requestBegan(_ slot: UInt32, now: Int64) {
        let s = sessions.pointer(slot)
        guard !s.pointee.exchange.started else { return }
        s.pointee.exchange.started = true
        s.pointee.exchange.firstByteAt = now
        let timeout = frontends[Int(s.pointee.frontend)].httpRequestTimeout
        s.pointee.phaseExpiry = timeout.map { now + Int64($0) } ?? .max
    }

    /// `analyseRequest` checked there are bytes to analyse.
    private mutating func analyseRequestHead(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        let d = s.pointee.toServer
        requestBegan(slot, now: loop.now)
        var start = d.limit
        var bytes = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + start, count: d.tail - start)
        // Empty lines before a request line (a CRLF some clients send after
        // a body) are skipped, as RFC 9112 §2.2 allows.
        let blank = HeadScanner.leadingEmptyLinesLength(bytes)
        if blank > 0 {
            start += blank
            s.pointee.toServer.head = start
            s.pointee.toServer.limit = start
            bytes = UnsafeRawBufferPointer(rebasing: bytes[blank...])
            if bytes.isEmpty { return .idle }
        }
        if !s.pointee.exchange.requestHeadScanned {
            // Most heads arrive whole: the parser finds where the head ends
            // as it goes, with no scan before it. A parse that fails (an
            // incomplete head, or a bad one) leaves it to the scanner.
            if let request = try? HTTPParser.parseRequest(bytes, headers: &headers, limits: httpLimits) {
                return requestHeadComplete(slot, start: start, length: request.headLength, parsed: request, loop: &loop)
            }
            s.pointee.exchange.requestHeadScanned = true
        }
        switch s.pointee.exchange.requestScanner.scan(bytes, limits: httpLimits) {
        case .incomplete:
            return .idle
        case .tooLarge(let status):
            recordRequestLine(slot, UnsafeRawBufferPointer(rebasing: bytes.prefix(1024)))
            reply(slot, status: status, cause: "P", phase: "R", loop: &loop)
            return .progressed
        case .complete(let length):
            return requestHeadComplete(slot, start: start, length: length, parsed: nil, loop: &loop)
        }
    }

    /// `parsed`: the head, when it was parsed already.
    private mutating func requestHeadComplete(_ slot: UInt32, start: Int, length: Int, parsed: RequestHead?,
                                              loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        let generation = sessions.generation(slot)
        let frontend = Int(s.pointee.frontend)
        let head = UnsafeRawBufferPointer(start: buffers.pointer(s.pointee.toServer.buffer) + start, count: length)
        s.pointee.exchange.requestHeadLength = Int32(length)
        let request: RequestHead
        do throws(HTTPParseError) {
            if let parsed { request = parsed } else {
                request = try HTTPParser.parseRequest(head, headers: &headers, limits: httpLimits)
            }
        } catch {
            // Logged as HAProxy does: `<BADREQ>`, no request time.
            if options.debug { Notice.debug("\(frontends[frontend].name): bad request: \(error.reason)") }
            reply(slot, status: error.status, cause: "P", phase: "R", loop: &loop)
            return .progressed
        }
        // A form posted to a stats page is read whole before the page acts on it.
        if request.method == .post,
           awaitsStatsForm(slot, frontend: frontend, head: head, request: request,
                           bodyBytes: s.pointee.toServer.tail - (start + length)) {
            return .idle
        }
        if frontends[frontend].buffersRequestBody,
           awaitsRequestBody(slot, request: request, bodyStart: start + length) {
            return .idle
        }
        s.pointee.exchange.requestHeadAt = loop.now
        recordRequestLine(slot, head)
        s.pointee.exchange.method = request.method
        s.pointee.exchange.clientMinor = Int8(request.versionMinor)
        s.pointee.exchange.clientKeepAlive = request.keepAlive && frontends[frontend].closesClientAfterResponse == false
        s.pointee.exchange.clientClosesAfterResponse = !request.keepAlive
        s.pointee.exchange.upgradeRequested = request.upgrade
        if request.method == .connect {
            // A reverse proxy has no tunnel to open to an arbitrary host.
            reply(slot, status: 405, cause: "P", phase: "R", loop: &loop)
            return .progressed
        }
        let backend: Int
        switch applyRequestRules(slot, head: head, request: request, requestEnd: start + length, loop: &loop) {
        case .forward(let chosen): backend = chosen
        case .answered: return .progressed
        case .closed: return .closed
        }
        analyseRequestCookies(slot, backend: backend)
        analyseServerRules(slot, backend: backend)
        analyseStickRules(slot, backend: backend)
        // Read before the response rules reset the engine.
        let l7RetryDisabled = rules.l7RetryDisabled
        guard let prefix = buffers.acquire() else {
            close(slot, cause: "R", phase: "R", loop: &loop)
            return .closed
        }
        if compresses { negotiateCompression(slot, backend: backend) }
        var writer = HeadWriter(buffers.pointer(prefix), capacity: bufferSize)
        writeRequestHead(&writer, head: head, request: request, slot: slot, backend: backend)
        if writer.overflowed {
            buffers.release(prefix)
            // The rewritten head outgrew the buffer (tune.maxrewrite).
            reply(slot, status: 500, cause: "P", phase: "R", loop: &loop)
            return .progressed
        }
        if s.pointee.toServer.prefix >= 0 { buffers.release(s.pointee.toServer.prefix) }
        s.pointee.toServer.prefix = prefix
        s.pointee.toServer.prefixHead = 0
        s.pointee.toServer.prefixTail = writer.count
        s.pointee.toServer.holdPrefix = false
        s.pointee.toServer.holdBody = false
        s.pointee.toServer.head = start + length
        s.pointee.toServer.limit = start + length
        s.pointee.exchange.requestBody = BodyTracker(framing: request.framing)
        s.pointee.exchange.requestHasBody = request.framing != .none
        s.pointee.exchange.request = request.framing == .none ? .complete : .body
        s.pointee.exchange.response = .head

        // The exchange is in the backend (the rules put it there): pick a
        // server, or reuse the connection kept from the previous exchange
        // when it is the pick.
        s.pointee.retriesLeft = Int32(backends[backend].retries)
        s.pointee.retriesDone = 0
        s.pointee.redispatched = false
        s.pointee.queuedAt = -1
        s.pointee.queueTime = -1
        s.pointee.connectStart = -1
        s.pointee.connectTime = -1
        s.pointee.phase = .queued
        s.pointee.phaseExpiry = .max
        touchClient(slot, now: loop.now)
        assignServer(slot, loop: &loop)
        guard sessions.matches(slot, generation: generation) else { return .closed }
        // The request is kept until the response head is known, to be sent
        // again if it fails: over a new connection when a reused one turns
        // out to be closed (requests without a body), or as `retry-on` asks
        // (while the whole request fits the buffer).
        let retriesL7 = backends[backend].holdsRequests && !l7RetryDisabled
        if s.pointee.phase != .httpReply
            && (retriesL7 || (s.pointee.exchange.reusedConnection && request.framing == .none)) {
            s.pointee.toServer.holdPrefix = true
            s.pointee.toServer.holdBody = true
            s.pointee.toServer.replayFrom = start + length
        }
        if s.pointee.exchange.request == .body { _ = advanceRequestBody(slot, loop: &loop) }
        return sessions.matches(slot, generation: generation) ? .progressed : .closed
    }

    private mutating func advanceRequestBody(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        let d = s.pointee.toServer
        if d.buffer >= 0 && d.tail > d.limit {
            let bytes = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + d.limit, count: d.tail - d.limit)
            let consumed: Int
            do { consumed = try s.pointee.exchange.requestBody.advance(bytes) } catch {
                if options.debug { Notice.debug("\(frontends[Int(s.pointee.frontend)].name): bad request body: \(error.reason)") }
                if s.pointee.exchange.response == .head && s.pointee.exchange.responseBytes == 0 {
                    reply(slot, status: 400, cause: "P", phase: "D", loop: &loop)
                    return .progressed
                }
                close(slot, cause: "P", phase: "D", loop: &loop)
                return .closed
            }
            s.pointee.toServer.limit += consumed
            if s.pointee.exchange.requestBody.isComplete { s.pointee.exchange.request = .complete }
            return consumed > 0 ? .progressed : .idle
        }
        if d.sourceEOF && s.pointee.exchange.request == .body {
            // The client went away in the middle of its request body.
            close(slot, cause: "C", phase: "D", loop: &loop)
            return .closed
        }
        return .idle
    }

    /// Keeps the request line for the log (HAProxy's `%r`), truncated to a
    /// line buffer. A frontend that does not log HTTP costs a test, not a call.
    @inline(__always)
    private mutating func recordRequestLine(_ slot: UInt32, _ head: UnsafeRawBufferPointer) {
        guard frontends[Int(sessions.pointer(slot).pointee.frontend)].httpLog else { return }
        copyRequestLine(slot, head)
    }

    private mutating func copyRequestLine(_ slot: UInt32, _ head: UnsafeRawBufferPointer) {
        let s = sessions.pointer(slot)
        if s.pointee.exchange.requestLine < 0 {
            guard let id = lineBuffers.acquire() else { return }
            s.pointee.exchange.requestLine = id
        }
        var n = 0
        let limit = min(head.count, requestLineLimit)
        while n < limit && head[n] != 13 && head[n] != 10 { n += 1 }
        lineBuffers.pointer(s.pointee.exchange.requestLine).copyMemory(from: head.baseAddress!, byteCount: n)
        s.pointee.exchange.requestLineLength = Int32(n)
    }

    // MARK: - Response

    mutating func analyseResponse(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        switch s.pointee.exchange.response {
        case .head:
            // As for requests: no byte and no end of file, no call.
            let d = s.pointee.toClient
            guard (d.buffer >= 0 && d.tail > d.limit) || d.sourceEOF else { return .idle }
            return analyseResponseHead(slot, loop: &loop)
        case .body:
            return advanceResponseBody(slot, loop: &loop)
        case .idle, .complete, .tunnel:
            return .idle
        }
    }

    private mutating func analyseResponseHead(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        let d = s.pointee.toClient
        guard d.buffer >= 0 && d.tail > d.limit else {
            if d.sourceEOF {
                // Closed without a response: a reused connection the server
                // had given up on gets the request again on a new one.
                if retryOnNewConnection(slot, loop: &loop) { return .progressed }
                guard observeAttempt(slot, .noResponse, loop: &loop) else { return .closed }
                if retryRequest(slot, after: .emptyResponse, loop: &loop) { return .progressed }
                reply(slot, status: 502, cause: "S", phase: "H", loop: &loop)
                return .progressed
            }
            return .idle
        }
        guard d.prefix < 0 && d.head == d.limit else { return .idle }
        let start = d.limit
        let bytes = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + start, count: d.tail - start)
        let length: Int
        var parsed: ResponseHead?
        if !s.pointee.exchange.responseHeadScanned {
            // As for requests: parsed at once, the scanner only after a failure.
            parsed = try? HTTPParser.parseResponse(bytes, requestMethod: s.pointee.exchange.method, headers: &headers,
                                                  limits: httpLimits)
            if parsed == nil { s.pointee.exchange.responseHeadScanned = true }
        }
        if let parsed {
            length = parsed.headLength
        } else {
            switch s.pointee.exchange.responseScanner.scan(bytes, limits: httpLimits) {
            case .incomplete:
                if d.sourceEOF {
                    // A partial head, then nothing: junk.
                    guard observeAttempt(slot, .invalidResponse, loop: &loop) else { return .closed }
                    if retryRequest(slot, after: .junkResponse, loop: &loop) { return .progressed }
                    reply(slot, status: 502, cause: "S", phase: "H", loop: &loop)
                    return .progressed
                }
                return .idle
            case .tooLarge:
                guard observeAttempt(slot, .invalidResponse, loop: &loop) else { return .closed }
                if retryRequest(slot, after: .junkResponse, loop: &loop) { return .progressed }
                reply(slot, status: 502, cause: "P", phase: "H", loop: &loop)
                return .progressed
            case .complete(let n):
                length = n
            }
        }
        let head = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + start, count: length)
        let response: ResponseHead
        do throws(HTTPParseError) {
            if let parsed { response = parsed } else {
                response = try HTTPParser.parseResponse(head, requestMethod: s.pointee.exchange.method, headers: &headers,
                                                        limits: httpLimits)
            }
        } catch {
            guard observeAttempt(slot, .invalidResponse, loop: &loop) else { return .closed }
            if options.debug { Notice.debug("\(backends[Int(s.pointee.backend)].name): bad response: \(error.reason)") }
            if retryRequest(slot, after: .junkResponse, loop: &loop) { return .progressed }
            reply(slot, status: 502, cause: "P", phase: "H", loop: &loop)
            return .progressed
        }
        if response.status < 200 && response.status != 101 {
            // An interim response (100 Continue) goes through as it is; the
            // final one follows. Once it is out, the request is not replayed.
            dropReplay(&s.pointee.toServer)
            s.pointee.toClient.limit = start + length
            s.pointee.exchange.responseScanner.reset()
            s.pointee.exchange.responseHeadScanned = false
            return .progressed
        }
        // Every attempt is reported, the retried ones too (`observe layer7`).
        guard observeAttempt(slot, .httpStatus(response.status), loop: &loop) else { return .closed }
        if s.pointee.toServer.holdPrefix {
            // `retry-on 503` and the like: the server's answer is dropped and
            // the request goes again.
            if let bit = RetryOn.status(response.status), retryRequest(slot, after: bit, loop: &loop) { return .progressed }
            dropReplay(&s.pointee.toServer)
        }
        let readers = responseReaders.read(frontend: Int(s.pointee.frontend), backend: Int(s.pointee.backend))
        // A response that may be compressed is read too: its fields decide.
        let mayCompress = s.pointee.exchange.compression != .none
        let read = readers || mayCompress
        if read {
            if !applyResponseRules(slot, head: head, response: response, loop: &loop) { return .progressed }
            if readers {
                analyseResponseCookies(slot)
                analyseStickResponse(slot)
                if !applyAfterResponseRules(slot, loop: &loop) { return .progressed }
            }
            if mayCompress && compressesResponse(slot, response: response) {
                s.pointee.exchange.compressing = true
                s.pointee.deflate = DeflateStream(format: s.pointee.exchange.compression.format)
            }
        }
        guard let prefix = buffers.acquire() else {
            close(slot, cause: "R", phase: "H", loop: &loop)
            return .closed
        }
        let tunnel = response.status == 101 && s.pointee.exchange.upgradeRequested
        if response.status == 101 && !tunnel {
            buffers.release(prefix)
            reply(slot, status: 502, cause: "P", phase: "H", loop: &loop)
            return .progressed
        }
        if !tunnel {
            // A stopping worker (reload, SIGUSR1) says `connection: close` so
            // the client takes its next request to the new generation.
            if response.framing == .untilClose || stopping { s.pointee.exchange.clientKeepAlive = false }
            let backend = Int(s.pointee.backend)
            s.pointee.exchange.serverKeepAlive = response.keepAlive && backends[backend].keepsServerConnections
        }
        var writer = HeadWriter(buffers.pointer(prefix), capacity: bufferSize)
        if read {
            writeResponseHead(&writer, head: head, response: response, slot: slot, tunnel: tunnel)
        } else {
            writeParsedResponseHead(&writer, head: head, response: response, slot: slot, tunnel: tunnel)
        }
        if writer.overflowed {
            buffers.release(prefix)
            reply(slot, status: 502, cause: "P", phase: "H", loop: &loop)
            return .progressed
        }
        s.pointee.toClient.prefix = prefix
        s.pointee.toClient.prefixHead = 0
        s.pointee.toClient.prefixTail = writer.count
        s.pointee.toClient.head = start + length
        s.pointee.toClient.limit = start + length
        s.pointee.exchange.status = Int32(read ? rules.status : response.status)
        s.pointee.exchange.responseHeadAt = loop.now
        if read && rules.compiled.frontendLogging[Int(s.pointee.frontend)].early && frontends[Int(s.pointee.frontend)].httpLog {
            logExchangeEarly(slot, now: loop.now)
        }
        if tunnel {
            s.pointee.exchange.response = .tunnel
            return .progressed
        }
        s.pointee.exchange.responseBody = BodyTracker(framing: response.framing, message: .response)
        if response.framing == .none {
            s.pointee.exchange.response = .complete
            return .progressed
        }
        s.pointee.exchange.response = .body
        _ = advanceResponseBody(slot, loop: &loop)
        return .progressed
    }

    private mutating func advanceResponseBody(_ slot: UInt32, loop: inout EventLoop) -> AnalysisStep {
        let s = sessions.pointer(slot)
        if s.pointee.exchange.compressing { return advanceCompressedBody(slot, loop: &loop) }
        let d = s.pointee.toClient
        if d.buffer >= 0 && d.tail > d.limit {
            let bytes = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + d.limit, count: d.tail - d.limit)
            let consumed: Int
            do { consumed = try s.pointee.exchange.responseBody.advance(bytes) } catch {
                if options.debug { Notice.debug("\(backends[Int(s.pointee.backend)].name): bad response body: \(error.reason)") }
                // Part of the response is out already: all that is left is to cut it.
                close(slot, cause: "S", phase: "D", loop: &loop)
                return .closed
            }
            s.pointee.toClient.limit += consumed
            if s.pointee.exchange.responseBody.isComplete { s.pointee.exchange.response = .complete }
            if consumed > 0 { return .progressed }
        }
        if s.pointee.toClient.sourceEOF && s.pointee.exchange.response == .body {
            do {
                try s.pointee.exchange.responseBody.endOfStream()
                s.pointee.exchange.response = .complete
                s.pointee.exchange.serverKeepAlive = false
                return .progressed
            } catch {
                // Truncated: the server closed before the announced end.
                close(slot, cause: "S", phase: "D", loop: &loop)
                return .closed
            }
        }
        return .idle
    }

    // MARK: - End of an exchange

    /// The response is out: log the exchange, give the server back, then wait
    /// for the next request or close. Returns false when the session closed
    /// or left the HTTP loop.
    mutating func finishExchange(_ slot: UInt32, loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        recordExchange(slot, now: loop.now)
        if frontends[frontend].httpLog { logExchange(slot, now: loop.now) }
        if rules.stick.enabled { endStickExchange(slot) }
        s.pointee.exchange.started = false
        dropReplay(&s.pointee.toServer)
        if !serverNames.isEmpty { serverNames[slot] = nil }
        let backend = Int(s.pointee.backend)
        let keepServer = s.pointee.phase == .connected && s.pointee.exchange.serverKeepAlive
            && s.pointee.exchange.request == .complete && s.pointee.toClient.tail == s.pointee.toClient.limit
            && !s.pointee.toClient.sourceEOF && isFlushed(s.pointee.toServer)
        let keepClient = s.pointee.exchange.clientKeepAlive && s.pointee.exchange.request == .complete
            && !s.pointee.toServer.sourceEOF && !stopping
        let reuse = backend >= 0 ? backends[backend].reuse : .never
        if keepServer && (reuse == .never || (keepClient && reuse == .safe)) {
            // The connection stays with this client for its next request
            // (`never`: always; `safe`: while the client stays, then it goes
            // to the pool): no epoll change, no pool traffic per request.
            s.pointee.serverExpiry = .max
        } else if keepServer && reuse != .never {
            parkServerConnection(slot, loop: &loop)
        } else {
            detachServerConnection(slot)
        }
        if backend >= 0 {
            if s.pointee.countedOnServer {
                releaseServer(backend: backend, server: Int(s.pointee.server))
                s.pointee.countedOnServer = false
            }
            backends[backend].current -= 1
            stats.close(stats.backend(backend))
            s.pointee.backend = -1
        }
        s.pointee.server = -1
        if keepClient {
            let served = s.pointee.exchange.served
            let line = s.pointee.exchange.requestLine
            s.pointee.exchange = HTTPExchange()
            s.pointee.exchange.served = served + 1
            s.pointee.exchange.requestLine = line
            s.pointee.exchange.waitStart = loop.now
            s.pointee.exchange.waitStartWall = loop.wallNow
            s.pointee.terminationCause = UInt8(ascii: "-")
            s.pointee.terminationPhase = UInt8(ascii: "-")
            // The next exchange's timers start afresh (%Tw, %Tc).
            s.pointee.queuedAt = -1
            s.pointee.queueTime = -1
            s.pointee.connectTime = -1
            s.pointee.phase = .httpHead
            s.pointee.clientExpiry = .max
            let timeout = frontends[frontend].keepAliveTimeout
            s.pointee.phaseExpiry = timeout.map { loop.now + Int64($0) } ?? .max
        }
        // The slot freed on the server may go to a queued session.
        if backend >= 0 && backends[backend].queueHead >= 0 { processQueue(backend: backend, loop: &loop) }
        if keepClient { return true }
        lingeringClose(slot, loop: &loop)
        return false
    }

    /// Shuts the client's write side and reads until it closes, so that
    /// unread bytes (a request we will not serve) do not turn into a reset
    /// that destroys the response in flight.
    private mutating func lingeringClose(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        // A client that said it closes after this response, whose request
        // was read whole with nothing after it, sends nothing more: close
        // at once rather than wait for its FIN.
        let d = s.pointee.toServer
        if s.pointee.exchange.clientClosesAfterResponse && s.pointee.exchange.request == .complete
            && (d.buffer < 0 || d.head == d.tail) && !d.sourceReadable {
            close(slot, cause: "-", loop: &loop)
            return
        }
        detachServerConnection(slot)
        releaseBuffers(&s.pointee.toServer)
        releaseBuffers(&s.pointee.toClient)
        if let tls = s.pointee.tls { TLSConnection.shutdown(tls) }
        Posix.shutdownWrite(s.pointee.clientFD)
        s.pointee.toClient.sinkShut = true
        s.pointee.phase = .lingering
        s.pointee.phaseExpiry = .max
        touchClient(slot, now: loop.now)
        drainLingeringClient(slot, loop: &loop)
    }

    mutating func releaseBuffers(_ d: inout Direction) {
        if d.buffer >= 0 { buffers.release(d.buffer) }
        if d.prefix >= 0 { buffers.release(d.prefix) }
        d.buffer = -1
        d.prefix = -1
        d.head = 0
        d.limit = 0
        d.tail = 0
        d.prefixHead = 0
        d.prefixTail = 0
        d.holdPrefix = false
        d.holdBody = false
    }

    // MARK: - Answers from the proxy itself

    /// Answers the current request with the proxy's page for `status` (its
    /// `errorfile`, `errorloc` or `http-error`, else the built-in one), then
    /// closes. `cause`/`phase` are the termination state logged. A tarpitted
    /// request whose time is up gets its tarpit status instead, logged `PT`.
    mutating func reply(_ slot: UInt32, status: Int, cause: Character, phase: Character, loop: inout EventLoop) {
        var status = status
        var cause = cause
        var phase = phase
        let tarpitStatus = endTarpit(slot)
        if tarpitStatus != 0 {
            let custom = rules.sessions.tarpitAnswer(slot)
            if custom != 0 {
                let answer = rules.compiled.tarpitAnswers[custom - 1]
                if answer.readsRequest {
                    // Written when the tarpit began (`startTarpit`).
                    let s = sessions.pointer(slot)
                    let id = s.pointee.toClient.prefix
                    let count = s.pointee.toClient.prefixTail
                    s.pointee.toClient.prefix = -1
                    s.pointee.toClient.prefixTail = 0
                    commitAnswer(slot, buffer: id, count: count, status: answer.status, cause: "P", phase: "T",
                                 keepAlive: false, requestEnd: nil, loop: &loop)
                } else {
                    sendDenial(slot, answer, phase: "T", loop: &loop)
                }
                return
            }
            status = tarpitStatus
            cause = "P"
            phase = "T"
        }
        let page = writeErrorAnswer(slot, status: status)
        commitAnswer(slot, buffer: page?.buffer, count: page?.count ?? 0, status: status, cause: cause, phase: phase,
                     keepAlive: false, requestEnd: nil, loop: &loop)
    }

    /// A send or receive on the server connection failed: a 502 while no
    /// response has reached the client, else the session ends. Returns false
    /// when the session was closed.
    mutating func serverFailed(_ slot: UInt32, loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        if s.pointee.exchange.response == .head && s.pointee.exchange.responseBytes == 0 {
            if retryOnNewConnection(slot, loop: &loop) { return true }
            // Nothing received is an empty response; part of a head, junk.
            let d = s.pointee.toClient
            let junk = d.buffer >= 0 && d.tail > d.limit
            guard observeAttempt(slot, junk ? .invalidResponse : .noResponse, loop: &loop) else { return false }
            let failure: RetryOn = junk ? .junkResponse : .emptyResponse
            if retryRequest(slot, after: failure, loop: &loop) { return true }
            reply(slot, status: 502, cause: "S", phase: "H", loop: &loop)
            return true
        }
        close(slot, cause: "S", loop: &loop)
        return false
    }

    /// A reused server connection failed before any response byte: sends
    /// the held request again over a new connection to the same server
    /// (not counted as a retry). Returns false when the request cannot be
    /// replayed.
    private mutating func retryOnNewConnection(_ slot: UInt32, loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        guard s.pointee.exchange.reusedConnection && !s.pointee.exchange.requestHasBody
            && s.pointee.toClient.tail == s.pointee.toClient.limit && canReplay(slot) else {
            return false
        }
        rewindRequest(slot)
        connect(slot, loop: &loop)
        return true
    }

    /// Reports what the server connection's latest attempt gave to the
    /// passive checks (`observe`), retried or not. False when that closed
    /// the session (`on-marked-down shutdown-sessions` in `-d` mode).
    mutating func observeAttempt(_ slot: UInt32, _ outcome: PassiveOutcome, loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        let generation = sessions.generation(slot)
        observed(backend: Int(s.pointee.connectionBackend), server: Int(s.pointee.connectionServer), outcome, loop: &loop)
        return sessions.matches(slot, generation: generation)
    }

    /// `retry-on`: the exchange failed as `failure` says; when the backend
    /// retries on it, a retry is left and the request can be replayed, the
    /// server's connection and whatever it sent are dropped, and the request
    /// goes again, to the same server or, as `option redispatch` decides, to
    /// another. Returns false when the failure stands.
    mutating func retryRequest(_ slot: UInt32, after failure: RetryOn, loop: inout EventLoop) -> Bool {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        guard backend >= 0, s.pointee.server >= 0, backends[backend].retryOn.contains(failure),
              s.pointee.retriesLeft > 0, canReplay(slot) else { return false }
        if options.debug {
            Notice.debug("\(backends[backend].name)/\(backends[backend].servers[Int(s.pointee.server)].name): "
                         + "retrying the request (\(failure.rawValue))")
        }
        rewindRequest(slot)
        countRetry(slot, backend: backend)
        if shouldRedispatch(slot, backend: backend) {
            redispatch(slot, backend: backend, loop: &loop)
        } else {
            connect(slot, loop: &loop)
        }
        return true
    }

    /// The request can be sent again: all of it arrived and is still held,
    /// and nothing of a response went to the client.
    private func canReplay(_ slot: UInt32) -> Bool {
        let s = sessions.pointer(slot)
        let up = s.pointee.toServer
        let down = s.pointee.toClient
        return up.holdPrefix && up.holdBody && up.prefix >= 0 && s.pointee.exchange.request == .complete
            && s.pointee.exchange.responseBytes == 0 && down.prefix < 0 && down.head == down.limit
    }

    /// Drops the server connection and what came from it, and winds the
    /// held request back to its first byte.
    private mutating func rewindRequest(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        detachServerConnection(slot)
        releaseBuffers(&s.pointee.toClient)
        s.pointee.exchange.reusedConnection = false
        s.pointee.exchange.serverKeepAlive = false
        s.pointee.exchange.response = .head
        s.pointee.exchange.responseScanner.reset()
        s.pointee.exchange.responseHeadScanned = false
        s.pointee.exchange.requestSentAt = -1
        s.pointee.toServer.prefixHead = 0
        s.pointee.toServer.head = s.pointee.toServer.replayFrom
    }

    /// The client failed or went away mid-exchange.
    mutating func abortExchange(_ slot: UInt32, cause: Character, loop: inout EventLoop) {
        close(slot, cause: cause, loop: &loop)
    }

    // MARK: - Lingering close

    /// A session in `lingering` (its response out, its write side shut):
    /// discards what the client still sends until it closes.
    mutating func drainLingeringClient(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        let status = pump(&s.pointee.toServer, from: s.pointee.clientFD, to: -1, sinkReady: false,
                          sourceTLS: s.pointee.tls)
        if s.pointee.toServer.buffer >= 0 { buffers.release(s.pointee.toServer.buffer) }
        s.pointee.toServer.buffer = -1
        s.pointee.toServer.head = 0
        s.pointee.toServer.tail = 0
        if status.sourceError != nil || s.pointee.toServer.sourceEOF {
            close(slot, cause: "-", loop: &loop)
            return
        }
        if status.sourceActive { touchClient(slot, now: loop.now) }
        rearm(slot, loop: &loop)
    }
}
