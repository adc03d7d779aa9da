/// One header field line as offsets into the message head (the same buffer
/// the head was parsed from). The value is trimmed of leading and trailing OWS.
public struct HeaderField: Sendable, Equatable {
    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32
    /// Which of the names the engine tells apart this field has, found once
    /// when the head is parsed (`.other` for a field built by hand).
    public var knownName: KnownFieldName

    public init(nameStart: Int32, nameEnd: Int32, valueStart: Int32, valueEnd: Int32,
                knownName: KnownFieldName = .other) {
        self.nameStart = nameStart
        self.nameEnd = nameEnd
        self.valueStart = valueStart
        self.valueEnd = valueEnd
        self.knownName = knownName
    }

    /// The field name's bytes in `head`.
    @inline(__always)
    public func name(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: head.baseAddress.map { $0 + Int(nameStart) }, count: Int(nameEnd &- nameStart))
    }

    /// The field value's bytes in `head`, without surrounding whitespace.
    @inline(__always)
    public func value(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: head.baseAddress.map { $0 + Int(valueStart) }, count: Int(valueEnd &- valueStart))
    }
}

/// A fixed-capacity table of header fields, allocated once per worker and
/// reused for every message: parsing a head never allocates.
public struct HeaderTable: ~Copyable {
    /// The fields; the parser writes them here directly (`FieldSection`).
    @usableFromInline let storage: UnsafeMutablePointer<HeaderField>
    /// How many fields the table can hold; give it at least `HTTPLimits.maxHeaders`.
    public let capacity: Int
    /// How many fields the last parsed head had.
    public internal(set) var count: Int = 0
    /// What the `Connection` fields of the parsed head list, recorded by the
    /// parser so `isNominatedByConnection` need not look in the common case.
    @usableFromInline var connectionOptions: ConnectionOptions = []
    /// False once a field was appended by hand (`append`): then
    /// `connectionOptions` says nothing and the fields are searched by name.
    @usableFromInline var optionsKnown = true
    /// Every field line of the parsed head was received as `name: value`
    /// and CRLF, with no other whitespace, and the table holds them all in
    /// order: field `i + 1`'s line starts where field `i`'s ends, at its
    /// `valueEnd + 2`. False for a table filled or extended by hand.
    public internal(set) var regularLines = false
    /// The parsed fields among the first 64 whose name is hop-by-hop
    /// (`KnownFieldName.isHopByHop`), as a set of indices: bit `i`, field `i`.
    @usableFromInline var hopByHopNames: UInt64 = 0

    public init(capacity: Int) {
        precondition(capacity >= 0, "HeaderTable capacity must not be negative")
        self.capacity = capacity
        storage = .allocate(capacity: max(capacity, 1))
    }

    deinit {
        storage.deallocate()
    }

    /// Every field in head order, for a loop that reads them all without a
    /// check per field; valid until the table changes.
    @inlinable public var fields: UnsafeBufferPointer<HeaderField> {
        UnsafeBufferPointer(start: storage, count: count)
    }

    /// The `i`th field in head order.
    public subscript(i: Int) -> HeaderField {
        precondition(i >= 0 && i < count, "header index out of range")
        return storage[i]
    }

    /// Forgets every field; the capacity is kept.
    public mutating func removeAll() {
        count = 0
        connectionOptions = []
        optionsKnown = true
        regularLines = false
        hopByHopNames = 0
    }

    /// Adds a field at the end; false, and nothing added, when the table is full.
    @discardableResult
    public mutating func append(_ field: HeaderField) -> Bool {
        guard count < capacity else { return false }
        storage[count] = field
        count += 1
        optionsKnown = false
        regularLines = false
        return true
    }

    /// Whether the `Connection` fields nominate no field but those with a
    /// hop-by-hop name (`KnownFieldName.isHopByHop`): there are none, or
    /// they list nothing but `keep-alive`, `upgrade` and `te`. A writer
    /// that leaves those names out need then not ask
    /// `isNominatedByConnection` for each field.
    @inlinable
    public var nominatesOnlyHopByHopNames: Bool {
        // Neither `close` nor any other option (`ConnectionOptions`).
        optionsKnown && connectionOptions.rawValue & (1 | 16) == 0
    }

    /// The fields a proxy leaves out of the head it forwards, as a set of
    /// indices (bit `i`, field `i`), when the parser can tell them all: the
    /// table holds a parsed head of at most 64 fields whose lines all came
    /// as `name: value` CRLF (`regularLines`), and nominating none but
    /// hop-by-hop names (`nominatesOnlyHopByHopNames`). The set is then the
    /// fields with a hop-by-hop name. Nil otherwise: ask
    /// `isNominatedByConnection` for each field.
    @inlinable
    public var hopByHopFields: UInt64? {
        guard regularLines, count <= 64, nominatesOnlyHopByHopNames else { return nil }
        return hopByHopNames
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
            if Int(field.nameEnd &- field.nameStart) == name.count,
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
    ///
    /// Answered at once in the common cases: no `Connection` field, or one
    /// listing only `close`, `keep-alive`, `upgrade` or `te` and a `name` that
    /// cannot be one of them. Otherwise the `Connection` values are read.
    @inlinable
    public func isNominatedByConnection(_ name: UnsafeRawBufferPointer, in head: UnsafeRawBufferPointer) -> Bool {
        if optionsKnown && !connectionOptions.mayNominate(nameLength: name.count) { return false }
        return connectionListsOption(name, in: head)
    }

    /// Whether a `Connection` field lists `name`: their values read one by
    /// one, found by the name the parser recorded (or by name for a table
    /// filled by hand).
    @usableFromInline
    func connectionListsOption(_ name: UnsafeRawBufferPointer, in head: UnsafeRawBufferPointer) -> Bool {
        for i in 0..<count {
            let field = storage[i]
            guard optionsKnown ? field.knownName == .connection
                : HTTPField.equalsIgnoringCase(field.name(in: head), "connection") else { continue }
            for option in HTTPField.elements(field.value(in: head)) where HTTPField.equalsIgnoringCase(option, name) {
                return true
            }
        }
        return false
    }
}

/// The options the `Connection` fields of a head list, as one set: the
/// usual tokens, and whether any other (a field name it nominates) is there.
@usableFromInline
struct ConnectionOptions: OptionSet, Sendable {
    @usableFromInline let rawValue: UInt8

    @inlinable
    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    static let close = ConnectionOptions(rawValue: 1)
    static let keepAlive = ConnectionOptions(rawValue: 2)
    static let upgrade = ConnectionOptions(rawValue: 4)
    static let te = ConnectionOptions(rawValue: 8)
    /// Any option but those four.
    static let other = ConnectionOptions(rawValue: 16)

    /// Whether a field name of `nameLength` bytes may be among the options:
    /// never when there are none; when there are only the usual four, only
    /// for their lengths (`te`, `close`, `upgrade`, `keep-alive`).
    @inlinable
    func mayNominate(nameLength: Int) -> Bool {
        if rawValue == 0 { return false }
        if rawValue & 16 != 0 { return true }  // `.other`
        return nameLength == 2 || nameLength == 5 || nameLength == 7 || nameLength == 10
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes in `start..<end`, as a buffer over the same memory.
    @inline(__always)
    func slice(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[start..<end])
    }
}
