/// A fixed area of bytes handed out front to back and taken back as a whole
/// (`reset`) or down to a mark (`rewind`). Allocated once per worker: what
/// the rules engine computes per request lives here, never on the heap.
struct ByteArena: ~Copyable {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(byteCount: max(capacity, 1), alignment: 8)
    }

    deinit { base.deallocate() }

    mutating func reset() { used = 0 }

    /// Where the next byte goes; give it to `rewind(to:)` to forget what follows.
    var mark: Int { used }

    mutating func rewind(to mark: Int) { used = mark }

    /// `count` bytes at the end of what is in use, or nil when they do not fit.
    mutating func reserve(_ count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0, capacity - used >= count else { return nil }
        let p = base + used
        used += count
        return p
    }

    /// A copy of `bytes`, or nil when it does not fit.
    mutating func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let p = reserve(bytes.count) else { return nil }
        if bytes.count > 0 { p.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: p, count: bytes.count)
    }

    /// The bytes from `start` (a mark) to the end of what is in use.
    func bytes(since start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: used - start)
    }

    /// Appends one byte; false when full.
    @discardableResult
    mutating func append(_ byte: UInt8) -> Bool {
        guard let p = reserve(1) else { return false }
        p.storeBytes(of: byte, as: UInt8.self)
        return true
    }

    /// Appends bytes; false (and nothing appended) when they do not fit.
    @discardableResult
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        copy(bytes) != nil
    }

    @discardableResult
    mutating func append(_ text: StaticString) -> Bool {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends `value` in decimal; false when it does not fit.
    @discardableResult
    mutating func append(decimal value: Int64) -> Bool {
        var digits = 1
        var rest = value.magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        let sign = value < 0 ? 1 : 0
        guard let p = reserve(sign + digits) else { return false }
        if sign == 1 { p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self) }
        var magnitude = value.magnitude
        for index in stride(from: sign + digits - 1, through: sign, by: -1) {
            p.storeBytes(of: UInt8(ascii: "0") &+ UInt8(magnitude % 10), toByteOffset: index, as: UInt8.self)
            magnitude /= 10
        }
        return true
    }
}

/// Bytes fixed when the rules are compiled (patterns, map values, header
/// names, names of proxies), kept at stable addresses for as long as the
/// compiled rules live, so that a sample can point at them.
final class ConstantStore {
    private var blocks: [UnsafeMutableRawPointer] = []

    init() {}

    deinit {
        for block in blocks { block.deallocate() }
    }

    func intern(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { source in
            if let from = source.baseAddress { block.copyMemory(from: from, byteCount: source.count) }
        }
        blocks.append(block)
        return UnsafeRawBufferPointer(start: block, count: bytes.count)
    }

    func intern(_ text: String) -> UnsafeRawBufferPointer { intern(Array(text.utf8)) }
}
