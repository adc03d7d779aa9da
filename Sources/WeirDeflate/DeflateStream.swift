/// The container around the compressed data.
public enum DeflateFormat: UInt8, Sendable {
    /// No compression: the bytes go through as they came (`compression algo identity`).
    case identity
    /// RFC 1952: a 10-byte header, deflate data, CRC-32 and length.
    case gzip
    /// RFC 1950 (HTTP's `deflate`): a 2-byte header, deflate data, Adler-32.
    case zlib
    /// RFC 1951 alone (`raw-deflate`).
    case raw
}

/// One compressed stream (one response body), encoded a buffer at a time.
///
/// The encoder is a fast LZ77 (matches found through a per-worker hash
/// table, `DeflateTable`, within the current input only) with deflate's
/// fixed Huffman codes; an input that does not shrink that way goes as
/// stored blocks instead, so the output of a call is bounded
/// (`maxOutput`). Each call ends on a byte boundary with nothing held back:
/// a fixed-code block is followed by an empty stored block (a sync flush,
/// 00 00 FF FF), a stored block ends aligned. So between calls the stream
/// keeps only its checksum, its length and two flags, and a peer can
/// decode everything sent so far.
public struct DeflateStream: Sendable {
    public let format: DeflateFormat
    /// CRC-32 (gzip) or Adler-32 (zlib) of the input so far.
    @usableFromInline var checksum: UInt32
    /// Input length modulo 2^32 (gzip's ISIZE).
    @usableFromInline var length: UInt32 = 0
    @usableFromInline var headerWritten = false
    public private(set) var finished = false

    public init(format: DeflateFormat) {
        self.format = format
        checksum = format == .zlib ? Adler32.initial : CRC32.initial
    }

    /// The largest stored block deflate allows.
    static let maxStoredBlock = 65_535
    /// The longest header a format writes.
    static let maxHeader = 10

    /// The most `compress` writes for `count` input bytes: the input, 5
    /// bytes per stored block of up to 65,535 bytes, and a header.
    public static func maxOutput(inputCount count: Int) -> Int {
        count + 5 * ((count + maxStoredBlock - 1) / maxStoredBlock) + maxHeader
    }

    /// The most `finish` writes: a header (for an empty stream), the final
    /// empty block and gzip's 8-byte trailer.
    public static let maxFinish = 20

    /// The most input whose output fits `capacity` bytes (0 when none does).
    public static func maxInput(outputCapacity capacity: Int) -> Int {
        let room = capacity - maxHeader
        guard room > 5 else { return 0 }
        // Whole stored blocks, then what fits after the last one's 5 bytes.
        let blocks = room / (maxStoredBlock + 5)
        let rest = room - blocks * (maxStoredBlock + 5)
        return blocks * maxStoredBlock + max(0, rest - 5)
    }

