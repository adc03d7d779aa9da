// The fetches that read the request buffer's raw bytes in `mode tcp`
// (`req.len`, `req.payload`, `req.ssl_sni`, …): what `tcp-request content`
// rules inspect while `tcp-request inspect-delay` holds the session. They
// live here, as one `Fetch.content` case, so that other fetch families
// (`ssl_c_*`, `ssl_bc*`) are added beside them without touching these.

/// A fetch over the bytes the client sent so far, before any is forwarded.
public enum ContentFetch: Sendable, Hashable {
    /// `req.len`: how many bytes are buffered.
    case length
    /// `req.payload(OFFSET,LENGTH)`: LENGTH bytes from OFFSET; LENGTH 0:
    /// everything from OFFSET on.
    case payload(offset: Int, length: Int)
    /// `req.payload_lv(OFFSET1,LENGTH[,OFFSET2])`: a block whose size is the
    /// big-endian LENGTH-byte integer at OFFSET1; it starts at `dataOffset`
    /// (absolute), or `dataOffset` bytes after the size when `relative`,
    /// or just after the size when nil.
    case payloadLV(offset: Int, length: Int, dataOffset: Int?, relative: Bool)
    /// `req.ssl_hello_type`: the handshake type of a TLS record (1: ClientHello).
    case sslHelloType
    /// `req.ssl_ver`: the version a ClientHello (or an SSLv2 hello) announces,
    /// as major * 65536 + minor.
    case sslVersion
    /// `req.ssl_sni`: the server name of a ClientHello.
    case sslSNI
    /// `req.ssl_alpn`: the protocols a ClientHello offers (an ACL tries each).
    case sslALPN
    /// `req.ssl_st_ext`: 0 without a SessionTicket extension, 1 with an
    /// empty one, 2 with a ticket.
    case sslSessionTicket
    /// `req.ssl_ec_ext`: whether a ClientHello has the supported groups
    /// (elliptic curves) extension.
    case sslEllipticCurves
    /// `wait_end`: true once the inspection delay has passed, no value before.
    case waitEnd
    /// `req.proto_http`: true once the request is HTTP: always in mode
    /// http; in mode tcp, when the buffered bytes hold a whole request
    /// head whose request line parses.
    case protoHTTP
    /// `req.rdp_cookie([NAME])`: the value of the RDP cookie (`Cookie:
    /// NAME=VALUE` after the 11 bytes of TPKT and X.224 headers of an RDP
    /// connection request); any cookie's whole `NAME=VALUE` without a name.
    case rdpCookie(name: String?)
    /// `req.rdp_cookie_cnt([NAME])`: 1 when `rdpCookie` finds one, else 0.
    case rdpCookieCount(name: String?)
}

enum ContentFetchSyntax {
    /// Their names, HAProxy's deprecated ones included.
    static let names: [String] = [
        "req.len", "req_len", "req.payload", "payload", "req.payload_lv", "payload_lv", "req.ssl_hello_type",
        "req_ssl_hello_type", "req.ssl_ver", "req_ssl_ver", "req.ssl_sni", "req_ssl_sni", "req.ssl_alpn",
        "req.ssl_st_ext", "req.ssl_ec_ext", "wait_end", "req.proto_http", "req_proto_http", "req.rdp_cookie",
        "rdp_cookie", "req.rdp_cookie_cnt", "rdp_cookie_cnt",
    ]

    /// `M.m` (`3.1`, TLS 1.0) as the integer `req.ssl_ver` yields, with
    /// the forms of an integer pattern: `3.1:3.3`, `3.1:`, `:3.3`. nil
    /// when `text` is not written with dots (an ordinary integer).
    static func dottedVersion(_ text: String) -> Result<String, ParseFailure>? {
        guard text.contains(".") else { return nil }
        func one(_ part: Substring) -> String? {
            if part.isEmpty { return "" }
            let pieces = part.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count == 2, let major = Int64(pieces[0]), let minor = Int64(pieces[1]),
                  (0...65535).contains(major), (0...65535).contains(minor) else { return nil }
            return String(major << 16 | minor)
        }
        let sides = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let converted = sides.map(one)
        guard !converted.contains(where: { $0 == nil }) else {
            return .failure(ParseFailure("expected a version like 3.1 or a range like 3.1:3.3, got '\(text)'"))
        }
        return .success(converted.map { $0! }.joined(separator: ":"))
    }
}

