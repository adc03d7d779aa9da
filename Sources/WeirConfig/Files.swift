// Files a configuration refers to (`acl -f`, map files, `errorfile`,
// `http-request return file`), and regular expressions checked while the
// configuration is read. Paths are relative to the current directory, as in
// HAProxy.

import Glibc

extension ParserState {
    /// The bytes of a referenced file, read once per path.
    mutating func referencedFile(_ path: String) -> Result<[UInt8], ConfigLoadError> {
        if let cached = fileCache[path] { return .success(cached) }
        do {
            let bytes = try ConfigLoader.readFile(path)
            fileCache[path] = bytes
            return .success(bytes)
        } catch {
            return .failure(error)
        }
    }

    /// The non-empty, non-comment lines of a pattern or map file, trimmed of
    /// surrounding blanks, with their 1-based line numbers and the column of
    /// their first character. The file's lines are kept for diagnostics.
    mutating func patternLines(_ path: String) -> Result<[(text: String, line: Int, column: Int)], ConfigLoadError> {
        let bytes: [UInt8]
        switch referencedFile(path) {
        case .success(let b): bytes = b
        case .failure(let e): return .failure(e)
        }
        let raw = Lexer.lines(bytes)
        if sources[path] == nil { sources[path] = raw.map { String(decoding: $0, as: UTF8.self) } }
        var out: [(String, Int, Int)] = []
        for (index, line) in raw.enumerated() {
            var start = line.startIndex
            var end = line.endIndex
            while start < end, line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t") { start += 1 }
            while end > start, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            if start == end || line[start] == UInt8(ascii: "#") { continue }
            let column = String(decoding: line[line.startIndex..<start], as: UTF8.self).count + 1
            out.append((String(decoding: line[start..<end], as: UTF8.self), index + 1, column))
        }
        return .success(out)
    }
}

enum Regex {
    /// nil when `pattern` is a valid POSIX extended regular expression;
    /// otherwise the C library's description of what is wrong.
    static func check(_ pattern: String, ignoreCase: Bool = false) -> String? {
        var re = regex_t()
        let flags = REG_EXTENDED | REG_NOSUB | (ignoreCase ? REG_ICASE : 0)
        let rc = regcomp(&re, pattern, flags)
        if rc == 0 {
            regfree(&re)
            return nil
        }
        var buffer = [CChar](repeating: 0, count: 256)
        regerror(rc, &re, &buffer, buffer.count)
        let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return message
    }
}
