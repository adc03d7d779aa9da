import Glibc

/// Sole owner of an open file descriptor: closed exactly once, when the owner
/// is consumed or goes out of scope.
public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    public init(owning rawValue: Int32) {
        precondition(rawValue >= 0)
        self.rawValue = rawValue
    }

    /// Gives up ownership without closing; the caller now owns the number.
    public consuming func release() -> Int32 {
        let value = rawValue
        discard self
        return value
    }

    deinit { Posix.close(rawValue) }
}
