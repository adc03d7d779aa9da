/// One configuration file's name (as given, for diagnostics) and bytes.
public struct ConfigFile: Sendable, Hashable {
    public var name: String
    public var bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// What parsing produced: a configuration when there was no error, and every
/// diagnostic found in one run.
public struct ParseResult: Sendable {
    public var configuration: Configuration?
    public var diagnostics: [Diagnostic]

    public init(configuration: Configuration?, diagnostics: [Diagnostic]) {
        self.configuration = configuration
        self.diagnostics = diagnostics
    }

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error || $0.severity == .alert } }
}

public enum ConfigParser {
    /// The version as a marker string kept whole in the binary's data
    /// (longer than a small string), so the version a binary reports can be
    /// read off the file, and a test can produce "another build" by patching it.
    public static let versionMarker = "WEIR_VERSION=0.1.0"

    /// Weir's version, compared by `version_atleast`/`version_before`.
    public static let version = String(versionMarker.dropFirst("WEIR_VERSION=".count))

    /// Parses the files in order, as one configuration.
    public static func parse(_ files: [ConfigFile], environment: [String: String]) -> ParseResult {
        var state = ParserState(environment: environment)
        for file in files { state.read(file) }
        let configuration = state.build()
        let result = ParseResult(configuration: nil, diagnostics: state.diagnostics)
        if result.hasErrors { return result }
        return ParseResult(configuration: configuration, diagnostics: state.diagnostics)
    }
}
