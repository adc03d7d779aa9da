import CShims
import Glibc

/// The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy 2.6
/// speaks it: the header another proxy puts before a connection's first byte
/// to pass on the client's addresses. Pure functions over caller-owned bytes:
/// nothing here allocates.
public enum ProxyProtocol {
    public enum Version: Sendable, Hashable {
        case v1
        case v2
    }

    /// Why a header was refused, in HAProxy's words (`reason`).
    public enum Failure: Sendable, Equatable {
        /// The connection ended before any byte.
        case closed
        /// A receive error.
        case aborted
        /// The connection ended in the middle of a header.
        case truncated
        case timeout
        /// Neither signature.
        case notHeader
        /// A header that breaks the format (or is longer than allowed).
        case invalid
        /// A version 1 line announcing neither TCP4, TCP6 nor UNKNOWN.
        case unhandledProtocol

        public var reason: String {
            switch self {
            case .closed: return "Connection closed while waiting for PROXY protocol header"
            case .aborted: return "Connection error while waiting for PROXY protocol header"
            case .truncated: return "Truncated PROXY protocol header received"
            case .timeout: return "Timeout while waiting for PROXY protocol header"
            case .notHeader: return "Received something which does not look like a PROXY protocol header"
            case .invalid: return "Received an invalid PROXY protocol header"
            case .unhandledProtocol: return "Received an unhandled protocol in the PROXY protocol header"
            }
        }
    }

    /// A complete header: its length on the wire and the addresses it
    /// carries, nil when the connection keeps its own (v1 `UNKNOWN`, v2
    /// `LOCAL` or a family other than TCP over IPv4/IPv6).
    public struct Header {
        public var length: Int
        public var source: SocketAddress?
        public var destination: SocketAddress?
        /// Where the value of a v2 unique id TLV (`PP2_TYPE_UNIQUE_ID`) lies in the header's bytes.
        public var uniqueID: Range<Int>? = nil
    }

    public enum ParseResult {
        /// The bytes are a prefix of a header: more must come.
        case needMore
        case failed(Failure)
        case header(Header)
    }

    /// The longest version 1 line, CRLF included (the specification's bound).
    public static let v1MaxLength = 107
    /// Version 2's fixed part: signature, version and command, family, length.
    public static let v2FixedLength = 16
    /// What `encode` writes at most: a version 2 header over IPv6 with an
    /// ALPN TLV of the longest protocol name.
    public static let maxEncodedLength = 52 + 3 + 255

    /// Parses the bytes a connection starts with. `capacity`: the most bytes
    /// the caller can ever present; a header announcing more is invalid
    /// rather than waited for.
    public static func parse(_ bytes: UnsafeRawBufferPointer, capacity: Int) -> ParseResult {
        let count = bytes.count
        guard count > 0 else { return .needMore }
        if bytes[0] == UInt8(ascii: "P") {
            for i in 0..<min(count, 6) where bytes[i] != v1Signature(i) { return .failed(.notHeader) }
            return parseV1(bytes)
        }
        for i in 0..<min(count, 12) where bytes[i] != v2Signature(i) { return .failed(.notHeader) }
        return parseV2(bytes, capacity: capacity)
    }

    @inline(__always)
    private static func v1Signature(_ i: Int) -> UInt8 {
        switch i {
        case 0: return UInt8(ascii: "P")
        case 1: return UInt8(ascii: "R")
        case 2: return UInt8(ascii: "O")
        case 3: return UInt8(ascii: "X")
        case 4: return UInt8(ascii: "Y")
        default: return UInt8(ascii: " ")
        }
    }

    /// `\r\n\r\n\0\r\nQUIT\n`.
    @inline(__always)
    static func v2Signature(_ i: Int) -> UInt8 {
        switch i {
        case 0, 2, 5: return 0x0D
        case 1, 3, 6, 11: return 0x0A
        case 4: return 0x00
        case 7: return 0x51
        case 8: return 0x55
        case 9: return 0x49
        default: return 0x54
        }
    }

    // MARK: - Version 1

