import Glibc

/// A client's address in 24 bytes: what a session keeps of the
/// `sockaddr_storage` (132 bytes with its length) that `accept` fills, since
/// every connection, idle ones too, holds one. A UNIX socket's peer keeps no
/// path: it prints as `unix`, as HAProxy logs it.
public struct PeerAddress: Sendable, Equatable {
    /// Network order: IPv4 in the first 4 bytes, IPv6 in all 16.
    private var ip: (UInt64, UInt64) = (0, 0)
    /// The IPv6 scope (interface index), so that the address converts back whole.
    private var scopeID: UInt32 = 0
    /// 0 for UNIX sockets.
    public private(set) var port: UInt16 = 0
    private var familyCode: UInt8 = 0

    public init() {}

    public init(_ address: SocketAddress) {
        let family = address.family
        guard family == AF_INET || family == AF_INET6 else {
            familyCode = UInt8(truncatingIfNeeded: family)
            return
        }
        familyCode = UInt8(family)
        port = address.port
        address.withIPBytes { bytes in
            withUnsafeMutableBytes(of: &ip) { $0.copyMemory(from: bytes) }
        }
        if family == AF_INET6 {
            scopeID = withUnsafeBytes(of: address.storage) {
                $0.load(fromByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_scope_id)!, as: UInt32.self)
            }
        }
    }

    public static func == (a: PeerAddress, b: PeerAddress) -> Bool {
        a.familyCode == b.familyCode && a.port == b.port && a.scopeID == b.scopeID
            && a.ip.0 == b.ip.0 && a.ip.1 == b.ip.1
    }

    /// `AF_INET`, `AF_INET6`, `AF_UNIX`, or 0 for none.
    public var family: Int32 { Int32(familyCode) }

    /// The address as a `sockaddr` again, to hand to the system or encode.
    public var socketAddress: SocketAddress {
        switch family {
        case AF_INET, AF_INET6:
            var address = withIPBytes { SocketAddress(ipBytes: $0, port: port) }
            if scopeID != 0 {
                withUnsafeMutableBytes(of: &address.storage) {
                    $0.storeBytes(of: scopeID, toByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_scope_id)!,
                                  as: UInt32.self)
                }
            }
            return address
        default:
            var address = SocketAddress()
            address.storage.ss_family = sa_family_t(familyCode)
            address.length = socklen_t(MemoryLayout<sa_family_t>.size)
            return address
        }
    }

    /// Calls `body` with the raw IP address bytes (4 or 16; empty for UNIX).
    @inline(__always)
    public func withIPBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: ip) { raw in
            switch family {
            case AF_INET: return body(UnsafeRawBufferPointer(rebasing: raw[0..<4]))
            case AF_INET6: return body(raw)
            default: return body(UnsafeRawBufferPointer(rebasing: raw[0..<0]))
            }
        }
    }

    /// The address as HAProxy prints it: `1.2.3.4`, `::1`, or `unix`.
    /// Writes into `out` (at least 46 bytes) and returns the length.
    @inline(__always)
    public func formatHost(into out: UnsafeMutablePointer<CChar>) -> Int {
        // IPv4, the common case, straight from the stored word.
        if family == AF_INET { return SocketAddress.formatIPv4(UInt32(truncatingIfNeeded: UInt64(littleEndian: ip.0)), into: out) }
        return formatOtherHost(into: out)
    }

    /// IPv6 and UNIX, apart: the IPv4 path above then needs no stack copy.
    @inline(never)
    private func formatOtherHost(into out: UnsafeMutablePointer<CChar>) -> Int {
        withUnsafeBytes(of: ip) { SocketAddress.formatHost(family: family, ip: $0.baseAddress!, into: out) }
    }

    /// `1.2.3.4:80`, `[::1]:80` or `unix`.
    public var description: String {
        var text = [CChar](repeating: 0, count: 64)
        let n = text.withUnsafeMutableBufferPointer { formatHost(into: $0.baseAddress!) }
        let host = String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch family {
        case AF_INET6: return "[\(host)]:\(port)"
        case AF_INET: return "\(host):\(port)"
        default: return host
        }
    }
}
