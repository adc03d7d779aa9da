// `bind … crt-list FILE`: one certificate per line, with its own TLS options
// and the SNI names it serves, as HAProxy reads it:
//
//     # comment
//     /etc/certs/site.pem
//     /etc/certs/api.pem [alpn http/1.1 ssl-min-ver TLSv1.3] api.example.com
//     /etc/certs/wild.pem *.example.com !secure.example.com
//
// The splitting of a line (`CrtList.parse`) is pure; the bind parser reads
// the file, resolves the paths against `crt-base` and checks the options
// with `BindTLSOptions`, the same code the bind line's options go through.

/// The lines of a crt-list file.
public enum CrtList {
    public struct Line: Sendable, Hashable {
        /// 1-based line number in the file.
        public var number: Int
        /// The certificate path as written.
        public var path: String
        /// The words between `[` and `]`.
        public var options: [String]
        /// The SNI filters after the options.
        public var filters: [String]
    }

    public struct Problem: Sendable, Hashable {
        public var line: Int
        public var message: String
    }

    /// The certificate lines of `bytes`; blank lines and lines whose first
    /// non-blank character is `#` are skipped. A line in error is left out
    /// and reported; a line with filters before its `[…]` options is kept
    /// with a warning (HAProxy's order is path, options, filters).
    public static func parse(_ bytes: [UInt8]) -> (lines: [Line], errors: [Problem], warnings: [Problem]) {
        var lines: [Line] = []
        var errors: [Problem] = []
        var warnings: [Problem] = []
        for (index, raw) in Lexer.lines(bytes).enumerated() {
            let number = index + 1
            var words: [String] = []
            var current: [UInt8] = []
            var open: Int?  // index in `words` where the options start
            var close: Int?
            var problem: String?
            func flush() {
                if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
                current.removeAll()
            }
            for byte in raw {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    flush()
                case UInt8(ascii: "["):
                    flush()
                    if open != nil { problem = problem ?? "too many '['" }
                    if words.isEmpty { problem = problem ?? "a line must start with a certificate path, not '['" }
                    open = words.count
                case UInt8(ascii: "]"):
                    flush()
                    if close != nil { problem = problem ?? "too many ']'" }
                    if open == nil { problem = problem ?? "']' without '['" }
                    close = words.count
                default:
                    current.append(byte)
                }
            }
            flush()
            if words.isEmpty && open == nil && close == nil { continue }
            if let first = words.first, first.hasPrefix("#") { continue }
            if open != nil && close == nil { problem = problem ?? "missing ']'" }
            if let problem {
                errors.append(Problem(line: number, message: problem))
                continue
            }
            var options: [String] = []
            var filters = Array(words.dropFirst())
            if let open, let close {
                options = Array(words[open..<close])
                filters = Array(words[1..<open]) + Array(words[close...])
                if open > 1 {
                    warnings.append(Problem(line: number,
                                            message: "SNI filters before the bracketed options; write them after the options"))
                }
            }
            lines.append(Line(number: number, path: words[0], options: options, filters: filters))
        }
        return (lines, errors, warnings)
    }
}

/// The TLS options a bind line and a crt-list line share, parsed the same way.
enum BindTLSOptions {
    /// Options that take one value.
    static let valueKeywords: [String] = ["alpn", "ciphers", "ciphersuites", "curves", "sigalgs", "ssl-min-ver", "ssl-max-ver"]

    /// HAProxy's crt-list options that Weir does not take there (yet).
    static let crtListUnsupported: Set<String> = [
        "ca-verify-file", "ecdhe", "npn", "no-alpn", "no-ca-names", "allow-0rtt",
        "client-sigalgs", "ocsp-update",
    ]

    /// The client certificate options a crt-list line takes.
    static let verifyKeywords: [String] = ["verify", "ca-file", "crl-file"]

    /// Sets `keyword` (one of `valueKeywords`) to `value` in `options`;
    /// returns what is wrong with the value, if anything.
    static func set(_ keyword: String, _ value: String, in options: inout BindTLS.Options) -> String? {
        switch keyword {
        case "alpn":
            let list = value.split(separator: ",").map(String.init)
            if list.isEmpty || list.contains(where: { $0.utf8.count > 255 }) {
                return "'alpn' expects a comma-separated list of protocol names like 'h2,http/1.1'"
            }
            options.alpn = list
        case "ssl-min-ver", "ssl-max-ver":
            guard let version = BindTLS.Version(rawValue: value) else {
                return "'\(keyword)' expects TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, got '\(value)'"
            }
            if keyword == "ssl-min-ver" { options.minVersion = version } else { options.maxVersion = version }
        case "curves", "sigalgs":
            // OpenSSL judges the names when the contexts are built; only the shape is checked here.
            if value.isEmpty || value.hasPrefix(":") || value.hasSuffix(":") || value.contains("::") {
                return "'\(keyword)' expects a colon-separated list like "
                    + (keyword == "curves" ? "'X25519:P-256'" : "'ECDSA+SHA256:RSA-PSS+SHA256'")
            }
            if keyword == "curves" { options.curves = value } else { options.sigalgs = value }
        case "ciphers": options.ciphers = value
        default: options.ciphersuites = value
        }
        return nil
    }

