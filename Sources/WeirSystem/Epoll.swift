import CShims
import Glibc

public typealias EpollEvent = epoll_event

/// An epoll instance (epoll_create1, epoll_ctl, epoll_wait).
public struct Epoll: ~Copyable {
    public let descriptor: FileDescriptor

    // Linux ABI values, as literals: a `static let` initialized from the C
    // constants would cost a swift_once check on every event. A test checks
    // them against the C headers.
    public static let readable: UInt32 = 0x001
    public static let writable: UInt32 = 0x004
    public static let error: UInt32 = 0x008
    public static let hangup: UInt32 = 0x010
    public static let peerClosed: UInt32 = 0x2000
    public static let edgeTriggered: UInt32 = 0x8000_0000

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