    /// Compresses `input` into `output`, which must hold
    /// `maxOutput(inputCount: input.count)` bytes, and returns how many
    /// bytes it wrote. All of it is decodable once sent: nothing is held.
    public mutating func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer,
                                  table: inout DeflateTable) -> Int {
        precondition(!finished, "DeflateStream.compress after finish")
        guard let base = input.baseAddress, input.count > 0 else { return 0 }
        if format == .identity {
            output.copyMemory(from: base, byteCount: input.count)
            return input.count
        }
        var out = output
        if !headerWritten { out += writeHeader(out) }
        switch format {
        case .gzip: checksum = CRC32.update(checksum, input)
        case .zlib: checksum = Adler32.update(checksum, input)
        case .raw, .identity: break
        }
        length &+= UInt32(truncatingIfNeeded: input.count)
        var start = 0
        while start < input.count {
            let count = min(Self.maxStoredBlock, input.count - start)
            let segment = UnsafeRawBufferPointer(start: base + start, count: count)
            out += Self.encodeBlock(segment, into: out, table: &table)
            start += count
        }
        return out - output
    }

    /// Ends the stream: the final block and the trailer (and the header of
    /// a stream that had no input). Writes at most `maxFinish` bytes.
    public mutating func finish(into output: UnsafeMutableRawPointer) -> Int {
        guard !finished else { return 0 }
        finished = true
        if format == .identity { return 0 }
        var out = output
        if !headerWritten { out += writeHeader(out) }
        // A final block with the fixed codes holding only its end code:
        // BFINAL 1, BTYPE 01, then seven zero bits.
        out.storeBytes(of: 0x03, as: UInt8.self)
        (out + 1).storeBytes(of: 0x00, as: UInt8.self)
        out += 2
        switch format {
        case .gzip:
            out.storeBytes(of: checksum.littleEndian, toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: length.littleEndian, toByteOffset: 4, as: UInt32.self)
            out += 8
        case .zlib:
            out.storeBytes(of: checksum.bigEndian, toByteOffset: 0, as: UInt32.self)
            out += 4
        case .raw, .identity: break
        }
        return out - output
    }

    private mutating func writeHeader(_ out: UnsafeMutableRawPointer) -> Int {
        headerWritten = true
        switch format {
        case .gzip:
            // Magic, CM 8 (deflate), no flags, no time, XFL 0, OS 3 (Unix).
            let header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3)
            withUnsafeBytes(of: header) { out.copyMemory(from: $0.baseAddress!, byteCount: 10) }
            return 10
        case .zlib:
            // CMF: deflate with a 32 KiB window; FLG: fastest level, check bits.
            out.storeBytes(of: 0x78, as: UInt8.self)
            (out + 1).storeBytes(of: 0x01, as: UInt8.self)
            return 2
        case .raw, .identity:
            return 0
        }
    }

    // MARK: - Blocks

    /// One block of at most 65,535 bytes, then a byte boundary: fixed codes
    /// when they come out shorter than the bytes themselves, else stored.
    /// Returns the bytes written (at most `input.count + 5`).
    static func encodeBlock(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                            table: inout DeflateTable) -> Int {
        let stored = input.count + 5
        // A fixed-code block ends with at most 10 bytes (its end code and
        // the sync flush), and a symbol writes at most 4 bytes at a time:
        // giving up once past this mark keeps it within the stored size.
        let limit = stored - 10 - 4
        if limit > 0, let written = encodeFixed(input, into: out, limit: limit, table: &table) {
            return written
        }
        return encodeStored(input, into: out)
    }

    private static func encodeStored(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        let count = UInt16(input.count)
        // BFINAL 0, BTYPE 00, padded to the byte; LEN and NLEN.
        out.storeBytes(of: 0, as: UInt8.self)
        out.storeBytes(of: count.littleEndian, toByteOffset: 1, as: UInt16.self)
        out.storeBytes(of: (~count).littleEndian, toByteOffset: 3, as: UInt16.self)
        (out + 5).copyMemory(from: input.baseAddress!, byteCount: input.count)
        return input.count + 5
    }

    /// The block in fixed codes, or nil once its output passes `limit` bytes.
    private static func encodeFixed(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, limit: Int,
                                    table: inout DeflateTable) -> Int? {
        let base = input.baseAddress!
        let count = input.count
        var bits = BitWriter(out)
        // BFINAL 0, BTYPE 01 (fixed codes).
        bits.put(0b010, 3)
        let first = table.claim(count)
        let slots = table.slots
        let mask = UInt32((1 << DeflateTable.hashBits) - 1)
        let overlong = FixedCodes.literals.withUnsafeBufferPointer { literals in
            FixedCodes.lengths.withUnsafeBufferPointer { lengths in
                FixedCodes.distances.withUnsafeBufferPointer { distances -> Bool in
                    var i = 0
                    while i < count {
                        if bits.written > limit { return true }
                        if i &+ 4 <= count {
                            let word = base.loadUnaligned(fromByteOffset: i, as: UInt32.self)
                            let h = Int((word &* 0x9E37_79B1) >> UInt32(32 - DeflateTable.hashBits) & mask)
                            let candidate = slots[h]
                            slots[h] = first &+ UInt32(i)
                            if candidate >= first {
                                let p = Int(candidate &- first)
                                let distance = i &- p
                                if distance <= 32_768 && base.loadUnaligned(fromByteOffset: p, as: UInt32.self) == word {
                                    var n = 4
                                    let longest = min(258, count &- i)
                                    while n < longest
                                        && base.load(fromByteOffset: p &+ n, as: UInt8.self)
                                            == base.load(fromByteOffset: i &+ n, as: UInt8.self) {
                                        n &+= 1
                                    }
                                    let lengthCode = lengths[n]
                                    bits.put(UInt64(lengthCode & 0xFFFF_FF), Int(lengthCode >> 24))
                                    let distanceCode = FixedCodes.distance(distance, distances)
                                    bits.put(UInt64(distanceCode & 0xFFFF_FF), Int(distanceCode >> 24))
                                    // The match's last position is worth finding again.
                                    let last = i &+ n &- 1
                                    if last &+ 4 <= count {
                                        let w = base.loadUnaligned(fromByteOffset: last, as: UInt32.self)
                                        slots[Int((w &* 0x9E37_79B1) >> UInt32(32 - DeflateTable.hashBits) & mask)] =
                                            first &+ UInt32(last)
                                    }
                                    i &+= n
                                    continue
                                }
                            }
                        }
                        let literal = literals[Int(base.load(fromByteOffset: i, as: UInt8.self))]
                        bits.put(UInt64(literal & 0xFFFF), Int(literal >> 16))
                        i &+= 1
                    }
                    return false
                }
            }
        }
        if overlong || bits.written > limit { return nil }
        // The end-of-block code (seven zero bits), then an empty stored
        // block to reach a byte boundary: BFINAL 0, BTYPE 00, LEN 0, NLEN FFFF.
        bits.put(0, 7)
        bits.put(0, 3)
        bits.alignToByte()
        var end = bits.written
        out.storeBytes(of: UInt32(0xFFFF_0000).littleEndian, toByteOffset: end, as: UInt32.self)
        end += 4
        return end
    }
}

