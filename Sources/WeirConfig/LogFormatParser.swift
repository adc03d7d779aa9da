// HAProxy's log-format strings: literal text, `%%`, `%var`, `%{+Q}var`,
// `%[sample]`, `%{+Q}[sample]` and `%{+Q}o` (options for every later field).
// The same syntax is used by `log-format`, `unique-id-format`, `lf-string`,
// header values of rules, and dynamic `use_backend` names.

extension LogFormat {
    /// HAProxy's `option tcplog` format.
    static let tcplogText = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
    /// HAProxy's `option httplog` format.
    static let httplogText = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
    /// HAProxy's `option httplog clf` format.
    static let httplogCLFText = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"

    public static let tcplog = LogFormatSyntax.builtIn(tcplogText)
    public static let httplog = LogFormatSyntax.builtIn(httplogText)
    public static let httplogCLF = LogFormatSyntax.builtIn(httplogCLFText)
}

enum LogFormatSyntax {
    /// Parses a format made only of variables (no sample), for the built-in formats.
    static func builtIn(_ text: String) -> LogFormat {
        var state = ParserState(environment: [:])
        let format = state.parseLogFormat(Array(text), maximumSource: .response, context: "")
        precondition(state.diagnostics.isEmpty, "built-in log format does not parse: \(text)")
        return (try? format.get()) ?? LogFormat(nodes: [])
    }
}

extension ParserState {
    /// Parses `word` as a log-format string; errors are reported at the
    /// offending character when the word is written unquoted.
    /// `maximumSource` is the latest data the place can see (a value set in
    /// an `http-request` rule cannot use the response).
    mutating func logFormat(_ word: Word, context: String, maximumSource: FetchSource = .response) -> LogFormat? {
        currentReferenceLocation = location(word)
        defer { currentReferenceLocation = nil }
        switch parseLogFormat(Array(word.text), maximumSource: maximumSource, context: context) {
        case .success(let f): return f
        case .failure(let e):
            if let message = e.message {
                report(.error, "\(context): \(message)", at: location(word, offset: e.offset))
            }
            return nil
        }
    }

    mutating func parseLogFormat(_ chars: [Character], maximumSource: FetchSource,
                                 context: String) -> Result<LogFormat, SampleError> {
        var nodes: [LogFormatNode] = []
        var literal: [UInt8] = []
        var defaults = LogFormatOptions.none
        func flush() {
            if !literal.isEmpty {
                nodes.append(.literal(literal))
                literal = []
            }
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "%" else {
                literal += Array(String(c).utf8)
                i += 1
                continue
            }
            if i + 1 < chars.count, chars[i + 1] == "%" {
                literal.append(UInt8(ascii: "%"))
                i += 2
                continue
            }
            let start = i
            i += 1
            var options = defaults
            if i < chars.count, chars[i] == "{" {
                guard let close = chars[i...].firstIndex(of: "}") else {
                    return .failure(SampleError(offset: i, message: "missing '}' after '%{'"))
                }
                let list = String(chars[(i + 1)..<close])
                for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let sign = item.first, sign == "+" || sign == "-" else {
                        return .failure(SampleError(offset: i + 1, message: "expected options like +Q or -Q in '%{\(list)}'"))
                    }
                    let on = sign == "+"
                    switch item.dropFirst() {
                    case "Q": options.quote = on
                    case "X": options.hex = on
                    case "E": options.escape = on
                    case "json", "cbor", "bin":
                        return .failure(SampleError(offset: i + 1, message: "log-format option '\(item.dropFirst())' is not supported by Weir yet"))
                    default:
                        return .failure(SampleError(offset: i + 1, message: "unknown log-format option '\(item)'; expected +Q, +X or +E (or - to turn one off)"))
                    }
                }
                i = close + 1
            }
            guard i < chars.count else {
                return .failure(SampleError(offset: start, message: "'%' must be followed by a variable or '[…]'; write '%%' for a percent sign"))
            }
            if chars[i] == "[" {
                guard let close = Self.closingBracket(chars, from: i) else {
                    return .failure(SampleError(offset: i, message: "missing ']' after '%['"))
                }
                let expression = Array(chars[(i + 1)..<close])
                switch parseSample(expression, acl: false, context: context) {
                case .success(let parsed):
                    if parsed.source > maximumSource {
                        return .failure(SampleError(offset: i + 1, message: Self.unavailable(parsed, maximumSource)))
                    }
                    flush()
                    nodes.append(.sample(parsed.sample, options))
                case .failure(let e):
                    return .failure(SampleError(offset: i + 1 + e.offset, message: e.message))
                }
                i = close + 1
                continue
            }
            if chars[i] == "(" {
                return .failure(SampleError(offset: start, message: "named log-format fields '%(name)' are not supported by Weir yet"))
            }
            var end = i
            while end < chars.count, chars[end].isASCII, chars[end].isLetter { end += 1 }
            let name = String(chars[i..<end])
            if name.isEmpty {
                return .failure(SampleError(offset: start, message: "'%' must be followed by a variable or '[…]'; write '%%' for a percent sign"))
            }
            if name == "o" {
                // `%o` only sets options; the separator after it is not output.
                defaults = options
                if end < chars.count, chars[end] == " " { end += 1 }
            } else if let variable = LogVariable(rawValue: name) {
                flush()
                nodes.append(.variable(variable, options))
            } else {
                let names = LogVariable.allCases.map(\.rawValue)
                let hint = Keywords.suggestion(for: name, among: names).map { "; did you mean '%\($0)'?" } ?? ""
                return .failure(SampleError(offset: start, message: "unknown log-format variable '%\(name)'\(hint)"))
            }
            i = end
        }
        flush()
        return .success(LogFormat(nodes: nodes))
    }

    /// The `]` that ends `%[` at `start`, skipping quoted text and brackets inside parentheses.
    private static func closingBracket(_ chars: [Character], from start: Int) -> Int? {
        var depth = 0
        var quote: Character?
        var i = start + 1
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == "\\", q == "\"" { i += 2; continue }
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "\\" {
                i += 2
                continue
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth = max(0, depth - 1)
            } else if c == "]", depth == 0 {
                return i
            }
            i += 1
        }
        return nil
    }

    static func unavailable(_ parsed: ParsedSample, _ maximum: FetchSource) -> String {
        let needs = parsed.source.needs
        let here = maximum == .connection ? "when the connection is accepted"
            : maximum == .content ? "to mode tcp content rules"
            : parsed.source == .serverConnection ? "before a server is connected" : "before the response arrives"
        return "this sample needs \(needs), which is not available \(here)"
    }
}
