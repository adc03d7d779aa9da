import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a test backend does with each connection it accepts.
struct BackendBehavior: Sendable {
    enum Then: Sendable {
        /// Close right after the greeting is written.
        case close
        /// Echo every byte back; close once the client's EOF was seen and all echoed.
        case echo
        /// Read and discard; close on the client's EOF (a long-lived connection).
        case discardUntilEOF
        /// Read and discard; never close, not even on EOF.
        case discardForever
        /// Accept and never read nor write.
        case neverRead
        /// Shut the write side after the greeting, then read and discard; close on EOF.
        case shutWriteThenDiscard
        /// Read and discard; on the first bytes shut the write side (a FIN with
        /// no data in front of it); close on EOF.
        case shutWriteOnData
        /// Count bytes until the client's EOF, then answer `received N\n` and close.
        case countAfterEOF
    }

    var greeting: String?
    var then: Then

    /// Echoes everything.
    static let echo = BackendBehavior(greeting: nil, then: .echo)
    /// Answers `name\n`, then closes.
    static func name(_ name: String) -> BackendBehavior { .init(greeting: name + "\n", then: .close) }
    /// Answers `name\n`, then holds the connection until the client closes.
    static func nameThenHold(_ name: String) -> BackendBehavior { .init(greeting: name + "\n", then: .discardUntilEOF) }
    /// Accepts and never reads nor answers.
    static let silent = BackendBehavior(greeting: nil, then: .neverRead)
    /// Reads and discards forever, ignoring EOF.
    static let holdForever = BackendBehavior(greeting: nil, then: .discardForever)
}

/// A backend server on 127.0.0.1 (or ::1), one poll(2) loop on a background
/// thread serving every connection, with counters the tests can read.
final class Backend: @unchecked Sendable {
    struct Stats: Sendable {
        var accepted = 0
        var open = 0
        var maxOpen = 0
        var bytesReceived = 0
    }

    let port: UInt16
    let host: String
    let behavior: BackendBehavior
    private let listenFD: Int32
    private let stats = Mutex(Stats())
    private let stopFlag = Atomic<Bool>(false)
    /// Signalled once by the loop when it returns.
    private let finished = DispatchSemaphore(value: 0)

    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    var snapshot: Stats { stats.withLock { $0 } }

