import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One request as the test HTTP server received it.
struct RecordedRequest: Sendable, CustomStringConvertible {
    var method: String
    var target: String
    var version: String
    /// In wire order, names as sent.
    var headers: [HTTPHeaderField]
    var body: HTTPBody
    /// Which accepted connection it came on (1 for the first one).
    var connection: Int
    /// Its rank on that connection (1 for the first request).
    var indexOnConnection: Int
    /// The server sent `100 Continue` before reading the body.
    var sentContinue: Bool

    var description: String { "\(method) \(target) \(version) on #\(connection) \(headers)" }
}

/// What the test HTTP server answers.
indirect enum BackendReply: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        /// The first `n` bytes of `HTTPPattern`, streamed.
        case pattern(Int)

        var count: Int {
            switch self {
            case .bytes(let b): b.count
            case .pattern(let n): n
            }
        }
    }

    enum Framing: Sendable {
        /// `content-length` added.
        case contentLength
        /// `transfer-encoding: chunked`, chunks of at most `chunkSize`, then trailers.
        case chunked(chunkSize: Int, trailers: [HTTPHeaderField])
        /// No length: the end of the body is the server closing.
        case close
        /// Nothing added: the body (if any) as the headers describe it.
        case none
    }

    /// A response (status line reason from `HTTPBackend.reason`).
    case response(status: Int, headers: [HTTPHeaderField], body: Body, framing: Framing)
    /// `101 Switching Protocols` with these headers, then every byte echoed until EOF.
    case switchAndEcho(headers: [HTTPHeaderField])
    /// These bytes as they are, then close (if `close`) or wait for the next request.
    case raw([UInt8], close: Bool)
    /// Close the connection without writing anything.
    case closeWithoutAnswer
    /// Never answer: read and discard until the peer closes.
    case neverAnswer
    /// A head announcing `content-length: total`, half the body, then close.
    case halfBodyThenClose(total: Int)
    /// A head announcing `content-length: total` and the body's first bytes,
    /// `firstWrite` bytes in all in one write, then the rest of the body
    /// once `release` is signalled (10 s at most).
    case partThenRest(total: Int, firstWrite: Int, release: DispatchSemaphore)
    /// The reply after a pause (for timeout tests).
    case after(milliseconds: Int, BackendReply)

    /// A small response with a text body and content-length.
    static func text(_ status: Int, _ body: String, headers: [HTTPHeaderField] = []) -> BackendReply {
        .response(status: status, headers: headers, body: .bytes(Array(body.utf8)), framing: .contentLength)
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 for scenario tests: one thread per
/// connection, blocking sockets. Parses requests (Content-Length and chunked
/// bodies, `Expect: 100-continue`), records each, answers with `handler`, and
/// keeps connections alive as HTTP/1.1 says.
final class HTTPBackend: @unchecked Sendable {
    typealias Handler = @Sendable (RecordedRequest) -> BackendReply

    let name: String
    let port: UInt16
    private let listenFD: Int32
    private let handler: Handler
    private let state = Mutex(State())
    private let stopFlag = Atomic<Bool>(false)
    /// Signalled once by the accept loop when it returns.
    private let acceptorDone = DispatchSemaphore(value: 0)
    /// Entered for every serving thread, left when it returns.
    private let serving = DispatchGroup()
    /// Whether to answer `Expect: 100-continue` with `100 Continue`.
    let sendsContinue: Bool

    private struct State {
        var requests: [RecordedRequest] = []
        var accepted = 0
        var open: [Int32: Int] = [:] // fd → connection number
        var errors: [String] = []
    }

    var address: String { "127.0.0.1:\(port)" }
    /// Every request received so far, in arrival order.
    var requests: [RecordedRequest] { state.withLock { $0.requests } }
    /// How many connections were accepted.
    var accepted: Int { state.withLock { $0.accepted } }
    /// How many connections are open right now.
    var openConnections: Int { state.withLock { $0.open.count } }
    /// Protocol errors the server met (a malformed request from the proxy).
    var errors: [String] { state.withLock { $0.errors } }

    /// The default answer: `200`, body `<name> <METHOD> <target>\n`, header `x-served-by: <name>`.
    static func defaultHandler(_ name: String) -> Handler {
        { request in
            .text(200, "\(name) \(request.method) \(request.target)\n",
                  headers: [HTTPHeaderField(name: "x-served-by", value: name)])
        }
    }

    init(name: String = "s1", sendsContinue: Bool = true, handler: Handler? = nil) throws {
        self.name = name
        self.sendsContinue = sendsContinue
        self.handler = handler ?? Self.defaultHandler(name)
        listenFD = try Sock.listener(host: "127.0.0.1", backlog: 4096)
        // Non-blocking: the accept loop drains the queue after each poll and
        // must get EAGAIN, not block in accept(2) until the next connection.
        Sock.setNonBlocking(listenFD)
        port = Sock.localPort(listenFD)
        let thread = Thread { [self] in acceptLoop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting and cuts every open connection; returns once every
    /// thread of this server has returned (at most 5 s each wait, for a
    /// handler that never returns).
    ///
    /// `shutdown(2)` of the listening socket wakes the accept loop's poll at
    /// once (the socket turns to CLOSE: POLLHUP); `shutdown(2)` of a
    /// connection ends the serving thread's blocking read or write. Only
    /// `stop()` closes the listening socket, after the loop has left it, so no
    /// shutdown ever lands on a descriptor number reused elsewhere.
    func stop() {
        if stopFlag.exchange(true, ordering: .sequentiallyConsistent) { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        _ = acceptorDone.wait(timeout: .now() + 5)
        Glibc.close(listenFD)
        state.withLock { s in for fd in s.open.keys { shutdown(fd, Int32(SHUT_RDWR)) } }
        _ = serving.wait(timeout: .now() + 5)
    }

    /// Waits until `condition` holds on the recorded requests.
    @discardableResult
    func waitForRequests(timeout: Double = 10, _ condition: ([RecordedRequest]) -> Bool) -> Bool {
        waitUntil(timeout: timeout) { condition(requests) }
    }

    private func acceptLoop() {
        defer { acceptorDone.signal() }
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            // No timeout: `stop()` wakes this poll by shutting the socket down.
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, -1) <= 0 { continue }
            for _ in 0..<256 {
                let fd = acceptNonBlocking(listenFD)
                if fd < 0 { break }
                // Blocking from here on, with bounds so a thread never hangs forever.
                let flags = fcntl(fd, F_GETFL)
                _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
                Sock.setTimeouts(fd, seconds: 120)
                Sock.setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                let number = state.withLock { s -> Int in
                    s.accepted += 1
                    s.open[fd] = s.accepted
                    return s.accepted
                }
                serving.enter()
                let thread = Thread { [self] in serve(fd: fd, connection: number) }
                thread.stackSize = 512 << 10
                thread.start()
            }
        }
    }

    private func note(_ error: String) {
        state.withLock { $0.errors.append(error) }
    }

    private func serve(fd: Int32, connection: Int) {
        defer {
            // Out of `open` before the close, so `stop()` never shuts down a reused number.
            _ = state.withLock { $0.open.removeValue(forKey: fd) }
            Glibc.close(fd)
            serving.leave()
        }
        var reader = HTTPByteReader(fd: fd)
        var index = 0
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            index += 1
            let requestLine: String
            do {
                requestLine = try reader.line()
            } catch {
                return // the peer closed between requests (or we were stopped)
            }
            do {
                let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3 else {
                    note("bad request line \(requestLine.debugDescription)")
                    try writeAll(fd, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    return
                }
                let headers = try readHeaderFields(&reader)
                var request = RecordedRequest(method: parts[0], target: parts[1], version: parts[2], headers: headers,
                                              body: HTTPBody(), connection: connection, indexOnConnection: index,
                                              sentContinue: false)
                if sendsContinue && headers.tokens("expect").contains("100-continue") && request.version == "HTTP/1.1" {
                    try writeAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")
                    request.sentContinue = true
                }
                if headers.tokens("transfer-encoding").last == "chunked" {
                    try readChunkedBody(&reader, into: &request.body)
                } else if let cl = headers.value("content-length") {
                    guard let length = Int(cl), length >= 0 else {
                        note("bad content-length \(cl)")
                        return
                    }
                    try reader.read(length) { request.body.append($0) }
                }
                state.withLock { $0.requests.append(request) }
                let keepAlive = wantsKeepAlive(request)
                let reply = handler(request)
                let open = try answer(fd: fd, reader: &reader, request: request, reply: reply)
                if !open || !keepAlive { return }
            } catch let end as HTTPByteReader.End {
                if !end.isClosed { note("reading a request: \(end)") }
                return
            } catch {
                note("\(error)")
                return
            }
        }
    }

    private func wantsKeepAlive(_ request: RecordedRequest) -> Bool {
        let tokens = request.headers.tokens("connection")
        if request.version == "HTTP/1.0" { return tokens.contains("keep-alive") }
        return !tokens.contains("close")
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Whatever"
        }
    }

    private func head(_ status: Int, _ headers: [HTTPHeaderField]) -> String {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for h in headers { text += "\(h.name): \(h.value)\r\n" }
        return text
    }

    /// Writes `reply`; returns whether the connection may carry another request.
    private func answer(fd: Int32, reader: inout HTTPByteReader, request: RecordedRequest, reply: BackendReply) throws -> Bool {
        switch reply {
        case .after(let ms, let next):
            usleep(useconds_t(ms) * 1000)
            return try answer(fd: fd, reader: &reader, request: request, reply: next)
        case .closeWithoutAnswer:
            return false
        case .neverAnswer:
            _ = reader.readToEnd { _ in }
            return false
        case .raw(let bytes, let close):
            try writeAll(fd, bytes)
            return !close
        case .halfBodyThenClose(let total):
            try writeAll(fd, head(200, [HTTPHeaderField(name: "content-length", value: "\(total)")]) + "\r\n")
            try writeAll(fd, HTTPPattern.bytes(total / 2))
            return false
        case .partThenRest(let total, let firstWrite, let release):
            let body = HTTPPattern.bytes(total)
            let head = Array((head(200, [HTTPHeaderField(name: "content-length", value: "\(total)")]) + "\r\n").utf8)
            let first = firstWrite - head.count
            try writeAll(fd, head + body[..<first])
            _ = release.wait(timeout: .now() + 10)
            try writeAll(fd, body[first...])
            return true
        case .switchAndEcho(let headers):
            try writeAll(fd, head(101, headers) + "\r\n")
            var pending = reader.takeBuffered()
            if !pending.isEmpty { try writeAll(fd, pending) }
            pending = []
            var failure: Error?
            _ = reader.readToEnd { piece in
                if failure == nil {
                    do { try writeAll(fd, piece) } catch { failure = error }
                }
            }
            shutdown(fd, Int32(SHUT_WR))
            return false
        case .response(let status, var headers, let body, let framing):
            let bodyless = request.method == "HEAD" || status == 204 || status == 304 || status < 200
            switch framing {
            case .contentLength:
                if status != 204 && status != 304 {
                    headers.append(HTTPHeaderField(name: "content-length", value: "\(body.count)"))
                }
            case .chunked:
                if !bodyless { headers.append(HTTPHeaderField(name: "transfer-encoding", value: "chunked")) }
            case .close, .none:
                break
            }
            try writeAll(fd, head(status, headers) + "\r\n")
            if bodyless { return true }
            switch framing {
            case .contentLength, .close, .none:
                try forEachPiece(body, maximum: 65536) { try writeAll(fd, $0) }
            case .chunked(let size, let trailers):
                try forEachPiece(body, maximum: max(1, size)) { piece in
                    try writeAll(fd, String(piece.count, radix: 16) + "\r\n")
                    try writeAll(fd, piece)
                    try writeAll(fd, "\r\n")
                }
                var end = "0\r\n"
                for t in trailers { end += "\(t.name): \(t.value)\r\n" }
                try writeAll(fd, end + "\r\n")
            }
            if case .close = framing { return false }
            return true
        }
    }

    private func forEachPiece(_ body: BackendReply.Body, maximum: Int, _ write: (ArraySlice<UInt8>) throws -> Void) throws {
        switch body {
        case .bytes(let bytes):
            var offset = 0
            while offset < bytes.count {
                let n = min(maximum, bytes.count - offset)
                try write(bytes[offset..<offset + n])
                offset += n
            }
        case .pattern(let count):
            try HTTPPattern.forEachPiece(count) { block in
                var offset = block.startIndex
                while offset < block.endIndex {
                    let n = min(maximum, block.endIndex - offset)
                    try write(block[offset..<offset + n])
                    offset += n
                }
            }
        }
    }
}
