import Testing
@testable import WeirLoop

@Suite struct SlabTests {
    @Test func insertRemoveAndGenerations() {
        var slab = Slab<Int>(initialCapacity: 8)
        let a = slab.insert(10)
        let b = slab.insert(20)
        #expect(slab[a] == 10 && slab[b] == 20)
        #expect(slab.count == 2)
        let oldGeneration = slab.generation(a) & 0xFF_FFFF
        slab.remove(a)
        let liveAfterRemove = slab.isLive(a)
        let staleMatchesFreed = slab.matches(a, generation: oldGeneration)
        #expect(!liveAfterRemove)
        #expect(!staleMatchesFreed)
        let c = slab.insert(30)
        #expect(c == a, "a freed slot is reused")
        let staleMatchesNew = slab.matches(c, generation: oldGeneration)
        let currentMatches = slab.matches(c, generation: slab.generation(c) & 0xFF_FFFF)
        #expect(!staleMatchesNew, "a stale token must not match the new occupant")
        #expect(currentMatches)
        slab[c] += 1
        #expect(slab[c] == 31)
    }

    @Test func growsPastItsInitialCapacityKeepingElements() {
        var slab = Slab<[Int]>(initialCapacity: 8)
        var slots: [UInt32] = []
        for i in 0..<100 { slots.append(slab.insert([i, i * 2])) }
        for victim in stride(from: 0, to: 100, by: 3) { slab.remove(slots[victim]) }
        for i in 0..<100 where i % 3 != 0 { #expect(slab[slots[i]] == [i, i * 2]) }
        let count = slab.count
        let capacity = slab.capacity
        #expect(count == 100 - 34)
        #expect(capacity >= 100)
    }
}

@Suite struct BufferPoolTests {
    @Test func buffersAreDistinctRecycledAndBounded() {
        var pool = BufferPool(bufferSize: 4096, limit: 100)
        var ids: [Int32] = []
        while let id = pool.acquire() { ids.append(id) }
        let limit = pool.limit
        #expect(ids.count == limit)
        #expect(Set(ids).count == ids.count)
        // Each buffer is its own memory: write a marker through every one, read all back.
        for id in ids { pool.pointer(id).storeBytes(of: id, as: Int32.self) }
        for id in ids { #expect(pool.pointer(id).load(as: Int32.self) == id) }
        let beyondLimit = pool.acquire()
        #expect(beyondLimit == nil)
        pool.release(ids[5])
        let recycled = pool.acquire()
        #expect(recycled == ids[5])
        let inUse = pool.inUse
        #expect(inUse == ids.count)
    }

    @Test func allocatesLazily() {
        var pool = BufferPool(bufferSize: 16384, limit: 10_000)
        let before = pool.allocated
        #expect(before == 0)
        let id = pool.acquire()
        #expect(id != nil)
        let after = pool.allocated
        #expect(after > 0 && after < 1000)
    }
}
