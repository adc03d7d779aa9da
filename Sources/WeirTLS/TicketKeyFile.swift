import Glibc

/// The keys of a `tls-ticket-keys FILE`, as HAProxy reads them: one
/// base64-encoded key per line, 48 bytes (a 16-byte name, an AES-128 key, an
/// HMAC-SHA-256 key of 16 bytes) or 80 bytes (the same with 32-byte keys),
/// all of one size; at least three. The last three lines are the live keys:
/// the next to last encrypts, all three decrypt, so a key appended to the
/// file (then a reload) is known everywhere before anyone encrypts with it.
public struct TicketKeyFile: Sendable, Equatable {
    /// 48 or 80.
    public let keySize: Int
    /// The last three keys, in file order: the middle one encrypts.
    public let keys: [UInt8]

    public static let liveKeys = 3
    /// Which of `keys` encrypts.
    public static let encryptionIndex = 1

    /// `set ssl tls-key`: `key` after the live keys, the oldest dropped, so
    /// the key that was next now encrypts and `key` is the next; nil when
    /// `key` is not of the file's size.
    public func adding(_ key: [UInt8]) -> TicketKeyFile? {
        guard key.count == keySize else { return nil }
        return TicketKeyFile(keySize: keySize, keys: Array(keys.dropFirst(keySize)) + key)
    }

    /// Parses the file's bytes; the message says what is wrong and on which line.
    public static func parse(_ bytes: [UInt8], path: String) -> Result<TicketKeyFile, TicketKeyFileError> {
        var decoded: [[UInt8]] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var text = line[...]
            while let last = text.last, last == UInt8(ascii: "\r") || last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
                text = text.dropLast()
            }
            if text.isEmpty { continue }
            guard let key = Base64.decode(text) else {
                return .failure(TicketKeyFileError("tls-ticket-keys '\(path)' line \(lineNumber): not a base64-encoded key"))
            }
            guard key.count == 48 || key.count == 80 else {
                return .failure(TicketKeyFileError(
                    "tls-ticket-keys '\(path)' line \(lineNumber): a key is 48 or 80 bytes, this one is \(key.count)"))
            }
            if let first = decoded.first, first.count != key.count {
                return .failure(TicketKeyFileError(
                    "tls-ticket-keys '\(path)' line \(lineNumber): a \(key.count)-byte key after \(first.count)-byte ones"))
            }
            decoded.append(key)
        }
        guard decoded.count >= liveKeys else {
            return .failure(TicketKeyFileError(
                "tls-ticket-keys '\(path)' holds \(decoded.count) key\(decoded.count == 1 ? "" : "s"); at least \(liveKeys) are needed"))
        }
        return .success(TicketKeyFile(keySize: decoded[0].count, keys: Array(decoded.suffix(liveKeys).joined())))
    }

    /// Reads and parses `path`.
    public static func load(_ path: String) -> Result<TicketKeyFile, TicketKeyFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return .failure(TicketKeyFileError("cannot read tls-ticket-keys '\(path)': \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes += chunk[0..<n]
                // A key file holds a handful of lines; refuse to read a huge file.
                if bytes.count > 1 << 20 {
                    return .failure(TicketKeyFileError("tls-ticket-keys '\(path)' is larger than 1 MiB: not a key file"))
                }
                continue
            }
            if n == 0 { break }
            if errno == EINTR { continue }
            return .failure(TicketKeyFileError("cannot read tls-ticket-keys '\(path)': \(String(cString: strerror(errno)))"))
        }
        return parse(bytes, path: path)
    }
}

public struct TicketKeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Strict base64 (RFC 4648, with padding), as `openssl base64` writes it.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var triple = UInt32(bytes[index]) << 16
            if count > 1 { triple |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { triple |= UInt32(bytes[index + 2]) }
            for place in 0..<4 {
                out.append(place <= count ? alphabet[Int(triple >> UInt32(18 - 6 * place) & 63)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var quad: UInt32 = 0
        var filled = 0
        var padding = 0
        for (index, c) in text.enumerated() {
            let value: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                // Padding: only in the last two places of the text.
                guard index >= text.count - 2 else { return nil }
                padding += 1
                value = 0
            default: return nil
            }
            if padding > 0 && c != UInt8(ascii: "=") { return nil }
            quad = quad << 6 | value
            filled += 1
            if filled == 4 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                out.append(UInt8(truncatingIfNeeded: quad >> 8))
                out.append(UInt8(truncatingIfNeeded: quad))
                quad = 0
                filled = 0
            }
        }
        out.removeLast(padding)
        return out
    }
}