    /// The error when `min` is above `max`, nil otherwise.
    static func checkVersions(_ min: BindTLS.Version?, _ max: BindTLS.Version?) -> String? {
        guard let min, let max,
              BindTLS.Version.allCases.firstIndex(of: min)! > BindTLS.Version.allCases.firstIndex(of: max)! else { return nil }
        return "'ssl-min-ver \(min.rawValue)' is above 'ssl-max-ver \(max.rawValue)'"
    }
}

extension ParserState {
    /// `crt-list FILE`: the certificates of its lines, in order, each with
    /// its options and filters; problems are reported at `word` (the
    /// argument), their messages starting with `FILE:LINE:`.
    mutating func crtListCertificates(_ word: Word) -> [BindTLS.Certificate] {
        let listPath = word.text
        let at = location(word)
        let bytes: [UInt8]
        switch referencedFile(listPath) {
        case .success(let b): bytes = b
        case .failure(let e):
            report(.error, "bind: crt-list: \(e)", at: at)
            return []
        }
        let parsed = CrtList.parse(bytes)
        // Reported in line order once all lines are read.
        var problems = parsed.errors.map { (line: $0.line, severity: Diagnostic.Severity.error, message: $0.message) }
            + parsed.warnings.map { (line: $0.line, severity: Diagnostic.Severity.warning, message: $0.message) }
        defer {
            for problem in problems.sorted(by: { $0.line < $1.line }) {
                report(problem.severity, "\(listPath):\(problem.line): \(problem.message)", at: at)
            }
        }
        var certificates: [BindTLS.Certificate] = []
        lines: for line in parsed.lines {
            func fail(_ message: String) { problems.append((line.number, .error, message)) }
            var options = BindTLS.Options()
            var i = 0
            while i < line.options.count {
                let keyword = line.options[i]
                if BindTLSOptions.crtListUnsupported.contains(keyword) {
                    fail("'\(keyword)' in a crt-list is not supported by Weir yet")
                    continue lines
                }
                let known = BindTLSOptions.valueKeywords + BindTLSOptions.verifyKeywords
                guard known.contains(keyword) else {
                    fail("unknown crt-list option '\(keyword)'" + Keywords.didYouMean(keyword, among: known))
                    continue lines
                }
                guard i + 1 < line.options.count else {
                    fail("'\(keyword)' expects a value inside the brackets")
                    continue lines
                }
                if BindTLSOptions.verifyKeywords.contains(keyword) {
                    if let problem = setVerification(keyword, line.options[i + 1], at: at, in: &options) {
                        fail(problem)
                        continue lines
                    }
                } else if let problem = BindTLSOptions.set(keyword, line.options[i + 1], in: &options) {
                    fail(problem)
                    continue lines
                }
                i += 2
            }
            if let problem = BindTLSOptions.checkVersions(options.minVersion, options.maxVersion) {
                fail(problem)
                continue
            }
            for filter in line.filters where filter == "!" || filter == "*" || filter.hasPrefix("**") {
                fail("'\(filter)' is not an SNI filter: expected a name, '*.domain' or '!name'")
                continue lines
            }
            certificates.append(BindTLS.Certificate(path: certificatePath(line.path), location: at,
                                                    origin: "\(listPath):\(line.number)",
                                                    sniFilters: line.filters.map { $0.lowercased() }, options: options))
        }
        if certificates.isEmpty && problems.isEmpty {
            report(.error, "bind: crt-list '\(listPath)' names no certificate", at: at)
        }
        return certificates
    }

    /// `verify`, `ca-file` or `crl-file` of a crt-list line (a file relative
    /// to `ca-base`, as on the bind line); what is wrong with it, if anything.
    func setVerification(_ keyword: String, _ value: String, at: SourceLocation,
                         in options: inout BindTLS.Options) -> String? {
        guard keyword != "verify" else {
            guard let mode = BindTLS.Verify(rawValue: value) else {
                return "'verify' expects none, optional or required, got '\(value)'"
                    + Keywords.didYouMean(value, among: BindTLS.Verify.allCases.map(\.rawValue))
            }
            options.verify = mode
            return nil
        }
        var path = value
        if let base = global.caBase, !path.hasPrefix("/") {
            path = base.hasSuffix("/") ? base + path : base + "/" + path
        }
        let file = BindTLS.File(path: path, location: at)
        if keyword == "ca-file" { options.caFile = file } else { options.crlFile = file }
        return nil
    }

    /// A `crt` path or a crt-list line's path, relative to `crt-base` unless absolute.
    func certificatePath(_ path: String) -> String {
        guard let base = global.certificateBase, !path.hasPrefix("/") else { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }
}