/// Bits into bytes, least significant bit first, as deflate packs them.
struct BitWriter {
    let start: UnsafeMutableRawPointer
    var next: UnsafeMutableRawPointer
    var accumulator: UInt64 = 0
    var count = 0

    init(_ start: UnsafeMutableRawPointer) {
        self.start = start
        next = start
    }

    /// Bytes stored so far (whole 32-bit words until `alignToByte`).
    var written: Int { next - start }

    @inline(__always)
    mutating func put(_ value: UInt64, _ n: Int) {
        accumulator |= value << UInt64(count)
        count &+= n
        if count >= 32 {
            next.storeBytes(of: UInt32(truncatingIfNeeded: accumulator).littleEndian, as: UInt32.self)
            next += 4
            accumulator >>= 32
            count &-= 32
        }
    }

    /// Stores the bits left, the last byte padded with zeros.
    mutating func alignToByte() {
        while count > 0 {
            next.storeBytes(of: UInt8(truncatingIfNeeded: accumulator), as: UInt8.self)
            next += 1
            accumulator >>= 8
            count -= 8
        }
        count = 0
        accumulator = 0
    }
}

/// Deflate's fixed Huffman codes (RFC 1951 §3.2.6), bit-reversed so they go
/// out least significant bit first.
enum FixedCodes {
    /// Per byte: the code in the low 16 bits, its length above.
    static let literals: [UInt32] = (0..<256).map { byte in
        let (code, length) = symbol(byte)
        return UInt32(reversed(code, length)) | UInt32(length) << 16
    }

    /// Per match length 3...258 (index = length): the length symbol's code
    /// followed by its extra bits in the low 24 bits, the bit count above.
    static let lengths: [UInt32] = (0...258).map { length in
        guard length >= 3 else { return 0 }
        let (symbolIndex, extraBits, extra) = lengthSymbol(length)
        let (code, codeLength) = symbol(257 + symbolIndex)
        let value = UInt32(reversed(code, codeLength)) | UInt32(extra) << UInt32(codeLength)
        return value | UInt32(codeLength + extraBits) << 24
    }

    /// The 5-bit distance codes, bit-reversed, by distance symbol.
    static let distances: [UInt32] = (0..<32).map { UInt32(reversed($0, 5)) }

    /// A distance 1...32768: its symbol's code then its extra bits in the
    /// low 24 bits, the bit count above.
    @inline(__always)
    static func distance(_ d: Int, _ codes: UnsafeBufferPointer<UInt32>) -> UInt32 {
        let x = UInt32(d &- 1)
        if x < 4 { return codes[Int(x)] | 5 << 24 }
        let top = 31 &- UInt32(x.leadingZeroBitCount)
        let symbol = 2 &* top &+ ((x >> (top &- 1)) & 1)
        let extraBits = top &- 1
        let extra = x & ((1 << extraBits) &- 1)
        return (codes[Int(symbol)] | extra << 5) | (5 &+ extraBits) << 24
    }

    /// A literal/length symbol's code and length in the fixed table.
    private static func symbol(_ s: Int) -> (Int, Int) {
        switch s {
        case 0...143: (0x30 + s, 8)
        case 144...255: (0x190 + s - 144, 9)
        case 256...279: (s - 256, 7)
        default: (0xC0 + s - 280, 8)
        }
    }

    /// A match length's symbol (0 for 257), extra bit count and extra value.
    private static func lengthSymbol(_ length: Int) -> (Int, Int, Int) {
        if length == 258 { return (28, 0, 0) }
        if length < 11 { return (length - 3, 0, 0) }
        // Symbols 265 on cover lengths in groups of four, doubling in width.
        var symbolIndex = 8
        var low = 11
        var extraBits = 1
        while true {
            for k in 0..<4 {
                let width = 1 << extraBits
                if length < low + width { return (symbolIndex + k, extraBits, length - low) }
                low += width
            }
            symbolIndex += 4
            extraBits += 1
        }
    }

    private static func reversed(_ code: Int, _ length: Int) -> Int {
        var r = 0
        for i in 0..<length where code & (1 << i) != 0 { r |= 1 << (length - 1 - i) }
        return r
    }
}
