import Testing
@testable import WeirDNS

@Suite("DNS messages")
struct DNSMessageTests {
    /// A response to `query` with `answers` (type, rdata), owners as pointers to the question.
    private func response(to query: [UInt8], code: UInt8 = 0, answers: [(UInt16, [UInt8])]) -> [UInt8] {
        var bytes = Array(query[0..<2]) + [0x81, 0x80 | code, 0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        bytes += query[12...]
        for (type, data) in answers {
            bytes += [0xc0, 0x0c, UInt8(type >> 8), UInt8(type & 0xff), 0, 1, 0, 0, 0, 30, 0, UInt8(data.count)] + data
        }
        return bytes
    }

    @Test("a query has the header, the labels, the type and class IN")
    func query() throws {
        let bytes = try #require(DNSMessage.query(id: 0x1234, name: "www.Example.com.", type: .aaaa))
        #expect(Array(bytes[0..<12]) == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[12...]) == [3] + Array("www".utf8) + [7] + Array("Example".utf8) + [3] + Array("com".utf8)
                + [0, 0, 28, 0, 1])
        let edns = try #require(DNSMessage.query(id: 1, name: "a.b", type: .a, payloadSize: 4096))
        #expect(edns[11] == 1 && Array(edns.suffix(11)) == [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("invalid names make no query")
    func invalidNames() {
        #expect(DNSMessage.query(id: 1, name: "", type: .a) == nil)
        #expect(DNSMessage.query(id: 1, name: "a..b", type: .a) == nil)
        #expect(DNSMessage.query(id: 1, name: String(repeating: "x", count: 64) + ".com", type: .a) == nil)
    }

    @Test("an answer's A and AAAA records, through compression pointers; CNAMEs skipped")
    func answers() throws {
        let query = try #require(DNSMessage.query(id: 7, name: "app.test", type: .a))
        let v6 = [UInt8](repeating: 0, count: 15) + [1]
        let bytes = response(to: query, answers: [(5, [0xc0, 0x0c]), (1, [10, 0, 0, 1]), (1, [10, 0, 0, 2]), (28, v6)])
        let parsed = try #require(DNSMessage.parse(bytes))
        #expect(parsed.id == 7 && parsed.code == .noError && parsed.name == "app.test" && parsed.type == 1)
        #expect(parsed.addresses.map(\.ip) == [[10, 0, 0, 1], [10, 0, 0, 2], v6])
        #expect(parsed.addresses.first?.ttl == 30)
    }

    @Test("an SRV answer's records, and its targets' addresses from the additional section")
    func services() throws {
        let query = try #require(DNSMessage.query(id: 11, name: "_http._tcp.pool.test", type: .srv))
        #expect(Array(query.suffix(4)) == [0, 33, 0, 1])
        // Two SRV records: one naming its target in full, one by a pointer
        // into the first (web2 + the suffix ".pool.test" at the question).
        let first = [0, 1, 0, 10, 0x1f, 0x90] + [4] + Array("web1".utf8) + [0xc0, 0x17]
        let firstTargetAt = 12 + (query.count - 12) + 12 + 6
        let second = [0, 2, 0x01, 0x00, 0x1f, 0x91] + [4] + Array("web2".utf8) + [0xc0, 0x17]
        var bytes = response(to: query, answers: [(33, first), (33, second)])
        // The additional section: web1's A record, owner by pointer to its SRV target.
        bytes[11] = 1
        bytes += [0xc0, UInt8(firstTargetAt), 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 7]
        let parsed = try #require(DNSMessage.parse(bytes))
        #expect(parsed.services == [
            DNSServiceRecord(priority: 1, weight: 10, port: 8080, target: "web1.pool.test"),
            DNSServiceRecord(priority: 2, weight: 256, port: 8081, target: "web2.pool.test"),
        ])
        #expect(parsed.additional == [DNSNamedAddress(name: "web1.pool.test", ip: [10, 0, 0, 7])])
        #expect(parsed.addresses.isEmpty)
        // Cut in the additional section: the services stay.
        #expect(DNSMessage.parse(Array(bytes.dropLast(3)))?.services.count == 2)
        // An SRV record too short for its fields is skipped.
        let short = response(to: query, answers: [(33, [0, 1, 0, 10])])
        #expect(DNSMessage.parse(short)?.services == [])
        // Random bytes over it never crash the reader.
        var seed: UInt64 = 0x2545_f491_4f6c_dd1d
        for _ in 0..<2000 {
            var mutated = bytes
            for _ in 0..<3 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                mutated[Int(seed >> 33) % mutated.count] = UInt8(truncatingIfNeeded: seed >> 17)
            }
            _ = DNSMessage.parse(mutated)
        }
    }

    @Test("NXDOMAIN and REFUSED are told apart")
    func codes() throws {
        let query = try #require(DNSMessage.query(id: 9, name: "gone.test", type: .a))
        #expect(DNSMessage.parse(response(to: query, code: 3, answers: []))?.code == .nameError)
        #expect(DNSMessage.parse(response(to: query, code: 5, answers: []))?.code == .refused)
        #expect(DNSMessage.parse(response(to: query, code: 2, answers: []))?.code == .other(2))
    }

    @Test("truncated, looping and malformed answers never crash and are refused")
    func malformed() throws {
        let query = try #require(DNSMessage.query(id: 3, name: "app.test", type: .a))
        let good = response(to: query, answers: [(1, [10, 0, 0, 1])])
        // Every prefix of a good answer.
        for n in 0..<good.count { _ = DNSMessage.parse(Array(good[0..<n])) }
        #expect(DNSMessage.parse(Array(good[0..<20])) == nil)
        // A pointer to itself, and one forwards.
        var loop = good
        loop[12] = 0xc0
        loop[13] = 12
        #expect(DNSMessage.parse(loop) == nil)
        var forwards = good
        forwards[12] = 0xc0
        forwards[13] = 40
        #expect(DNSMessage.parse(forwards) == nil)
        // A query (QR clear) is not an answer.
        #expect(DNSMessage.parse(query) == nil)
        // An A record of the wrong length is skipped.
        let odd = response(to: query, answers: [(1, [10, 0, 0])])
        #expect(DNSMessage.parse(odd)?.addresses == [])
        // Random bytes.
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<3 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[Int(seed >> 33) % bytes.count] = UInt8(truncatingIfNeeded: seed >> 17)
            }
            _ = DNSMessage.parse(bytes)
        }
    }
}
