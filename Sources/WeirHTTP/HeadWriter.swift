/// Appends a message head into a fixed output area (a pooled buffer) without
/// allocating.
///
/// Each append is all or nothing: one that does not fit writes no byte and
/// sets `overflowed`, and every later append is ignored, so the bytes written
/// are always a prefix made of whole appends. Check `overflowed` once at the end.
///
/// The appends are inlinable: a head is built from many short ones, and a
/// call into this module for each would cost as much as the copy.
public struct HeadWriter {
    @usableFromInline let base: UnsafeMutableRawPointer
    /// How many bytes the output area holds.
    public let capacity: Int
    @usableFromInline var writtenCount = 0
    @usableFromInline var didOverflow = false

    /// How many bytes have been written.
    @inlinable public var count: Int { writtenCount }
    /// Whether an append did not fit.
    @inlinable public var overflowed: Bool { didOverflow }

    /// Writes into `base[0..<capacity]`, which must stay valid while the writer is used.
    public init(_ base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Appends `bytes` as they are.
    @inlinable @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let destination = reserve(bytes.count), let source = bytes.baseAddress else { return }
        Self.copy(destination, source, bytes.count)
    }

    /// Appends the UTF-8 bytes of `text`.
    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) {
        guard text.hasPointerRepresentation else {
            text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
            return
        }
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends one byte.
    @inlinable @inline(__always)
    public mutating func append(byte: UInt8) {
        reserve(1)?.storeBytes(of: byte, as: UInt8.self)
    }

    /// Appends `decimal` in base 10, with a `-` when negative.
    public mutating func append(decimal: Int) {
        let magnitude = decimal.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        let sign = decimal < 0 ? 1 : 0
        guard let destination = reserve(sign + digits) else { return }
        if sign == 1 { destination.storeBytes(of: ASCII.hyphen, as: UInt8.self) }
        var value = magnitude
        for index in stride(from: sign + digits - 1, through: sign, by: -1) {
            destination.storeBytes(of: ASCII.zero &+ UInt8(value % 10), toByteOffset: index, as: UInt8.self)
            value /= 10
        }
    }

    /// Appends the field line `name: value` and its CRLF, whole or not at all.
    @inlinable
    public mutating func appendHeader(name: StaticString, value: UnsafeRawBufferPointer) {
        guard name.hasPointerRepresentation else {
            name.withUTF8Buffer { appendHeader(name: UnsafeRawBufferPointer($0), value: value) }
            return
        }
        appendHeader(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value)
    }

    /// Appends the field line `name: value` and its CRLF, whole or not at all:
    /// one check for room, then the copies.
    @inlinable
    public mutating func appendHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameCount = name.count
        let valueCount = value.count
        // Buffer counts are far below Int.max: the sums cannot overflow.
        guard let destination = reserve(nameCount &+ valueCount &+ 4) else { return }
        if let source = name.baseAddress { Self.copy(destination, source, nameCount) }
        // ": " and CRLF, each stored as one 16-bit little-endian word.
        destination.storeBytes(of: UInt16(0x203A).littleEndian, toByteOffset: nameCount, as: UInt16.self)
        if let source = value.baseAddress { Self.copy(destination + (nameCount &+ 2), source, valueCount) }
        destination.storeBytes(of: UInt16(0x0A0D).littleEndian, toByteOffset: nameCount &+ 2 &+ valueCount,
                               as: UInt16.self)
    }

    /// Copies `count` bytes: the short runs a head is made of (names, most
    /// values) with overlapping loads and stores, longer ones with memcpy.
    /// Every load comes before any store, so the areas may overlap.
    @inlinable @inline(__always)
    static func copy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
        if count > 16 {
            if count > 32 {
                destination.copyMemory(from: source, byteCount: count)
                return
            }
            let a = source.loadUnaligned(as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let c = source.loadUnaligned(fromByteOffset: count &- 16, as: UInt64.self)
            let d = source.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
            destination.storeBytes(of: a, as: UInt64.self)
            destination.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            destination.storeBytes(of: c, toByteOffset: count &- 16, as: UInt64.self)
            destination.storeBytes(of: d, toByteOffset: count &- 8, as: UInt64.self)
        } else if count >= 8 {
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
            destination.storeBytes(of: head, as: UInt64.self)
            destination.storeBytes(of: tail, toByteOffset: count &- 8, as: UInt64.self)
        } else if count >= 4 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
            destination.storeBytes(of: head, as: UInt32.self)
            destination.storeBytes(of: tail, toByteOffset: count &- 4, as: UInt32.self)
        } else if count > 0 {
            let first = source.load(as: UInt8.self)
            let middle = source.load(fromByteOffset: count &>> 1, as: UInt8.self)
            let last = source.load(fromByteOffset: count &- 1, as: UInt8.self)
            destination.storeBytes(of: first, as: UInt8.self)
            destination.storeBytes(of: middle, toByteOffset: count &>> 1, as: UInt8.self)
            destination.storeBytes(of: last, toByteOffset: count &- 1, as: UInt8.self)
        }
    }

    /// Makes room for `length` more bytes and returns where they go, or nil
    /// (and marks the writer overflowed) when they do not fit.
    @inlinable @inline(__always)
    mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        guard !didOverflow, capacity &- writtenCount >= length else {
            didOverflow = true
            return nil
        }
        let destination = base + writtenCount
        writtenCount &+= length
        return destination
    }
}

