import Glibc
import WeirConfig
import WeirHTTP
import WeirSystem

/// Where a rendered log-format string goes.
enum RenderTarget {
    /// Kept with the message until it is written (header values, request line).
    case edits
    /// For the current rule only (answers, backend names, replacement templates).
    case output
}

extension RuleEngine {
    /// Renders a log-format string: literals, `%[sample]` (empty when the
    /// sample does not exist) and the `%var` variables known while rules run
    /// (others render as `-`). nil when it does not fit.
    mutating func render(_ format: CompiledLogFormat, into target: RenderTarget) -> UnsafeRawBufferPointer? {
        let start = target == .edits ? edits.mark : output.mark
        for node in format.nodes {
            let mark = scratch.mark
            let fits: Bool
            switch node {
            case .literal(let bytes):
                fits = append(bytes, to: target)
            case .sample(let sample, let options):
                let value = sampleValue(sample)
                if case .integer(let n) = value, options.hex {
                    fits = appendHex(n, to: target, options: options)
                } else {
                    fits = append(bytes(of: value) ?? UnsafeRawBufferPointer(start: nil, count: 0), options: options, to: target)
                }
            case .variable(let variable, let options):
                fits = appendVariable(variable, options: options, to: target)
            }
            scratch.rewind(to: mark)
            guard fits else {
                rewind(target, to: start)
                return nil
            }
        }
        return target == .edits ? edits.bytes(since: start) : output.bytes(since: start)
    }

    private mutating func rewind(_ target: RenderTarget, to mark: Int) {
        switch target {
        case .edits: edits.rewind(to: mark)
        case .output: output.rewind(to: mark)
        }
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer, to target: RenderTarget) -> Bool {
        switch target {
        case .edits: return edits.append(bytes)
        case .output: return output.append(bytes)
        }
    }

    private mutating func append(_ byte: UInt8, to target: RenderTarget) -> Bool {
        switch target {
        case .edits: return edits.append(byte)
        case .output: return output.append(byte)
        }
    }

    /// A field with its `%{+Q}` quotes and `%{+E}` escapes.
    private mutating func append(_ bytes: UnsafeRawBufferPointer, options: LogFormatOptions, to target: RenderTarget) -> Bool {
        if options.quote && !append(UInt8(ascii: "\""), to: target) { return false }
        if options.escape {
            for byte in bytes {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "]") {
                    guard append(UInt8(ascii: "\\"), to: target) else { return false }
                }
                guard append(byte, to: target) else { return false }
            }
        } else if !append(bytes, to: target) {
            return false
        }
        return !options.quote || append(UInt8(ascii: "\""), to: target)
    }

    private mutating func appendHex(_ n: Int64, to target: RenderTarget, options: LogFormatOptions) -> Bool {
        let start = scratch.mark
        let digits: StaticString = "0123456789ABCDEF"
        var value = UInt64(bitPattern: n)
        var count = 1
        while value >> UInt64(4 * count) != 0 && count < 16 { count += 1 }
        guard let out = scratch.reserve(count) else { return false }
        for i in 0..<count {
            out.storeBytes(of: digits.utf8Start[Int(value & 15)], toByteOffset: count - 1 - i, as: UInt8.self)
            value >>= 4
        }
        return append(scratch.bytes(since: start), options: options, to: target)
    }

    private mutating func appendVariable(_ variable: LogVariable, options: LogFormatOptions, to target: RenderTarget) -> Bool {
        let value: SampleValue
        switch variable {
        case .clientIP: value = fetch(.source, valueIndex: nil)
        case .clientPort: value = fetch(.sourcePort, valueIndex: nil)
        case .frontendIP: value = fetch(.destination, valueIndex: nil)
        case .frontendPort: value = fetch(.destinationPort, valueIndex: nil)
        case .frontendName, .frontendNameTransport: value = fetch(.frontendName, valueIndex: nil)
        case .backendName: value = fetch(.backendName, valueIndex: nil)
        case .serverName: value = fetch(.serverName, valueIndex: nil)
        case .httpMethod: value = fetch(.method, valueIndex: nil)
        case .httpPath, .httpPathOnly: value = fetch(.path, valueIndex: nil)
        case .httpQuery:
            guard kind == .request else { return appendDash(options, to: target) }
            if !hasQuery { return append(UnsafeRawBufferPointer(start: nil, count: 0), options: options, to: target) }
            let start = scratch.mark
            guard scratch.append(UInt8(ascii: "?")), scratch.append(query) else { return false }
            value = .bytes(scratch.bytes(since: start))
        case .httpURI: value = fetch(.url, valueIndex: nil)
        case .httpVersion:
            guard kind == .request else { return appendDash(options, to: target) }
            let text: StaticString = versionMinor == 0 ? "HTTP/1.0" : "HTTP/1.1"
            value = .bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        case .httpRequest:
            guard kind == .request, let requestTarget = currentTarget() else { return appendDash(options, to: target) }
            let start = scratch.mark
            let version: StaticString = versionMinor == 0 ? " HTTP/1.0" : " HTTP/1.1"
            guard scratch.append(method), scratch.append(UInt8(ascii: " ")), scratch.append(requestTarget),
                  scratch.append(version) else { return false }
            value = .bytes(scratch.bytes(since: start))
        case .statusCode: value = fetch(.status, valueIndex: nil)
        case .pid: value = .integer(Int64(getpid()))
        case .timestamp: value = .integer(Clock.wallMilliseconds() / 1000)
        case .hostname:
            let start = scratch.mark
            guard let out = scratch.reserve(256) else { return false }
            guard gethostname(out.assumingMemoryBound(to: CChar.self), 255) == 0 else { return appendDash(options, to: target) }
            out.storeBytes(of: 0, toByteOffset: 255, as: UInt8.self)
            let length = strlen(out.assumingMemoryBound(to: CChar.self))
            scratch.rewind(to: start + length)
            value = .bytes(scratch.bytes(since: start))
        default:
            return appendDash(options, to: target)
        }
        if case .integer(let n) = value, options.hex { return appendHex(n, to: target, options: options) }
        guard let bytes = bytes(of: value) else { return appendDash(options, to: target) }
        return append(bytes, options: options, to: target)
    }

    private mutating func appendDash(_ options: LogFormatOptions, to target: RenderTarget) -> Bool {
        let dash: StaticString = "-"
        return append(UnsafeRawBufferPointer(start: dash.utf8Start, count: 1), options: options, to: target)
    }
}
