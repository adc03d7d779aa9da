import Testing
@testable import WeirConfig

@Suite struct ConditionalTests {
    /// The global maxconn chosen by a conditional block around it.
    func maxconn(_ block: String, environment: [String: String] = [:]) -> Int? {
        let r = parse("global\n" + block + "\n", environment: environment)
        #expect(messages(r) == [], "\(r.diagnostics.map { $0.rendered() })")
        return r.configuration?.global.maxconn
    }

    @Test func definedPicksTheBranch() {
        let block = """
            .if defined(PROD)
              maxconn 1000
            .else
              maxconn 10
            .endif
            """
        #expect(maxconn(block, environment: ["PROD": ""]) == 1000)
        #expect(maxconn(block) == 10)
    }

    @Test func elifChainTakesTheFirstTrueBranchOnly() {
        let block = """
            .if streq("${ENV}",prod)
              maxconn 1
            .elif streq("${ENV}",staging)
              maxconn 2
            .elif strneq("${ENV}",dev)
              maxconn 3
            .else
              maxconn 4
            .endif
            """
        #expect(maxconn(block, environment: ["ENV": "prod"]) == 1)
        #expect(maxconn(block, environment: ["ENV": "staging"]) == 2)
        #expect(maxconn(block, environment: ["ENV": "qa"]) == 3)
        #expect(maxconn(block, environment: ["ENV": "dev"]) == 4)
    }

    @Test func nestedBlocks() {
        let block = """
            .if 1
              .if 0
                maxconn 1
              .else
                .if defined(A)
                  maxconn 2
                .endif
              .endif
            .else
              .if 1
                maxconn 3
              .endif
            .endif
            """
        #expect(maxconn(block, environment: ["A": "x"]) == 2)
        #expect(maxconn(block) == 0)
    }

    @Test(arguments: [
        ("1", true), ("0", false), ("yes", true), ("\"\"", false), ("!0", true), ("! 1", false),
        ("1 && 0", false), ("1 || 0", true), ("0 || 0 || 1", true), ("!(1 && 0)", true),
        ("1 && (0 || 1)", true), ("feature(OPENSSL)", false), ("!feature(X)", true),
        ("version_atleast(0.1)", true), ("version_atleast(0.1.0)", true), ("version_atleast(0.2)", false),
        ("version_before(1.0)", true), ("version_before(0.1.0)", false), ("streq(a b,a b)", true),
        ("strneq( a , a )", false),
    ])
    func expressions(condition: String, expected: Bool) {
        #expect(maxconn(".if \(condition)\n maxconn 7\n.endif") == (expected ? 7 : 0))
    }

    @Test func emptyExpansionIsFalse() {
        #expect(maxconn(".if \"${UNSET}\"\n maxconn 7\n.endif") == 0)
        #expect(maxconn(".if \"${SET}\"\n maxconn 7\n.endif", environment: ["SET": "1"]) == 7)
    }

    @Test func skippedBlocksReportNothing() {
        let r = parse("""
            .if 0
            this is not a keyword
            bind "unterminated
            .notice hidden
            .endif
            """)
        #expect(r.diagnostics.isEmpty)
    }

    @Test func messagesHaveTheirSeverity() {
        let r = parse("""
            .diag d1
            .notice "n 1"
            .warning careful now
            """)
        #expect(r.diagnostics.map(\.severity) == [.diag, .notice, .warning])
        #expect(r.diagnostics.map(\.message) == ["d1", "n 1", "careful now"])
        #expect(!r.hasErrors)
        #expect(r.configuration != nil)
    }

    @Test func alertFailsTheConfiguration() {
        let r = parse(".if !defined(SECRET)\n.alert \"SECRET must be set\"\n.endif\n")
        #expect(r.hasErrors)
        #expect(r.configuration == nil)
        #expect(r.diagnostics.map { $0.rendered() } == ["t.cfg:2:1: alert: SECRET must be set\n.alert \"SECRET must be set\"\n^"])
        #expect(!parse(".if !defined(SECRET)\n.alert x\n.endif\n", environment: ["SECRET": "s"]).hasErrors)
    }

    @Test func unbalancedBlocksAreErrors() {
        #expect(errors(".endif\n") == ["t.cfg:1:1: error: '.endif' without a matching '.if'"])
        #expect(errors(".else\n") == ["t.cfg:1:1: error: '.else' without a matching '.if'"])
        #expect(errors(".elif 1\n") == ["t.cfg:1:1: error: '.elif' without a matching '.if'"])
        #expect(errors("global\n  .if 1\n") == ["t.cfg:2:3: error: unterminated '.if' block: missing '.endif' before the end of the file"])
        #expect(errors(".if 1\n.else\n.else\n.endif\n") == ["t.cfg:3:1: error: '.else' after '.else'"])
        #expect(errors(".if 1\n.else\n.elif 1\n.endif\n") == ["t.cfg:3:1: error: '.elif' after '.else'"])
    }

    @Test func blocksDoNotSpanFiles() {
        let files = [ConfigFile(name: "a.cfg", bytes: Array(".if 1\n".utf8)),
                     ConfigFile(name: "b.cfg", bytes: Array(".endif\n".utf8))]
        let r = ConfigParser.parse(files, environment: [:])
        #expect(messages(r) == ["a.cfg:1:1: error: unterminated '.if' block: missing '.endif' before the end of the file",
                                "b.cfg:1:1: error: '.endif' without a matching '.if'"])
    }

    @Test func badConditions() {
        #expect(errors(".if\n.endif\n") == ["t.cfg:1:1: error: '.if' needs a condition"])
        #expect(errors(".if defind(X)\n.endif\n")
                == ["t.cfg:1:5: error: .if: unknown predicate 'defind' in condition; did you mean 'defined'?"])
        #expect(errors(".if streq(a)\n.endif\n") == ["t.cfg:1:5: error: .if: 'streq' expects 2 arguments, got 1"])
        #expect(errors(".if defined(A\n.endif\n") == ["t.cfg:1:5: error: .if: missing ')' in condition"])
        #expect(errors(".if version_atleast(abc)\n.endif\n")
                == ["t.cfg:1:5: error: .if: 'version_atleast': expected a version like 2.4, got 'abc'"])
        #expect(errors(".if 1 &&\n.endif\n") == ["t.cfg:1:5: error: .if: missing term after operator in condition"])
    }

    @Test func unknownDirective() {
        #expect(errors(".iff 1\n") == ["t.cfg:1:1: error: unknown directive '.iff'; did you mean '.if'?"])
    }

    @Test func falseConditionErrorDoesNotSelectABranch() {
        // The failed condition counts as false; the else branch is read.
        let r = parse("global\n.if nope(1)\n maxconn 1\n.else\n maxconn 2\n.endif\n")
        #expect(r.hasErrors)
        #expect(messages(r).count == 1)
    }
}
