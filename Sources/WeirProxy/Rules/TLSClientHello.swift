// Reading a TLS ClientHello from the first bytes a client sent, without
// terminating TLS: what `req.ssl_hello_type`, `req.ssl_ver`, `req.ssl_sni`,
// `req.ssl_alpn`, `req.ssl_st_ext` and `req.ssl_ec_ext` fetch. Pure
// functions over the bytes buffered so far; every length read from them is
// checked against what is there before it is used.

/// What the bytes buffered so far say about one value.
enum ClientHelloPeek<Value> {
    case found(Value)
    /// Not enough bytes yet: more may decide it.
    case needMore
    /// It is not there (not TLS, not a ClientHello, malformed), whatever follows.
    case absent
}

/// What a complete ClientHello carries. Ranges are offsets into the bytes parsed.
struct ClientHelloInfo: Equatable {
    /// The first `host_name` of the server_name extension.
    var serverName: Range<Int>?
    /// The ALPN protocol name list, without its 2-byte length: each name is
    /// a length byte then the name.
    var alpn: Range<Int>?
    /// 0: no SessionTicket extension; 1: an empty one; 2: one with a ticket.
    var sessionTicket = 0
    /// The supported_groups (elliptic_curves) extension is there.
    var ellipticCurves = false
}

enum TLSClientHello {
    static let handshakeRecord: UInt8 = 0x16
    static let clientHello: UInt8 = 1
    /// A TLS record's payload is at most 2^14 bytes, plus 2048 of expansion.
    static let maxRecordLength = 16384 + 2048

    enum Extension {
        static let serverName: UInt16 = 0
        static let supportedGroups: UInt16 = 10
        static let alpn: UInt16 = 16
        static let sessionTicket: UInt16 = 35
    }

    @inline(__always)
    static func u16(_ data: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(data[at]) << 8 | Int(data[at + 1]) }

    @inline(__always)
    static func u24(_ data: UnsafeRawBufferPointer, _ at: Int) -> Int {
        Int(data[at]) << 16 | Int(data[at + 1]) << 8 | Int(data[at + 2])
    }

    /// `req.ssl_hello_type`, as HAProxy reads it: the handshake type of a
    /// record whose content type is 20 to 23 (or 255) and whose version is
    /// SSLv3 or later, once the whole handshake message is buffered. An
    /// SSLv2-compatible hello is not such a record.
    static func handshakeType(_ data: UnsafeRawBufferPointer) -> ClientHelloPeek<Int> {
        guard data.count > 0 else { return .needMore }
        guard (0x14...0x17).contains(data[0]) || data[0] == 0xff else { return .absent }
        guard data.count >= 9 else { return .needMore }
        guard u16(data, 1) >= 0x0300, u16(data, 3) >= 4 else { return .absent }
        guard data.count >= 9 + u24(data, 6) else { return .needMore }
        return .found(Int(data[5]))
    }

    /// `req.ssl_ver`, as HAProxy reads it: the version a ClientHello
    /// announces (its `client_version`, not the record's, so 3.3 for TLS 1.2
    /// and 1.3), or an SSLv2 hello's, as major * 65536 + minor, once the
    /// whole message is buffered.
    static func version(_ data: UnsafeRawBufferPointer) -> ClientHelloPeek<Int> {
        guard data.count > 0 else { return .needMore }
        var at = 0
        let version: Int
        let messageLength: Int
        if (0x14...0x17).contains(data[0]) || data[0] == 0xff {
            guard data.count >= 11 else { return .needMore }
            let recordLength = u16(data, 3)
            guard u16(data, 1) >= 0x0300, recordLength >= 6, recordLength <= maxRecordLength else { return .absent }
            at = 5
            version = Int(data[at + 4]) << 16 | Int(data[at + 5])
            messageLength = recordLength
        } else {
            // SSLv2: a 2-byte (high bit set) or 3-byte header, then message type 1.
            let headerLength = data[0] & 0x80 != 0 ? 2 : 3
            guard data.count > headerLength else { return .needMore }
            let recordLength = (Int(data[0]) & (headerLength == 2 ? 0x7f : 0x3f)) << 8 | Int(data[1])
            let padding = headerLength == 3 ? Int(data[2]) : 0
            at = headerLength
            guard data[at] == clientHello else { return .absent }
            at += 1
            guard data.count >= at + 8 else { return .needMore }
            version = Int(data[at]) << 16 | Int(data[at + 1])
            let ciphers = u16(data, at + 2)
            let session = u16(data, at + 4)
            let challenge = u16(data, at + 6)
            guard ciphers % 3 == 0, session == 0 || session == 16, (16...32).contains(challenge),
                  recordLength == 9 + ciphers + session + challenge else { return .absent }
            at += 8
            messageLength = ciphers + session + challenge + padding
        }
        guard data.count - at >= messageLength else { return .needMore }
        return .found(version)
    }

