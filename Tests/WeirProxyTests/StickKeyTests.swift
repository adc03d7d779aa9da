import Testing
import WeirConfig
import WeirShared
@testable import WeirProxy

/// Samples normalised into stick table keys, per table type.
@Suite struct StickKeyTests {
    private func key(_ value: SampleValue, _ type: StickKeyType, length: Int = 32) -> [UInt8]? {
        let info = StickTableInfo(name: "t", type: type, keyLength: type.keyLength(length), size: 1, expire: 0, noPurge: false)
        var out = [UInt8](repeating: 0, count: 64)
        let n = out.withUnsafeMutableBytes { Worker.stickKey(value, table: info, into: $0) }
        return n.map { Array(out[0..<$0]) }
    }

    private func text(_ s: String) -> SampleValue {
        // Never freed: it lives as long as the test process.
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, s.utf8.count), alignment: 1)
        bytes.copyBytes(from: Array(s.utf8))
        return .bytes(UnsafeRawBufferPointer(rebasing: bytes[0..<s.utf8.count]))
    }

    @Test func addresses() {
        let v4 = IPValue(high: 0, low: 0x7f00_0001, isV6: false)
        let mapped = IPValue(high: 0, low: 0xffff_7f00_0001, isV6: true)
        let v6 = IPValue(high: 0x2001_0db8_0000_0000, low: 1, isV6: true)
        #expect(key(.address(v4), .ip) == [127, 0, 0, 1])
        #expect(key(.address(mapped), .ip) == [127, 0, 0, 1])
        #expect(key(.address(v6), .ip) == nil)
        #expect(key(.address(v4), .ipv6) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1])
        #expect(key(.address(v6), .ipv6) == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(key(text("10.1.2.3"), .ip) == [10, 1, 2, 3])
        #expect(key(text("not an address"), .ip) == nil)
        #expect(key(.none, .ip) == nil)
        #expect(StickKeyType.ipv6.text(key(.address(v4), .ipv6)!) == "::ffff:127.0.0.1")
    }

    @Test func integersAndStrings() {
        #expect(key(.integer(258), .integer) == [0, 0, 0, 0, 0, 0, 1, 2])
        #expect(key(text("-1"), .integer) == [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        #expect(key(text("12x"), .integer) == nil)
        #expect(key(.boolean(true), .integer) == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(key(text("alice"), .string) == Array("alice".utf8))
        #expect(key(text("a-much-longer-user-name"), .string, length: 8) == Array("a-much-l".utf8))
        #expect(key(.integer(-42), .string) == Array("-42".utf8))
        #expect(key(.address(IPValue(high: 0, low: 1, isV6: false)), .string) == nil)
    }
}
