import Testing
@testable import WeirConfig

/// Keeps man/weir.cfg.5 true to the parser: every example block (`.EX` ...
/// `.EE`) that is a configuration, and the shipped default configurations,
/// must parse.
///
/// Conventions:
/// * A block is a configuration example when its first non-empty line
///   starts with a section keyword (`global`, `defaults`, `frontend`,
///   `backend`, `listen`, `userlist`, `http-errors`, `resolvers`). Other blocks (the
///   "May be used in sections" tables, log lines, shell commands, crt-list
///   lines, fragments such as `.if` blocks) are not checked.
/// * A configuration example may stand alone without what it refers to:
///   errors about missing files (certificates, CA, error pages, programs, ACL
///   lists), sections it names but does not show (`use_backend api`,
///   `http_auth(admins)`, `resolvers dns`) and a frontend without `bind` are tolerated, and
///   so are the warnings that such a short example gets (missing timeouts,
///   no backend, `daemon`). Any other error or warning fails the test: an
///   example must not use a keyword that does not exist, nor one that the
///   parser would ignore (such as `http-request` rules without `mode http`).
/// * A configuration example that is intentionally wrong or partial is
///   skipped when the line just before its `.EX` is the roff comment
///   `.\" example: not a configuration`.
@Suite struct ManPageExampleTests {
    static let repository: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/WeirConfigTests/ManPageExampleTests.swift
        return parts.joined(separator: "/")
    }()

    static let sectionKeywords: Set<String> = [
        "global", "defaults", "frontend", "backend", "listen", "userlist", "http-errors", "resolvers",
    ]
    static let skipMarker = #".\" example: not a configuration"#

    static let toleratedErrors = [
        "cannot read", "cannot open", "cannot load", "no backend named", "no userlist named", "unable to find resolvers",
        "has no 'bind' line", "is not an executable file",
    ]
    static let toleratedWarnings = [
        "missing timeouts for", "it will reject every connection", "'daemon' is parsed but not applied",
    ]

    struct Example {
        var line: Int
        var text: String
    }

    /// Removes the roff escapes the examples use.
    static func plain(_ line: Substring) -> String {
        var s = String(line)
        for (escape, text) in [("\\-", "-"), ("\\&", ""), ("\\(aq", "'"), ("\\(dq", "\""), ("\\fB", ""),
                               ("\\fI", ""), ("\\fR", ""), ("\\fP", ""), ("\\e", "\\")] {
            s = s.replacing(escape, with: text)
        }
        return s
    }

    static func examples(in page: String) -> [Example] {
        var result: [Example] = []
        var block: [String]? = nil
        var start = 0
        var skip = false
        var previous: Substring = ""
        for (index, line) in page.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix(".EX") {
                block = []
                start = index + 1
                skip = previous.hasPrefix(skipMarker)
            } else if line.hasPrefix(".EE"), let lines = block {
                block = nil
                let first = lines.first { !$0.allSatisfy { $0 == " " } } ?? ""
                let keyword = first.split(separator: " ").first.map(String.init) ?? ""
                if !skip && sectionKeywords.contains(keyword) {
                    result.append(Example(line: start, text: lines.joined(separator: "\n") + "\n"))
                }
            } else if block != nil {
                block!.append(plain(line))
            }
            previous = line
        }
        return result
    }

    static func read(_ relativePath: String) throws -> String {
        String(decoding: try ConfigLoader.readFile(repository + "/" + relativePath), as: UTF8.self)
    }

    /// The errors and warnings that are not tolerated.
    static func problems(_ text: String, file: String) -> [String] {
        let result = ConfigParser.parse([ConfigFile(name: file, bytes: Array(text.utf8))], environment: [:])
        return messages(result, .error).filter { m in !toleratedErrors.contains { m.contains($0) } }
            + messages(result, .warning).filter { m in !toleratedWarnings.contains { m.contains($0) } }
    }

    @Test func everyConfigurationExampleParses() throws {
        let examples = Self.examples(in: try Self.read("man/weir.cfg.5"))
        // Guards the extraction itself: the page has many such examples.
        #expect(examples.count > 50)
        for example in examples {
            let problems = Self.problems(example.text, file: "weir.cfg.5 example at line \(example.line)")
            #expect(problems.isEmpty, "\(problems)\n\(example.text)")
        }
    }

    @Test func theExtractionFollowsTheConventions() {
        let page = """
            .EX
            May be used in sections :   defaults | frontend
            .EE
            .IP
            .EX
            backend app
                http\\-request set\\-header X\\-A \\(aqb\\(aq
            .EE
            .\\" example: not a configuration
            .EX
            frontend bad
            .EE
            """
        let found = Self.examples(in: page)
        #expect(found.map(\.line) == [5])  // the line of its .EX
        #expect(found.first?.text == "backend app\n    http-request set-header X-A 'b'\n")
    }

    @Test("the default configurations parse without errors or warnings",
          arguments: ["etc/weir.cfg", "packaging/debian/conf/weir.cfg"])
    func defaultConfigurationParses(path: String) throws {
        let result = ConfigParser.parse([ConfigFile(name: path, bytes: Array(try Self.read(path).utf8))],
                                        environment: [:])
        #expect(messages(result, .error) == [])
        #expect(messages(result, .warning) == [])
    }
}
