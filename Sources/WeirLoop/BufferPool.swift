/// A per-worker pool of fixed-size buffers (`tune.bufsize`), allocated in
/// chunks the first time they are needed and recycled through a free list.
/// A buffer is named by a small integer id, never by a reference.
public struct BufferPool: ~Copyable {
    public let bufferSize: Int
    /// At most this many buffers exist at once; `acquire` fails beyond it.
    public let limit: Int
    /// A constant, so that `pointer` divides by a shift.
    @usableFromInline static var buffersPerChunk: Int { 64 }
    @usableFromInline var chunks: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private var chunkCount = 0
    private let maxChunks: Int
    // Read by the inlinable `acquire` and `release`, which the request path
    // calls from other modules: a call each would cost more than their work.
    @usableFromInline var freeIDs: UnsafeMutablePointer<Int32>
    @usableFromInline var freeCount = 0
    @usableFromInline var buffersInUse = 0
    /// Buffers acquired and not released.
    public var inUse: Int { buffersInUse }

    public init(bufferSize: Int, limit: Int) {
        precondition(bufferSize >= 1024)
        self.bufferSize = bufferSize
        maxChunks = max(1, (limit + Self.buffersPerChunk - 1) / Self.buffersPerChunk)
        self.limit = maxChunks * Self.buffersPerChunk
        chunks = .allocate(capacity: maxChunks)
        freeIDs = .allocate(capacity: self.limit)
    }

    deinit {
        for i in 0..<chunkCount { chunks[i].deallocate() }
        chunks.deallocate()
        freeIDs.deallocate()
    }

    /// Buffers allocated so far (in use or free).
    public var allocated: Int { chunkCount * Self.buffersPerChunk }

    // The counts below stay within 0...limit: they wrap rather than check.

    /// A free buffer's id, or nil when the pool is at its limit.
    @inlinable @inline(__always)
    public mutating func acquire() -> Int32? {
        if freeCount == 0 && !addChunk() { return nil }
        freeCount &-= 1
        buffersInUse &+= 1
        return freeIDs[freeCount]
    }

    @inlinable @inline(__always)
    public mutating func release(_ id: Int32) {
        freeIDs[freeCount] = id
        freeCount &+= 1
        buffersInUse &-= 1
    }

    /// The start of buffer `id`'s `bufferSize` bytes.
    @inlinable @inline(__always)
    public func pointer(_ id: Int32) -> UnsafeMutableRawPointer {
        // Ids are never negative: unsigned, the division is a shift. The
        // offset is within a chunk that was allocated: no overflow to check.
        let index = Int(UInt32(bitPattern: id))
        return chunks[index / Self.buffersPerChunk] + (index % Self.buffersPerChunk) &* bufferSize
    }

    @usableFromInline
    mutating func addChunk() -> Bool {
        guard chunkCount < maxChunks else { return false }
        chunks[chunkCount] = .allocate(byteCount: bufferSize * Self.buffersPerChunk, alignment: 64)
        let first = chunkCount * Self.buffersPerChunk
        // Push in reverse so the lowest id is handed out first.
        for id in (first..<first + Self.buffersPerChunk).reversed() {
            freeIDs[freeCount] = Int32(id)
            freeCount += 1
        }
        chunkCount += 1
        return true
    }
}
