import Foundation
import Testing
@testable import WeirDeflate

/// Compresses `input` in pieces of `pieces` sizes (cycled), finishing the
/// stream, through one fixed output buffer per call as the proxy does.
private func compress(_ input: [UInt8], format: DeflateFormat, pieces: [Int], table: inout DeflateTable) -> [UInt8] {
    var stream = DeflateStream(format: format)
    var result: [UInt8] = []
    let capacity = 16_384
    let output = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    defer { output.deallocate() }
    let most = DeflateStream.maxInput(outputCapacity: capacity)
    var start = 0
    var k = 0
    input.withUnsafeBytes { bytes in
        while start < input.count {
            let n = min(pieces[k % pieces.count], input.count - start, most)
            k += 1
            let written = stream.compress(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)]), into: output,
                                          table: &table)
            #expect(written <= DeflateStream.maxOutput(inputCount: n))
            result += UnsafeRawBufferPointer(start: output, count: written)
            start += n
        }
    }
    let written = stream.finish(into: output)
    #expect(written <= DeflateStream.maxFinish)
    result += UnsafeRawBufferPointer(start: output, count: written)
    return result
}

/// Decodes with python3's zlib (a real, independent decoder).
/// `finished`: the stream must end there (else: a prefix of one, decoded as far as it goes).
private func decode(_ compressed: [UInt8], format: DeflateFormat, finished: Bool = true) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory
    let id = UUID().uuidString
    let inURL = directory.appendingPathComponent("weir-deflate-\(id).in")
    let outURL = directory.appendingPathComponent("weir-deflate-\(id).out")
    defer {
        try? FileManager.default.removeItem(at: inURL)
        try? FileManager.default.removeItem(at: outURL)
    }
    try Data(compressed).write(to: inURL)
    let wbits = switch format {
    case .gzip: "31"
    case .zlib: "15"
    default: "-15"
    }
    // A decoder that stops early or finds bytes after the end fails the test.
    let script = """
        import sys, zlib
        d = zlib.decompressobj(\(wbits))
        data = open(sys.argv[1], 'rb').read()
        out = d.decompress(data)
        assert d.eof or not \(finished ? "True" : "False"), 'stream not finished'
        assert not d.unused_data, 'bytes after the end'
        open(sys.argv[2], 'wb').write(out)
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script, inURL.path, outURL.path]
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw DecodeFailure() }
    return [UInt8](try Data(contentsOf: outURL))
}

private struct DecodeFailure: Error {}

/// Repetitive text: HTML-like lines with small variations.
private func text(_ count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    var i = 0
    while bytes.count < count {
        bytes += Array("<li class=\"item\">Item number \(i) of the list, with some words</li>\n".utf8)
        i += 1
    }
    return Array(bytes.prefix(count))
}

/// Bytes from a fixed-seed generator: as good as incompressible.
private func noise(_ count: Int, seed: UInt64 = 0x1234_5678) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

@Suite("Deflate stream")
struct DeflateStreamTests {
    @Test("Round trips through python's zlib in every format", arguments: [DeflateFormat.gzip, .zlib, .raw])
    func roundTrips(format: DeflateFormat) throws {
        var table = DeflateTable()
        let inputs: [[UInt8]] = [[], [65], Array("ab".utf8), Array("hello, hello, hello".utf8), text(10_000),
                                 noise(5_000), Array(repeating: 0, count: 70_000)]
        for input in inputs {
            let compressed = compress(input, format: format, pieces: [4096], table: &table)
            #expect(try decode(compressed, format: format) == input, "\(input.count) bytes")
        }
    }

    @Test("Repetitive text shrinks, random bytes grow by at most the stored overhead")
    func sizes() throws {
        var table = DeflateTable()
        let repetitive = text(100_000)
        let packed = compress(repetitive, format: .gzip, pieces: [16_000], table: &table)
        #expect(packed.count < repetitive.count / 4)
        let random = noise(100_000)
        let stored = compress(random, format: .gzip, pieces: [16_000], table: &table)
        // Seven pieces: 5 bytes each, the header, final block and trailer.
        #expect(stored.count <= random.count + 7 * 5 + 20)
        #expect(try decode(stored, format: .gzip) == random)
    }

    @Test("Inputs split at many boundaries decode to the same bytes")
    func splits() throws {
        var table = DeflateTable()
        let input = text(3_000) + noise(1_000) + text(2_000)
        for pieces in [[1], [2, 3], [7], [13, 1, 250], [511], [1024, 3], [5_999]] {
            let compressed = compress(input, format: .gzip, pieces: pieces, table: &table)
            #expect(try decode(compressed, format: .gzip) == input, "pieces \(pieces)")
        }
    }

    @Test("Several streams sharing one table stay independent")
    func interleavedStreams() throws {
        var table = DeflateTable()
        let a = text(20_000)
        let b = noise(1_000) + text(5_000)
        var streamA = DeflateStream(format: .gzip)
        var streamB = DeflateStream(format: .zlib)
        var outA: [UInt8] = []
        var outB: [UInt8] = []
        let output = UnsafeMutableRawPointer.allocate(byteCount: 16_384, alignment: 8)
        defer { output.deallocate() }
        for i in 0..<10 {
            a.withUnsafeBytes { bytes in
                let n = streamA.compress(UnsafeRawBufferPointer(rebasing: bytes[(i * 2_000)..<((i + 1) * 2_000)]),
                                         into: output, table: &table)
                outA += UnsafeRawBufferPointer(start: output, count: n)
            }
            b.withUnsafeBytes { bytes in
                let n = streamB.compress(UnsafeRawBufferPointer(rebasing: bytes[(i * 600)..<((i + 1) * 600)]),
                                         into: output, table: &table)
                outB += UnsafeRawBufferPointer(start: output, count: n)
            }
        }
        outA += UnsafeRawBufferPointer(start: output, count: streamA.finish(into: output))
        outB += UnsafeRawBufferPointer(start: output, count: streamB.finish(into: output))
        #expect(try decode(outA, format: .gzip) == a)
        #expect(try decode(outB, format: .zlib) == b)
    }

    @Test("Multi-MiB inputs round trip")
    func large() throws {
        var table = DeflateTable()
        var input: [UInt8] = []
        for i in 0..<6 { input += i % 2 == 0 ? text(700_000) : noise(300_000, seed: UInt64(i)) }
        let compressed = compress(input, format: .gzip, pieces: [16_369], table: &table)
        #expect(try decode(compressed, format: .gzip) == input)
    }

    @Test("Everything sent so far decodes before the stream ends")
    func flushesEachCall() throws {
        var table = DeflateTable()
        var stream = DeflateStream(format: .raw)
        let input = text(5_000)
        let output = UnsafeMutableRawPointer.allocate(byteCount: 16_384, alignment: 8)
        defer { output.deallocate() }
        let n = input.withUnsafeBytes { stream.compress($0, into: output, table: &table) }
        let partial = [UInt8](UnsafeRawBufferPointer(start: output, count: n))
        // A decoder given only this much yields every byte (no final block yet).
        #expect(try decode(partial, format: .raw, finished: false) == input)
    }

    @Test("Dynamic codes: skewed alphabets, very uneven counts, one distance code", arguments: [
        "skewed", "fibonacci", "two-bytes", "one-match",
    ])
    func dynamicCodes(kind: String) throws {
        var table = DeflateTable()
        let random = noise(40_000, seed: 99)
        var input: [UInt8]
        switch kind {
        case "skewed":
            input = random.map { UInt8(ascii: "a") + $0 % 16 }
        case "fibonacci":
            // Symbol k appears fib(k) times, shuffled.
            var counts = [1, 1]
            while counts.count < 22 { counts.append(counts[counts.count - 1] + counts[counts.count - 2]) }
            input = []
            for (k, n) in counts.enumerated() { input += Array(repeating: UInt8(k * 11), count: n) }
            var state: UInt64 = 7
            for i in stride(from: input.count - 1, to: 0, by: -1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1
                input.swapAt(i, Int(state >> 33) % (i + 1))
            }
        case "two-bytes":
            input = random.map { $0 & 1 == 0 ? UInt8(ascii: "x") : UInt8(ascii: "y") }
        default:
            // Literals all over, one repeat: a single distance code.
            input = Array(random.prefix(3_000)) + Array(random.prefix(40))
        }
        let compressed = compress(input, format: .gzip, pieces: [65_535], table: &table)
        #expect(try decode(compressed, format: .gzip) == input)
        if kind != "one-match" { #expect(compressed.count < input.count * 7 / 10) }
    }

    @Test("Identity copies the bytes")
    func identity() {
        var table = DeflateTable()
        let input = text(1_000)
        let compressed = compress(input, format: .identity, pieces: [300], table: &table)
        #expect(compressed == input)
    }

    @Test("maxInput and maxOutput agree")
    func bounds() {
        for capacity in [16, 100, 16_384, 65_550, 200_000] {
            let most = DeflateStream.maxInput(outputCapacity: capacity)
            #expect(DeflateStream.maxOutput(inputCount: most) <= capacity)
            #expect(DeflateStream.maxOutput(inputCount: most + 1) > capacity)
        }
    }
}

@Suite("Huffman code lengths")
struct HuffmanTests {
    /// Kraft's sum of the lengths, times 2^limit: 2^limit for a complete code.
    func kraft(_ lengths: UnsafePointer<UInt8>, _ count: Int, limit: Int) -> Int {
        (0..<count).reduce(0) { $0 + (lengths[$1] == 0 ? 0 : 1 << (limit - Int(lengths[$1]))) }
    }

    @Test("Counts that would need codes past the limit get a complete code within it", arguments: [15, 7])
    func lengthLimit(limit: Int) {
        let table = DeflateTable()
        let s = table.scratch
        let count = limit == 15 ? 30 : 19
        // Fibonacci counts: an unlimited optimal code is count - 1 bits deep.
        var a: UInt32 = 1, b: UInt32 = 1
        for k in 0..<count {
            s.litFreq[k] = a
            (a, b) = (b, a &+ b)
        }
        Huffman.buildLengths(s.litFreq, count: count, limit: limit, into: s.litLength, s)
        #expect((0..<count).allSatisfy { s.litLength[$0] >= 1 && Int(s.litLength[$0]) <= limit })
        #expect(kraft(s.litLength, count, limit: limit) == 1 << limit)
        // The more frequent a symbol, the shorter (or equal) its code.
        #expect((1..<count).allSatisfy { s.litLength[$0] <= s.litLength[$0 - 1] })
    }

    @Test("Unused symbols get no code, a lone one gets one bit")
    func degenerate() {
        let table = DeflateTable()
        let s = table.scratch
        s.clearCounts()
        Huffman.buildLengths(s.litFreq, count: 286, limit: 15, into: s.litLength, s)
        #expect((0..<286).allSatisfy { s.litLength[$0] == 0 })
        s.litFreq[65] = 9
        Huffman.buildLengths(s.litFreq, count: 286, limit: 15, into: s.litLength, s)
        #expect(s.litLength[65] == 1 && kraft(s.litLength, 286, limit: 15) == 1 << 14)
    }
}

@Suite("Checksums")
struct ChecksumTests {
    @Test("CRC-32 and Adler-32 match known values")
    func knownValues() {
        let input = Array("123456789".utf8)
        input.withUnsafeBytes { bytes in
            #expect(CRC32.update(CRC32.initial, bytes) == 0xCBF4_3926)
            #expect(Adler32.update(Adler32.initial, bytes) == 0x091E_01DE)
        }
    }

    @Test("Checksums continue across pieces")
    func pieces() {
        let input = noise(100_000)
        input.withUnsafeBytes { bytes in
            let whole = CRC32.update(CRC32.initial, bytes)
            let wholeAdler = Adler32.update(Adler32.initial, bytes)
            var crc = CRC32.initial
            var adler = Adler32.initial
            var start = 0
            for size in [1, 3, 7, 4_096, 33, 50_000] {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + size, bytes.count)])
                crc = CRC32.update(crc, piece)
                adler = Adler32.update(adler, piece)
                start += piece.count
            }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            #expect(CRC32.update(crc, rest) == whole)
            #expect(Adler32.update(adler, rest) == wholeAdler)
        }
    }
}
