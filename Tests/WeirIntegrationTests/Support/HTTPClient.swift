import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One response as the test client read it.
struct HTTPResponse: CustomStringConvertible {
    var version: String
    var status: Int
    var reason: String
    var headers: [HTTPHeaderField]
    var body: HTTPBody
    /// The body ended as its framing said (false: the connection was cut first).
    var complete: Bool
    /// How the connection ended while reading the body, if it did.
    var end: HTTPByteReader.End?
    /// Bytes of head and body as received.
    var wireBytes: Int

    var text: String { body.text }
    var description: String { "\(version) \(status) \(reason) \(headers) body: \(body)" + (complete ? "" : " (cut: \(end.map { "\($0)" } ?? "?"))") }

    /// The response says the connection closes after it.
    var closes: Bool {
        let tokens = headers.tokens("connection")
        if version == "HTTP/1.0" { return !tokens.contains("keep-alive") }
        return tokens.contains("close")
    }
}

/// A blocking HTTP/1.x client connection for tests: raw writes, response
/// parsing by the rules a client applies (HEAD, 1xx, 204, 304, chunked,
/// content-length, close-delimited). Every read gives up after `ioTimeout`.
final class HTTPConnection: @unchecked Sendable {
    private(set) var fd: Int32
    private var reader: HTTPByteReader
    let localPort: UInt16

    init(port: UInt16, ioTimeout: Double = 10) throws {
        let fd = try Sock.tcp()
        Sock.setTimeouts(fd, seconds: ioTimeout)
        Sock.setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let e = Sock.connect(fd, host: "127.0.0.1", port: port)
        if e != 0 {
            Glibc.close(fd)
            throw Sock.Failure(call: "connect 127.0.0.1:\(port)", code: e)
        }
        self.fd = fd
        reader = HTTPByteReader(fd: fd)
        localPort = Sock.localPort(fd)
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    func setReadTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try writeAll(fd, text) }
    func send(_ bytes: [UInt8]) throws { try writeAll(fd, bytes) }
    func send(_ bytes: ArraySlice<UInt8>) throws { try writeAll(fd, bytes) }
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Sends `METHOD target HTTP/1.1` with `Host` and `headers`, and `body` with a content-length if given.
    func request(_ method: String = "GET", _ target: String, version: String = "HTTP/1.1",
                 headers: [String] = [], body: [UInt8]? = nil) throws {
        var head = "\(method) \(target) \(version)\r\nhost: weir.test\r\n"
        for h in headers { head += h + "\r\n" }
        if let body { head += "content-length: \(body.count)\r\n" }
        head += "\r\n"
        try send(head)
        if let body { try send(body) }
    }

    /// Reads one response to a `method` request (1xx responses come back on their own).
    func readResponse(method: String = "GET") throws -> HTTPResponse {
        let before = receivedBytesSoFar
        let statusLine = try reader.line()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw HTTPFramingError(description: "bad status line \(statusLine.debugDescription)")
        }
        let headers = try readHeaderFields(&reader)
        var response = HTTPResponse(version: parts[0], status: status, reason: parts.count > 2 ? parts[2] : "",
                                    headers: headers, body: HTTPBody(), complete: true, end: nil, wireBytes: 0)
        let bodyless = method == "HEAD" || status < 200 || status == 204 || status == 304
        if !bodyless {
            do {
                if headers.tokens("transfer-encoding").last == "chunked" {
                    try readChunkedBody(&reader, into: &response.body)
                } else if let cl = headers.value("content-length") {
                    guard let length = Int(cl) else { throw HTTPFramingError(description: "bad content-length \(cl)") }
                    try reader.read(length) { response.body.append($0) }
                } else {
                    let end = reader.readToEnd { response.body.append($0) }
                    response.end = end
                    response.complete = end.isClosed
                }
            } catch let end as HTTPByteReader.End {
                response.complete = false
                response.end = end
            }
        }
        response.wireBytes = receivedBytesSoFar - before
        return response
    }

    /// The final response, skipping (and returning) interim 1xx ones except 101.
    func readFinalResponse(method: String = "GET") throws -> (interim: [HTTPResponse], final: HTTPResponse) {
        var interim: [HTTPResponse] = []
        for _ in 0..<10 {
            let r = try readResponse(method: method)
            if r.status >= 200 || r.status == 101 { return (interim, r) }
            interim.append(r)
        }
        throw HTTPFramingError(description: "more than 10 interim responses")
    }

    /// Bytes consumed from the socket so far (head lines and bodies).
    private var receivedBytesSoFar: Int { reader.consumed }

    /// Exactly `count` raw bytes (after a 101, say).
    func readRaw(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        try reader.read(count) { out.append(contentsOf: $0) }
        return out
    }

    /// Reads until the connection ends or a read times out.
    func readToEnd() -> (bytes: [UInt8], end: HTTPByteReader.End) {
        var out: [UInt8] = []
        let end = reader.readToEnd { out.append(contentsOf: $0) }
        return (out, end)
    }

    /// Whether the proxy closed the connection (EOF or reset) with nothing more
    /// to read, within `seconds`.
    func isClosedByPeer(within seconds: Double = 5) -> Bool {
        setReadTimeout(seconds)
        defer { setReadTimeout(10) }
        let (bytes, end) = readToEnd()
        return bytes.isEmpty && end.isClosed
    }
}
