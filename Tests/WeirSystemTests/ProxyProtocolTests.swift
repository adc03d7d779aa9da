import Glibc
import Testing
@testable import WeirSystem

/// The PROXY protocol header codec: every field, the bounds, headers split
/// over reads, and what is refused and why.
@Suite struct ProxyProtocolTests {
    enum Outcome: Equatable {
        case needMore
        case failed(ProxyProtocol.Failure)
        /// Length, then source and destination as `SocketAddress.description` ("" when kept).
        case header(Int, String, String)
    }

    func parse(_ bytes: [UInt8], capacity: Int = 16384) -> Outcome {
        bytes.withUnsafeBytes { raw in
            switch ProxyProtocol.parse(raw, capacity: capacity) {
            case .needMore: return .needMore
            case .failed(let failure): return .failed(failure)
            case .header(let h):
                return .header(h.length, h.source?.description ?? "", h.destination?.description ?? "")
            }
        }
    }

    func parse(_ text: String) -> Outcome { parse(Array(text.utf8)) }

    func encode(_ version: ProxyProtocol.Version, _ source: SocketAddress?, _ destination: SocketAddress?,
                local: Bool = false, alpn: [UInt8] = []) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ProxyProtocol.maxEncodedLength)
        let n = alpn.withUnsafeBytes { a in
            out.withUnsafeMutableBytes {
                ProxyProtocol.encode(version, source: source, destination: destination, local: local, alpn: a, into: $0)
            }
        }
        return Array(out[0..<n])
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    let client4 = SocketAddress(ip: [192, 0, 2, 1], port: 56324)
    let server4 = SocketAddress(ip: [198, 51, 100, 7], port: 443)
    let client6 = SocketAddress(ip: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 1)
    let server6 = SocketAddress(ip: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 65535)

    /// A v2 header: command, family, the address block, then TLVs.
    func v2(command: UInt8 = 0x1, family: UInt8, _ body: [UInt8]) -> [UInt8] {
        Self.signature + [0x20 | command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    let v4Block: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB]

    // MARK: Version 1

    @Test func v1TCP4AndTCP6() {
        let line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
        #expect(parse(line + "GET / HTTP/1.1\r\n") == .header(line.utf8.count, "192.0.2.1:56324", "198.51.100.7:443"))
        let line6 = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n"
        #expect(parse(line6) == .header(line6.utf8.count, "[2001:db8::1]:0", "[::ffff:10.0.0.1]:65535"))
    }

    @Test func v1UnknownKeepsTheConnectionsAddresses() {
        #expect(parse("PROXY UNKNOWN\r\n") == .header(15, "", ""))
        // The specification lets a sender put anything after UNKNOWN.
        let line = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"
        #expect(parse(line) == .header(line.utf8.count, "", ""))
    }

    @Test func v1RefusesMalformedLines() {
        for bad in ["PROXY TCP4 192.0.2.1 198.51.100.7 56324 65536\r\n",  // port out of range
                    "PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n",       // two spaces
                    "PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n",          // a field missing
                    "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n",      // a field too many
                    "PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n",      // IPv6 in TCP4
                    "PROXY TCP6 192.0.2.1 2001:db8::1 1 2\r\n",         // IPv4 in TCP6
                    "PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n",
                    "PROXY TCP4 192.0.2.1 198.51.100.7 -1 2\r\n",
                    "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n",          // no CR
                    "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n"] {
            #expect(parse(bad) == .failed(.invalid), "\(bad)")
        }
        #expect(parse("PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n") == .failed(.unhandledProtocol))
        #expect(parse("PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n") == .failed(.unhandledProtocol))
    }

    @Test func v1LengthBound() {
        // The longest legal line: UNKNOWN with the longest addresses, 107 bytes with CRLF.
        let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        let longest = "PROXY UNKNOWN \(full) \(full) 65535 65535\r\n"
        #expect(longest.utf8.count == ProxyProtocol.v1MaxLength)
        #expect(parse(longest) == .header(107, "", ""))
        let tcp6 = "PROXY TCP6 \(full) \(full) 65535 65535\r\n"
        #expect(parse(tcp6) == .header(104, "[\(full)]:65535", "[\(full)]:65535"))
        // 107 bytes without a line end: never a header.
        #expect(parse("PROXY UNKNOWN " + String(repeating: "x", count: 93)) == .failed(.invalid))
        #expect(parse("PROXY UNKNOWN " + String(repeating: "x", count: 92)) == .needMore)
    }

    @Test func somethingElseIsNotAHeader() {
        #expect(parse("GET / HTTP/1.1\r\n\r\n") == .failed(.notHeader))
        #expect(parse("PROXX TCP4") == .failed(.notHeader))
        #expect(parse([0x16, 0x03, 0x01, 0x00]) == .failed(.notHeader))  // a TLS ClientHello
        #expect(parse(Array(Self.signature[0..<5]) + [0x01]) == .failed(.notHeader))
        // Signature right, version 1 in the binary form.
        #expect(parse(Self.signature + [0x11, 0x11, 0, 12] + v4Block) == .failed(.notHeader))
    }

    /// Every prefix of a header asks for more; once whole, it parses the same
    /// however it was cut.
    @Test func splitReads() {
        let headers: [[UInt8]] = [
            Array("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n".utf8),
            Array("PROXY UNKNOWN\r\n".utf8),
            v2(family: 0x11, v4Block + [0x01, 0x00, 0x02, 0x68, 0x32]),
            v2(command: 0x0, family: 0x00, []),
        ]
        for header in headers {
            let whole = parse(header)
            guard case .header(let length, _, _) = whole else {
                Issue.record("\(header) did not parse")
                continue
            }
            #expect(length == header.count)
            for cut in 0..<header.count {
                #expect(parse(Array(header[0..<cut])) == .needMore, "cut at \(cut)")
            }
            #expect(parse(header + Array("payload".utf8)) == whole)
        }
    }

    // MARK: Version 2

    @Test func v2ProxyIPv4AndIPv6() {
        #expect(parse(v2(family: 0x11, v4Block)) == .header(28, "192.0.2.1:56324", "198.51.100.7:443"))
        let v6Block = [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1]
            + [0x00, 0x50, 0x1F, 0x90]
        #expect(parse(v2(family: 0x21, v6Block)) == .header(52, "[::1]:80", "[::ffff:10.0.0.1]:8080"))
    }

    @Test func v2LocalAndOtherFamiliesKeepTheConnectionsAddresses() {
        #expect(parse(v2(command: 0x0, family: 0x00, [])) == .header(16, "", ""))
        // LOCAL may still carry bytes: they are skipped.
        #expect(parse(v2(command: 0x0, family: 0x11, v4Block)) == .header(28, "", ""))
        #expect(parse(v2(family: 0x00, [])) == .header(16, "", ""))
        #expect(parse(v2(family: 0x12, v4Block)) == .header(28, "", ""))  // UDP over IPv4
        #expect(parse(v2(family: 0x31, [UInt8](repeating: 0, count: 216))) == .header(232, "", ""))  // UNIX
    }

    @Test func v2RefusesBadCommandsAndShortBlocks() {
        #expect(parse(v2(command: 0x2, family: 0x11, v4Block)) == .failed(.invalid))
        #expect(parse(v2(family: 0x11, Array(v4Block[0..<11]))) == .failed(.invalid))
        #expect(parse(v2(family: 0x21, v4Block)) == .failed(.invalid))
    }

    @Test func v2TLVsAreWalkedSafely() {
        // ALPN, then a NOOP of zero length, then an unknown type: skipped.
        let tlvs: [UInt8] = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00, 0xEE, 0x00, 0x01, 0x00]
        #expect(parse(v2(family: 0x11, v4Block + tlvs)) == .header(28 + tlvs.count, "192.0.2.1:56324", "198.51.100.7:443"))
        // A TLV longer than what is left, or a TLV header cut short.
        #expect(parse(v2(family: 0x11, v4Block + [0x01, 0x00, 0x05, 0x68])) == .failed(.invalid))
        #expect(parse(v2(family: 0x11, v4Block + [0x01, 0x00])) == .failed(.invalid))
        // An authority longer than 255 bytes, a unique id longer than 128.
        let authority: [UInt8] = [0x02, 0x01, 0x00] + [UInt8](repeating: 0x61, count: 256)
        #expect(parse(v2(family: 0x11, v4Block + authority)) == .failed(.invalid))
        let uniqueID: [UInt8] = [0x05, 0x00, 129] + [UInt8](repeating: 0x61, count: 129)
        #expect(parse(v2(family: 0x11, v4Block + uniqueID)) == .failed(.invalid))
        let fineID: [UInt8] = [0x05, 0x00, 128] + [UInt8](repeating: 0x61, count: 128)
        #expect(parse(v2(family: 0x11, v4Block + fineID)) == .header(28 + 131, "192.0.2.1:56324", "198.51.100.7:443"))
    }

    @Test("the unique id TLV is located for fc_pp_unique_id")
    func v2UniqueID() {
        let header = v2(family: 0x11, v4Block + [0x01, 0x00, 0x02, 0x68, 0x32, 0x05, 0x00, 0x03, 0x61, 0x62, 0x63])
        header.withUnsafeBytes { raw in
            guard case .header(let h) = ProxyProtocol.parse(raw, capacity: 16384), let id = h.uniqueID else {
                Issue.record("no unique id found")
                return
            }
            #expect(Array(raw[id]) == Array("abc".utf8))
        }
        v2(family: 0x11, v4Block).withUnsafeBytes { raw in
            guard case .header(let h) = ProxyProtocol.parse(raw, capacity: 16384) else { return }
            #expect(h.uniqueID == nil)
        }
    }

    @Test func v2ChecksItsCRC32c() {
        var header = v2(family: 0x11, v4Block + [0x03, 0x00, 0x04, 0, 0, 0, 0])
        let crc = header.withUnsafeBytes { ProxyProtocol.crc32c($0, zeroing: 0..<0) }
        header[header.count - 4] = UInt8(crc >> 24)
        header[header.count - 3] = UInt8(crc >> 16 & 0xFF)
        header[header.count - 2] = UInt8(crc >> 8 & 0xFF)
        header[header.count - 1] = UInt8(crc & 0xFF)
        #expect(parse(header) == .header(35, "192.0.2.1:56324", "198.51.100.7:443"))
        header[20] ^= 1
        #expect(parse(header) == .failed(.invalid))
        #expect(parse(v2(family: 0x11, v4Block + [0x03, 0x00, 0x03, 0, 0, 0])) == .failed(.invalid))
        // The standard check value of CRC32c.
        #expect(Array("123456789".utf8).withUnsafeBytes { ProxyProtocol.crc32c($0, zeroing: 0..<0) } == 0xE306_9283)
    }

    @Test func v2LengthBeyondTheBufferIsRefusedNotAwaited() {
        let header = Self.signature + [0x21, 0x11, 0xFF, 0xFF] + v4Block
        #expect(parse(header, capacity: 16384) == .failed(.invalid))
        #expect(parse(Self.signature + [0x21, 0x11, 0x00, 0x0C], capacity: 28) == .needMore)
        #expect(parse(Self.signature + [0x21, 0x11, 0x00, 0x0D], capacity: 28) == .failed(.invalid))
    }

    // MARK: Encoding

    @Test func encodesV1() {
        #expect(String(decoding: encode(.v1, client4, server4), as: UTF8.self)
                == "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")
        #expect(String(decoding: encode(.v1, client6, server6), as: UTF8.self)
                == "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n")
        // Mixed families: both sent as IPv6, the IPv4 one mapped.
        #expect(String(decoding: encode(.v1, client4, server6), as: UTF8.self)
                == "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 56324 65535\r\n")
        #expect(String(decoding: encode(.v1, SocketAddress(ip: [0, 0, 0, 0], port: 0), server4), as: UTF8.self)
                == "PROXY TCP4 0.0.0.0 198.51.100.7 0 443\r\n")
        let unix = SocketAddress(unixPath: "/run/weir.sock")
        #expect(String(decoding: encode(.v1, unix, server4), as: UTF8.self) == "PROXY UNKNOWN\r\n")
        #expect(String(decoding: encode(.v1, nil, nil), as: UTF8.self) == "PROXY UNKNOWN\r\n")
    }

    @Test func encodesV2() {
        #expect(encode(.v2, client4, server4) == v2(family: 0x11, v4Block))
        let mixed = encode(.v2, server6, client4)
        #expect(mixed.count == 52)
        #expect(Array(mixed[12..<16]) == [0x21, 0x21, 0x00, 36])
        #expect(Array(mixed[32..<44]) == [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF])
        #expect(Array(mixed[44..<48]) == [192, 0, 2, 1])
        #expect(Array(mixed[48..<52]) == [0xFF, 0xFF, 0xDC, 0x04])
        #expect(encode(.v2, client4, server4, local: true) == v2(command: 0x0, family: 0x00, []))
        #expect(encode(.v2, nil, server4) == v2(command: 0x0, family: 0x00, []))
        #expect(encode(.v2, client4, server4, alpn: Array("h2".utf8))
                == v2(family: 0x11, v4Block + [0x01, 0x00, 0x02, 0x68, 0x32]))
    }

    @Test func encodedHeadersParseBack() {
        for version in [ProxyProtocol.Version.v1, .v2] {
            for (source, destination) in [(client4, server4), (client6, server6), (client4, server6)] {
                let header = encode(version, source, destination)
                guard case .header(let length, let s, let d) = parse(header) else {
                    Issue.record("\(version) \(source) did not parse back")
                    continue
                }
                #expect(length == header.count)
                #expect(s == source.mappedToIPv6.description || s == source.description)
                #expect(d == destination.mappedToIPv6.description || d == destination.description)
            }
        }
    }

    @Test func fingerprintsTellHeadersApart() {
        let a = encode(.v2, client4, server4).withUnsafeBytes(ProxyProtocol.fingerprint)
        let b = encode(.v2, SocketAddress(ip: [192, 0, 2, 1], port: 56325), server4).withUnsafeBytes(ProxyProtocol.fingerprint)
        #expect(a != b)
        #expect(a == encode(.v2, client4, server4).withUnsafeBytes(ProxyProtocol.fingerprint))
        #expect(a != 0)
    }
}
