// One deflate block (RFC 1951 §3.2) per call of at most 65,535 bytes: the
// input is parsed into LZ77 symbols first, then written with whichever of
// dynamic Huffman codes, the fixed codes or a stored block is shortest,
// and ends on a byte boundary.

extension DeflateStream {
    /// Encodes `input` (at most 65,535 bytes) as one block followed, for a
    /// Huffman block, by an empty stored block (a sync flush), and returns
    /// the bytes written: never more than `input.count + 5`, a stored block's size.
    static func encodeBlock(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                            table: inout DeflateTable) -> Int {
        let stored = input.count + 5
        let scratch = table.scratch
        let symbolCount = parse(input, table: &table)
        let plan = BlockPlan(scratch)
        // Huffman blocks: the block, then three header bits, the padding
        // to a byte and LEN/NLEN of the empty stored block.
        let fixedBytes = (plan.fixedBits + 3 + 7) / 8 + 4
        let dynamicBytes = (plan.dynamicBits + 3 + 7) / 8 + 4
        if dynamicBytes < fixedBytes && dynamicBytes <= stored {
            var bits = BitWriter(out)
            plan.writeDynamicHeader(&bits, scratch)
            writeSymbols(&bits, scratch.symbols, symbolCount, scratch.litCode, scratch.litLength, scratch.distCode,
                         scratch.distLength)
            return endWithSyncFlush(&bits)
        }
        if fixedBytes <= stored {
            var bits = BitWriter(out)
            // BFINAL 0, BTYPE 01.
            bits.put(0b010, 3)
            FixedCodes.litCodes.withUnsafeBufferPointer { litCodes in
                FixedCodes.litLengths.withUnsafeBufferPointer { litLengths in
                    FixedCodes.distCodes.withUnsafeBufferPointer { distCodes in
                        FixedCodes.distLengths.withUnsafeBufferPointer { distLengths in
                            writeSymbols(&bits, scratch.symbols, symbolCount, litCodes.baseAddress!,
                                         litLengths.baseAddress!, distCodes.baseAddress!, distLengths.baseAddress!)
                        }
                    }
                }
            }
            return endWithSyncFlush(&bits)
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

    /// The end-of-block code is among the symbols; then an empty stored
    /// block (BFINAL 0, BTYPE 00, LEN 0, NLEN FFFF) reaches a byte boundary.
    private static func endWithSyncFlush(_ bits: inout BitWriter) -> Int {
        bits.put(0, 3)
        bits.alignToByte()
        let end = bits.written
        bits.start.storeBytes(of: UInt32(0xFFFF_0000).littleEndian, toByteOffset: end, as: UInt32.self)
        return end + 4
    }

    // MARK: - LZ77

    /// Finds matches of 4 to 258 bytes within `input` through the hash
    /// table and records the block's symbols (literal bytes, matches as
    /// `1 << 31 | length << 16 | distance - 1`, then the end of block) and
    /// their counts in the scratch space. Returns how many symbols.
    private static func parse(_ input: UnsafeRawBufferPointer, table: inout DeflateTable) -> Int {
        let base = input.baseAddress!
        let count = input.count
        let scratch = table.scratch
        scratch.clearCounts()
        let first = table.claim(count)
        let slots = table.slots
        let symbols = scratch.symbols
        let litFreq = scratch.litFreq
        let distFreq = scratch.distFreq
        let shift = UInt32(32 - DeflateTable.hashBits)
        @inline(__always) func hash(_ word: UInt32) -> Int { Int((word &* 0x9E37_79B1) >> shift) }
        var n = 0
        var i = 0
        while i < count {
            if i &+ 4 <= count {
                let word = base.loadUnaligned(fromByteOffset: i, as: UInt32.self)
                let h = hash(word)
                let candidate = slots[h]
                slots[h] = first &+ UInt32(i)
                if candidate >= first {
                    let p = Int(candidate &- first)
                    let distance = i &- p
                    if distance <= 32_768 && base.loadUnaligned(fromByteOffset: p, as: UInt32.self) == word {
                        var length = 4
                        let longest = min(258, count &- i)
                        while length < longest
                            && base.load(fromByteOffset: p &+ length, as: UInt8.self)
                                == base.load(fromByteOffset: i &+ length, as: UInt8.self) {
                            length &+= 1
                        }
                        symbols[n] = 1 << 31 | UInt32(length) << 16 | UInt32(distance &- 1)
                        n &+= 1
                        litFreq[257 &+ Int(LengthCodes.info[length] & 0xFF)] &+= 1
                        distFreq[Int(DistanceCodes.symbol(distance))] &+= 1
                        // Positions inside the match are found again later;
                        // a long match's middle is skipped, its last kept.
                        let stop = min(i &+ length, count &- 3)
                        var k = i &+ 1
                        while k < stop {
                            slots[hash(base.loadUnaligned(fromByteOffset: k, as: UInt32.self))] = first &+ UInt32(k)
                            k &+= 1
                            if k == i &+ 8 && length > 32 { k = i &+ length &- 8 }
                        }
                        i &+= length
                        continue
                    }
                }
            }
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            symbols[n] = UInt32(byte)
            n &+= 1
            litFreq[Int(byte)] &+= 1
            i &+= 1
        }
        symbols[n] = 256
        litFreq[256] &+= 1
        return n &+ 1
    }

    // MARK: - Writing symbols

    private static func writeSymbols(_ bits: inout BitWriter, _ symbols: UnsafePointer<UInt32>, _ count: Int,
                                     _ litCodes: UnsafePointer<UInt16>, _ litLengths: UnsafePointer<UInt8>,
                                     _ distCodes: UnsafePointer<UInt16>, _ distLengths: UnsafePointer<UInt8>) {
        LengthCodes.info.withUnsafeBufferPointer { lengthInfo in
            for k in 0..<count {
                let symbol = symbols[k]
                if symbol & (1 << 31) == 0 {
                    bits.put(UInt64(litCodes[Int(symbol)]), Int(litLengths[Int(symbol)]))
                    continue
                }
                let length = Int((symbol >> 16) & 0x1FF)
                let info = lengthInfo[length]
                let lengthSymbol = 257 &+ Int(info & 0xFF)
                bits.put(UInt64(litCodes[lengthSymbol]), Int(litLengths[lengthSymbol]))
                bits.put(UInt64(info >> 16), Int((info >> 8) & 0xFF))
                let distance = Int(symbol & 0xFFFF) &+ 1
                let d = DistanceCodes.symbol(distance)
                bits.put(UInt64(distCodes[Int(d)]), Int(distLengths[Int(d)]))
                let extraBits = DistanceCodes.extraBits(d)
                bits.put(UInt64(UInt32(distance &- 1) &- DistanceCodes.base(d)), Int(extraBits))
            }
        }
    }
}

/// The sizes of the block's encodings, and its dynamic codes, planned from
/// the symbol counts in the scratch space.
struct BlockPlan {
    var fixedBits = 0
    var dynamicBits = 0
    var literalCount = 257
    var distanceCount = 1
    var codeLengthCount = 4
    var streamCount = 0

    /// The order code length code lengths are sent in (RFC 1951 §3.2.7).
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    init(_ s: BlockScratch) {
        var extra = 0
        var fixed = 3
        for symbol in 0..<286 {
            let f = Int(s.litFreq[symbol])
            guard f > 0 else { continue }
            fixed += f * Int(FixedCodes.literalLength(symbol))
            if symbol > 256 { extra += f * Int((LengthCodes.symbolExtraBits[symbol - 257])) }
        }
        for d in 0..<30 {
            let f = Int(s.distFreq[d])
            guard f > 0 else { continue }
            fixed += f * 5
            extra += f * Int(DistanceCodes.extraBits(UInt32(d)))
        }
        fixedBits = fixed + extra

        Huffman.buildLengths(s.litFreq, count: 286, limit: 15, into: s.litLength, s)
        Huffman.buildLengths(s.distFreq, count: 30, limit: 15, into: s.distLength, s)
        // A block without matches still declares one distance code.
        if !(0..<30).contains(where: { s.distLength[$0] != 0 }) { s.distLength[0] = 1 }
        Huffman.assignCodes(s.litLength, count: 286, into: s.litCode)
        Huffman.assignCodes(s.distLength, count: 30, into: s.distCode)
        literalCount = 286
        while literalCount > 257 && s.litLength[literalCount - 1] == 0 { literalCount -= 1 }
        distanceCount = 30
        while distanceCount > 1 && s.distLength[distanceCount - 1] == 0 { distanceCount -= 1 }

        // The code lengths, run-length encoded (16: repeat the previous,
        // 17 and 18: zeros), each entry `symbol | extra << 8`.
        streamCount = 0
        let total = literalCount + distanceCount
        @inline(__always) func length(at i: Int) -> UInt8 {
            i < literalCount ? s.litLength[i] : s.distLength[i - literalCount]
        }
        @inline(__always) func emit(_ symbol: Int, _ extra: Int = 0) {
            s.clStream[streamCount] = UInt16(symbol | extra << 8)
            streamCount += 1
            s.clFreq[symbol] &+= 1
        }
        var i = 0
        while i < total {
            let l = length(at: i)
            var run = 1
            while i + run < total && length(at: i + run) == l { run += 1 }
            var left = run
            if l == 0 {
                while left >= 11 {
                    let k = min(left, 138)
                    emit(18, k - 11)
                    left -= k
                }
                if left >= 3 {
                    emit(17, left - 3)
                    left = 0
                }
            } else {
                emit(Int(l))
                left -= 1
                while left >= 3 {
                    let k = min(left, 6)
                    emit(16, k - 3)
                    left -= k
                }
            }
            while left > 0 {
                emit(Int(l))
                left -= 1
            }
            i += run
        }
        Huffman.buildLengths(s.clFreq, count: 19, limit: 7, into: s.clLength, s)
        Huffman.assignCodes(s.clLength, count: 19, into: s.clCode)
        codeLengthCount = 19
        while codeLengthCount > 4 && s.clLength[Self.codeLengthOrder[codeLengthCount - 1]] == 0 { codeLengthCount -= 1 }

        var dynamic = 3 + 5 + 5 + 4 + 3 * codeLengthCount
        for c in 0..<19 { dynamic += Int(s.clFreq[c]) * Int(s.clLength[c]) }
        dynamic += Int(s.clFreq[16]) * 2 + Int(s.clFreq[17]) * 3 + Int(s.clFreq[18]) * 7
        for symbol in 0..<286 { dynamic += Int(s.litFreq[symbol]) * Int(s.litLength[symbol]) }
        for d in 0..<30 { dynamic += Int(s.distFreq[d]) * Int(s.distLength[d]) }
        dynamicBits = dynamic + extra
    }

    /// BFINAL 0, BTYPE 10, the counts, the code length code, the code lengths.
    func writeDynamicHeader(_ bits: inout BitWriter, _ s: BlockScratch) {
        bits.put(0b100, 3)
        bits.put(UInt64(literalCount - 257), 5)
        bits.put(UInt64(distanceCount - 1), 5)
        bits.put(UInt64(codeLengthCount - 4), 4)
        for k in 0..<codeLengthCount { bits.put(UInt64(s.clLength[Self.codeLengthOrder[k]]), 3) }
        for k in 0..<streamCount {
            let entry = Int(s.clStream[k])
            let symbol = entry & 0xFF
            bits.put(UInt64(s.clCode[symbol]), Int(s.clLength[symbol]))
            switch symbol {
            case 16: bits.put(UInt64(entry >> 8), 2)
            case 17: bits.put(UInt64(entry >> 8), 3)
            case 18: bits.put(UInt64(entry >> 8), 7)
            default: break
            }
        }
    }
}

/// Code lengths from counts, and canonical codes from lengths.
enum Huffman {
    /// Optimal code lengths for the symbols `0..<count` counted in `freq`
    /// (Moffat and Katajainen's in-place method), at most `limit` bits:
    /// counts are halved until the longest code fits. Unused symbols get 0;
    /// a lone used symbol gets 1.
    static func buildLengths(_ freq: UnsafePointer<UInt32>, count: Int, limit: Int,
                             into lengths: UnsafeMutablePointer<UInt8>, _ s: BlockScratch) {
        lengths.update(repeating: 0, count: count)
        let symbols = s.sortSymbols
        let weights = s.sortWeights
        var m = 0
        for symbol in 0..<count where freq[symbol] > 0 {
            // Insertion by weight; equal weights keep symbol order.
            let w = Int(freq[symbol])
            var j = m
            while j > 0 && weights[j - 1] > w {
                weights[j] = weights[j - 1]
                symbols[j] = symbols[j - 1]
                j -= 1
            }
            weights[j] = w
            symbols[j] = symbol
            m += 1
        }
        if m == 0 { return }
        if m == 1 {
            lengths[symbols[0]] = 1
            return
        }
        let a = s.work
        while true {
            a.update(from: weights, count: m)
            minimumRedundancy(a, m)
            var longest = 0
            for k in 0..<m { longest = max(longest, a[k]) }
            if longest <= limit {
                for k in 0..<m { lengths[symbols[k]] = UInt8(a[k]) }
                return
            }
            // Halving keeps the order, so the symbols stay sorted.
            for k in 0..<m { weights[k] = (weights[k] + 1) / 2 }
        }
    }

    /// `a[0..<n]`: weights in ascending order in, code lengths out.
    private static func minimumRedundancy(_ a: UnsafeMutablePointer<Int>, _ n: Int) {
        // Parents, left to right.
        a[0] += a[1]
        var root = 0
        var leaf = 2
        for next in 1..<(n - 1) {
            if leaf >= n || a[root] < a[leaf] {
                a[next] = a[root]
                a[root] = next
                root += 1
            } else {
                a[next] = a[leaf]
                leaf += 1
            }
            if leaf >= n || (root < next && a[root] < a[leaf]) {
                a[next] += a[root]
                a[root] = next
                root += 1
            } else {
                a[next] += a[leaf]
                leaf += 1
            }
        }
        // Internal node depths, right to left.
        a[n - 2] = 0
        var next = n - 3
        while next >= 0 {
            a[next] = a[a[next]] + 1
            next -= 1
        }
        // Leaf depths.
        var available = 1
        var used = 0
        var depth = 0
        root = n - 2
        next = n - 1
        while available > 0 {
            while root >= 0 && a[root] == depth {
                used += 1
                root -= 1
            }
            while available > used {
                a[next] = depth
                next -= 1
                available -= 1
            }
            available = 2 * used
            depth += 1
            used = 0
        }
    }

    /// Canonical codes (RFC 1951 §3.2.2), bit-reversed for writing.
    static func assignCodes(_ lengths: UnsafePointer<UInt8>, count: Int, into codes: UnsafeMutablePointer<UInt16>) {
        var lengthCounts = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var nextCodes = lengthCounts
        withUnsafeMutableBytes(of: &lengthCounts) { raw in
            let perLength = raw.bindMemory(to: Int.self)
            for symbol in 0..<count where lengths[symbol] > 0 { perLength[Int(lengths[symbol])] += 1 }
            withUnsafeMutableBytes(of: &nextCodes) { nextRaw in
                let next = nextRaw.bindMemory(to: Int.self)
                var code = 0
                for bits in 1..<16 {
                    code = (code + perLength[bits - 1]) << 1
                    next[bits] = code
                }
                for symbol in 0..<count {
                    let length = Int(lengths[symbol])
                    guard length > 0 else {
                        codes[symbol] = 0
                        continue
                    }
                    codes[symbol] = UInt16(reversed(next[length], length))
                    next[length] += 1
                }
            }
        }
    }

    static func reversed(_ code: Int, _ length: Int) -> Int {
        var r = 0
        for i in 0..<length where code & (1 << i) != 0 { r |= 1 << (length - 1 - i) }
        return r
    }
}

/// The length symbols 257...285 (RFC 1951 §3.2.5).
enum LengthCodes {
    /// Per match length 0...258: its symbol minus 257 in the low byte, the
    /// extra bit count in the next, the extra value in the upper half.
    static let info: [UInt32] = (0...258).map { length in
        guard length >= 3 else { return 0 }
        if length == 258 { return 28 }
        if length < 11 { return UInt32(length - 3) }
        // Symbols 265 on cover lengths in groups of four, doubling in width.
        var symbol = 8
        var low = 11
        var extraBits = 1
        while true {
            for k in 0..<4 {
                let width = 1 << extraBits
                if length < low + width {
                    return UInt32(symbol + k) | UInt32(extraBits) << 8 | UInt32(length - low) << 16
                }
                low += width
            }
            symbol += 4
            extraBits += 1
        }
    }

    /// Extra bits per length symbol minus 257.
    static let symbolExtraBits: [UInt8] = (0..<29).map { (k: Int) -> UInt8 in
        if k < 8 || k == 28 { return 0 }
        return UInt8((k - 4) / 4)
    }
}

/// The distance symbols 0...29.
enum DistanceCodes {
    @inline(__always)
    static func symbol(_ distance: Int) -> UInt32 {
        let x = UInt32(distance &- 1)
        if x < 4 { return x }
        let top = 31 &- UInt32(x.leadingZeroBitCount)
        return 2 &* top &+ ((x >> (top &- 1)) & 1)
    }

    @inline(__always)
    static func extraBits(_ symbol: UInt32) -> UInt32 { symbol < 4 ? 0 : (symbol >> 1) &- 1 }

    /// The first distance minus one a symbol covers.
    @inline(__always)
    static func base(_ symbol: UInt32) -> UInt32 {
        symbol < 4 ? symbol : (2 | (symbol & 1)) << extraBits(symbol)
    }
}

/// Deflate's fixed Huffman codes (RFC 1951 §3.2.6), bit-reversed.
enum FixedCodes {
    static func literalLength(_ symbol: Int) -> UInt8 {
        switch symbol {
        case 0...143: 8
        case 144...255: 9
        case 256...279: 7
        default: 8
        }
    }

    static let litLengths: [UInt8] = (0..<288).map(literalLength)

    static let litCodes: [UInt16] = (0..<288).map { symbol in
        let code = switch symbol {
        case 0...143: 0x30 + symbol
        case 144...255: 0x190 + symbol - 144
        case 256...279: symbol - 256
        default: 0xC0 + symbol - 280
        }
        return UInt16(Huffman.reversed(code, Int(literalLength(symbol))))
    }

    static let distCodes: [UInt16] = (0..<32).map { UInt16(Huffman.reversed($0, 5)) }
    static let distLengths: [UInt8] = Array(repeating: 5, count: 32)
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

/// The block encoder's work space, one per `DeflateTable`: the block's
/// symbols (one per input byte at most, plus the end of block), the counts
/// and the codes built from them. Allocated once.
struct BlockScratch {
    let symbols = UnsafeMutablePointer<UInt32>.allocate(capacity: 65_536)
    let litFreq = UnsafeMutablePointer<UInt32>.allocate(capacity: 288)
    let distFreq = UnsafeMutablePointer<UInt32>.allocate(capacity: 32)
    let clFreq = UnsafeMutablePointer<UInt32>.allocate(capacity: 19)
    let litLength = UnsafeMutablePointer<UInt8>.allocate(capacity: 288)
    let distLength = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    let clLength = UnsafeMutablePointer<UInt8>.allocate(capacity: 19)
    let litCode = UnsafeMutablePointer<UInt16>.allocate(capacity: 288)
    let distCode = UnsafeMutablePointer<UInt16>.allocate(capacity: 32)
    let clCode = UnsafeMutablePointer<UInt16>.allocate(capacity: 19)
    /// The run-length encoded code lengths (at most one entry per length).
    let clStream = UnsafeMutablePointer<UInt16>.allocate(capacity: 320)
    let sortSymbols = UnsafeMutablePointer<Int>.allocate(capacity: 288)
    let sortWeights = UnsafeMutablePointer<Int>.allocate(capacity: 288)
    let work = UnsafeMutablePointer<Int>.allocate(capacity: 288)

    func clearCounts() {
        litFreq.initialize(repeating: 0, count: 288)
        distFreq.initialize(repeating: 0, count: 32)
        clFreq.initialize(repeating: 0, count: 19)
    }

    func deallocate() {
        symbols.deallocate()
        litFreq.deallocate()
        distFreq.deallocate()
        clFreq.deallocate()
        litLength.deallocate()
        distLength.deallocate()
        clLength.deallocate()
        litCode.deallocate()
        distCode.deallocate()
        clCode.deallocate()
        clStream.deallocate()
        sortSymbols.deallocate()
        sortWeights.deallocate()
        work.deallocate()
    }
}
