import Glibc
import WeirHTTP
import WeirLoop

extension Worker {
    /// `monitor-uri`: answers a request for the monitor URI with 200, or 503
    /// when a `monitor fail` condition says so, as HAProxy does: before the
    /// `http-request` rules, with the frontend's `errorfile` for that status
    /// if it has one, and without a log line. False when the request is not
    /// for the monitor URI.
    mutating func serveMonitor(_ monitor: CompiledMonitor, slot: UInt32, head: UnsafeRawBufferPointer,
                               request: RequestHead, requestEnd: Int, loop: inout EventLoop) -> Bool {
        let target = UnsafeRawBufferPointer(rebasing: head[request.targetStart..<request.targetEnd])
        guard Self.isMonitorRequest(target, uri: monitor.uri) else { return false }
        var status = 200
        for condition in monitor.failConditions where rules.evaluate(condition) {
            status = 503
            break
        }
        let s = sessions.pointer(slot)
        s.pointee.exchange.monitor = true
        guard let id = buffers.acquire() else {
            close(slot, cause: "R", phase: "R", loop: &loop)
            return true
        }
        var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
        if let page = rules.errorPage(status, frontend: Int(s.pointee.frontend), backend: -1) {
            // A custom page is a whole response with its own framing: the connection closes after it.
            _ = rules.writeErrorPage(page, status: status, into: &writer)
            commitAnswer(slot, buffer: id, count: writer.count, status: status, cause: "L", phase: "R", keepAlive: false,
                         requestEnd: requestEnd, loop: &loop)
            return true
        }
        let (keepAlive, connection) = answerConnection(slot, request: request)
        let body: StaticString = status == 200
            ? "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"
            : "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
        rules.writeStatusLine(status, into: &writer)
        writer.append("content-length: ")
        writer.append(decimal: body.utf8CodeUnitCount)
        writer.append("\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n")
        rules.writeConnection(connection, into: &writer)
        writer.append("\r\n")
        if request.method != .head { writer.append(body) }
        commitAnswer(slot, buffer: id, count: writer.count, status: status, cause: "L", phase: "R", keepAlive: keepAlive,
                     requestEnd: requestEnd, loop: &loop)
        return true
    }

    /// Whether a request target is the monitor URI: the whole target, or
    /// for a URI starting with `/`, the path and query of an absolute-form
    /// target (HAProxy's workaround for clients that send absolute URIs).
    static func isMonitorRequest(_ target: UnsafeRawBufferPointer, uri: UnsafeRawBufferPointer) -> Bool {
        if target.count == uri.count && memcmp(target.baseAddress!, uri.baseAddress!, uri.count) == 0 { return true }
        guard uri.count > 0, uri[0] == UInt8(ascii: "/"), target.count > uri.count, target[0] != UInt8(ascii: "/") else {
            return false
        }
        // scheme "://" authority, then the path.
        var i = 0
        while i + 2 < target.count && !(target[i] == UInt8(ascii: ":") && target[i + 1] == UInt8(ascii: "/")
                                        && target[i + 2] == UInt8(ascii: "/")) {
            i += 1
        }
        guard i + 2 < target.count else { return false }
        i += 3
        while i < target.count && target[i] != UInt8(ascii: "/") { i += 1 }
        let path = UnsafeRawBufferPointer(rebasing: target[i...])
        return path.count == uri.count && memcmp(path.baseAddress!, uri.baseAddress!, uri.count) == 0
    }
}
