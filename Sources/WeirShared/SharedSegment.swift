import WeirSystem

/// One worker's counters in the shared segment. Each worker writes only its
/// own slot, with plain stores; the master reads them (for `show proc`).
public struct WorkerCounters {
    public var pid: Int64
    /// Sessions open right now.
    public var sessions: Int64
    /// Sessions accepted since the worker started.
    public var cumulated: Int64
    public var reserved: (Int64, Int64, Int64, Int64, Int64)
}

/// The shared-memory segment of one generation: a memfd the master creates
/// and every worker of that generation maps. Small until health checks and
/// stick tables need more (DESIGN.md §2).
public struct SharedSegment: @unchecked Sendable {
    static let magic: UInt64 = 0x3148_534D_5249_4557  // "WEIRSHM1", little-endian
    static let headerSize = 64
    public let memory: UnsafeMutableRawBufferPointer
    public let slots: Int

    /// Creates the segment for `slots` workers; returns its descriptor and mapping.
    public static func create(slots: Int) throws(Errno) -> (fd: Int32, segment: SharedSegment) {
        let fd = try MemoryFile.create(name: "weir-shared", size: headerSize + slots * MemoryLayout<WorkerCounters>.stride)
        let memory: UnsafeMutableRawBufferPointer
        do { memory = try MemoryFile.map(fd) } catch {
            Posix.close(fd)
            throw error
        }
        memory.storeBytes(of: magic, toByteOffset: 0, as: UInt64.self)
        memory.storeBytes(of: Int64(slots), toByteOffset: 8, as: Int64.self)
        return (fd, SharedSegment(memory: memory, slots: slots))
    }

    /// Maps a segment received from the master; nil if it is not one.
    public static func attach(_ fd: Int32) -> SharedSegment? {
        guard let memory = try? MemoryFile.map(fd), memory.count >= headerSize,
              memory.load(fromByteOffset: 0, as: UInt64.self) == magic else { return nil }
        let slots = Int(memory.load(fromByteOffset: 8, as: Int64.self))
        guard slots >= 0, memory.count >= headerSize + slots * MemoryLayout<WorkerCounters>.stride else { return nil }
        return SharedSegment(memory: memory, slots: slots)
    }

    /// The counters of worker `slot`.
    public func counters(_ slot: Int) -> UnsafeMutablePointer<WorkerCounters> {
        precondition(slot >= 0 && slot < slots)
        return (memory.baseAddress! + SharedSegment.headerSize + slot * MemoryLayout<WorkerCounters>.stride)
            .assumingMemoryBound(to: WorkerCounters.self)
    }
}
