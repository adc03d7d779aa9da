import CShims
import Glibc

public typealias EpollEvent = epoll_event

/// An epoll instance (epoll_create1, epoll_ctl, epoll_wait).
public struct Epoll: ~Copyable {
    public let descriptor: FileDescriptor

    public static let readable = CShims_EPOLLIN
    public static let writable = CShims_EPOLLOUT
    public static let peerClosed = CShims_EPOLLRDHUP
    public static let error = CShims_EPOLLERR
    public static let hangup = CShims_EPOLLHUP
    public static let edgeTriggered = CShims_EPOLLET

    /// epoll_create1(EPOLL_CLOEXEC)
    public init() throws(Errno) {
        let fd = CShims_epoll_create1(CShims_EPOLL_CLOEXEC)
        if fd < 0 { throw Errno.current }
        descriptor = FileDescriptor(owning: fd)
    }

    /// epoll_ctl(EPOLL_CTL_ADD)
    public func add(_ fd: Int32, events: UInt32, token: UInt64) throws(Errno) {
        if CShims_epoll_ctl(descriptor.rawValue, EPOLL_CTL_ADD, fd, events, token) != 0 { throw Errno.current }
    }

    /// epoll_ctl(EPOLL_CTL_MOD)
    public func modify(_ fd: Int32, events: UInt32, token: UInt64) throws(Errno) {
        if CShims_epoll_ctl(descriptor.rawValue, EPOLL_CTL_MOD, fd, events, token) != 0 { throw Errno.current }
    }

    /// epoll_ctl(EPOLL_CTL_DEL); closing a descriptor removes it too.
    public func remove(_ fd: Int32) {
        _ = CShims_epoll_ctl(descriptor.rawValue, EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// epoll_wait; returns how many events were stored, 0 on EINTR.
    @inline(__always)
    public func wait(into events: UnsafeMutablePointer<EpollEvent>, capacity: Int32, timeoutMilliseconds: Int32) -> Int {
        let n = CShims_epoll_wait(descriptor.rawValue, events, capacity, timeoutMilliseconds)
        if n >= 0 { return Int(n) }
        let error = Errno.current
        precondition(error == .interrupted, "epoll_wait failed: \(error)")
        return 0
    }
}
