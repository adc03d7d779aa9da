/// A binary min-heap of deadlines (monotonic milliseconds) with their tokens.
///
/// Timeouts are reset lazily, as HAProxy does: an owner keeps its current
/// deadline in its own state and only pushes when the new deadline is earlier
/// than the one already queued. When an entry pops, the owner compares it with
/// its current deadline and re-arms if the deadline moved later. Moving a
/// deadline later is therefore a store, not a heap operation.
public struct TimerHeap: ~Copyable {
    public struct Entry: Sendable {
        public var deadline: Int64
        public var token: Token
    }

    private var entries: UnsafeMutablePointer<Entry>
    private var capacity: Int
    public private(set) var count = 0

    public init(initialCapacity: Int = 1024) {
        capacity = max(16, initialCapacity)
        entries = .allocate(capacity: capacity)
    }

    deinit { entries.deallocate() }

    public var isEmpty: Bool { count == 0 }

    /// The earliest deadline, if any.
    public var nextDeadline: Int64? { count > 0 ? entries[0].deadline : nil }

    public mutating func push(_ deadline: Int64, _ token: Token) {
        if count == capacity { grow() }
        var index = count
        count += 1
        let entry = Entry(deadline: deadline, token: token)
        while index > 0 {
            let parent = (index - 1) / 2
            if entries[parent].deadline <= deadline { break }
            (entries + index).initialize(to: entries[parent])
            index = parent
        }
        (entries + index).initialize(to: entry)
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now`.
    public mutating func popExpired(now: Int64) -> Entry? {
        guard count > 0, entries[0].deadline <= now else { return nil }
        let top = entries[0]
        count -= 1
        if count > 0 { siftDown(entries[count]) }
        return top
    }

    private mutating func siftDown(_ entry: Entry) {
        var index = 0
        while true {
            var child = 2 * index + 1
            if child >= count { break }
            if child + 1 < count && entries[child + 1].deadline < entries[child].deadline { child += 1 }
            if entry.deadline <= entries[child].deadline { break }
            entries[index] = entries[child]
            index = child
        }
        entries[index] = entry
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: entries, count: count)
        entries.deallocate()
        entries = bigger
        capacity *= 2
    }
}