    private static func parseV1(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        let window = min(bytes.count, v1MaxLength)
        var end = -1
        for i in 0..<window where bytes[i] == 0x0A {
            end = i
            break
        }
        guard end >= 0 else { return bytes.count >= v1MaxLength ? .failed(.invalid) : .needMore }
        guard end >= 7, bytes[end - 1] == 0x0D else { return .failed(.invalid) }
        // The line between "PROXY " and CRLF.
        let line = UnsafeRawBufferPointer(rebasing: bytes[6..<(end - 1)])
        let length = end + 1
        if startsWith(line, "UNKNOWN") && (line.count == 7 || line[7] == UInt8(ascii: " ")) {
            return .header(Header(length: length, source: nil, destination: nil))
        }
        let isV4 = startsWith(line, "TCP4 ")
        guard isV4 || startsWith(line, "TCP6 ") else { return .failed(.unhandledProtocol) }
        // Four fields, one space apart: source, destination, source port, destination port.
        var fields: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        var field = 0
        var start = 5
        for i in 5...line.count {
            guard i == line.count || line[i] == UInt8(ascii: " ") else { continue }
            guard i > start, field < 4 else { return .failed(.invalid) }
            switch field {
            case 0: fields.0 = start..<i
            case 1: fields.1 = start..<i
            case 2: fields.2 = start..<i
            default: fields.3 = start..<i
            }
            field += 1
            start = i + 1
        }
        guard field == 4,
              let sourcePort = port(UnsafeRawBufferPointer(rebasing: line[fields.2])),
              let destinationPort = port(UnsafeRawBufferPointer(rebasing: line[fields.3])),
              let source = address(UnsafeRawBufferPointer(rebasing: line[fields.0]), v4: isV4, port: sourcePort),
              let destination = address(UnsafeRawBufferPointer(rebasing: line[fields.1]), v4: isV4, port: destinationPort)
        else { return .failed(.invalid) }
        return .header(Header(length: length, source: source, destination: destination))
    }

    private static func startsWith(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        let p = prefix.utf8Start
        for i in 0..<prefix.utf8CodeUnitCount where bytes[i] != p[i] { return false }
        return true
    }

    /// A decimal port, 0...65535.
    private static func port(_ text: UnsafeRawBufferPointer) -> UInt16? {
        guard !text.isEmpty, text.count <= 5 else { return nil }
        var value = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value <= 65535 ? UInt16(value) : nil
    }

    /// A textual IPv4 or IPv6 address, through inet_pton on a stack copy.
    private static func address(_ text: UnsafeRawBufferPointer, v4: Bool, port: UInt16) -> SocketAddress? {
        // 45 characters is the longest IPv6 form (with an IPv4 tail).
        guard text.count <= 45 else { return nil }
        var cString = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var ip = (UInt64(0), UInt64(0))
        let parsed = withUnsafeMutableBytes(of: &cString) { c in
            c.copyMemory(from: text)
            return withUnsafeMutableBytes(of: &ip) { out in
                inet_pton(v4 ? AF_INET : AF_INET6, c.baseAddress!.assumingMemoryBound(to: CChar.self), out.baseAddress!)
            }
        }
        guard parsed == 1 else { return nil }
        return withUnsafeBytes(of: &ip) { SocketAddress(ipBytes: UnsafeRawBufferPointer(rebasing: $0[0..<(v4 ? 4 : 16)]), port: port) }
    }

    // MARK: - Version 2

