import Glibc
import Testing
import WeirConfig
import WeirShared
@testable import WeirTLS

private func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var out = ""
    var i = 0
    while i < bytes.count {
        let chunk = Array(bytes[i..<min(i + 3, bytes.count)])
        let n = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
        for j in 0..<4 { out.append(j <= chunk.count ? alphabet[(n >> (18 - 6 * j)) & 63] : "=") }
        i += 3
    }
    return out
}

private func key(_ seed: UInt8, size: Int = 80) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0) } }

private func parse(_ text: String) -> Result<TicketKeyFile, TicketKeyFileError> {
    TicketKeyFile.parse(Array(text.utf8), path: "k")
}

@Suite struct TicketKeyFileTests {
    @Test func base64DecodesWhatOpenSSLWrites() {
        for length in 0..<10 {
            let bytes = key(UInt8(length), size: length)
            #expect(Base64.decode(Array(base64(bytes).utf8)) == bytes)
        }
        #expect(Base64.decode(Array("abc".utf8)) == nil)
        #expect(Base64.decode(Array("a=bc".utf8)) == nil)
        #expect(Base64.decode(Array("ab!c".utf8)) == nil)
    }

    @Test func theLastThreeKeysLiveAndTheNextToLastEncrypts() throws {
        let lines = (1...5).map { base64(key($0)) }
        let file = try parse(lines.joined(separator: "\r\n") + "\n\n").get()
        #expect(file.keySize == 80)
        #expect(file.keys == key(3) + key(4) + key(5))
        #expect(TicketKeyFile.encryptionIndex == 1)
        let small = try parse((1...3).map { base64(key($0, size: 48)) }.joined(separator: "\n")).get()
        #expect(small.keySize == 48 && small.keys == key(1, size: 48) + key(2, size: 48) + key(3, size: 48))
    }

    @Test func problemsNameTheLine() {
        let good = base64(key(1))
        #expect(parse([good, good].joined(separator: "\n")) == .failure(.init("tls-ticket-keys 'k' holds 2 keys; at least 3 are needed")))
        #expect(parse([good, "%%%%", good].joined(separator: "\n"))
                == .failure(.init("tls-ticket-keys 'k' line 2: not a base64-encoded key")))
        #expect(parse([good, good, base64(key(1, size: 32))].joined(separator: "\n"))
                == .failure(.init("tls-ticket-keys 'k' line 3: a key is 48 or 80 bytes, this one is 32")))
        #expect(parse([good, base64(key(1, size: 48)), good].joined(separator: "\n"))
                == .failure(.init("tls-ticket-keys 'k' line 2: a 48-byte key after 80-byte ones")))
        #expect(parse("") == .failure(.init("tls-ticket-keys 'k' holds 0 keys; at least 3 are needed")))
    }

    @Test func theSessionIDContextIgnoresWhereTheLineIs() {
        var one = BindTLS(location: SourceLocation(file: "a.cfg", line: 3, column: 5))
        one.certificates = [.init(path: "/x.pem", location: SourceLocation(file: "a.cfg", line: 3, column: 20))]
        var moved = one
        moved.location = SourceLocation(file: "a.cfg", line: 9, column: 5)
        moved.certificates[0].location = SourceLocation(file: "a.cfg", line: 9, column: 20)
        #expect(TLSResumption.context(frontend: "fe", settings: one) == TLSResumption.context(frontend: "fe", settings: moved))
        #expect(TLSResumption.context(frontend: "fe", settings: one).count == 32)
        #expect(TLSResumption.context(frontend: "other", settings: one) != TLSResumption.context(frontend: "fe", settings: one))
        // A set's order depends on the process's hash seed; its description does not.
        #expect(TLSResumption.describe(Set(["b", "a", "c"])) == "(=a,=b,=c)")
        var tighter = one
        tighter.minVersion = .tls13
        #expect(TLSResumption.context(frontend: "fe", settings: tighter) != TLSResumption.context(frontend: "fe", settings: one))
    }
}

@Suite struct TLSTicketKeysTests {
    @Test func aNewKeyEveryLifetimeAtLeastAMinuteApart() throws {
        #expect(TLSTicketKeys.interval(lifetime: 300) == 300_000)
        #expect(TLSTicketKeys.interval(lifetime: 10) == 60_000)
        let key = TLSTicketKeys.generate()
        #expect(key.count == TicketKeyRing.keySize && key != TLSTicketKeys.generate())
        let text = "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\n"
            + "frontend fe\n bind 127.0.0.1:0 ssl crt /x.pem\n http-request return status 200\n"
        let configuration = try #require(ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))],
                                                            environment: [:]).configuration)
        let (fd, segment) = try SharedSegment.create(configuration: configuration, slots: 1)
        defer {
            segment.unmap()
            close(fd)
        }
        let ring = try #require(segment.ticketKeys)
        #expect(TLSTicketKeys.isDue(ring, lifetime: 300, now: 1_000_000))
        ring.publish(key, now: 1_000_000)
        #expect(!TLSTicketKeys.isDue(ring, lifetime: 300, now: 1_299_999))
        #expect(TLSTicketKeys.isDue(ring, lifetime: 300, now: 1_300_000))
        #expect(TLSTicketKeys.nextRotation(ring, lifetime: 300) == 1_300_000)
    }
}
