import Glibc
import WeirConfig
import WeirHTTP
import WeirLoop
import WeirShared
import WeirSystem
import WeirTLS

/// An answer of the proxy longer than one pooled buffer (the statistics
/// page, the Prometheus exposition): the bytes not yet handed to the
/// client connection, a buffer at a time.
struct LongAnswer {
    var bytes: [UInt8]
    var sent: Int
}

/// The HTML statistics page (`stats uri`) and the Prometheus exporter
/// (`http-request use-service prometheus-exporter`), rendered by the worker
/// from the shared segment: every worker's counters summed, as `show stat`.
extension Worker {
    /// What the page and the exporter say about the process.
    func pageProcessInfo() -> StatsProcessInfo {
        StatsProcessInfo(pid: getpid(), workers: max(1, stats.segment.slots), startedWall: startedWall,
                         version: ConfigParser.version, maxconn: maxconn, fileLimit: fileLimit,
                         listeners: listeners.count, stopping: stopping)
    }

    /// Whether an answer to this request may keep the client connection, and how to say so.
    func answerConnection(_ slot: UInt32, request: RequestHead) -> (keepAlive: Bool, connection: AnswerConnection) {
        let s = sessions.pointer(slot)
        let keepAlive = request.framing == .none && s.pointee.exchange.clientKeepAlive && !stopping
        let connection: AnswerConnection = !keepAlive ? .close
            : s.pointee.exchange.clientMinor == 0 ? .keepAliveHTTP10 : .keepAlive
        return (keepAlive, connection)
    }

    /// `use-service prometheus-exporter`.
    mutating func servePrometheus(_ slot: UInt32, request: RequestHead?, requestEnd: Int?, loop: inout EventLoop) {
        guard let request else {
            reply(slot, status: 500, cause: "I", phase: "H", loop: &loop)
            return
        }
        let now = Int(StatsCommands.wallSeconds())
        let body = PrometheusExporter.render(view: statsView(), process: pageProcessInfo(), now: now)
        sendLongAnswer(slot, status: 200, contentType: PrometheusExporter.contentType, body: body,
                       request: request, requestEnd: requestEnd, loop: &loop)
    }

    /// A POST to a stats page with `stats admin` whose form has not fully
    /// arrived: the head waits in the buffer for it (a client that expects
    /// `100 Continue` is told to send it).
    mutating func awaitsStatsForm(_ slot: UInt32, frontend: Int, head: UnsafeRawBufferPointer, request: RequestHead,
                                  bodyBytes: Int) -> Bool {
        guard request.method == .post, case .contentLength(let length) = request.framing,
              length <= Int64(Self.statsFormLimit), Int64(bodyBytes) < length else { return false }
        let target = UnsafeRawBufferPointer(rebasing: head[request.targetStart..<request.targetEnd])
        func matches(_ page: CompiledStatsPage?) -> Bool {
            guard let page, page.admin != nil else { return false }
            return Self.hasPrefix(target, page.uri)
        }
        guard matches(rules.compiled.frontendStatsPages[frontend])
                || rules.compiled.backendStatsPages.contains(where: matches) else { return false }
        sendContinueIfExpected(slot, request: request)
        return true
    }

