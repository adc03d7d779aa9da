import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// FNV-1a over a byte stream: both ends of a transfer fold what they saw and
/// compare, so megabytes are checked without being kept.
struct HTTPChecksum: Equatable, CustomStringConvertible {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var count = 0

    var description: String { "\(count) bytes, fnv \(String(value, radix: 16))" }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes {
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
        }
        value = h
        count += bytes.count
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    mutating func update(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { update($0) }
    }

    static func of(_ bytes: [UInt8]) -> HTTPChecksum {
        var c = HTTPChecksum()
        c.update(bytes)
        return c
    }
}

/// A deterministic byte pattern for large bodies: a block of 65,521 bytes (a
/// prime, so it never lines up with buffer or chunk sizes) repeated.
enum HTTPPattern {
    static let block: [UInt8] = {
        var state: UInt32 = 0x1234_5678
        return (0..<65521).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }()

    /// The first `count` bytes of the pattern.
    static func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            out.append(contentsOf: block[0..<min(block.count, count - out.count)])
        }
        return out
    }

    /// Calls `body` with consecutive pieces (at most one block each) of the first `count` bytes.
    static func forEachPiece(_ count: Int, _ body: (ArraySlice<UInt8>) throws -> Void) rethrows {
        var sent = 0
        while sent < count {
            let n = min(block.count, count - sent)
            try body(block[0..<n])
            sent += n
        }
    }

    /// The checksum of the first `count` bytes of the pattern.
    static func checksum(_ count: Int) -> HTTPChecksum {
        var c = HTTPChecksum()
        forEachPiece(count) { c.update($0) }
        return c
    }
}

/// One HTTP header field as it appeared on the wire.
struct HTTPHeaderField: Equatable, Sendable, CustomStringConvertible {
    var name: String
    var value: String
    var description: String { "\(name): \(value)" }
}

extension Array where Element == HTTPHeaderField {
    /// Every value of the fields named `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] {
        filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The first value of the field named `name`.
    func value(_ name: String) -> String? { values(name).first }

    func has(_ name: String) -> Bool { value(name) != nil }

    /// The comma-separated tokens of every `name` field, lowercased.
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}

/// A buffered reader over a blocking socket (reads time out per the socket's
/// SO_RCVTIMEO), with no O(n²) shifting on large transfers.
struct HTTPByteReader {
    enum End: Error, Equatable, CustomStringConvertible {
        case eof, reset, timeout, error(Int32), tooLong
        var description: String {
            switch self {
            case .eof: "eof"
            case .reset: "reset"
            case .timeout: "timeout"
            case .error(let e): "error \(e)"
            case .tooLong: "line too long"
            }
        }
        var isClosed: Bool { self == .eof || self == .reset }
    }

    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes read from the socket so far.
    private(set) var received = 0

    init(fd: Int32) { self.fd = fd }

    var available: Int { buffer.count - start }
    /// Bytes handed out so far (read minus buffered).
    var consumed: Int { received - available }

    /// One read(2); throws how the stream ended if no bytes came.
    mutating func fill() throws {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                received += n
                return
            }
            if n == 0 { throw End.eof }
            switch errno {
            case EINTR: continue
            case EAGAIN: throw End.timeout
            case ECONNRESET: throw End.reset
            default: throw End.error(errno)
            }
        }
    }

    /// A line ending in LF (CR stripped), at most `limit` bytes.
    mutating func line(limit: Int = 1 << 20) throws -> String {
        // How far past `start` has been scanned (`fill` may move `start`).
        var scanned = 0
        while true {
            if let i = buffer[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = i
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = i + 1
                return text
            }
            scanned = buffer.count - start
            if scanned > limit { throw End.tooLong }
            try fill()
        }
    }

    /// Exactly `count` bytes, handed to `sink` piece by piece.
    mutating func read(_ count: Int, into sink: (ArraySlice<UInt8>) -> Void) throws {
        var left = count
        while left > 0 {
            if available == 0 { try fill() }
            let n = min(left, available)
            sink(buffer[start..<start + n])
            start += n
            left -= n
        }
    }

    /// Everything until the stream ends; returns how it ended.
    mutating func readToEnd(into sink: (ArraySlice<UInt8>) -> Void) -> End {
        while true {
            if available > 0 {
                sink(buffer[start...])
                start = buffer.count
            }
            do { try fill() } catch let end as End { return end } catch { return .error(EIO) }
        }
    }

    /// Whatever is buffered, taken out.
    mutating func takeBuffered() -> [UInt8] {
        let out = Array(buffer[start...])
        start = buffer.count
        return out
    }
}

/// Writes every byte or throws (EPIPE and friends as `Sock.Failure`).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
        let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
        if n < 0 {
            if errno == EINTR { continue }
            throw Sock.Failure(call: "send", code: errno)
        }
        offset += n
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try writeAll(fd, $0) }
}

func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws {
    try bytes.withUnsafeBytes { try writeAll(fd, $0) }
}

func writeAll(_ fd: Int32, _ text: String) throws {
    try writeAll(fd, Array(text.utf8))
}

/// A message body as read off the wire: its size and checksum always, its
/// bytes when small enough to keep.
struct HTTPBody: Sendable, CustomStringConvertible {
    static let keepLimit = 1 << 16

    var count = 0
    var checksum = HTTPChecksum()
    /// The bytes, when `count <= keepLimit` (else empty).
    var bytes: [UInt8] = []
    var chunked = false
    var trailers: [HTTPHeaderField] = []

    var text: String { String(decoding: bytes, as: UTF8.self) }
    var description: String { count <= 200 ? text : "\(checksum)" }

    mutating func append(_ piece: ArraySlice<UInt8>) {
        checksum.update(piece)
        count += piece.count
        if count <= Self.keepLimit {
            bytes.append(contentsOf: piece)
        } else if !bytes.isEmpty {
            bytes = []
        }
    }
}

/// Parses `name: value` header lines until the empty line.
func readHeaderFields(_ reader: inout HTTPByteReader, limit: Int = 1 << 20) throws -> [HTTPHeaderField] {
    var fields: [HTTPHeaderField] = []
    var total = 0
    while true {
        let line = try reader.line(limit: limit)
        if line.isEmpty { return fields }
        total += line.utf8.count
        if total > limit { throw HTTPByteReader.End.tooLong }
        guard let colon = line.firstIndex(of: ":") else {
            fields.append(HTTPHeaderField(name: line, value: ""))
            continue
        }
        fields.append(HTTPHeaderField(name: String(line[..<colon]),
                                      value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
}

struct HTTPFramingError: Error, CustomStringConvertible {
    var description: String
}

/// Reads a chunked body (and its trailers) into `body`.
func readChunkedBody(_ reader: inout HTTPByteReader, into body: inout HTTPBody) throws {
    body.chunked = true
    while true {
        let sizeLine = try reader.line(limit: 4096)
        let hex = sizeLine.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let size = Int(hex, radix: 16), size >= 0 else {
            throw HTTPFramingError(description: "bad chunk size line \(sizeLine.debugDescription)")
        }
        if size == 0 {
            body.trailers = try readHeaderFields(&reader)
            return
        }
        try reader.read(size) { body.append($0) }
        let crlf = try reader.line(limit: 16)
        guard crlf.isEmpty else { throw HTTPFramingError(description: "chunk not followed by CRLF: \(crlf.debugDescription)") }
    }
}
