import Testing
import WeirConfig
import WeirHTTP
@testable import WeirProxy

/// The pure parts of cookie persistence: parsing `Cookie`/`Set-Cookie`
/// values as HAProxy does, rewriting them, and the dated cookie values.
@Suite("Cookie persistence")
struct CookieTests {
    /// The backend `be` of a configuration whose backend holds `lines` and
    /// servers s1, s2 (`cookie s1`, `cookie s2`) and s3 (no cookie).
    private func settings(_ lines: String, servers: String = """
                server s1 127.0.0.1:8001 cookie s1
                server s2 127.0.0.1:8002 cookie s2
                server s3 127.0.0.1:8003
            """, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CookieSettings {
        let text = """
            defaults
                mode http
            backend be
            \(lines)
            \(servers)
            """
        let result = ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:])
        let errors = result.diagnostics.filter { $0.severity == .error }.map { $0.rendered() }
        let configuration = try #require(result.configuration, "config errors: \(errors)", sourceLocation: sourceLocation)
        let backend = try #require(configuration.backends.first { $0.name == "be" }, sourceLocation: sourceLocation)
        let cookie = try #require(backend.cookie, sourceLocation: sourceLocation)
        return CookieSettings(cookie, backend: backend)
    }

    private func inspect(_ settings: CookieSettings, _ values: [String], ignore: Bool = false, force: Bool = false,
                         now: Int64 = 1_700_000_000, down: Set<Int> = []) -> RequestCookieVerdict {
        var verdict = RequestCookieVerdict()
        for value in values {
            let bytes = Array(value.utf8)
            bytes.withUnsafeBytes { raw in
                settings.inspectRequest(raw, verdict: &verdict, ignore: ignore, force: force, now: now) { !down.contains($0) }
            }
        }
        return verdict
    }

    private func rewrittenRequestField(_ settings: CookieSettings, _ value: String) -> String {
        let area = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { area.deallocate() }
        var w = HeadWriter(area, capacity: 4096)
        let name = Array("Cookie".utf8)
        let bytes = Array(value.utf8)
        name.withUnsafeBytes { n in bytes.withUnsafeBytes { v in settings.writeRequestField(&w, name: n, value: v) } }
        return String(decoding: w.written, as: UTF8.self)
    }

    private func setCookie(_ settings: CookieSettings, _ value: String, server: Int, direct: Bool = false,
                           ignore: Bool = false) -> (action: SetCookieAction, written: String) {
        let area = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { area.deallocate() }
        var w = HeadWriter(area, capacity: 4096)
        let name = Array("Set-Cookie".utf8)
        let bytes = Array(value.utf8)
        let action = bytes.withUnsafeBytes { settings.setCookieAction($0, server: server, direct: direct, ignore: ignore) }
        name.withUnsafeBytes { n in
            bytes.withUnsafeBytes { v in settings.writeSetCookieField(&w, name: n, value: v, action: action, server: server) }
        }
        return (action, String(decoding: w.written, as: UTF8.self))
    }

    // MARK: Request

    @Test func findsTheServerAmongOtherCookies() throws {
        let s = try settings("    cookie SRV insert")
        let v = inspect(s, ["a=1; SRV=s2 ; b=\"x;y\""])
        #expect(v.server == 1 && v.state == CookieState.valid)
        #expect(inspect(s, ["a=1", "$Version=1; SRV=s1"]).server == 0)
        // Names compare case-sensitively, as HAProxy does.
        #expect(inspect(s, ["srv=s1"]).state == CookieState.none)
        // Unknown and empty values are invalid; a server without a cookie value never matches.
        #expect(inspect(s, ["SRV=nosuch"]).state == CookieState.invalid)
        #expect(inspect(s, ["SRV="]).state == CookieState.invalid)
        #expect(inspect(s, ["SRV"]).state == CookieState.none)
        // The first occurrence decides.
        let twice = inspect(s, ["SRV=s1; SRV=s2"])
        #expect(twice.server == 0 && twice.state == CookieState.valid)
    }

    @Test func downServersIgnoreOrForceOrPersist() throws {
        let s = try settings("    cookie SRV insert")
        let down = inspect(s, ["SRV=s2"], down: [1])
        #expect(down.server == -1 && down.state == CookieState.down)
        let forced = inspect(s, ["SRV=s2"], force: true, down: [1])
        #expect(forced.server == 1 && forced.state == CookieState.down)
        let persist = try settings("    cookie SRV insert\n    option persist")
        #expect(inspect(persist, ["SRV=s2"], down: [1]).server == 1)
        let ignored = inspect(s, ["SRV=s2"], ignore: true)
        #expect(ignored.server == -1 && ignored.state == CookieState.unused)
    }

    @Test func serversMayShareAValueTheFirstRunningOneTakesIt() throws {
        let s = try settings("    cookie SRV insert", servers: """
                server a1 127.0.0.1:8001 cookie a
                server a2 127.0.0.1:8002 cookie a backup
            """)
        #expect(inspect(s, ["SRV=a"]).server == 0)
        let second = inspect(s, ["SRV=a"], down: [0])
        #expect(second.server == 1 && second.state == CookieState.valid)
        #expect(inspect(s, ["SRV=a"], down: [0, 1]).state == CookieState.down)
    }

    @Test func prefixModeReadsTheServerBeforeTheTilde() throws {
        let s = try settings("    cookie JSESSIONID prefix")
        #expect(inspect(s, ["JSESSIONID=s2~abc"]).server == 1)
        #expect(inspect(s, ["JSESSIONID=abc"]).state == CookieState.invalid)
        #expect(rewrittenRequestField(s, "JSESSIONID=s2~abc") == "Cookie: JSESSIONID=abc\r\n")
        #expect(rewrittenRequestField(s, "x=1; JSESSIONID=s2~a~b; y=2") == "Cookie: x=1; JSESSIONID=a~b; y=2\r\n")
        // Without a tilde the cookie passes as it is.
        #expect(rewrittenRequestField(s, "JSESSIONID=abc") == "Cookie: JSESSIONID=abc\r\n")
    }

    @Test func insertIndirectRemovesTheCookie() throws {
        let s = try settings("    cookie SRV insert indirect")
        #expect(rewrittenRequestField(s, "SRV=s1") == "")
        #expect(rewrittenRequestField(s, "SRV=s1; a=1") == "Cookie: a=1\r\n")
        #expect(rewrittenRequestField(s, "a=1; SRV=s1; b=2") == "Cookie: a=1; b=2\r\n")
        #expect(rewrittenRequestField(s, "a=1;SRV=s1") == "Cookie: a=1\r\n")
        // `$` attributes after the removed cookie go with it.
        #expect(rewrittenRequestField(s, "$Version=1; SRV=s1; $Path=/; a=1") == "Cookie: $Version=1; a=1\r\n")
        // Only with `indirect`: plain insert mode leaves the field alone.
        let plain = try settings("    cookie SRV insert")
        #expect(!plain.rewritesRequest)
    }

    @Test func datesExpireTheCookie() throws {
        let s = try settings("    cookie SRV insert maxidle 1h maxlife 1d")
        let now: Int64 = 1_700_000_000
        func date(_ seconds: Int64) -> String {
            var out = [UInt8](repeating: 0, count: 5)
            out.withUnsafeMutableBytes { CookieParsing.encode30(seconds >> 2, into: $0.baseAddress!) }
            return String(decoding: out, as: UTF8.self)
        }
        let fresh = inspect(s, ["SRV=s1|\(date(now - 60))|\(date(now - 7200))"], now: now)
        #expect(fresh.server == 0 && fresh.state == CookieState.valid)
        #expect(fresh.lastDate == ((now - 60) >> 2) << 2 && fresh.firstDate == ((now - 7200) >> 2) << 2)
        let idle = inspect(s, ["SRV=s1|\(date(now - 7200))"], now: now)
        #expect(idle.server == -1 && idle.state == CookieState.expired && idle.lastDate == 0)
        let old = inspect(s, ["SRV=s1|\(date(now - 60))|\(date(now - 2 * 86400))"], now: now)
        #expect(old.server == -1 && old.state == CookieState.old)
        // More than a day in the future: not trusted either.
        #expect(inspect(s, ["SRV=s1|\(date(now + 2 * 86400))"], now: now).state == CookieState.expired)
    }

    @Test func base64DatesRoundTrip() {
        for value: Int64 in [0, 1, 63, 64, 425_000_000, (1 << 30) - 1] {
            var out = [UInt8](repeating: 0, count: 5)
            out.withUnsafeMutableBytes { CookieParsing.encode30(value, into: $0.baseAddress!) }
            let decoded = out.withUnsafeBytes { CookieParsing.decode30($0, at: 0) }
            #expect(decoded == value)
        }
        var out = [UInt8](repeating: 0, count: 5)
        out.withUnsafeMutableBytes { CookieParsing.encode30(1, into: $0.baseAddress!) }
        #expect(String(decoding: out, as: UTF8.self) == "AAAAB")
        #expect(Array("AA*AB".utf8).withUnsafeBytes { CookieParsing.decode30($0, at: 0) } == -1)
    }

    // MARK: Response

    @Test func setCookieActionsPerMode() throws {
        let insert = try settings("    cookie SRV insert")
        #expect(setCookie(insert, "SRV=app; Path=/", server: 0).action == .delete)
        #expect(setCookie(insert, "SRV=app; Path=/", server: 0).written == "")
        #expect(setCookie(insert, "other=1", server: 0).action == .keep)
        #expect(setCookie(insert, "SRV=app", server: 0, ignore: true).action == .keep)
        let preserve = try settings("    cookie SRV insert preserve")
        #expect(setCookie(preserve, "SRV=app", server: 0).action == .passive)

        let rewrite = try settings("    cookie SERVERID rewrite")
        let r = setCookie(rewrite, "SERVERID=xyz; Path=/; HttpOnly", server: 1)
        #expect(r.written == "Set-Cookie: SERVERID=s2; Path=/; HttpOnly\r\n")
        // A server without a cookie value leaves it (passive).
        #expect(setCookie(rewrite, "SERVERID=xyz", server: 2).action == .passive)

        let prefix = try settings("    cookie JSESSIONID prefix")
        #expect(setCookie(prefix, "JSESSIONID=abc; Path=/", server: 0).written == "Set-Cookie: JSESSIONID=s1~abc; Path=/\r\n")
        // `indirect`: a direct request's cookie is removed.
        let indirect = try settings("    cookie SRV rewrite indirect")
        #expect(setCookie(indirect, "SRV=x", server: 0, direct: true).action == .delete)
    }

    @Test func insertedCookieCarriesTheAttributes() throws {
        let s = try settings("    cookie SRV insert httponly secure domain .a.test domain .b.test attr SameSite=Strict")
        func inserted(server: Int, exchange: CookieExchange = CookieExchange(), now: Int64 = 0) -> String {
            let area = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
            defer { area.deallocate() }
            var w = HeadWriter(area, capacity: 4096)
            s.writeInsertedCookie(&w, server: server, exchange: exchange, now: now)
            return String(decoding: w.written, as: UTF8.self)
        }
        #expect(inserted(server: 1)
                == "set-cookie: SRV=s2; path=/; domain=.a.test; domain=.b.test; HttpOnly; Secure; SameSite=Strict\r\n")
        // A server without a cookie value gets the cookie cleared.
        #expect(inserted(server: 2).hasPrefix("set-cookie: SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain="))
        var e = CookieExchange()
        e.markPrivate = true
        #expect(inserted(server: 0, exchange: e).hasSuffix("\r\ncache-control: private\r\n"))
        let dated = try settings("    cookie SRV insert maxidle 10m maxlife 1h")
        let area = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { area.deallocate() }
        var w = HeadWriter(area, capacity: 4096)
        var first = CookieExchange()
        first.firstDate = 1_600_000_000
        dated.writeInsertedCookie(&w, server: 0, exchange: first, now: 1_700_000_000)
        let text = String(decoding: w.written, as: UTF8.self)
        var last = [UInt8](repeating: 0, count: 5)
        last.withUnsafeMutableBytes { CookieParsing.encode30((1_700_000_000 + 3) >> 2, into: $0.baseAddress!) }
        var born = [UInt8](repeating: 0, count: 5)
        born.withUnsafeMutableBytes { CookieParsing.encode30(1_600_000_000 >> 2, into: $0.baseAddress!) }
        #expect(text == "set-cookie: SRV=s1|\(String(decoding: last, as: UTF8.self))|\(String(decoding: born, as: UTF8.self)); path=/\r\n")
    }

    @Test func persistRulesKeepTheirOrder() throws {
        let harness = try RuleHarness("""
            defaults
                mode http
            backend be
                ignore-persist if { path_beg /static }
                force-persist if { src 10.0.0.0/8 }
                ignore-persist unless { method GET }
                server s1 127.0.0.1:8001 cookie s1
            """)
        let rules = harness.engine.compiled.persistRules[0]
        #expect(rules.map(\.force) == [false, true, false])
        #expect(harness.configuration.backends[0].persistRules.map(\.kind) == [.ignore, .force, .ignore])
    }
}
