import Testing
@testable import WeirLoop

@Suite struct TimerHeapTests {
    @Test func popsInDeadlineOrderAndOnlyWhenExpired() {
        var heap = TimerHeap(initialCapacity: 4)
        var generator = SplitMix(seed: 7)
        var deadlines: [Int64] = []
        for i in 0..<500 {
            let deadline = Int64(generator.next() % 10_000)
            deadlines.append(deadline)
            heap.push(deadline, Token(kind: 1, slot: UInt32(i)))
        }
        let count = heap.count
        let next = heap.nextDeadline
        #expect(count == 500)
        #expect(next == deadlines.min())
        var popped: [Int64] = []
        while let entry = heap.popExpired(now: 4_999) { popped.append(entry.deadline) }
        #expect(popped == deadlines.filter { $0 <= 4_999 }.sorted())
        let remaining = heap.nextDeadline
        #expect(remaining.map { $0 > 4_999 } == true)
        while let entry = heap.popExpired(now: .max) { popped.append(entry.deadline) }
        #expect(popped == deadlines.sorted())
        let empty = heap.isEmpty
        #expect(empty)
    }

    @Test func tokensSurviveThePacking() {
        let token = Token(kind: 3, slot: 0xDEAD_BEEF, generation: 0x12_3457)
        #expect(token.kind == 3)
        #expect(token.slot == 0xDEAD_BEEF)
        #expect(token.generation == 0x12_3457)
        #expect(Token(rawValue: token.rawValue) == token)
    }
}

/// A tiny deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