    /// `port`: a fixed port (a backend started again where a stopped one was), 0 for any.
    init(_ behavior: BackendBehavior, host: String = "127.0.0.1", port: UInt16 = 0) throws {
        self.behavior = behavior
        self.host = host
        listenFD = try Sock.listener(host: host, port: port)
        Sock.setNonBlocking(listenFD)
        self.port = Sock.localPort(listenFD)
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { stop() }

    /// Backends on one port of several loopback addresses (a name whose
    /// records carry no port): the first port the kernel gives may be taken
    /// on the other addresses, so a few are tried.
    static func onOnePort(_ specs: [(BackendBehavior, host: String)]) throws -> [Backend] {
        for attempt in 1...20 {
            var started: [Backend] = []
            do {
                for spec in specs {
                    started.append(try Backend(spec.0, host: spec.host, port: started.first?.port ?? 0))
                }
                return started
            } catch {
                started.forEach { $0.stop() }
                if attempt == 20 { throw error }
            }
        }
        return []
    }

    /// Stops the loop and closes every connection (bounded wait for the thread).
    /// `shutdown(2)` of the listening socket wakes the loop's poll at once
    /// (POLLHUP); only `stop()` closes that socket, after the loop has left it.
    func stop() {
        if stopFlag.exchange(true, ordering: .sequentiallyConsistent) { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        _ = finished.wait(timeout: .now() + 5)
        Glibc.close(listenFD)
    }

    /// Waits until `condition` holds on the counters.
    @discardableResult
    func waitFor(timeout: Double = 10, _ condition: (Stats) -> Bool) -> Bool {
        waitUntil(timeout: timeout) { condition(snapshot) }
    }

    private struct Connection {
        var fd: Int32
        var out: [UInt8] = []
        var outOffset = 0
        var greeted = false
        var eof = false
        var shut = false
        var received = 0
        var pending: Int { out.count - outOffset }
    }

    private func run() {
        var connections: [Connection] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer {
            for c in connections { Glibc.close(c.fd) }
            finished.signal()
        }
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            for c in connections {
                var events: Int32 = 0
                if wantsRead(c) { events |= Int32(POLLIN) }
                if c.pending > 0 { events |= Int32(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: Int16(events), revents: 0))
            }
            // No timeout: `stop()` wakes this poll by shutting the listener down.
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n <= 0 { continue }
            var closed = Set<Int>()
            for i in 1..<fds.count {
                let revents = Int32(fds[i].revents)
                if revents == 0 { continue }
                var c = connections[i - 1]
                var dead = false
                if revents & Int32(POLLIN) != 0 && wantsRead(c) {
                    let r = read(c.fd, &buffer, buffer.count)
                    if r > 0 {
                        c.received += r
                        stats.withLock { $0.bytesReceived += r }
                        if behavior.then == .echo { c.out.append(contentsOf: buffer[0..<r]) }
                    } else if r == 0 {
                        c.eof = true
                        if behavior.then == .countAfterEOF { c.out.append(contentsOf: Array("received \(c.received)\n".utf8)) }
                    } else if errno != EAGAIN && errno != EINTR {
                        dead = true
                    }
                } else if revents & (Int32(POLLERR) | Int32(POLLHUP)) != 0 && c.pending == 0 {
                    dead = true
                }
                if !dead && c.pending > 0 {
                    let w = c.out.withUnsafeBufferPointer { p in
                        send(c.fd, p.baseAddress! + c.outOffset, c.pending, Int32(MSG_NOSIGNAL))
                    }
                    if w > 0 {
                        c.outOffset += w
                        if c.outOffset == c.out.count { c.out.removeAll(keepingCapacity: true); c.outOffset = 0 }
                    } else if w < 0 && errno != EAGAIN && errno != EINTR {
                        dead = true
                    }
                }
                if !dead { dead = afterIO(&c) }
                if dead {
                    Glibc.close(c.fd)
                    closed.insert(i - 1)
                    stats.withLock { $0.open -= 1 }
                } else {
                    connections[i - 1] = c
                }
            }
            if !closed.isEmpty {
                connections = connections.enumerated().filter { !closed.contains($0.offset) }.map(\.element)
            }
            if fds[0].revents != 0 {
                for _ in 0..<256 {
                    let fd = acceptNonBlocking(listenFD)
                    if fd < 0 { break }
                    Sock.setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                    var c = Connection(fd: fd)
                    if let greeting = behavior.greeting { c.out = Array(greeting.utf8) }
                    stats.withLock {
                        $0.accepted += 1
                        $0.open += 1
                        $0.maxOpen = max($0.maxOpen, $0.open)
                    }
                    // Write the greeting at once (the socket buffer is empty).
                    if c.pending > 0 {
                        let w = c.out.withUnsafeBufferPointer { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                        if w > 0 { c.outOffset = w }
                        if c.outOffset == c.out.count { c.out.removeAll(); c.outOffset = 0 }
                    }
                    if afterIO(&c) {
                        Glibc.close(fd)
                        stats.withLock { $0.open -= 1 }
                    } else {
                        connections.append(c)
                    }
                }
            }
        }
    }

    private func wantsRead(_ c: Connection) -> Bool {
        switch behavior.then {
        case .neverRead: return false
        case .close: return false
        case .echo: return !c.eof && c.pending < (1 << 20)
        default: return !c.eof
        }
    }

    /// The behavior's step once pending output is flushed; true to close.
    private func afterIO(_ c: inout Connection) -> Bool {
        guard c.pending == 0 else { return false }
        switch behavior.then {
        case .close: return true
        case .echo, .discardUntilEOF, .countAfterEOF: return c.eof
        case .discardForever, .neverRead: return false
        case .shutWriteOnData:
            if !c.shut && c.received > 0 {
                shutdown(c.fd, Int32(SHUT_WR))
                c.shut = true
            }
            return c.eof
        case .shutWriteThenDiscard:
            if !c.shut {
                shutdown(c.fd, Int32(SHUT_WR))
                c.shut = true
            }
            return c.eof
        }
    }
}
