import CShims
import Glibc

/// A socket address held by value (no heap): IPv4, IPv6 or UNIX.
public struct SocketAddress: @unchecked Sendable {
    public var storage = sockaddr_storage()
    public var length: socklen_t = 0

    public init() {}

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order.
    public init(ip bytes: [UInt8], port: UInt16) {
        if bytes.count == 4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
            self.init(copying: sin)
        } else {
            precondition(bytes.count == 16)
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            self.init(copying: sin6)
        }
    }

    /// A UNIX stream socket path; nil when the path is too long. A path
    /// starting with a NUL names a socket in the abstract namespace
    /// (`abns@`): as HAProxy does, its address spans the whole `sun_path`,
    /// padded with zeros.
    public init?(unixPath path: String) {
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: sun.sun_path)
        guard bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &sun.sun_path) { $0.copyBytes(from: bytes) }
        self.init(copying: sun)
        let abstract = bytes.first == 0
        length = socklen_t(MemoryLayout<sa_family_t>.size + (abstract ? capacity : bytes.count + 1))
    }

    private init<T>(copying value: T) {
        var value = value
        withUnsafeMutableBytes(of: &storage) { dst in
            withUnsafeBytes(of: &value) { src in dst.copyMemory(from: src) }
        }
        length = socklen_t(MemoryLayout<T>.size)
    }

    public var family: Int32 { Int32(storage.ss_family) }

    /// The port, or 0 for UNIX sockets.
    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            case AF_INET6: return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            default: return 0
            }
        }
    }

    /// Replaces the port of an IPv4 or IPv6 address (nothing for UNIX).
    public mutating func setPort(_ port: UInt16) {
        switch family {
        case AF_INET:
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = port.bigEndian }
            }
        case AF_INET6:
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = port.bigEndian }
            }
        default:
            break
        }
    }

    /// Calls `body` with the raw IP address bytes (4 or 16; empty for UNIX).
    @inline(__always)
    public func withIPBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return body(UnsafeRawBufferPointer(rebasing: raw[4..<8]))
            case AF_INET6: return body(UnsafeRawBufferPointer(rebasing: raw[8..<24]))
            default: return body(UnsafeRawBufferPointer(rebasing: raw[0..<0]))
            }
        }
    }

    /// The address as HAProxy prints it: `1.2.3.4`, `::1`, or `unix`.
    /// Writes into `out` (at least 46 bytes) and returns the length.
    @inline(__always)
    public func formatHost(into out: UnsafeMutablePointer<CChar>) -> Int {
        withUnsafeBytes(of: storage) { Self.formatHost($0, into: out) }
    }

    /// `raw`: a `sockaddr_storage`.
    @inline(__always)
    private static func formatHost(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<CChar>) -> Int {
        let family = Int32(raw.load(as: sa_family_t.self))
        return formatHost(family: family, ip: raw.baseAddress! + (family == AF_INET ? 4 : 8), into: out)
    }

    /// The text of an address of `family` whose IP bytes (network order)
    /// are at `ip`: `1.2.3.4`, `::1`, or `unix` for any other family.
    @inline(__always)
    static func formatHost(family: Int32, ip: UnsafeRawPointer, into out: UnsafeMutablePointer<CChar>) -> Int {
        guard family == AF_INET || family == AF_INET6 else {
            let text = "unix"
            for (i, b) in text.utf8.enumerated() { out[i] = CChar(bitPattern: b) }
            return text.utf8.count
        }
        if family == AF_INET { return formatIPv4(UInt32(littleEndian: ip.loadUnaligned(as: UInt32.self)), into: out) }
        guard inet_ntop(family, ip, out, 46) != nil else { return 0 }
        return strlen(out)
    }

    /// `bytes`: an IPv4 address as it lies in memory (network order), loaded
    /// little-endian. By hand: inet_ntop formats IPv4 through vsprintf, and
    /// this runs for every forwarded request (X-Forwarded-For, logs). Each
    /// octet goes out with the dot after it in one store; the last dot
    /// becomes the NUL. Writes up to 17 bytes.
    @inline(__always)
    static func formatIPv4(_ bytes: UInt32, into out: UnsafeMutablePointer<CChar>) -> Int {
        let raw = UnsafeMutableRawPointer(out)
        var n = appendOctet(bytes & 0xFF, to: raw, at: 0)
        n = appendOctet(bytes >> 8 & 0xFF, to: raw, at: n)
        n = appendOctet(bytes >> 16 & 0xFF, to: raw, at: n)
        n = appendOctet(bytes >> 24, to: raw, at: n)
        raw.storeBytes(of: 0, toByteOffset: n &- 1, as: UInt8.self)
        return n &- 1
    }

    /// Writes `octet` in decimal and a dot at `offset` (with up to four
    /// bytes stored); returns the offset past the dot.
    @inline(__always)
    private static func appendOctet(_ octet: UInt32, to raw: UnsafeMutableRawPointer, at offset: Int) -> Int {
        let zero: UInt32 = 0x30, dot: UInt32 = 0x2E
        if octet >= 100 {
            let hundreds = octet / 100, rest = octet &- hundreds &* 100, tens = rest / 10
            let text = (zero | hundreds) | (zero | tens) << 8 | (zero | (rest &- tens &* 10)) << 16 | dot << 24
            raw.storeBytes(of: text.littleEndian, toByteOffset: offset, as: UInt32.self)
            return offset &+ 4
        }
        if octet >= 10 {
            let tens = octet / 10
            let text = (zero | tens) | (zero | (octet &- tens &* 10)) << 8 | dot << 16
            raw.storeBytes(of: text.littleEndian, toByteOffset: offset, as: UInt32.self)
            return offset &+ 3
        }
        raw.storeBytes(of: UInt16(truncatingIfNeeded: (zero | octet) | dot << 8).littleEndian, toByteOffset: offset,
                       as: UInt16.self)
        return offset &+ 2
    }

    /// `1.2.3.4:80`, `[::1]:80` or the UNIX path.
    public var description: String {
        if family == AF_UNIX {
            return withUnsafeBytes(of: storage) { raw in
                if length > 2 && raw[2] == 0 {
                    return "abns@" + String(decoding: raw[3...].prefix { $0 != 0 }, as: UTF8.self)
                }
                let path = raw[2...].prefix { $0 != 0 }
                return String(decoding: path, as: UTF8.self)
            }
        }
        var text = [CChar](repeating: 0, count: 64)
        let n = text.withUnsafeMutableBufferPointer { formatHost(into: $0.baseAddress!) }
        let host = String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Resolves a host name with getaddrinfo (at startup only: it blocks).
    /// IPv4 results come first, as HAProxy's default `init-addr libc` prefers.
    public static func resolve(host: String, port: UInt16) throws(ResolveError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_socktype = CShims_SOCK_STREAM
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw ResolveError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        var chosen: UnsafeMutablePointer<addrinfo>? = nil
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if entry.pointee.ai_family == AF_INET { chosen = entry; break }
            if chosen == nil, entry.pointee.ai_family == AF_INET6 { chosen = entry }
            cursor = entry.pointee.ai_next
        }
        guard let entry = chosen else { throw ResolveError(host: host, reason: "no IPv4 or IPv6 address") }
        var address = SocketAddress()
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: entry.pointee.ai_addr, count: Int(entry.pointee.ai_addrlen)))
        }
        address.length = entry.pointee.ai_addrlen
        return address
    }
}

public struct ResolveError: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var reason: String
    public var description: String { "could not resolve '\(host)': \(reason)" }
}
