// DNS messages (RFC 1035) for A, AAAA and SRV (RFC 2782) lookups: a query's
// bytes, and the addresses and services of an answer. Pure: no sockets, no allocation beyond the
// results; every length and pointer of an answer is checked, so a
// truncated or hostile one is refused, never read past its end.

/// The record types Weir asks for.
public enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case aaaa = 28
    case srv = 33
    case opt = 41
}

/// A response's RCODE, as far as resolution cares.
public enum DNSResponseCode: Sendable, Hashable {
    case noError
    /// NXDOMAIN: the name does not exist.
    case nameError
    case refused
    /// FORMERR, SERVFAIL, NOTIMP and the rest.
    case other(UInt8)

    init(_ code: UInt8) {
        switch code {
        case 0: self = .noError
        case 3: self = .nameError
        case 5: self = .refused
        default: self = .other(code)
        }
    }
}

/// One A or AAAA record of an answer.
public struct DNSAddressRecord: Sendable, Hashable {
    /// 4 or 16 bytes, network order.
    public var ip: [UInt8]
    public var ttl: UInt32
}

/// One SRV record of an answer: where a service runs.
public struct DNSServiceRecord: Sendable, Hashable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    /// The host's name, lower case, without the final dot ("" for the root:
    /// the service is not offered there).
    public var target: String
}

/// An A or AAAA record of the additional section, with the name it is for.
public struct DNSNamedAddress: Sendable, Hashable {
    public var name: String
    public var ip: [UInt8]
}

/// What a response says about the question it answers.
public struct DNSResponse: Sendable, Hashable {
    public var id: UInt16
    public var code: DNSResponseCode
    /// TC: the answer did not fit (Weir does not retry over TCP).
    public var truncated: Bool
    /// The question's name (lower case, without the final dot) and type.
    public var name: String
    public var type: UInt16
    /// The A and AAAA records of the answer section, in order (CNAME
    /// records are skipped: recursive servers put their targets' records after them).
    public var addresses: [DNSAddressRecord]
    /// The SRV records of the answer section, in order.
    public var services: [DNSServiceRecord] = []
    /// The A and AAAA records of the additional section: the addresses of
    /// the SRV records' targets, when the server sends them along.
    public var additional: [DNSNamedAddress] = []
}