/// Field lines forwarded as they were received, written with one copy per
/// run: consecutive lines of the head that are already in the form
/// `HeadWriter.appendHeader` gives (`name: value` and CRLF) are gathered,
/// and copied when a line that is not one of them comes, or at `flush`.
/// The bytes written are those `appendHeader` would write, line by line.
public struct FieldLineRun {
    @usableFromInline let head: UnsafeRawBufferPointer
    /// The gathered lines are `head[start..<end]`; none when equal.
    @usableFromInline var start = 0
    @usableFromInline var end = 0

    /// Gathers lines of `head`, the buffer the fields' views point into.
    @inlinable
    public init(in head: UnsafeRawBufferPointer) {
        self.head = head
    }

    /// Gathers the head's first `count` bytes (its start line, sent as
    /// received), so that the field lines after it join the same run.
    @inlinable
    public mutating func gatherStartLine(count: Int) {
        start = 0
        end = count
    }

    /// Writes the field line `name: value`: gathered when it is the head's
    /// own line just after those gathered, else after them, by `appendHeader`.
    @inlinable @inline(__always)
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                to w: inout HeadWriter) {
        // The common case first: the line just after the run, as received.
        if end != start, let base = head.baseAddress, name.baseAddress == base + end {
            let separator = end &+ name.count
            let lineEnd = separator &+ 2 &+ value.count &+ 2
            if value.baseAddress == base + (separator &+ 2), lineEnd <= head.count,
               base.loadUnaligned(fromByteOffset: separator, as: UInt16.self) == UInt16(0x203A).littleEndian,
               base.loadUnaligned(fromByteOffset: lineEnd &- 2, as: UInt16.self) == UInt16(0x0A0D).littleEndian {
                end = lineEnd
                return
            }
        }
        startRun(name: name, value: value, lineEnd: receivedLineEnd(name: name, value: value), to: &w)
    }

    /// Writes the gathered lines, then starts a run with this line (which
    /// ends at `lineEnd` in the head), or writes it when it is not one of
    /// the head's lines as received (`lineEnd` nil).
    @usableFromInline
    mutating func startRun(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, lineEnd: Int?,
                           to w: inout HeadWriter) {
        flush(to: &w)
        if let lineEnd {
            start = lineEnd &- value.count &- name.count &- 4
            end = lineEnd
        } else {
            w.appendHeader(name: name, value: value)
        }
    }

    /// Writes the gathered lines.
    @inlinable
    public mutating func flush(to w: inout HeadWriter) {
        guard end != start else { return }
        w.append(UnsafeRawBufferPointer(start: head.baseAddress! + start, count: end &- start))
        start = end
    }

    /// Where the line holding `name` and `value` ends in `head`, when they
    /// are a line of it written `name: value` and CRLF; else nil.
    @inlinable @inline(__always)
    func receivedLineEnd(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int? {
        guard let base = head.baseAddress, let namePointer = name.baseAddress,
              let valuePointer = value.baseAddress else { return nil }
        let nameStart = base.distance(to: namePointer)
        let valueStart = base.distance(to: valuePointer)
        let separator = nameStart &+ name.count
        let lineEnd = valueStart &+ value.count &+ 2
        guard nameStart >= 0, valueStart == separator &+ 2, lineEnd <= head.count,
              base.loadUnaligned(fromByteOffset: separator, as: UInt16.self) == UInt16(0x203A).littleEndian,
              base.loadUnaligned(fromByteOffset: lineEnd &- 2, as: UInt16.self) == UInt16(0x0A0D).littleEndian
        else { return nil }
        return lineEnd
    }
}
