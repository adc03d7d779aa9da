/// The cookie of an RDP connection request, as HAProxy's `req.rdp_cookie`
/// reads it: after the 11 bytes of the TPKT and X.224 headers, a
/// `Cookie:` line (the name compared without case), spaces, then
/// `NAME=VALUE` up to CRLF.
enum RDPCookie {
    /// The value's range in `data` (with no `name`, the whole `NAME=VALUE`).
    static func find(_ data: UnsafeRawBufferPointer, name: String?) -> ClientHelloPeek<Range<Int>> {
        var p = 11
        let cookie: StaticString = "cookie:"
        guard data.count > p + cookie.utf8CodeUnitCount else { return .needMore }
        for i in 0..<cookie.utf8CodeUnitCount where lowercased(data[p + i]) != cookie.utf8Start[i] {
            return .absent
        }
        p += cookie.utf8CodeUnitCount
        while p < data.count && data[p] == UInt8(ascii: " ") { p += 1 }
        if let name {
            guard data.count > p + name.utf8.count else { return .needMore }
            for byte in name.utf8 {
                guard lowercased(data[p]) == lowercased(byte) else { return .absent }
                p += 1
            }
            guard data[p] == UInt8(ascii: "=") else { return .absent }
            p += 1
        }
        let start = p
        while p < data.count && data[p] != UInt8(ascii: "\r") { p += 1 }
        guard p + 1 < data.count else { return .needMore }
        guard data[p + 1] == UInt8(ascii: "\n") else { return .absent }
        return .found(start..<p)
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
