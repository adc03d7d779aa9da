/// Fixed-size records addressed by slot number, with a generation per slot so
/// that a stale reference (an event for a slot closed and reused) is detected.
/// Storage grows by doubling when every slot is in use; elements are reached
/// through a raw pointer, never through a class reference.
public struct Slab<Element>: ~Copyable {
    private var elements: UnsafeMutablePointer<Element>
    private var generations: UnsafeMutablePointer<UInt32>
    private var freeSlots: UnsafeMutablePointer<UInt32>
    private var freeCount = 0
    public private(set) var capacity: Int
    /// Slots ever handed out; slots below this are initialized or on the free list.
    private var highWater = 0
    public private(set) var count = 0

    public init(initialCapacity: Int) {
        capacity = max(8, initialCapacity)
        elements = .allocate(capacity: capacity)
        generations = .allocate(capacity: capacity)
        generations.initialize(repeating: 0, count: capacity)
        freeSlots = .allocate(capacity: capacity)
    }

    deinit {
        for slot in 0..<highWater where isLive(UInt32(slot)) { (elements + slot).deinitialize(count: 1) }
        elements.deallocate()
        generations.deallocate()
        freeSlots.deallocate()
    }

    /// Live slots have an odd generation; a freed slot's generation is even.
    @inline(__always)
    public func isLive(_ slot: UInt32) -> Bool { Int(slot) < highWater && generations[Int(slot)] & 1 == 1 }

    /// Every live slot is below this bound: iterate `0..<slotBound` with
    /// `isLive` to visit them all.
    public var slotBound: Int { highWater }

    @inline(__always)
    public func generation(_ slot: UInt32) -> UInt32 { generations[Int(slot)] }

    /// Whether `slot` is live and still at `generation` (24 bits, as in a Token).
    @inline(__always)
    public func matches(_ slot: UInt32, generation: UInt32) -> Bool {
        Int(slot) < highWater && generations[Int(slot)] & 0xFF_FFFF == generation && generations[Int(slot)] & 1 == 1
    }

    /// Stores `element` in a free slot and returns the slot.
    public mutating func insert(_ element: Element) -> UInt32 {
        let slot: Int
        if freeCount > 0 {
            freeCount -= 1
            slot = Int(freeSlots[freeCount])
        } else {
            if highWater == capacity { grow() }
            slot = highWater
            highWater += 1
        }
        (elements + slot).initialize(to: element)
        generations[slot] &+= 1
        count += 1
        return UInt32(slot)
    }

    /// Frees a live slot; its generation changes so old tokens no longer match.
    public mutating func remove(_ slot: UInt32) {
        precondition(isLive(slot))
        (elements + Int(slot)).deinitialize(count: 1)
        generations[Int(slot)] &+= 1
        freeSlots[freeCount] = slot
        freeCount += 1
        count -= 1
    }

    /// Direct access to a live slot's element. Valid until the next `insert`
    /// (which may grow the storage); never keep it across one.
    @inline(__always)
    public func pointer(_ slot: UInt32) -> UnsafeMutablePointer<Element> { elements + Int(slot) }

    @inline(__always)
    public subscript(slot: UInt32) -> Element {
        unsafeAddress { UnsafePointer(elements + Int(slot)) }
        nonmutating unsafeMutableAddress { elements + Int(slot) }
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newElements = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        let newGenerations = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        let newFree = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        for slot in 0..<highWater where isLive(UInt32(slot)) {
            (newElements + slot).moveInitialize(from: elements + slot, count: 1)
        }
        newGenerations.moveInitialize(from: generations, count: capacity)
        (newGenerations + capacity).initialize(repeating: 0, count: newCapacity - capacity)
        newFree.moveInitialize(from: freeSlots, count: freeCount)
        elements.deallocate()
        generations.deallocate()
        freeSlots.deallocate()
        elements = newElements
        generations = newGenerations
        freeSlots = newFree
        capacity = newCapacity
    }
}
