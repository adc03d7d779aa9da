/// Appends a message head into a fixed output area (a pooled buffer) without
/// allocating.
///
/// Each append is all or nothing: one that does not fit writes no byte and
/// sets `overflowed`, and every later append is ignored, so the bytes written
/// are always a prefix made of whole appends. Check `overflowed` once at the end.
public struct HeadWriter {
    private let base: UnsafeMutableRawPointer
    /// How many bytes the output area holds.
    public let capacity: Int
    /// How many bytes have been written.
    public private(set) var count = 0
    /// Whether an append did not fit.
    public private(set) var overflowed = false

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
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let destination = reserve(bytes.count), let source = bytes.baseAddress else { return }
        destination.copyMemory(from: source, byteCount: bytes.count)
    }

    /// Appends the UTF-8 bytes of `text`.
    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends one byte.
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
    public mutating func appendHeader(name: StaticString, value: UnsafeRawBufferPointer) {
        name.withUTF8Buffer { appendHeader(name: UnsafeRawBufferPointer($0), value: value) }
    }

    /// Appends the field line `name: value` and its CRLF, whole or not at all.
    public mutating func appendHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard !overflowed, capacity - count >= name.count + value.count + 4 else {
            overflowed = true
            return
        }
        append(name)
        append(byte: ASCII.colon)
        append(byte: ASCII.space)
        append(value)
        append(byte: ASCII.carriageReturn)
        append(byte: ASCII.lineFeed)
    }

    /// Makes room for `length` more bytes and returns where they go, or nil
    /// (and marks the writer overflowed) when they do not fit.
    private mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        guard !overflowed, capacity - count >= length else {
            overflowed = true
            return nil
        }
        let destination = base + count
        count += length
        return destination
    }
}
