import CShims
import Glibc

/// A POSIX error number with the names the proxy cares about.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32

    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(CShims_errno()) }

    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EAGAIN)
    public static let inProgress = Errno(EINPROGRESS)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let connectionReset = Errno(ECONNRESET)
    public static let brokenPipe = Errno(EPIPE)
    public static let addressInUse = Errno(EADDRINUSE)
    public static let tooManyOpenFiles = Errno(EMFILE)
    public static let systemTooManyOpenFiles = Errno(ENFILE)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let badFileDescriptor = Errno(EBADF)
    public static let fault = Errno(EFAULT)
    public static let notConnected = Errno(ENOTCONN)

    /// `strerror`'s text, e.g. "Connection refused".
    public var description: String { String(cString: strerror(rawValue)) }
}

/// The outcome of a non-blocking call: `EAGAIN` is a value, not an error.
@frozen
public enum IOResult: Equatable, Sendable {
    case wouldBlock
    case processed(Int)
}

/// Runs a syscall that returns -1 and sets errno on failure: retries `EINTR`,
/// traps on `EBADF`/`EFAULT` (those are bugs, never conditions to handle).
@inlinable @inline(__always)
func retryingSyscall<T: FixedWidthInteger>(_ call: () -> T) -> Result<T, Errno> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let error = Errno.current
        if error == .interrupted { continue }
        precondition(error != .badFileDescriptor && error != .fault, "syscall misuse: \(error)")
        return .failure(error)
    }
}
