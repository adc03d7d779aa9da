import Glibc
import Testing
@testable import WeirConfig

/// Timeouts that keep the "missing timeouts" warning out of tests that are not about it.
let timeoutDefaults = """
    defaults
        timeout connect 5s
        timeout client 30s
        timeout server 30s

    """

func parse(_ text: String, environment: [String: String] = [:], file: String = "t.cfg") -> ParseResult {
    ConfigParser.parse([ConfigFile(name: file, bytes: Array(text.utf8))], environment: environment)
}

/// Parses and requires a configuration (no error).
func config(_ text: String, environment: [String: String] = [:],
            sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Configuration? {
    let result = parse(text, environment: environment)
    #expect(!result.hasErrors, "unexpected errors: \(result.diagnostics.map { $0.rendered() })",
            sourceLocation: sourceLocation)
    return result.configuration
}

/// The first line of each diagnostic of `severity`: `file:line:col: severity: message`.
func messages(_ result: ParseResult, _ severity: Diagnostic.Severity = .error) -> [String] {
    result.diagnostics.filter { $0.severity == severity }.map {
        String($0.rendered().split(separator: "\n", omittingEmptySubsequences: false)[0])
    }
}

func errors(_ text: String, environment: [String: String] = [:]) -> [String] {
    messages(parse(text, environment: environment), .error)
}

func warnings(_ text: String, environment: [String: String] = [:]) -> [String] {
    messages(parse(text, environment: environment), .warning)
}

/// The words of one line, or the lexer's error as `col: message`.
func lex(_ line: String, environment: [String: String] = [:]) -> Result<[String], LexError> {
    let context = LexContext(environment: environment, file: "t.cfg", section: "global")
    return Lexer.words(ArraySlice(Array(line.utf8)), lineNumber: 1, context: context).map { $0.map(\.text) }
}

func words(_ line: String, environment: [String: String] = [:]) -> [String]? {
    try? lex(line, environment: environment).get()
}

func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress { IPAddress(bytes: [a, b, c, d]) }

/// A `defaults` section in mode http with every timeout set, 5 lines long:
/// a proxy section that follows starts on line 6.
let httpDefaults = """
    defaults
        mode http
        timeout connect 5s
        timeout client 30s
        timeout server 30s

    """

/// Writes `text` to a new temporary file and returns its path.
func temporaryFile(_ text: String) -> String {
    var template = Array("/tmp/weir-config-test-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    precondition(fd >= 0, "mkstemp failed")
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        precondition(n > 0, "write failed")
        written += n
    }
    close(fd)
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// The literal text of a LogFormat made of literals only.
func literalText(_ format: LogFormat?) -> String? {
    format?.literal.map { String(decoding: $0, as: UTF8.self) }
}

/// A name `/etc/hosts` gives 127.0.0.1, other than `localhost` (which Weir
/// knows without asking) when there is one: what a test resolves.
func loopbackHostName() -> String {
    let fd = open("/etc/hosts", O_RDONLY)
    guard fd >= 0 else { return "localhost" }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 65536)
    let n = read(fd, &bytes, bytes.count)
    for line in String(decoding: bytes[0..<max(n, 0)], as: UTF8.self).split(separator: "\n") {
        let fields = line.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.first == "127.0.0.1", let name = fields.dropFirst().first(where: { $0 != "localhost" }) {
            return String(name)
        }
    }
    return "localhost"
}
