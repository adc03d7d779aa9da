/// The encoder's per-worker state, shared by every stream it compresses and
/// allocated once: the match finder's hash table (for each hash of four
/// bytes, where those bytes were last seen; 64 KiB) and the block
/// encoder's work space (`BlockScratch`, about 270 KiB).
///
/// Positions are numbered across calls: an input's first byte is `base`,
/// and each call moves `base` past its input, so an entry left by another
/// call (another stream, or an earlier buffer of this one) reads as stale
/// and is never followed. Matches therefore stay within the input of one
/// call, which the encoder still has.
public struct DeflateTable: ~Copyable {
    static let hashBits = 14
    let slots: UnsafeMutablePointer<UInt32>
    /// The number the next input's first byte gets, plus one (0 marks an empty slot).
    var base: UInt32 = 1
    let scratch = BlockScratch()

    public init() {
        slots = .allocate(capacity: 1 << Self.hashBits)
        slots.initialize(repeating: 0, count: 1 << Self.hashBits)
    }

    deinit {
        slots.deallocate()
        scratch.deallocate()
    }

    /// Reserves numbers for an input of `count` bytes and returns its first
    /// one; every number stays below 2^32 (the table starts over when not).
    @inline(__always)
    mutating func claim(_ count: Int) -> UInt32 {
        if UInt64(base) + UInt64(count) >= UInt64(UInt32.max) {
            slots.update(repeating: 0, count: 1 << Self.hashBits)
            base = 1
        }
        let first = base
        base &+= UInt32(count)
        return first
    }
}
