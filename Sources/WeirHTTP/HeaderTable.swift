/// One header field line as offsets into the message head (the same buffer
/// the head was parsed from). The value is trimmed of leading and trailing OWS.
public struct HeaderField: Sendable, Equatable {
    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32

    public init(nameStart: Int32, nameEnd: Int32, valueStart: Int32, valueEnd: Int32) {
        self.nameStart = nameStart
        self.nameEnd = nameEnd
        self.valueStart = valueStart
        self.valueEnd = valueEnd
    }

    /// The field name's bytes in `head`.
    @inline(__always)
    public func name(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        head.slice(Int(nameStart), Int(nameEnd))
    }

    /// The field value's bytes in `head`, without surrounding whitespace.
    @inline(__always)
    public func value(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        head.slice(Int(valueStart), Int(valueEnd))
    }
}

/// A fixed-capacity table of header fields, allocated once per worker and
/// reused for every message: parsing a head never allocates.
public struct HeaderTable: ~Copyable {
    private let storage: UnsafeMutablePointer<HeaderField>
    /// How many fields the table can hold; give it at least `HTTPLimits.maxHeaders`.
    public let capacity: Int
    /// How many fields the last parsed head had.
    public private(set) var count: Int = 0

    public init(capacity: Int) {
        precondition(capacity >= 0, "HeaderTable capacity must not be negative")
        self.capacity = capacity
        storage = .allocate(capacity: max(capacity, 1))
    }

    deinit {
        storage.deallocate()
    }

    /// The `i`th field in head order.
    public subscript(i: Int) -> HeaderField {
        precondition(i >= 0 && i < count, "header index out of range")
        return storage[i]
    }

    /// Forgets every field; the capacity is kept.
    public mutating func removeAll() {
        count = 0
    }

    /// Adds a field at the end; false, and nothing added, when the table is full.
    @discardableResult
    public mutating func append(_ field: HeaderField) -> Bool {
        guard count < capacity else { return false }
        storage[count] = field
        count += 1
        return true
    }

    /// Index of the first field named `name` (ASCII case-insensitive; `name`
    /// given in lowercase) at or after `from`, or nil.
    public func firstIndex(named name: StaticString, in head: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        name.withUTF8Buffer { firstIndex(named: UnsafeRawBufferPointer($0), in: head, from: from) }
    }

    /// Index of the first field named `name` (ASCII case-insensitive, either
    /// side in any case) at or after `from`, or nil.
    public func firstIndex(named name: UnsafeRawBufferPointer, in head: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        var i = max(from, 0)
        while i < count {
            let field = storage[i]
            if Int(field.nameEnd - field.nameStart) == name.count,
               HTTPField.equalsIgnoringCase(field.name(in: head), name) {
                return i
            }
            i += 1
        }
        return nil
    }

    /// The name of the `i`th field.
    public func name(at i: Int, in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        self[i].name(in: head)
    }

    /// The value of the `i`th field, without surrounding whitespace.
    public func value(at i: Int, in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        self[i].value(in: head)
    }

    /// Whether a `Connection` field lists `name` as one of its options, which
    /// makes the field of that name hop-by-hop for this message (RFC 9110 §7.6.1).
    public func isNominatedByConnection(_ name: UnsafeRawBufferPointer, in head: UnsafeRawBufferPointer) -> Bool {
        var index = firstIndex(named: "connection", in: head)
        while let found = index {
            for option in HTTPField.elements(value(at: found, in: head))
            where HTTPField.equalsIgnoringCase(option, name) {
                return true
            }
            index = firstIndex(named: "connection", in: head, from: found + 1)
        }
        return false
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes in `start..<end`, as a buffer over the same memory.
    @inline(__always)
    func slice(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[start..<end])
    }
}
