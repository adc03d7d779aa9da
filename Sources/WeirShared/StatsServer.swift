import Glibc
import WeirConfig
import WeirLoop
import WeirSystem

/// A bound `stats socket`.
public struct StatsSocketListener: Sendable {
    public var fd: Int32
    public var level: StatsLevel
    /// The UNIX socket's path, removed when the listener closes; nil for TCP or `fd@`.
    public var path: String?
    /// How the address was written, for messages.
    public var name: String

    public init(fd: Int32, level: StatsLevel, path: String?, name: String) {
        self.fd = fd
        self.level = level
        self.path = path
        self.name = name
    }

    /// Binds (or adopts) the socket of a `stats socket` line.
    public static func bind(_ socket: StatsSocket) throws(StartupError) -> StatsSocketListener {
        do {
            switch socket.address {
            case .unix(let path):
                guard let address = SocketAddress(unixPath: path) else {
                    throw StartupError("stats socket: path too long: \(path)")
                }
                let fd = try Listening.open(address, options: .init(backlog: 16), reusePort: false).release()
                var access = socket.access
                if access.mode == nil { access.mode = 0o600 }
                do { try access.apply(to: path) } catch {
                    Posix.close(fd)
                    throw StartupError("stats socket \(path): \(error)")
                }
                return StatsSocketListener(fd: fd, level: socket.level, path: path, name: path)
            case .ip(let ip, let port):
                let address = SocketAddress(ip: ip.bytes, port: port)
                let fd = try Listening.open(address, options: .init(backlog: 16), reusePort: false).release()
                return StatsSocketListener(fd: fd, level: socket.level, path: nil, name: socket.address.description)
            case .inheritedFD(let number):
                let fd = try Listening.adopt(number).release()
                return StatsSocketListener(fd: fd, level: socket.level, path: nil, name: socket.address.description)
            }
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("stats socket \(socket.address): \(error)")
        }
    }

    /// Closes the socket and removes its path.
    public func close() {
        Posix.close(fd)
        if let path { unlink(path) }
    }
}

/// The connections to `stats socket`s: one command per connection, or
/// many after `prompt`. Not tied to an event loop: the host (the master, or
/// a `-d` process) registers the descriptors this hands it and calls back.
public struct StatsServer {
    public var listeners: [StatsSocketListener]
    struct Client {
        var level: StatsLevel
        var pending: [UInt8] = []
        var prompt = false
        /// Monotonic ms after which an idle connection is closed (`stats timeout`).
        var deadline: Int64
    }
    var clients: [Int32: Client] = [:]

    public init(listeners: [StatsSocketListener]) {
        self.listeners = listeners
    }

    public var connectionCount: Int { clients.count }

    /// Accepts what waits on listener `index` and watches each new
    /// connection in `loop` under a token of kind `tokenKind` (its slot the
    /// descriptor), with a timer for `timeout` (`stats timeout`).
    public mutating func accept(_ index: Int, tokenKind: UInt8, timeout: Int, loop: inout EventLoop) {
        guard index < listeners.count else { return }
        var peer = SocketAddress()
        while let fd = try? Posix.accept(listeners[index].fd, peer: &peer) {
            let token = Token(kind: tokenKind, slot: UInt32(bitPattern: fd))
            do { try loop.register(fd, events: Epoll.readable, token: token) } catch {
                Posix.close(fd)
                continue
            }
            clients[fd] = Client(level: listeners[index].level, deadline: loop.now + Int64(timeout))
            loop.schedule(token, at: loop.now + Int64(timeout))
        }
    }

    /// Reads what `fd` sent and answers each complete command with
    /// `answer(command, level)`. Returns true when the connection is done:
    /// the caller stops watching it and calls `close`.
    public mutating func serve(_ fd: Int32, now: Int64, timeout: Int,
                               answer: (String, StatsLevel) -> String) -> Bool {
        guard var client = clients[fd] else { return true }
        var chunk = [UInt8](repeating: 0, count: 4096)
        var ended = false
        reading: while true {
            switch try? Posix.read(fd, into: &chunk, count: chunk.count) {
            case .processed(0), nil: ended = true; break reading
            case .processed(let n): client.pending += chunk[0..<n]
            case .wouldBlock: break reading
            }
        }
        client.deadline = now + Int64(timeout)
        var output = ""
        var done = false
        while !done, let newline = client.pending.firstIndex(of: UInt8(ascii: "\n")) ?? (ended && !client.pending.isEmpty ? client.pending.endIndex : nil) {
            let line = String(decoding: client.pending[..<newline], as: UTF8.self)
            client.pending.removeSubrange(..<min(client.pending.count, newline + 1))
            for part in line.split(separator: ";", omittingEmptySubsequences: false) {
                let command = StatsServer.trim(part)
                switch command {
                case "prompt":
                    client.prompt.toggle()
                case "quit":
                    done = true
                case "" where client.prompt:
                    break
                default:
                    output += answer(command, client.level) + "\n"
                }
                if done { break }
            }
            if !client.prompt { done = true }
            if client.prompt && !done { output += "> " }
        }
        if client.pending.count > 16384 { done = true }
        write(fd, output)
        if done || ended { return true }
        clients[fd] = client
        return false
    }

    /// Whether `fd`'s connection outlived `stats timeout`; its new deadline otherwise.
    public func deadline(_ fd: Int32) -> Int64? { clients[fd]?.deadline }

    public mutating func close(_ fd: Int32) {
        guard clients.removeValue(forKey: fd) != nil else { return }
        Posix.close(fd)
    }

    /// Closes every connection and listener (the master before re-executing).
    public mutating func closeAll() {
        for fd in clients.keys { Posix.close(fd) }
        clients = [:]
        for listener in listeners { listener.close() }
        listeners = []
    }

    /// Writes the whole answer; the connection is made blocking (with a
    /// send timeout) for it, as a large `show stat` may not fit the buffer.
    private func write(_ fd: Int32, _ text: String) {
        guard !text.isEmpty else { return }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var bytes = text
        bytes.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        _ = fcntl(fd, F_SETFL, flags)
    }

    static func trim(_ text: Substring) -> String {
        var scalars = text
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
