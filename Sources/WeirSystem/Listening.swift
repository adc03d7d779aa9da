import CShims
import Glibc

/// Opening listening sockets, and adopting inherited ones.
public enum Listening {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var address: String
        public var reason: String
        public var description: String { "cannot bind \(address): \(reason)" }
    }

    /// What a listening TCP socket is set up with (`bind … backlog`, `v6only`…).
    public struct Options: Sendable, Equatable {
        public var backlog: Int32 = 1024
        /// IPV6_V6ONLY on an IPv6 socket; nil: the system's default.
        public var v6only: Bool?
        /// TCP_DEFER_ACCEPT: accepted once data arrive (or after the first retransmit).
        public var deferAccept = false
        /// TCP_FASTOPEN, with the backlog as its queue length.
        public var fastOpen = false
        /// TCP_MAXSEG; a negative value is taken off the default one.
        public var maxSegment: Int32?
        /// SO_BINDTODEVICE.
        public var interface: String?
        public init(backlog: Int32 = 1024) { self.backlog = backlog }
    }

    /// Binds and listens on `address` with SO_REUSEADDR, and SO_REUSEPORT when
    /// `reusePort` (one socket per worker). SO_REUSEPORT would let us share a
    /// port silently with any process of the same user, so a port other than
    /// 0 is first probed with a plain bind: if that fails, the port is taken.
    /// `probe: false` skips the probe for a further socket on a port this
    /// process already holds (one SO_REUSEPORT socket per worker slot).
    /// `options` other than the backlog apply to IP sockets only.
    public static func open(_ address: SocketAddress, options: Options = Options(), reusePort: Bool,
                            probe: Bool = true) throws(Failure) -> FileDescriptor {
        let name = address.description
        var step = ""
        do {
            if address.family == AF_UNIX {
                removeStaleUnixSocket(address)
            } else if address.port != 0 && probe {
                let probe = try Posix.socket(domain: address.family, type: CShims_SOCK_STREAM)
                try Posix.setOption(probe.rawValue, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
                // The probe binds as the socket will: another interface or family is not a conflict.
                step = "cannot apply its bind options: "
                try applyBeforeBind(probe.rawValue, family: address.family, options: options, maxSegment: false)
                step = ""
                try Posix.bind(probe.rawValue, to: address)
            }
            let socket = try Posix.socket(domain: address.family, type: CShims_SOCK_STREAM)
            if address.family != AF_UNIX {
                try Posix.setOption(socket.rawValue, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
                if reusePort {
                    try Posix.setOption(socket.rawValue, level: SOL_SOCKET, name: CShims_SO_REUSEPORT, value: 1)
                }
                step = "cannot apply its bind options: "
                try applyBeforeBind(socket.rawValue, family: address.family, options: options, maxSegment: true)
                step = ""
            }
            try Posix.bind(socket.rawValue, to: address)
            if address.family != AF_UNIX && options.fastOpen {
                step = "cannot enable TCP Fast Open: "
                try Posix.setOption(socket.rawValue, level: Int32(IPPROTO_TCP), name: CShims_TCP_FASTOPEN, value: options.backlog)
                step = ""
            }
            try Posix.listen(socket.rawValue, backlog: options.backlog)
            if address.family != AF_UNIX && options.deferAccept {
                // One second, as HAProxy: the kernel rounds it to its first retransmit.
                step = "cannot defer accepts: "
                try Posix.setOption(socket.rawValue, level: Int32(IPPROTO_TCP), name: CShims_TCP_DEFER_ACCEPT, value: 1)
                step = ""
            }
            return socket
        } catch {
            let reason = error == .addressInUse ? "address already in use by another process" : error.description
            throw Failure(address: name, reason: step + reason)
        }
    }

    /// The options that must be set before bind(2): IPV6_V6ONLY,
    /// SO_BINDTODEVICE and TCP_MAXSEG.
    private static func applyBeforeBind(_ fd: Int32, family: Int32, options: Options, maxSegment: Bool) throws(Errno) {
        if family == AF_INET6, let v6only = options.v6only {
            try Posix.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: v6only ? 1 : 0)
        }
        if let interface = options.interface {
            let result = interface.withCString { name in
                setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
            }
            if result != 0 { throw Errno.current }
        }
        if maxSegment, let mss = options.maxSegment {
            let tcp = Int32(IPPROTO_TCP)
            let value = mss > 0 ? mss : try Posix.option(fd, level: tcp, name: CShims_TCP_MAXSEG) + mss
            try Posix.setOption(fd, level: tcp, name: CShims_TCP_MAXSEG, value: max(value, 1))
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