    static let statsFormLimit = 4096

    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        return prefix.count == 0 || memcmp(bytes.baseAddress!, prefix.baseAddress!, prefix.count) == 0
    }

    /// Serves `page` when the request's URI starts with its `stats uri`;
    /// false when it is not for the page. The rules engine still holds the
    /// request (for `stats admin` conditions and credentials).
    mutating func serveStatsPage(_ page: CompiledStatsPage, slot: UInt32, head: UnsafeRawBufferPointer,
                                 request: RequestHead, requestEnd: Int, loop: inout EventLoop) -> Bool {
        let target = UnsafeRawBufferPointer(rebasing: head[request.targetStart..<request.targetEnd])
        guard Self.hasPrefix(target, page.uri) else { return false }
        if !page.credentials.isEmpty && !rules.carriesCredentials(page.credentials) {
            answer(slot, .auth(realm: page.realm), request: request, requestEnd: requestEnd, tarpitTimeout: nil,
                   loop: &loop)
            return true
        }
        // `;csv`, `;up`, `;norefresh`, `;st=…` after the URI, in any order.
        var csv = false, onlyUp = false, noRefresh = false
        var outcome: String?
        let rest = String(decoding: target[page.uri.count...], as: UTF8.self)
        for option in rest.split(separator: ";").dropFirst(rest.hasPrefix(";") ? 0 : 1) {
            switch option {
            case "csv": csv = true
            case "up": onlyUp = true
            case "norefresh": noRefresh = true
            default: if option.hasPrefix("st=") { outcome = String(option.dropFirst(3).prefix(4)) }
            }
        }
        let admin = page.admin.map { rules.evaluate($0) } ?? false
        let now = Int(StatsCommands.wallSeconds())
        let view = statsView()
        if request.method == .post {
            var result = "DENY"
            var consumed = requestEnd
            if admin {
                result = "ERRP"
                let d = sessions.pointer(slot).pointee.toServer
                if case .contentLength(let length) = request.framing, length <= Int64(Self.statsFormLimit),
                   d.buffer >= 0, d.tail - requestEnd >= Int(length) {
                    let form = UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + requestEnd, count: Int(length))
                    result = applyStatsForm(Array(form), view: view)
                    consumed += Int(length)
                } else if case .contentLength(let length) = request.framing, length > Int64(Self.statsFormLimit) {
                    result = "EXCD"
                }
            }
            let location = String(decoding: page.uri, as: UTF8.self) + ";st=" + result
            sendLongAnswer(slot, status: 303, contentType: "text/plain", headers: "location: " + location + "\r\n",
                           body: "", request: request, requestEnd: consumed, loop: &loop)
            return true
        }
        let scope = page.page.scope.isEmpty ? nil : Set(page.page.scope)
        if csv {
            let rows = view.rows(now: now).filter { scope?.contains($0.info.proxy) ?? true }
            sendLongAnswer(slot, status: 200, contentType: "text/plain", body: StatsCSV.render(rows, now: now),
                           request: request, requestEnd: requestEnd, loop: &loop)
            return true
        }
        let refresh = noRefresh ? nil : page.page.refresh.map { max(1, $0 / 1000) }
        var options = StatsPageRenderer.Options(uri: String(decoding: page.uri, as: UTF8.self), refresh: refresh,
                                                hideVersion: page.page.hideVersion, showLegends: page.page.showLegends,
                                                admin: admin, onlyUp: onlyUp, outcome: outcome)
        options.node = page.page.showNode
        options.description = page.page.showDescription
        options.scope = scope
        let body = StatsPageRenderer.render(view: view, process: pageProcessInfo(), options: options, now: now)
        sendLongAnswer(slot, status: 200, contentType: "text/html", body: body, request: request,
                       requestEnd: requestEnd, loop: &loop)
        return true
    }

    /// The admin form, as HAProxy's page posts it: `s=SERVER` once per
    /// checked server, `action=ready|drain|maint`, `b=#IID` (or a backend
    /// name). Applied through the runtime API's `set server … state`.
    /// Returns HAProxy's outcome code (DONE, PART, NONE, ERRP).
    func applyStatsForm(_ form: [UInt8], view: StatsView) -> String {
        var servers: [String] = []
        var action = "", backend = ""
        for pair in form.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let key = Self.formDecode(parts[0]), value = Self.formDecode(parts[1])
            switch key {
            case "s": servers.append(value)
            case "action": action = value
            case "b": backend = value
            default: break
            }
        }
        guard ["ready", "drain", "maint"].contains(action) else { return "ERRP" }
        let layout = view.layout
        var name = backend
        if backend.hasPrefix("#") {
            guard let id = Int(backend.dropFirst()),
                  let b = (0..<layout.backendCount).first(where: { layout.entities[layout.backend($0)].proxyID == id }) else {
                return "ERRP"
            }
            name = layout.entities[layout.backend(b)].proxy
        }
        guard layout.backend(named: name) != nil else { return "ERRP" }
        guard !servers.isEmpty else { return "NONE" }
        let info = pageProcessInfo()
        var applied = 0
        for server in servers where !server.contains(" ") {
            let answer = StatsCommands.run("set server \(name)/\(server) state \(action)", view: view, process: info,
                                           level: .admin)
            if answer.isEmpty { applied += 1 }
        }
        return applied == servers.count ? "DONE" : applied == 0 ? "NONE" : "PART"
    }

    /// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte.
    static func formDecode(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "+") {
                out.append(32)
            } else if c == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Answers with a head and a body of any length: the first buffer's
    /// worth now, the rest as the connection drains (`refillLongAnswer`).
    mutating func sendLongAnswer(_ slot: UInt32, status: Int, contentType: String, headers: String = "", body: String,
                                 request: RequestHead, requestEnd: Int?, loop: inout EventLoop) {
        let (keepAlive, connection) = answerConnection(slot, request: request)
        let omitBody = request.method == .head
        let reason = HTTPStatus.reason(status)
        var head = "HTTP/1.1 \(status) " + String(decoding: UnsafeRawBufferPointer(start: reason.utf8Start,
                                                                                    count: reason.utf8CodeUnitCount),
                                                   as: UTF8.self)
        head += "\r\ncontent-type: " + contentType + "\r\ncontent-length: \(body.utf8.count)\r\ncache-control: no-cache\r\n"
        head += headers
        switch connection {
        case .close: head += "connection: close\r\n"
        case .keepAlive: break
        case .keepAliveHTTP10: head += "connection: keep-alive\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if !omitBody { bytes += body.utf8 }
        guard let id = buffers.acquire() else {
            close(slot, cause: "R", phase: "R", loop: &loop)
            return
        }
        let first = min(bytes.count, bufferSize)
        bytes.withUnsafeBytes { buffers.pointer(id).copyMemory(from: $0.baseAddress!, byteCount: first) }
        if bytes.count > first { longAnswers[slot] = LongAnswer(bytes: bytes, sent: first) }
        commitAnswer(slot, buffer: id, count: first, status: status, cause: "L", phase: "R", keepAlive: keepAlive,
                     requestEnd: requestEnd, loop: &loop)
    }

    /// Puts the next part of a long answer in the client side's prefix once
    /// the previous part is out.
    mutating func refillLongAnswer(_ slot: UInt32) {
        guard var pending = longAnswers[slot] else { return }
        let s = sessions.pointer(slot)
        guard s.pointee.toClient.prefix < 0, let id = buffers.acquire() else { return }
        let count = min(bufferSize, pending.bytes.count - pending.sent)
        pending.bytes.withUnsafeBytes {
            buffers.pointer(id).copyMemory(from: $0.baseAddress! + pending.sent, byteCount: count)
        }
        s.pointee.toClient.prefix = id
        s.pointee.toClient.prefixHead = 0
        s.pointee.toClient.prefixTail = count
        pending.sent += count
        longAnswers[slot] = pending.sent == pending.bytes.count ? nil : pending
    }
}
