import CShims
import Glibc

/// A signalfd: the listed signals are blocked and delivered as readable events.
public struct SignalFd: ~Copyable {
    public let descriptor: FileDescriptor

    /// signalfd(2), non-blocking; blocks `signals` for the calling thread.
    public init(signals: [Int32]) throws(Errno) {
        let fd = signals.withUnsafeBufferPointer {
            CShims_signalfd($0.baseAddress, Int32($0.count), CShims_SFD_NONBLOCK | CShims_SFD_CLOEXEC)
        }
        if fd < 0 { throw Errno.current }
        descriptor = FileDescriptor(owning: fd)
    }

    /// The next pending signal number, or nil when none is pending.
    public func next() -> Int32? {
        let signal = CShims_signalfd_read(descriptor.rawValue)
        return signal > 0 ? signal : nil
    }
}

public enum Signals {
    /// Ignores SIGPIPE process-wide: a write to a closed peer is EPIPE.
    public static func ignoreBrokenPipe() {
        _ = signal(SIGPIPE, SIG_IGN)
    }
}
