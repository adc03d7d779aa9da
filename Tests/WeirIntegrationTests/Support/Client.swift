import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client with bounded reads and writes (every call gives up
/// after `ioTimeout` seconds rather than hanging the test).
final class Client: @unchecked Sendable {
    enum End: Equatable, CustomStringConvertible {
        case eof, reset, timeout, error(Int32)
        var description: String {
            switch self {
            case .eof: "eof"
            case .reset: "reset"
            case .timeout: "timeout"
            case .error(let e): "error \(e)"
            }
        }
        /// The proxy closed the connection, cleanly or with a reset.
        var isClosed: Bool { self == .eof || self == .reset }
    }

    private(set) var fd: Int32
    private var buffered: [UInt8] = []
    let localPort: UInt16

    /// Connects to `host:port`, optionally from the local address `source`
    /// (127.0.0.2 and friends give distinct client addresses on loopback).
    init(port: UInt16, host: String = "127.0.0.1", source: String? = nil, ioTimeout: Double = 10) throws {
        fd = try Sock.tcp(ipv6: host.contains(":"))
        do {
            if let source { try Sock.bind(fd, host: source, port: 0) }
            Sock.setTimeouts(fd, seconds: ioTimeout)
            Sock.setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            let e = Sock.connect(fd, host: host, port: port)
            if e != 0 { throw Sock.Failure(call: "connect \(host):\(port)", code: e) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        localPort = Sock.localPort(fd)
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Closes with a reset (SO_LINGER 0).
    func abort() {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    func setReadTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBufferPointer {
                Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw Sock.Failure(call: "send", code: errno)
            }
            offset += n
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// One read into the internal buffer; nil on data, else how the stream ended.
    private func fill() -> End? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n > 0 {
                buffered.append(contentsOf: chunk[0..<n])
                return nil
            }
            if n == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .timeout
            case ECONNRESET: return .reset
            default: return .error(errno)
            }
        }
    }

    /// Reads one `\n`-terminated line (without the newline).
    func readLine() throws -> String {
        while true {
            if let i = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<i], as: UTF8.self)
                buffered.removeFirst(i + 1)
                return line
            }
            if let end = fill() {
                throw Sock.Failure(call: "readLine (\(end), got \(buffered.count) bytes)", code: EIO)
            }
        }
    }

    /// Reads exactly `count` bytes.
    func read(count: Int) throws -> [UInt8] {
        while buffered.count < count {
            if let end = fill() {
                throw Sock.Failure(call: "read(\(count)) (\(end) after \(buffered.count) bytes)", code: EIO)
            }
        }
        let out = Array(buffered[..<count])
        buffered.removeFirst(count)
        return out
    }

    /// Reads until the stream ends (or a read times out); returns what came and how it ended.
    func readToEnd() -> (bytes: [UInt8], end: End) {
        while true {
            if let end = fill() {
                let out = buffered
                buffered = []
                return (out, end)
            }
        }
    }

    /// Whether data arrives within `seconds`: reads with a short timeout and
    /// restores the long one. For "nothing happens yet" checks.
    func receivesNothing(within seconds: Double) -> Bool {
        if !buffered.isEmpty { return false }
        setReadTimeout(seconds)
        defer { setReadTimeout(10) }
        return fill() == .timeout
    }
}
