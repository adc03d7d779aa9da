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
/// table, `DeflateTable`, within the current input only). Each input of up
/// to 65,535 bytes becomes one block, written with whichever is shortest:
/// Huffman codes built for the block (dynamic), deflate's fixed codes, or
/// a stored block for bytes that do not shrink, so the output of a call is
/// bounded (`maxOutput`). Each call ends on a byte boundary with nothing
/// held back: a Huffman block is followed by an empty stored block (a sync
/// flush, 00 00 FF FF), a stored block ends aligned. So between calls the
/// stream keeps only its checksum, its length and two flags, and a peer can
/// decode everything sent so far.
public struct DeflateStream: Sendable {
    public let format: DeflateFormat
    /// CRC-32 (gzip) or Adler-32 (zlib) of the input so far.
    var checksum: UInt32
    /// Input length modulo 2^32 (gzip's ISIZE).
    var length: UInt32 = 0
    var headerWritten = false
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
}