extension ParserState {
    /// The content fetch `name`, nil when it is not one.
    mutating func contentFetch(_ name: String, _ args: [String]?) -> Result<ParsedSample, SampleError>? {
        guard ContentFetchSyntax.names.contains(name) else { return nil }
        func fail(_ message: String) -> Result<ParsedSample, SampleError> {
            .failure(SampleError(offset: 0, message: message))
        }
        func made(_ fetch: ContentFetch, _ type: SampleType) -> Result<ParsedSample, SampleError> {
            var parsed = ParsedSample(sample: Sample(fetch: .content(fetch)), type: type, derivedMatch: nil, source: .content)
            parsed.dottedVersion = fetch == .sslVersion
            return .success(parsed)
        }
        /// A non-negative offset or length that fits a buffer.
        func count(_ text: String) -> Int? {
            guard let n = Int(text), (0...(1 << 30)).contains(n) else { return nil }
            return n
        }
        switch name {
        case "req.payload", "payload":
            guard let args, args.count == 2, let offset = count(args[0]), let length = count(args[1]) else {
                return fail("'\(name)' expects an offset and a length, as in \(name)(0,3) (length 0: up to the end)")
            }
            return made(.payload(offset: offset, length: length), .binary)
        case "req.payload_lv", "payload_lv":
            guard let args, args.count == 2 || args.count == 3, let offset = count(args[0]), let size = Int(args[1]) else {
                return fail("'\(name)' expects the offset and size of a length field and an optional data offset, "
                            + "as in \(name)(0,2) or \(name)(0,2,+4)")
            }
            guard (1...4).contains(size) else {
                return fail("'\(name)': the length field is 1 to 4 bytes long, got \(args[1])")
            }
            guard args.count == 3, !args[2].isEmpty else {
                return made(.payloadLV(offset: offset, length: size, dataOffset: nil, relative: false), .binary)
            }
            let text = args[2]
            let relative = text.hasPrefix("+") || text.hasPrefix("-")
            guard let dataOffset = Int(text), abs(dataOffset) <= 1 << 30, relative || dataOffset >= 0 else {
                return fail("'\(name)': expected a data offset like 8, +4 or -2, got '\(text)'")
            }
            return made(.payloadLV(offset: offset, length: size, dataOffset: dataOffset, relative: relative), .binary)
        case "req.rdp_cookie", "rdp_cookie", "req.rdp_cookie_cnt", "rdp_cookie_cnt":
            guard (args?.count ?? 0) <= 1 else { return fail("'\(name)' takes at most a cookie name") }
            let cookie = args?.first.flatMap { $0.isEmpty ? nil : $0 }
            return name.hasSuffix("_cnt") ? made(.rdpCookieCount(name: cookie), .integer) : made(.rdpCookie(name: cookie), .string)
        default:
            if let args, !args.isEmpty { return fail("'\(name)' takes no argument") }
        }
        switch name {
        case "req.len", "req_len": return made(.length, .integer)
        case "req.ssl_hello_type", "req_ssl_hello_type": return made(.sslHelloType, .integer)
        case "req.ssl_ver", "req_ssl_ver": return made(.sslVersion, .integer)
        case "req.ssl_sni", "req_ssl_sni": return made(.sslSNI, .string)
        case "req.ssl_alpn": return made(.sslALPN, .string)
        case "req.ssl_st_ext": return made(.sslSessionTicket, .integer)
        case "req.ssl_ec_ext": return made(.sslEllipticCurves, .boolean)
        case "req.proto_http", "req_proto_http": return made(.protoHTTP, .boolean)
        default: return made(.waitEnd, .boolean)
        }
    }
}

extension Condition {
    /// Where the first ACL reading the request's contents is written, if any.
    var firstContentACL: SourceLocation? {
        for group in alternatives {
            for term in group {
                for acl in term.acls where acl.sample.fetch.source == .content { return acl.location }
            }
        }
        return nil
    }
}

extension Match {
    /// `-m bin` patterns as bytes (checked when the configuration was read).
    public var binaryPatterns: [[UInt8]] { strings.compactMap(ParserState.hexBytes) }
}
