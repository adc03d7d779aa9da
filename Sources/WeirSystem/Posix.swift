import CShims
import Glibc

/// Thin, typed wrappers over the syscalls Weir uses. Each retries `EINTR`,
/// returns `EAGAIN` as `.wouldBlock`, and throws other errors as `Errno`.
public enum Posix {
    /// close(2). Errors other than EBADF are meaningless after close on Linux.
    public static func close(_ fd: Int32) {
        let result = Glibc.close(fd)
        precondition(result == 0 || Errno.current != .badFileDescriptor, "close of a closed fd \(fd)")
    }

    /// read(2). Inlinable, as the sends: the proxy's read and send paths
    /// are in other modules, and a call each would cost more than the wrapper.
    @inlinable @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOResult {
        switch retryingSyscall({ Glibc.read(fd, buffer, count) }) {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }

    /// recv(2) without flags, for sockets: the same as read(2) without the
    /// file layer's checks (permission hooks, fsnotify) on every call.
    /// Inlinable like `read`.
    @inlinable @inline(__always)
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOResult {
        switch retryingSyscall({ Glibc.recv(fd, buffer, count, 0) }) {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }

    /// recv(2) with MSG_PEEK: the bytes stay queued on the socket.
    public static func peek(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOResult {
        switch retryingSyscall({ Glibc.recv(fd, buffer, count, CShims_MSG_PEEK) }) {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }

    /// send(2) with MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE.
    /// `more`: MSG_MORE, the kernel may hold the bytes for the ones that
    /// follow (see `pushPending`).
    @inlinable @inline(__always)
    public static func send(_ fd: Int32, from buffer: UnsafeRawPointer, count: Int, more: Bool = false) throws(Errno) -> IOResult {
        let flags = more ? CShims_MSG_NOSIGNAL | CShims_MSG_MORE : CShims_MSG_NOSIGNAL
        switch retryingSyscall({ Glibc.send(fd, buffer, count, flags) }) {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }

    /// write(2), for pipes and files.
    public static func write(_ fd: Int32, from buffer: UnsafeRawPointer, count: Int) throws(Errno) -> IOResult {
        switch retryingSyscall({ Glibc.write(fd, buffer, count) }) {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }

    /// Writes all of `bytes` to a blocking descriptor (stdout, stderr, files).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let result = retryingSyscall { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            guard case .success(let n) = result, n > 0 else { return }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// SOCK_STREAM, for `socket(domain:type:)`.
    public static let streamType = CShims_SOCK_STREAM

    /// SOCK_DGRAM, for `socket(domain:type:)`: UDP and AF_UNIX datagram sockets.
    public static let datagramType = Int32(SOCK_DGRAM.rawValue)

    /// socket(2), always non-blocking and close-on-exec.
    public static func socket(domain: Int32, type: Int32) throws(Errno) -> FileDescriptor {
        let flags = type | CShims_SOCK_NONBLOCK | CShims_SOCK_CLOEXEC
        switch retryingSyscall({ Glibc.socket(domain, flags, 0) }) {
        case .success(let fd): return FileDescriptor(owning: fd)
        case .failure(let e): throw e
        }
    }

    /// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC; fills `peer`.
    @inline(__always)
    public static func accept(_ fd: Int32, peer: inout SocketAddress) throws(Errno) -> Int32? {
        peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &peer.storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                retryingSyscall { CShims_accept4(fd, sa, &peer.length, CShims_SOCK_NONBLOCK | CShims_SOCK_CLOEXEC) }
            }
        }
        switch result {
        case .success(let client): return client
        case .failure(let e) where e == .wouldBlock: return nil
        case .failure(let e): throw e
        }
    }

    /// connect(2) on a non-blocking socket: `true` when connected at once,
    /// `false` when in progress (wait for writability, then `socketError`).
    /// `source`: binds a socket about to connect to its local address. With
    /// port 0 the port is left to the connect (IP_BIND_ADDRESS_NO_PORT), so
    /// that sources shared by many connections do not run out of ports.
    public static func bindSource(_ fd: Int32, to address: SocketAddress) throws(Errno) {
        if address.port == 0 {
            _ = try? setOption(fd, level: Int32(IPPROTO_IP), name: CShims_IP_BIND_ADDRESS_NO_PORT, value: 1)
        }
        try bind(fd, to: address)
    }

    /// SO_RCVBUF and SO_SNDBUF, for those given (`tune.rcvbuf.*`,
    /// `tune.sndbuf.*`). Best effort, as TCP_NODELAY.
    public static func setBufferSizes(_ fd: Int32, receive: Int32?, send: Int32?) {
        if let receive { _ = try? setOption(fd, level: SOL_SOCKET, name: SO_RCVBUF, value: receive) }
        if let send { _ = try? setOption(fd, level: SOL_SOCKET, name: SO_SNDBUF, value: send) }
    }

    public static func connect(_ fd: Int32, to address: SocketAddress) throws(Errno) -> Bool {
        var address = address
        let result = withUnsafePointer(to: &address.storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                Glibc.connect(fd, sa, address.length)
            }
        }
        if result == 0 { return true }
        let error = Errno.current
        if error == .inProgress || error == .interrupted { return false }
        throw error
    }

    /// bind(2)
    public static func bind(_ fd: Int32, to address: SocketAddress) throws(Errno) {
        var address = address
        let result = withUnsafePointer(to: &address.storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                Glibc.bind(fd, sa, address.length)
            }
        }
        if result != 0 { throw Errno.current }
    }

    /// listen(2)
    public static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        if Glibc.listen(fd, backlog) != 0 { throw Errno.current }
    }

    /// getsockname(2)
    public static func localAddress(_ fd: Int32) throws(Errno) -> SocketAddress {
        try socketAddress(fd, Glibc.getsockname)
    }

    /// getpeername(2).
    public static func peerAddress(_ fd: Int32) throws(Errno) -> SocketAddress {
        try socketAddress(fd, Glibc.getpeername)
    }

    /// One of the socket's two addresses, as `call` (getsockname, getpeername) reads it.
    private static func socketAddress(
        _ fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(Errno) -> SocketAddress {
        var address = SocketAddress()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address.storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in call(fd, sa, &address.length) }
        }
        if result != 0 { throw Errno.current }
        return address
    }

