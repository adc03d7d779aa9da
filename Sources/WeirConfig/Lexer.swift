// Splits one configuration line into words the way HAProxy does: blanks
// separate words, `#` starts a comment, single quotes are literal, double
// quotes interpret backslash escapes and expand `${VAR}` environment
// variables, and a backslash outside quotes escapes the next character.

/// One word of a line, after quoting, escapes and expansion.
struct Word: Sendable, Hashable {
    var text: String
    /// 1-based column (in characters) where the word starts.
    var column: Int
}

/// A lexed line: its number, its raw text, and its words.
struct LexedLine: Sendable {
    var number: Int
    var text: String
    var words: [Word]
}

/// What the lexer could not accept on a line.
struct LexError: Error, Sendable {
    var column: Int
    var message: String
}

/// Values the lexer needs for `${.FILE}`, `${.LINE}` and `${.SECTION}`.
struct LexContext {
    var environment: [String: String]
    var file: String
    var section: String
}

enum Lexer {
    /// Splits `bytes` into lines (on `\n`, dropping a trailing `\r`).
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\n") {
                var end = i
                if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                result.append(bytes[start..<end])
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count {
            var end = bytes.count
            if bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            result.append(bytes[start..<end])
        }
        return result
    }

    /// Splits one line into words. Errors are reported at the column of the
    /// offending character; the first error ends the line.
    static func words(_ line: ArraySlice<UInt8>, lineNumber: Int, context: LexContext) -> Result<[Word], LexError> {
        let b = Array(line)
        var words: [Word] = []
        var i = 0
        // Columns count characters: UTF-8 continuation bytes do not advance.
        var columnAt: [Int] = []
        columnAt.reserveCapacity(b.count + 1)
        var col = 1
        for byte in b {
            columnAt.append(col)
            if byte & 0xC0 != 0x80 { col += 1 }
        }
        columnAt.append(col)

        func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }

        while i < b.count {
            while i < b.count, isBlank(b[i]) { i += 1 }
            if i >= b.count || b[i] == UInt8(ascii: "#") { break }
            let start = i
            var out: [UInt8] = []
            var ended = false
            while i < b.count, !ended {
                let c = b[i]
                if isBlank(c) { break }
                if c == UInt8(ascii: "#") { ended = true; break }
                if c == UInt8(ascii: "'") {
                    // Strong quoting: everything up to the next quote is literal.
                    var j = i + 1
                    while j < b.count, b[j] != UInt8(ascii: "'") { j += 1 }
                    if j >= b.count {
                        return .failure(LexError(column: columnAt[i], message: "unterminated single quote"))
                    }
                    out.append(contentsOf: b[(i + 1)..<j])
                    i = j + 1
                } else if c == UInt8(ascii: "\"") {
                    let quoteAt = i
                    i += 1
                    var closed = false
                    while i < b.count {
                        let d = b[i]
                        if d == UInt8(ascii: "\"") { closed = true; i += 1; break }
                        if d == UInt8(ascii: "\\") {
                            switch escape(b, at: i, inDoubleQuotes: true) {
                            case .success(let (bytes, length)):
                                out.append(contentsOf: bytes)
                                i += length
                            case .failure(let message):
                                return .failure(LexError(column: columnAt[i], message: message.text))
                            }
                        } else if d == UInt8(ascii: "$") {
                            switch expand(b, at: i, context: context, lineNumber: lineNumber) {
                            case .success(let (bytes, length)):
                                out.append(contentsOf: bytes)
                                i += length
                            case .failure(let message):
                                return .failure(LexError(column: columnAt[i], message: message.text))
                            }
                        } else {
                            out.append(d)
                            i += 1
                        }
                    }
                    if !closed {
                        return .failure(LexError(column: columnAt[quoteAt], message: "unterminated double quote"))
                    }
                } else if c == UInt8(ascii: "\\") {
                    switch escape(b, at: i, inDoubleQuotes: false) {
                    case .success(let (bytes, length)):
                        out.append(contentsOf: bytes)
                        i += length
                    case .failure(let message):
                        return .failure(LexError(column: columnAt[i], message: message.text))
                    }
                } else {
                    out.append(c)
                    i += 1
                }
            }
            words.append(Word(text: String(decoding: out, as: UTF8.self), column: columnAt[start]))
            if ended { break }
        }
        return .success(words)
    }

    /// A backslash escape at `i`: the bytes it stands for and how many input
    /// bytes it used. An escape HAProxy does not know keeps its backslash.
    private static func escape(_ b: [UInt8], at i: Int, inDoubleQuotes: Bool) -> Result<([UInt8], Int), ParseFailure> {
        guard i + 1 < b.count else { return .success(([UInt8(ascii: "\\")], 1)) }
        let n = b[i + 1]
        switch n {
        case UInt8(ascii: " "), UInt8(ascii: "#"), UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .success(([n], 2))
        case UInt8(ascii: "$") where inDoubleQuotes:
            return .success(([n], 2))
        case UInt8(ascii: "r"): return .success(([13], 2))
        case UInt8(ascii: "n"): return .success(([10], 2))
        case UInt8(ascii: "t"): return .success(([9], 2))
        case UInt8(ascii: "x"):
            guard i + 3 < b.count, let hi = Hex.value(b[i + 2]), let lo = Hex.value(b[i + 3]) else {
                let end = min(b.count, i + 4)
                let shown = String(decoding: b[i..<end], as: UTF8.self)
                return .failure(ParseFailure("invalid escape '\(shown)': expected two hex digits after '\\x'"))
            }
            return .success(([hi << 4 | lo], 4))
        default:
            return .success(([UInt8(ascii: "\\"), n], 2))
        }
    }


    private static func isNameStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_")
    }

    private static func isNameChar(_ c: UInt8) -> Bool {
        isNameStart(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    /// `text` with every `$NAME`, `${NAME}` and `${NAME-default}` replaced,
    /// as HAProxy does once more in addresses (`bind`, `server`, `log`),
    /// whatever the quoting.
    static func expandVariables(in text: String, context: LexContext, lineNumber: Int) -> Result<String, ParseFailure> {
        let b = Array(text.utf8)
        guard b.contains(UInt8(ascii: "$")) else { return .success(text) }
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            guard b[i] == UInt8(ascii: "$") else {
                out.append(b[i])
                i += 1
                continue
            }
            switch expand(b, at: i, context: context, lineNumber: lineNumber) {
            case .success(let (value, length)):
                out += value
                i += length
            case .failure(let f):
                return .failure(f)
            }
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    /// `$NAME`, `${NAME}` or `${NAME-default}` at `i`, inside double quotes.
    /// A `$` not followed by a name or a brace stays a dollar sign.
    private static func expand(_ b: [UInt8], at i: Int, context: LexContext, lineNumber: Int) -> Result<([UInt8], Int), ParseFailure> {
        var j = i + 1
        if j < b.count, b[j] == UInt8(ascii: "{") {
            j += 1
            let nameStart = j
            if j < b.count, b[j] == UInt8(ascii: ".") { j += 1 }
            while j < b.count, isNameChar(b[j]) { j += 1 }
            let name = String(decoding: b[nameStart..<j], as: UTF8.self)
            var fallback: [UInt8]?
            if j < b.count, b[j] == UInt8(ascii: "-") {
                let defStart = j + 1
                j = defStart
                while j < b.count, b[j] != UInt8(ascii: "}"), b[j] != UInt8(ascii: "\"") { j += 1 }
                fallback = Array(b[defStart..<j])
            }
            guard j < b.count, b[j] == UInt8(ascii: "}") else {
                return .failure("missing '}' after '${\(name)'")
            }
            if name.isEmpty || name == "." {
                return .failure("empty variable name in '${}'")
            }
            let value = lookup(name, context: context, lineNumber: lineNumber)
            return .success((value.map { Array($0.utf8) } ?? fallback ?? [], j + 1 - i))
        }
        guard j < b.count, isNameStart(b[j]) else { return .success(([UInt8(ascii: "$")], 1)) }
        let nameStart = j
        while j < b.count, isNameChar(b[j]) { j += 1 }
        let name = String(decoding: b[nameStart..<j], as: UTF8.self)
        let value = lookup(name, context: context, lineNumber: lineNumber)
        return .success((value.map { Array($0.utf8) } ?? [], j - i))
    }

    private static func lookup(_ name: String, context: LexContext, lineNumber: Int) -> String? {
        switch name {
        case ".FILE": return context.file
        case ".LINE": return String(lineNumber)
        case ".SECTION": return context.section
        default: return context.environment[name]
        }
    }
}
