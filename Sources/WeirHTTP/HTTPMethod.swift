/// A request method. Methods are case-sensitive (RFC 9110 §9.1): `get` is
/// `.other`, not `.get`. Any token is a valid method; the ones a proxy must
/// tell apart have a case, the rest are `.other` and are read from the head.
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, delete, connect, options, trace, patch, other

    /// The method spelled by `bytes` (exact, case-sensitive match), or `.other`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3:
            if bytes.hasBytes("GET") { self = .get; return }
            if bytes.hasBytes("PUT") { self = .put; return }
        case 4:
            if bytes.hasBytes("HEAD") { self = .head; return }
            if bytes.hasBytes("POST") { self = .post; return }
        case 5:
            if bytes.hasBytes("TRACE") { self = .trace; return }
            if bytes.hasBytes("PATCH") { self = .patch; return }
        case 6:
            if bytes.hasBytes("DELETE") { self = .delete; return }
        case 7:
            if bytes.hasBytes("CONNECT") { self = .connect; return }
            if bytes.hasBytes("OPTIONS") { self = .options; return }
        default:
            break
        }
        self = .other
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are exactly `text` (case-sensitive).
    @inline(__always)
    func hasBytes(_ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in
            guard expected.count == count else { return false }
            for i in 0..<count where self[i] != expected[i] { return false }
            return true
        }
    }
}