    /// setsockopt(2) for an Int32 option value.
    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(Errno) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 { throw Errno.current }
    }

    /// getsockopt(2) for an Int32 option value.
    public static func option(_ fd: Int32, level: Int32, name: Int32) throws(Errno) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, level, name, &value, &length) != 0 { throw Errno.current }
        return value
    }

    /// The pending error of a socket (`SO_ERROR`), nil when none: how a
    /// non-blocking connect reports its outcome.
    public static func socketError(_ fd: Int32) -> Errno? {
        do {
            let value = try option(fd, level: SOL_SOCKET, name: SO_ERROR)
            return value == 0 ? nil : Errno(value)
        } catch {
            return error
        }
    }

    /// TCP_NODELAY: without it Nagle plus delayed ACK add 40 ms per response.
    public static func setNoDelay(_ fd: Int32) {
        _ = try? setOption(fd, level: Int32(IPPROTO_TCP), name: CShims_TCP_NODELAY, value: 1)
    }

    /// SO_KEEPALIVE, then TCP_KEEPCNT, TCP_KEEPIDLE (seconds) and
    /// TCP_KEEPINTVL (seconds) for those given: the kernel probes an idle
    /// connection. Best effort, as TCP_NODELAY: a socket that refuses keeps working.
    public static func setKeepAlive(_ fd: Int32, probes: Int?, idle: Int?, interval: Int?) {
        _ = try? setOption(fd, level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1)
        let tcp = Int32(IPPROTO_TCP)
        if let probes { _ = try? setOption(fd, level: tcp, name: CShims_TCP_KEEPCNT, value: Int32(probes)) }
        if let idle { _ = try? setOption(fd, level: tcp, name: CShims_TCP_KEEPIDLE, value: Int32(idle)) }
        if let interval { _ = try? setOption(fd, level: tcp, name: CShims_TCP_KEEPINTVL, value: Int32(interval)) }
    }

    /// Sends at once the bytes a send with MSG_MORE left queued, when the
    /// bytes expected after them did not come: setting TCP_NODELAY (on
    /// every proxied socket already) pushes the pending frames.
    public static func pushPending(_ fd: Int32) { setNoDelay(fd) }

    /// shutdown(2) of the write side: the peer reads end-of-file.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Makes the next close(2) send an RST that dies at the first router
    /// (SO_LINGER 0, a TTL or hop limit of 1), as HAProxy's `silent-drop`.
    public static func prepareSilentReset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Closes with an RST instead of a FIN (SO_LINGER 0), for aborts.
    public static func closeWithReset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// fcntl(F_GETFL/F_SETFL) O_NONBLOCK.
    public static func setNonBlocking(_ fd: Int32) throws(Errno) {
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 { throw Errno.current }
        if fcntl(fd, F_SETFL, flags | CShims_O_NONBLOCK) != 0 { throw Errno.current }
    }

    /// fcntl(F_SETFD, FD_CLOEXEC) on or off.
    public static func setCloseOnExec(_ fd: Int32, _ on: Bool) throws(Errno) {
        let flags = fcntl(fd, F_GETFD)
        if flags < 0 { throw Errno.current }
        let updated = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if fcntl(fd, F_SETFD, updated) != 0 { throw Errno.current }
    }

    /// Whether `fd` is a listening socket (`SO_ACCEPTCONN`).
    public static func isListeningSocket(_ fd: Int32) -> Bool {
        (try? option(fd, level: SOL_SOCKET, name: SO_ACCEPTCONN)) == 1
    }

    /// The soft RLIMIT_NOFILE, raised to the hard limit when allowed.
    public static func raiseFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? 1 << 20 : Int(min(limit.rlim_cur, 1 << 20))
    }
}
