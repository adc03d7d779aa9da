/// What an epoll event or a timer refers to: a kind of registrant, a slot and
/// the slot's generation, packed in 64 bits (`kind << 56 | generation << 32 | slot`).
/// An event whose generation no longer matches its slot is stale and dropped.
@frozen
public struct Token: Hashable, Sendable {
    public var rawValue: UInt64

    @inline(__always)
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inline(__always)
    public init(kind: UInt8, slot: UInt32, generation: UInt32 = 0) {
        rawValue = UInt64(kind) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(slot)
    }

    @inline(__always) public var kind: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 56) }
    @inline(__always) public var slot: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
    @inline(__always) public var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) & 0xFF_FFFF }
}
