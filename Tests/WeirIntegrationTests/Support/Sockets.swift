import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX socket helpers for the scenario tests. Every descriptor is
/// created close-on-exec so a `weir` spawned by one test never inherits
/// another test's sockets (a leaked copy would keep a connection open).
enum Sock {
    struct Failure: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
    }

    static func check(_ result: Int32, _ call: String) throws -> Int32 {
        if result < 0 { throw Failure(call: call, code: errno) }
        return result
    }

    /// A TCP socket, close-on-exec.
    static func tcp(ipv6: Bool = false) throws -> Int32 {
        try check(socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
                  "socket")
    }

    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setTimeouts(_ fd: Int32, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Binds `fd` to `host:port` (IPv4 dotted or IPv6 text).
    static func bind(_ fd: Int32, host: String, port: UInt16) throws {
        if host.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { throw Failure(call: "inet_pton \(host)", code: EINVAL) }
            let r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            _ = try check(r, "bind [\(host)]:\(port)")
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { throw Failure(call: "inet_pton \(host)", code: EINVAL) }
            let r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            _ = try check(r, "bind \(host):\(port)")
        }
    }

    /// Connects `fd` to `host:port`; returns 0 or the errno.
    static func connect(_ fd: Int32, host: String, port: UInt16) -> Int32 {
        var r: Int32
        if host.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            _ = inet_pton(AF_INET6, host, &a.sin6_addr)
            r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, host, &a.sin_addr)
            r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return r == 0 ? 0 : errno
    }

    /// The local port `fd` is bound to.
    static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> UInt16 in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// A listening socket on `host:port` (port 0: an ephemeral one).
    static func listener(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 1024,
                         reuseAddr: Bool = true, reusePort: Bool = false) throws -> Int32 {
        let fd = try tcp(ipv6: host.contains(":"))
        if reuseAddr { setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1) }
        if reusePort { setInt(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
        do {
            try bind(fd, host: host, port: port)
            _ = try check(listen(fd, backlog), "listen")
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// A loopback port that refuses connections: bound, then closed.
    static func refusedPort() throws -> UInt16 {
        let fd = try tcp()
        defer { close(fd) }
        try bind(fd, host: "127.0.0.1", port: 0)
        return localPort(fd)
    }

    /// Whether a connect to `host:port` is refused right now (a 2 s bound).
    static func isRefused(host: String = "127.0.0.1", port: UInt16) -> Bool {
        guard let fd = try? tcp(ipv6: host.contains(":")) else { return false }
        defer { close(fd) }
        Sock.setTimeouts(fd, seconds: 2)
        return connect(fd, host: host, port: port) == ECONNREFUSED
    }
}

/// Monotonic seconds.
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Polls `condition` every 5 ms until it holds or `timeout` seconds pass.
/// For state the test observes (counters, a process's exit), never for readiness
/// a program announces.
@discardableResult
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNow() + timeout
    while true {
        if condition() { return true }
        if monotonicNow() > deadline { return false }
        usleep(5_000)
    }
}

/// An integer shared with a background thread.
final class SharedState: Sendable {
    private let value = Atomic<Int>(0)
    func store(_ v: Int) { value.store(v, ordering: .sequentiallyConsistent) }
    func load() -> Int { value.load(ordering: .sequentiallyConsistent) }
}

// `pipe2` and `accept4` are behind `_GNU_SOURCE`, which Swift's Glibc module
// does not define: look them up at run time. Close-on-exec must be atomic
// here, or a `weir` spawned by a concurrent test inherits the descriptor.
private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
private typealias Accept4 = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32
private nonisolated(unsafe) let pipe2Symbol = unsafeBitCast(dlsym(nil, "pipe2")!, to: Pipe2.self)
private nonisolated(unsafe) let accept4Symbol = unsafeBitCast(dlsym(nil, "accept4")!, to: Accept4.self)

/// A pipe whose both ends are close-on-exec: `[read, write]`.
func closeOnExecPipe() throws -> [Int32] {
    var fds: [Int32] = [-1, -1]
    guard pipe2Symbol(&fds, O_CLOEXEC) == 0 else { throw Sock.Failure(call: "pipe2", code: errno) }
    return fds
}

/// `accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)`.
func acceptNonBlocking(_ fd: Int32) -> Int32 {
    accept4Symbol(fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
}
