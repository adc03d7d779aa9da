import CShims
import Glibc

/// Opening listening sockets, and adopting inherited ones.
public enum Listening {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var address: String
        public var reason: String
        public var description: String { "cannot bind \(address): \(reason)" }
    }

    /// Binds and listens on `address` with SO_REUSEADDR, and SO_REUSEPORT when
    /// `reusePort` (one socket per worker). SO_REUSEPORT would let us share a
    /// port silently with any process of the same user, so a port other than
    /// 0 is first probed with a plain bind: if that fails, the port is taken.
    /// `probe: false` skips the probe for a further socket on a port this
    /// process already holds (one SO_REUSEPORT socket per worker slot).
    public static func open(_ address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool, probe: Bool = true) throws(Failure) -> FileDescriptor {
        let name = address.description
        do {
            if address.family == AF_UNIX {
                removeStaleUnixSocket(address)
            } else if address.port != 0 && probe {
                let probe = try Posix.socket(domain: address.family, type: CShims_SOCK_STREAM)
                try Posix.setOption(probe.rawValue, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
                try Posix.bind(probe.rawValue, to: address)
            }
            let socket = try Posix.socket(domain: address.family, type: CShims_SOCK_STREAM)
            if address.family != AF_UNIX {
                try Posix.setOption(socket.rawValue, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
                if reusePort {
                    try Posix.setOption(socket.rawValue, level: SOL_SOCKET, name: CShims_SO_REUSEPORT, value: 1)
                }
            }
            try Posix.bind(socket.rawValue, to: address)
            try Posix.listen(socket.rawValue, backlog: backlog)
            return socket
        } catch {
            let reason = error == .addressInUse ? "address already in use by another process" : error.description
            throw Failure(address: name, reason: reason)
        }
    }

    /// Takes over an inherited descriptor that must already be a listening
    /// socket (`fd@N`): made non-blocking and close-on-exec, never rebound.
    public static func adopt(_ fd: Int32) throws(Failure) -> FileDescriptor {
        guard fcntl(fd, F_GETFD) >= 0 else { throw Failure(address: "fd@\(fd)", reason: "no such open file descriptor") }
        guard Posix.isListeningSocket(fd) else {
            throw Failure(address: "fd@\(fd)", reason: "not a listening socket")
        }
        do {
            try Posix.setNonBlocking(fd)
            try Posix.setCloseOnExec(fd, true)
        } catch {
            throw Failure(address: "fd@\(fd)", reason: error.description)
        }
        return FileDescriptor(owning: fd)
    }

    /// A UNIX socket path left by a dead process refuses connections: remove it
    /// so bind can succeed. A live one is left alone (bind then says in use).
    private static func removeStaleUnixSocket(_ address: SocketAddress) {
        var info = stat()
        let path = address.description
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return }
        guard let probe = try? Posix.socket(domain: AF_UNIX, type: CShims_SOCK_STREAM) else { return }
        if (try? Posix.connect(probe.rawValue, to: address)) == nil, Errno.current == .connectionRefused {
            unlink(path)
        }
    }
}
