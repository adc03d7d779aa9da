/// A message about the configuration, with where it applies.
public struct Diagnostic: Sendable, Hashable {
    public enum Severity: String, Sendable, Hashable {
        case error, warning, notice, diag, alert
    }

    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// The offending line's text, shown under the message with a caret.
    public var sourceLine: String?

    public init(severity: Severity, location: SourceLocation?, message: String, sourceLine: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// `file:line:col: error: message`, then the line and a caret under the column.
    public func rendered() -> String {
        var out = ""
        if let location { out += "\(location): " }
        out += "\(severity.rawValue): \(message)"
        if let sourceLine, let location {
            out += "\n" + sourceLine + "\n"
            // Keep tabs so the caret lines up under the column in a terminal.
            var pad = ""
            for (i, ch) in sourceLine.enumerated() where i < location.column - 1 {
                pad.append(ch == "\t" ? "\t" : " ")
            }
            out += pad + "^"
        }
        return out
    }
}
