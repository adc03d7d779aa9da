import Testing
@testable import WeirConfig

@Suite struct LexerTests {
    @Test func blanksSeparateWords() {
        #expect(words("  bind\t:80   name  web ") == ["bind", ":80", "name", "web"])
    }

    @Test func commentsEndTheLine() {
        #expect(words("maxconn 100 # the limit") == ["maxconn", "100"])
        #expect(words("# only a comment") == [])
        #expect(words("a#b c") == ["a"])
    }

    @Test func columnsPointAtWordStarts() throws {
        let context = LexContext(environment: [:], file: "f", section: "")
        let w = try Lexer.words(ArraySlice(Array("  server\ts1  'a b'".utf8)), lineNumber: 1, context: context).get()
        #expect(w.map(\.column) == [3, 10, 14])
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let context = LexContext(environment: [:], file: "f", section: "")
        let w = try Lexer.words(ArraySlice(Array("é x".utf8)), lineNumber: 1, context: context).get()
        #expect(w.map(\.column) == [1, 3])
    }

    @Test func singleQuotesAreLiteral() {
        #expect(words(#"'a b\t$X "c"'"#, environment: ["X": "no"]) == [#"a b\t$X "c""#])
    }

    @Test func doubleQuotesKeepBlanksAndInterpretEscapes() {
        #expect(words(#""a b\tc\"d""#) == ["a b\tc\"d"])
        #expect(words(#""it's # not a comment""#) == ["it's # not a comment"])
    }

    @Test func quotedPartsJoinAdjacentText() {
        #expect(words(#"pre"mid dle"'post x'"#) == ["premid dlepost x"])
    }

    @Test func emptyQuotesMakeAnEmptyWord() {
        #expect(words(#"a "" b"#) == ["a", "", "b"])
    }

    @Test func backslashEscapesOutsideQuotes() {
        #expect(words(##"a\ b c\#d e\\f g\'h i\"j"##) == ["a b", "c#d", #"e\f"#, "g'h", "i\"j"])
        #expect(words(#"x\ry\nz\t"#) == ["x\ry\nz\t"])
        #expect(words(#"\x41\x62c"#) == ["Abc"])
    }

    @Test func unknownEscapeKeepsItsBackslash() {
        #expect(words(#"a\qb"#) == [#"a\qb"#])
        // `\$` is an escape only inside double quotes.
        #expect(words(#"\$X"#) == [#"\$X"#])
        #expect(words(#""\$X""#, environment: ["X": "1"]) == ["$X"])
    }

    @Test func invalidHexEscapeIsAnError() {
        guard case .failure(let e) = lex(#"ab \xZ1"#) else {
            Issue.record("expected an error")
            return
        }
        #expect(e.column == 4)
        #expect(e.message == #"invalid escape '\xZ1': expected two hex digits after '\x'"#)
    }

    @Test func environmentExpandsOnlyInDoubleQuotes() {
        let env = ["HOST": "10.0.0.1", "PORT": "8080"]
        #expect(words(#""${HOST}:${PORT}""#, environment: env) == ["10.0.0.1:8080"])
        #expect(words(#""$HOST""#, environment: env) == ["10.0.0.1"])
        #expect(words(#"${HOST}"#, environment: env) == ["${HOST}"])
        #expect(words(#"'${HOST}'"#, environment: env) == ["${HOST}"])
    }

    @Test func environmentDefaultsApplyWhenUnset() {
        #expect(words(#""${NOPE-fallback value}""#) == ["fallback value"])
        #expect(words(#""${SET-fallback}""#, environment: ["SET": "v"]) == ["v"])
        #expect(words(#""${SET-fallback}""#, environment: ["SET": ""]) == [""])
        #expect(words(#""[${NOPE}]""#) == ["[]"])
    }

    @Test func expandedValuesAreNotSplit() {
        #expect(words(#"a "${V}" b"#, environment: ["V": "x y # z"]) == ["a", "x y # z", "b"])
    }

    @Test func pseudoVariables() {
        #expect(words(#""${.FILE}:${.LINE}:${.SECTION}""#) == ["t.cfg:1:global"])
    }

    @Test func dollarWithoutNameStaysADollar() {
        #expect(words(#""cost $5""#) == ["cost $5"])
    }

    @Test func missingClosingBraceIsAnError() {
        guard case .failure(let e) = lex(#"x "${ABC""#) else {
            Issue.record("expected an error")
            return
        }
        #expect(e.column == 4)
        #expect(e.message == "missing '}' after '${ABC'")
    }

    @Test func unterminatedQuotesAreErrorsAtTheQuote() {
        guard case .failure(let d) = lex(#"log "stdout local0"#), case .failure(let s) = lex("a 'b c") else {
            Issue.record("expected errors")
            return
        }
        #expect(d.column == 5 && d.message == "unterminated double quote")
        #expect(s.column == 3 && s.message == "unterminated single quote")
    }

    @Test func linesSplitOnNewlinesAndDropCarriageReturns() {
        let lines = Lexer.lines(Array("a\r\nb\n\nc".utf8)).map { String(decoding: $0, as: UTF8.self) }
        #expect(lines == ["a", "b", "", "c"])
    }

    @Test func lexerErrorsReachDiagnosticsWithTheLine() {
        let r = parse("global\n  pidfile \"/run/x.pid\n")
        #expect(messages(r) == ["t.cfg:2:11: error: unterminated double quote"])
        #expect(r.diagnostics[0].rendered() == "t.cfg:2:11: error: unterminated double quote\n  pidfile \"/run/x.pid\n          ^")
    }
}
