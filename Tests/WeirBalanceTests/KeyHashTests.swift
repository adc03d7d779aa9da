import Testing
@testable import WeirBalance

@Suite("hash-type functions")
struct KeyHashTests {
    static func hash(_ key: String, _ function: KeyHash, avalanche: Bool = false) -> UInt32 {
        var key = key
        return key.withUTF8 { KeyHash.hash(UnsafeRawBufferPointer($0), function: function, avalanche: avalanche) }
    }

    /// A key and what HAProxy 2.6's converters gave for it, in the order
    /// `sdbm djb2 wt6 crc32`, then the same four with `avalanche` (the
    /// converter argument 1), from `%[req.hdr(k),sdbm] …`.
    struct Vector: Sendable, CustomTestStringConvertible {
        let key: String
        let plain: [UInt32]
        let avalanched: [UInt32]
        var testDescription: String { "\"\(key)\"" }
    }

    static let haproxyVectors: [Vector] = [
        Vector(key: "a", plain: [97, 177_670, 1_900_802_597, 3_904_355_907],
               avalanched: [1_830_748_055, 3_548_763_807, 1_986_649_387, 1_288_200_982]),
        Vector(key: "abc", plain: [807_794_786, 193_485_963, 2_483_038_440, 891_568_578],
               avalanched: [659_243_622, 2_235_766_107, 266_135_527, 930_845_320]),
        Vector(key: "123456789", plain: [1_755_344_949, 902_675_330, 2_225_171_485, 3_421_780_262],
               avalanched: [3_400_502_718, 2_717_138_294, 4_053_691_039, 1_130_417_534]),
        Vector(key: "/index.html", plain: [858_007_926, 3_776_231_887, 822_151_038, 3_928_116_034],
               avalanched: [4_217_574_924, 1_889_807_916, 2_986_733_765, 571_229_468]),
        Vector(key: "hello world", plain: [430_867_652, 894_552_257, 1_866_899_626, 222_957_957],
               avalanched: [261_123_301, 2_328_455_893, 2_174_767_729, 2_832_483_188]),
        Vector(key: "The quick brown fox jumps over the lazy dog",
               plain: [2_359_783_795, 885_799_134, 3_840_389_189, 1_095_738_169],
               avalanched: [4_144_961_173, 3_419_350_371, 2_386_649_459, 1_090_730_130]),
    ]

    @Test(arguments: haproxyVectors)
    func matchesHAProxyConverters(_ vector: Vector) {
        let functions: [KeyHash] = [.sdbm, .djb2, .wt6, .crc32]
        #expect(functions.map { Self.hash(vector.key, $0) } == vector.plain)
        #expect(functions.map { Self.hash(vector.key, $0, avalanche: true) } == vector.avalanched)
    }

    @Test func crc32IsTheZlibVariant() {
        // The CRC-32 check value of the standard "123456789".
        #expect(Self.hash("123456789", .crc32) == 0xcbf4_3926)
        #expect(Self.hash("The quick brown fox jumps over the lazy dog", .crc32) == 0x414f_a339)
    }

    @Test func emptyKeyGivesEachFunctionsStartingValue() {
        #expect(Self.hash("", .sdbm) == 0)
        #expect(Self.hash("", .djb2) == 5381)
        #expect(Self.hash("", .wt6) == 0xa53c_965a ^ 0x5ca6_953a)
        #expect(Self.hash("", .crc32) == 0)
        #expect(Self.hash("", .identity) == 0)
    }

    @Test func identityReadsTheKeyAsADecimalInteger() {
        #expect(Self.hash("12345", .identity) == 12345)
        #expect(Self.hash("+7", .identity) == 7)
        #expect(Self.hash("42abc", .identity) == 42)
        #expect(Self.hash("-1", .identity) == 0xffff_ffff)
        #expect(Self.hash("4294967298", .identity) == 2) // low 32 bits
        #expect(Self.hash("99999999999999999999", .identity) == 0xffff_ffff) // Int64.max
        #expect(Self.hash("-99999999999999999999", .identity) == 0) // Int64.min
        #expect(Self.hash("x1", .identity) == 0)
        #expect(Self.hash("12345", .identity, avalanche: true) == KeyHash.fullAvalanche(12345))
    }

    @Test func fullAvalancheIsBobJenkinsHashTimesAPrime() {
        // Written out again from the published 6-shift integer hash.
        func reference(_ x: UInt32) -> UInt32 {
            var a = x
            a = (a &+ 0x7ed5_5d16) &+ (a << 12)
            a = (a ^ 0xc761_c23c) ^ (a >> 19)
            a = (a &+ 0x1656_67b1) &+ (a << 5)
            a = (a &+ 0xd3a2_646c) ^ (a << 9)
            a = (a &+ 0xfd70_46c5) &+ (a << 3)
            a = (a ^ 0xb55a_4f09) ^ (a >> 16)
            return a &* 3_221_225_473
        }
        for x: UInt32 in [0, 1, 2, 97, 4096, 0xdead_beef, .max] {
            #expect(KeyHash.fullAvalanche(x) == reference(x))
        }
        // sdbm("a") is 97, and HAProxy's `sdbm(1)` of "a" is its avalanche.
        #expect(KeyHash.fullAvalanche(97) == 1_830_748_055)
    }

    @Test(arguments: KeyHash.allCases)
    func avalancheChangesTheOutput(_ function: KeyHash) {
        for key in ["1", "22", "/a/b?c=d", "some-session-id"] {
            #expect(Self.hash(key, function, avalanche: true) != Self.hash(key, function))
        }
    }

    @Test func avalancheSpreadsNeighbouringKeys() {
        // Raw sdbm of one-byte keys is the byte itself; after the avalanche,
        // consecutive keys differ in about half of their 32 bits.
        var flipped = 0
        for byte in UInt8(ascii: "a")..<UInt8(ascii: "z") {
            let a = Self.hash(String(UnicodeScalar(byte)), .sdbm, avalanche: true)
            let b = Self.hash(String(UnicodeScalar(byte + 1)), .sdbm, avalanche: true)
            flipped += (a ^ b).nonzeroBitCount
        }
        let average = Double(flipped) / 25
        #expect(average > 12 && average < 20, "average flipped bits \(average)")
    }
}
