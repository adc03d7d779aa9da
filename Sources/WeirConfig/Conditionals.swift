// Conditional blocks: `.if`, `.elif`, `.else`, `.endif`, and the condition
// language they use (predicates, plain words, `!`, `&&`, `||`, parentheses).

/// One open `.if` block.
struct ConditionFrame {
    var location: SourceLocation
    /// Whether the enclosing blocks are all active.
    var parentActive: Bool
    /// Whether the current branch's lines are read.
    var active: Bool
    /// Whether some branch of this block was already chosen.
    var taken: Bool
    var sawElse = false
}

/// Evaluates a `.if` condition against the environment and Weir's version.
struct ConditionEvaluator {
    var environment: [String: String]
    var version: String

    struct Failure: Error { var message: String }

    private var chars: [Character] = []
    private var pos = 0

    init(environment: [String: String], version: String) {
        self.environment = environment
        self.version = version
    }

    /// Evaluates the condition written as `words` (already unquoted).
    mutating func evaluate(_ words: [String]) -> Result<Bool, Failure> {
        chars = Array(words.joined(separator: " "))
        pos = 0
        skipBlanks()
        if pos >= chars.count { return .success(false) }
        do {
            let value = try orExpression()
            skipBlanks()
            if pos < chars.count {
                throw Failure(message: "unexpected '\(String(chars[pos...]))' in condition")
            }
            return .success(value)
        } catch let f as Failure {
            return .failure(f)
        } catch {
            return .failure(Failure(message: "invalid condition"))
        }
    }

    private mutating func skipBlanks() {
        while pos < chars.count, chars[pos] == " " || chars[pos] == "\t" { pos += 1 }
    }

    private mutating func consume(_ token: String) -> Bool {
        skipBlanks()
        let t = Array(token)
        guard pos + t.count <= chars.count, Array(chars[pos..<(pos + t.count)]) == t else { return false }
        pos += t.count
        return true
    }

    private mutating func orExpression() throws -> Bool {
        var value = try andExpression()
        while consume("||") {
            let rhs = try andExpression()
            value = value || rhs
        }
        return value
    }

    private mutating func andExpression() throws -> Bool {
        var value = try unary()
        while consume("&&") {
            let rhs = try unary()
            value = value && rhs
        }
        return value
    }

    private mutating func unary() throws -> Bool {
        if consume("!") { return try !unary() }
        if consume("(") {
            let value = try orExpression()
            guard consume(")") else { throw Failure(message: "missing ')' in condition") }
            return value
        }
        return try term()
    }

    private static let stopCharacters: Set<Character> = [" ", "\t", "(", ")", "!", "&", "|"]

    private mutating func term() throws -> Bool {
        skipBlanks()
        let start = pos
        while pos < chars.count, !Self.stopCharacters.contains(chars[pos]) { pos += 1 }
        let name = String(chars[start..<pos])
        if pos < chars.count, chars[pos] == "(" {
            pos += 1
            let args = try arguments()
            return try predicate(name, args)
        }
        if name.isEmpty {
            if pos < chars.count { throw Failure(message: "unexpected '\(chars[pos])' in condition") }
            throw Failure(message: "missing term after operator in condition")
        }
        if let n = Units.integer(name) { return n != 0 }
        return true
    }

    /// Comma-separated arguments up to the matching `)`.
    private mutating func arguments() throws -> [String] {
        var args: [String] = []
        var current = ""
        var depth = 0
        while pos < chars.count {
            let c = chars[pos]
            pos += 1
            if c == "(" { depth += 1 }
            if c == ")" {
                if depth == 0 {
                    args.append(trimmed(current))
                    return args
                }
                depth -= 1
            }
            if c == ",", depth == 0 {
                args.append(trimmed(current))
                current = ""
            } else {
                current.append(c)
            }
        }
        throw Failure(message: "missing ')' in condition")
    }

    private func trimmed(_ s: String) -> String {
        var sub = Substring(s)
        while let f = sub.first, f == " " || f == "\t" { sub = sub.dropFirst() }
        while let l = sub.last, l == " " || l == "\t" { sub = sub.dropLast() }
        return String(sub)
    }

    private func predicate(_ name: String, _ args: [String]) throws -> Bool {
        func expect(_ n: Int) throws {
            let given = args.count == 1 && args[0].isEmpty ? 0 : args.count
            if given != n {
                throw Failure(message: "'\(name)' expects \(n) argument\(n == 1 ? "" : "s"), got \(given)")
            }
        }
        switch name {
        case "defined":
            try expect(1)
            return environment[args[0]] != nil
        case "feature":
            try expect(1)
            // Weir lists no optional build features yet.
            return false
        case "streq":
            try expect(2)
            return args[0] == args[1]
        case "strneq":
            try expect(2)
            return args[0] != args[1]
        case "version_atleast", "version_before":
            try expect(1)
            guard let wanted = Units.version(args[0]) else {
                throw Failure(message: "'\(name)': expected a version like 2.4, got '\(args[0])'")
            }
            let ours = Units.version(version) ?? [0]
            let cmp = Units.compareVersions(ours, wanted)
            return name == "version_atleast" ? cmp >= 0 : cmp < 0
        default:
            let known = ["defined", "feature", "streq", "strneq", "version_atleast", "version_before"]
            throw Failure(message: "unknown predicate '\(name)' in condition" + Keywords.didYouMean(name, among: known))
        }
    }
}
