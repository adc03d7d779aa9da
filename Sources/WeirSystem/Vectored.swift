import CShims
import Glibc

extension Posix {
    /// sendmsg(2) of two byte ranges in one call, with MSG_NOSIGNAL: an HTTP
    /// head built apart from the buffer it came in, then the body bytes after
    /// it. Either range may be empty. `more`: MSG_MORE, as in `send(_:from:count:more:)`.
    @inlinable @inline(__always)
    public static func send(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
                            more: Bool = false) throws(Errno) -> IOResult {
        let flags = more ? CShims_MSG_NOSIGNAL | CShims_MSG_MORE : CShims_MSG_NOSIGNAL
        var vectors = (
            iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count),
            iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count)
        )
        let result = withUnsafeMutableBytes(of: &vectors) { raw in
            var message = msghdr()
            message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
            message.msg_iovlen = 2
            return retryingSyscall { Glibc.sendmsg(fd, &message, flags) }
        }
        switch result {
        case .success(let n): return .processed(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e): throw e
        }
    }
}