    private static func parseV2(_ bytes: UnsafeRawBufferPointer, capacity: Int) -> ParseResult {
        guard bytes.count >= v2FixedLength else { return .needMore }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .failed(.notHeader) }
        let total = v2FixedLength + (Int(bytes[14]) << 8 | Int(bytes[15]))
        guard total <= capacity else { return .failed(.invalid) }
        guard bytes.count >= total else { return .needMore }
        switch versionCommand & 0x0F {
        case 0x0:
            // LOCAL: the sender's own connection (a health check); what follows is ignored.
            return .header(Header(length: total, source: nil, destination: nil))
        case 0x1:
            break
        default:
            return .failed(.invalid)
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[v2FixedLength..<total])
        var source: SocketAddress?
        var destination: SocketAddress?
        let addressLength: Int
        switch bytes[13] {
        case 0x11:
            addressLength = 12
            guard body.count >= addressLength else { return .failed(.invalid) }
            source = SocketAddress(ipBytes: UnsafeRawBufferPointer(rebasing: body[0..<4]), port: bigEndian16(body, 8))
            destination = SocketAddress(ipBytes: UnsafeRawBufferPointer(rebasing: body[4..<8]), port: bigEndian16(body, 10))
        case 0x21:
            addressLength = 36
            guard body.count >= addressLength else { return .failed(.invalid) }
            source = SocketAddress(ipBytes: UnsafeRawBufferPointer(rebasing: body[0..<16]), port: bigEndian16(body, 32))
            destination = SocketAddress(ipBytes: UnsafeRawBufferPointer(rebasing: body[16..<32]), port: bigEndian16(body, 34))
        default:
            // UNSPEC, UDP or UNIX: the connection keeps its own addresses,
            // and where TLVs would start is unknown.
            return .header(Header(length: total, source: nil, destination: nil))
        }
        var uniqueID: Range<Int>?
        guard checkTLVs(bytes, from: v2FixedLength + addressLength, to: total, uniqueID: &uniqueID) else {
            return .failed(.invalid)
        }
        return .header(Header(length: total, source: source, destination: destination, uniqueID: uniqueID))
    }

    @inline(__always)
    private static func bigEndian16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    /// Walks the TLVs of `header[start..<end]`: each must fit, and the
    /// ones HAProxy reads must be well formed (a CRC32c that matches, an
    /// authority of at most 255 bytes, a unique id of at most 128, whose
    /// value `uniqueID` locates). The others are skipped.
    private static func checkTLVs(_ header: UnsafeRawBufferPointer, from start: Int, to end: Int,
                                  uniqueID: inout Range<Int>?) -> Bool {
        var offset = start
        while offset < end {
            guard offset + 3 <= end else { return false }
            let type = header[offset]
            let length = Int(header[offset + 1]) << 8 | Int(header[offset + 2])
            let value = offset + 3
            offset = value + length
            guard offset <= end else { return false }
            switch type {
            case TLV.crc32c:
                guard length == 4 else { return false }
                let expected = UInt32(bigEndian16(header, value)) << 16 | UInt32(bigEndian16(header, value + 2))
                guard crc32c(UnsafeRawBufferPointer(rebasing: header[0..<end]), zeroing: value..<(value + 4)) == expected
                else { return false }
            case TLV.authority:
                guard length <= 255 else { return false }
            case TLV.uniqueID:
                guard length <= 128 else { return false }
                uniqueID = value..<offset
            default:
                break
            }
        }
        return true
    }

    enum TLV {
        static let alpn: UInt8 = 0x01
        static let authority: UInt8 = 0x02
        static let crc32c: UInt8 = 0x03
        static let uniqueID: UInt8 = 0x05
    }

    /// CRC32c (Castagnoli) of `bytes`, the bytes of `zeroing` counted as zeros.
    static func crc32c(_ bytes: UnsafeRawBufferPointer, zeroing: Range<Int>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for i in 0..<bytes.count {
            crc ^= zeroing.contains(i) ? 0 : UInt32(bytes[i])
            for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    // MARK: - Encoding

    /// Writes the header `version` makes of a connection's addresses into
    /// `out` (at least `maxEncodedLength` bytes) and returns its length.
    /// Addresses that are not both IP ones give v1 `UNKNOWN` and v2 `LOCAL`,
    /// as does `local` in v2 (a connection the proxy makes for itself, a
    /// check); an IPv4 address beside an IPv6 one is sent IPv4-mapped, as
    /// HAProxy does. `alpn`: the protocol agreed with the client over TLS,
    /// sent as a v2 TLV when not empty.
    public static func encode(_ version: Version, source: SocketAddress?, destination: SocketAddress?,
                              local: Bool = false, alpn: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                              into out: UnsafeMutableRawBufferPointer) -> Int {
        var addresses: (SocketAddress, SocketAddress)?
        if let source, let destination, source.isIP, destination.isIP {
            addresses = source.family == destination.family
                ? (source, destination) : (source.mappedToIPv6, destination.mappedToIPv6)
        }
        switch version {
        case .v1: return encodeV1(addresses, into: out)
        case .v2: return encodeV2(local ? nil : addresses, alpn: alpn, into: out)
        }
    }

    private static func encodeV1(_ addresses: (SocketAddress, SocketAddress)?, into out: UnsafeMutableRawBufferPointer) -> Int {
        var n = 0
        func append(_ text: StaticString) {
            for i in 0..<text.utf8CodeUnitCount {
                out[n] = text.utf8Start[i]
                n += 1
            }
        }
        func append(host: SocketAddress) {
            n += host.formatHost(into: (out.baseAddress! + n).assumingMemoryBound(to: CChar.self))
        }
        func append(port: UInt16) {
            var divisor = 10000
            var started = false
            while divisor > 0 {
                let digit = Int(port) / divisor % 10
                if digit != 0 || started || divisor == 1 {
                    out[n] = UInt8(ascii: "0") + UInt8(digit)
                    n += 1
                    started = true
                }
                divisor /= 10
            }
        }
        guard let (source, destination) = addresses else {
            append("PROXY UNKNOWN\r\n")
            return n
        }
        append(source.family == AF_INET ? "PROXY TCP4 " : "PROXY TCP6 ")
        append(host: source)
        append(" ")
        append(host: destination)
        append(" ")
        append(port: source.port)
        append(" ")
        append(port: destination.port)
        append("\r\n")
        return n
    }

    private static func encodeV2(_ addresses: (SocketAddress, SocketAddress)?, alpn: UnsafeRawBufferPointer,
                                 into out: UnsafeMutableRawBufferPointer) -> Int {
        for i in 0..<12 { out[i] = v2Signature(i) }
        var n = v2FixedLength
        if let (source, destination) = addresses {
            out[12] = 0x21
            out[13] = source.family == AF_INET ? 0x11 : 0x21
            source.withIPBytes { ip in for byte in ip { out[n] = byte; n += 1 } }
            destination.withIPBytes { ip in for byte in ip { out[n] = byte; n += 1 } }
            out[n] = UInt8(source.port >> 8)
            out[n + 1] = UInt8(source.port & 0xFF)
            out[n + 2] = UInt8(destination.port >> 8)
            out[n + 3] = UInt8(destination.port & 0xFF)
            n += 4
        } else {
            out[12] = 0x20
            out[13] = 0x00
        }
        if !alpn.isEmpty && alpn.count <= 255 {
            out[n] = TLV.alpn
            out[n + 1] = 0
            out[n + 2] = UInt8(alpn.count)
            n += 3
            for byte in alpn {
                out[n] = byte
                n += 1
            }
        }
        out[14] = UInt8((n - v2FixedLength) >> 8)
        out[15] = UInt8((n - v2FixedLength) & 0xFF)
        return n
    }

    /// A 64-bit digest of an encoded header (FNV-1a), never 0: server
    /// connections are reused only by a session that would send the same header.
    public static func fingerprint(_ header: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in header {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash == 0 ? 1 : hash
    }
}

extension SocketAddress {
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address, without an array.
    public init(ipBytes bytes: UnsafeRawBufferPointer, port: UInt16) {
        self.init()
        withUnsafeMutableBytes(of: &storage) { raw in
            if bytes.count == 4 {
                raw.storeBytes(of: sa_family_t(AF_INET), as: sa_family_t.self)
                raw.storeBytes(of: port.bigEndian, toByteOffset: 2, as: UInt16.self)
                UnsafeMutableRawBufferPointer(rebasing: raw[4..<8]).copyMemory(from: bytes)
            } else {
                raw.storeBytes(of: sa_family_t(AF_INET6), as: sa_family_t.self)
                raw.storeBytes(of: port.bigEndian, toByteOffset: 2, as: UInt16.self)
                UnsafeMutableRawBufferPointer(rebasing: raw[8..<24]).copyMemory(from: bytes)
            }
        }
        length = socklen_t(bytes.count == 4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
    }

    public var isIP: Bool { family == AF_INET || family == AF_INET6 }

    /// An IPv4 address as IPv4-mapped IPv6 (`::ffff:a.b.c.d`); others unchanged.
    public var mappedToIPv6: SocketAddress {
        guard family == AF_INET else { return self }
        var mapped = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &mapped) { raw in
            raw[10] = 0xFF
            raw[11] = 0xFF
            withIPBytes { UnsafeMutableRawBufferPointer(rebasing: raw[12..<16]).copyMemory(from: $0) }
        }
        return withUnsafeBytes(of: &mapped) { SocketAddress(ipBytes: $0, port: port) }
    }
}