public enum DNSMessage {
    /// The bytes of a recursive query for `name`'s records of `type`; nil
    /// when the name is not a valid DNS name. `payloadSize` above 512 adds
    /// an EDNS0 OPT record announcing it.
    public static func query(id: UInt16, name: String, type: DNSRecordType, payloadSize: Int = 512) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + name.utf8.count)
        func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
        u16(id)
        u16(0x0100)  // RD: recursion desired
        u16(1)  // QDCOUNT
        u16(0)
        u16(0)
        u16(payloadSize > 512 ? 1 : 0)  // ARCOUNT
        guard encodeName(name, into: &bytes) else { return nil }
        u16(type.rawValue)
        u16(1)  // class IN
        if payloadSize > 512 {
            bytes.append(0)  // root
            u16(DNSRecordType.opt.rawValue)
            u16(UInt16(min(payloadSize, 65535)))
            u16(0)
            u16(0)
            u16(0)
        }
        return bytes
    }

    /// Appends `name` as labels; false when a label is empty or longer
    /// than 63 bytes, or the name longer than 253.
    static func encodeName(_ name: String, into bytes: inout [UInt8]) -> Bool {
        var text = Array(name.utf8)
        if text.last == UInt8(ascii: ".") { text.removeLast() }
        guard !text.isEmpty, text.count <= 253 else { return false }
        for label in text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63 else { return false }
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        return true
    }

    /// Decodes a response; nil when it is not a well-formed response.
    public static func parse(_ bytes: [UInt8]) -> DNSResponse? {
        var reader = Reader(bytes: bytes)
        guard let id = reader.u16(), let flags = reader.u16(), let qd = reader.u16(), let an = reader.u16(),
              let ns = reader.u16(), let ar = reader.u16() else { return nil }
        guard flags & 0x8000 != 0, qd == 1 else { return nil }  // QR set, one question
        guard let name = reader.name(), let type = reader.u16(), reader.u16() != nil else { return nil }
        var response = DNSResponse(id: id, code: DNSResponseCode(UInt8(flags & 0x000f)), truncated: flags & 0x0200 != 0,
                                   name: name, type: type, addresses: [])
        for _ in 0..<an {
            guard let record = reader.record() else {
                // A truncated answer keeps the records read before the cut.
                let kept = !response.addresses.isEmpty || !response.services.isEmpty
                return response.truncated || kept ? response : nil
            }
            guard record.class == 1 else { continue }
            if let ip = address(record) {
                response.addresses.append(DNSAddressRecord(ip: ip, ttl: record.ttl))
            } else if record.type == DNSRecordType.srv.rawValue, let service = service(record, in: bytes) {
                response.services.append(service)
            }
        }
        // The authority section is skipped; the additional one is optional
        // help: a cut there keeps the answers.
        for _ in 0..<Int(ns) + Int(ar) {
            guard let record = reader.record() else { break }
            if record.class == 1, let ip = address(record) {
                response.additional.append(DNSNamedAddress(name: record.owner, ip: ip))
            }
        }
        return response
    }

    /// An A or AAAA record's address, nil for any other record.
    private static func address(_ record: Reader.Record) -> [UInt8]? {
        if record.type == DNSRecordType.a.rawValue, record.data.count == 4 { return record.data }
        if record.type == DNSRecordType.aaaa.rawValue, record.data.count == 16 { return record.data }
        return nil
    }

    /// An SRV record's fields; its target may point back into the message.
    private static func service(_ record: Reader.Record, in bytes: [UInt8]) -> DNSServiceRecord? {
        var data = Reader(bytes: bytes, offset: record.dataOffset)
        guard let priority = data.u16(), let weight = data.u16(), let port = data.u16(), let target = data.name(),
              data.offset <= record.dataOffset + record.data.count else { return nil }
        return DNSServiceRecord(priority: priority, weight: weight, port: port, target: target)
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        /// One resource record: its owner, type, class, TTL and data.
        struct Record {
            var owner: String
            var type: UInt16
            var `class`: UInt16
            var ttl: UInt32
            var data: [UInt8]
            /// Where the data starts in the message (names in it may point back).
            var dataOffset: Int
        }

        mutating func record() -> Record? {
            guard let owner = name(), let type = u16(), let rclass = u16(), let ttlHigh = u16(), let ttlLow = u16(),
                  let length = u16() else { return nil }
            let dataOffset = offset
            guard let data = bytes(Int(length)) else { return nil }
            return Record(owner: owner, type: type, class: rclass, ttl: UInt32(ttlHigh) << 16 | UInt32(ttlLow),
                          data: data, dataOffset: dataOffset)
        }

        mutating func u16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }

        /// A name at the cursor, following compression pointers (each must
        /// point backwards, so a loop cannot form); nil when malformed.
        mutating func name() -> String? {
            var labels: [String] = []
            var position = offset
            var resume: Int?
            var total = 0
            while true {
                guard position < bytes.count else { return nil }
                let length = Int(bytes[position])
                switch length & 0xc0 {
                case 0xc0:
                    guard position + 1 < bytes.count else { return nil }
                    let target = (length & 0x3f) << 8 | Int(bytes[position + 1])
                    guard target < position else { return nil }
                    if resume == nil { resume = position + 2 }
                    position = target
                case 0:
                    if length == 0 {
                        offset = resume ?? position + 1
                        return labels.joined(separator: ".")
                    }
                    guard position + 1 + length <= bytes.count else { return nil }
                    total += length + 1
                    guard total <= 255 else { return nil }
                    labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self).lowercased())
                    position += 1 + length
                default:
                    return nil  // 0x40 and 0x80: extended label types, unused
                }
            }
        }
    }
}