    /// A ClientHello's extensions, once the whole message is buffered. The
    /// hello must be in the first record (a client fragments it only past
    /// 16 KiB) and announce TLS 1.0 or later; one without extensions, or
    /// malformed anywhere, is `absent`.
    static func parse(_ data: UnsafeRawBufferPointer) -> ClientHelloPeek<ClientHelloInfo> {
        guard data.count > 0 else { return .needMore }
        guard data[0] == handshakeRecord else { return .absent }
        guard data.count >= 3 else { return .needMore }
        guard data[1] >= 3 else { return .absent }
        guard data.count >= 6 else { return .needMore }
        let recordLength = u16(data, 3)
        guard data[5] == clientHello, recordLength <= maxRecordLength else { return .absent }
        guard data.count >= 9 else { return .needMore }
        // client_version, random, session id length, cipher suites length,
        // one suite, compression length, one method, extensions length.
        let minimum = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2
        let length = u24(data, 6)
        guard length >= minimum, 4 + length <= recordLength else { return .absent }
        guard data.count >= 9 + length else { return .needMore }
        let hello = UnsafeRawBufferPointer(rebasing: data[9..<(9 + length)])
        guard hello[0] >= 3, hello[1] >= 1 else { return .absent }
        var at = 34
        let sessionID = Int(hello[at])
        at += 1 + sessionID
        guard sessionID <= 32, at + 2 <= length else { return .absent }
        let suites = u16(hello, at)
        at += 2 + suites
        guard suites >= 2, suites % 2 == 0, at + 1 <= length else { return .absent }
        let methods = Int(hello[at])
        at += 1 + methods
        guard methods >= 1, at + 2 <= length else { return .absent }
        let extensionsEnd = at + 2 + u16(hello, at)
        at += 2
        guard extensionsEnd <= length else { return .absent }
        var info = ClientHelloInfo()
        // The extensions read here, each allowed once (bits 0...3).
        var seen: UInt8 = 0
        while at < extensionsEnd {
            guard at + 4 <= extensionsEnd else { return .absent }
            let type = UInt16(u16(hello, at))
            let body = at + 4
            let end = body + u16(hello, at + 2)
            guard end <= extensionsEnd else { return .absent }
            let bit: UInt8 = switch type {
            case Extension.serverName: 1
            case Extension.alpn: 2
            case Extension.sessionTicket: 4
            case Extension.supportedGroups: 8
            default: 0
            }
            guard seen & bit == 0 else { return .absent }
            seen |= bit
            switch type {
            case Extension.serverName:
                guard end - body >= 2, body + 2 + u16(hello, body) == end else { return .absent }
                var entry = body + 2
                while entry < end {
                    guard entry + 3 <= end else { return .absent }
                    let nameEnd = entry + 3 + u16(hello, entry + 1)
                    guard nameEnd <= end else { return .absent }
                    if hello[entry] == 0 && info.serverName == nil && nameEnd > entry + 3 {
                        info.serverName = (9 + entry + 3)..<(9 + nameEnd)
                    }
                    entry = nameEnd
                }
            case Extension.alpn:
                guard end - body >= 2, body + 2 + u16(hello, body) == end else { return .absent }
                var name = body + 2
                while name < end {
                    let next = name + 1 + Int(hello[name])
                    guard hello[name] > 0, next <= end else { return .absent }
                    name = next
                }
                if end > body + 2 { info.alpn = (9 + body + 2)..<(9 + end) }
            case Extension.sessionTicket:
                info.sessionTicket = end > body ? 2 : 1
            case Extension.supportedGroups:
                info.ellipticCurves = true
            default:
                break
            }
            at = end
        }
        return .found(info)
    }

    /// The `index`-th protocol name in an ALPN list parsed by `parse`.
    static func alpnProtocol(_ data: UnsafeRawBufferPointer, list: Range<Int>, index: Int) -> Range<Int>? {
        var at = list.lowerBound
        var remaining = index
        while at < list.upperBound {
            let end = at + 1 + Int(data[at])
            if remaining == 0 { return (at + 1)..<end }
            remaining -= 1
            at = end
        }
        return nil
    }
}
