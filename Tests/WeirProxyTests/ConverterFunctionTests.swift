import Foundation
import Testing
@testable import WeirProxy

/// The arithmetic, string, hash and date converters, read back through
/// `http-request set-header`.
@Suite struct ConverterFunctionTests {
    private func render(_ format: String, before: String = "", header: String = "") throws -> String? {
        var harness = try RuleHarness(routingConfig(before + "\n    http-request set-header x-out \"\(format)\""))
        try harness.begin(request: "GET /a/b.html?x=1 HTTP/1.1\nhost: www.example.com:8443\nx-in: \(header)\n\n")
        guard case .proceed = harness.runRequestRules() else { return nil }
        return harness.fields("x-out").first
    }

    @Test(arguments: [
        ("%[int(7),add(5)]", "12"),
        ("%[int(7),sub(10)]", "-3"),
        ("%[int(7),mul(-6)]", "-42"),
        ("%[int(7),div(2)]", "3"),
        ("%[int(7),div(0)]", "9223372036854775807"),
        ("%[int(7),mod(4)]", "3"),
        ("%[int(7),mod(0)]", "0"),
        ("%[int(12),and(10)]/%[int(12),or(3)]/%[int(12),xor(5)]", "8/15/9"),
        ("%[int(5),neg]/%[int(5),cpl]", "-5/-6"),
        ("%[int(5),bool]/%[int(0),bool]/%[int(0),not]/%[int(3),odd]/%[int(3),even]", "1/0/1/1/0"),
        ("%[str(id),concat(<,,>)]", "<id>"),
        ("%[str(  a b  ),ltrim(\\\" \\\")]|", "a b  |"),
        ("%[str(/a/b//),rtrim(/)]", "/a/b"),
        ("%[str(abcdef),bytes(2)]/%[str(abcdef),bytes(1,3)]/%[str(abc),bytes(9)]", "cdef/bcd/"),
        ("%[str(a b&c=d/é),url_enc]", "a%20b%26c%3Dd%2F%C3%A9"),
        ("%[hdr(host),host_only]/%[hdr(host),port_only]", "www.example.com/8443"),
        ("%[str([::1]:80),host_only]/%[str(example.com),port_only]", "[::1]/0"),
        ("%[int(1),iif(yes,no)]/%[int(0),iif(yes,no)]", "yes/no"),
        ("%[str(hello),crc32]", "907060870"),
        ("%[str(hello),djb2]", "261238937"),
        ("%[str(abc),sha1,hex]", "A9993E364706816ABA3E25717850C26C9CD0D89D"),
        ("%[str(abc),sha2,hex,bytes(0,16)]", "BA7816BF8F01CFEA"),
        ("%[str(abc),sha2(512),length]", "64"),
        ("%[int(784111777),http_date]", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("%[int(784111777000),http_date(3600,ms)]", "Sun, 06 Nov 1994 09:49:37 GMT"),
        ("%[int(784111777),utime(%Y-%m-%dT%H:%M:%S)]", "1994-11-06T08:49:37"),
        ("%[str(ff),hex2i]/%[str(zz),hex2i]", "255/0"),
        ("%[str(aGVsbG8=),b64dec]", "hello"),
    ])
    func converts(_ format: String, _ expected: String) throws {
        #expect(try render(format) == expected)
    }

    @Test func jsonEscapes() throws {
        #expect(try render("%[hdr(x-in),json]", header: "a\"b/c\\d") == #"a\"b\/c\\d"#)
        #expect(try render("%[hdr(x-in),json]", header: "é😀") == #"\u00e9\ud83d\ude00"#)
        #expect(try render("%[hdr(x-in),json(ascii)]", header: "é") == #"\u00c3\u00a9"#)
        #expect(try render("%[hdr(x-in),json]", header: "a\tb") == #"a\tb"#)
    }

    @Test func variablesAsOperands() throws {
        let before = "    http-request set-var(txn.n) int(40)\n    http-request set-var(txn.s) str(abc)"
        #expect(try render("%[int(2),add(txn.n)]", before: before) == "42")
        #expect(try render("%[str(x),concat(<,txn.s,>)]", before: before) == "<xabc>")
        #expect(try render("%[str(abc),strcmp(txn.s)]/%[str(abd),strcmp(txn.s)]/%[str(ab),strcmp(txn.s)]",
                           before: before) == "0/1/-1")
        #expect(try render("%[int(2),add(txn.missing)]", before: before) == "")
    }
}

/// `date`, `rand`, `env`, `hostname`, `pid`, `uuid`.
@Suite struct ProcessFetchTests {
    private func render(_ format: String, global: String = "") throws -> String {
        var harness = try RuleHarness(global + routingConfig("\n    http-request set-header x-out \"\(format)\""))
        try harness.begin(request: "GET / HTTP/1.1\nhost: a\n\n")
        _ = harness.runRequestRules()
        return harness.fields("x-out").first ?? "?"
    }

    @Test func processFacts() throws {
        #expect(try render("%[pid]") == String(getpid()))
        #expect(try render("%[env(HOME)]") == ProcessInfo.processInfo.environment["HOME"])
        #expect(try render("[%[env(WEIR_SURELY_UNSET_VARIABLE)]]") == "[]")
        // setenv and unsetenv in the configuration are what env() sees.
        let global = "global\n    setenv WEIR_GREETING \"hello there\"\n    unsetenv HOME\n"
        #expect(try render("%[env(WEIR_GREETING)]/[%[env(HOME)]]", global: global) == "hello there/[]")
        var name = [CChar](repeating: 0, count: 256)
        #expect(gethostname(&name, 255) == 0)
        #expect(try render("%[hostname]") == String(cString: name))
    }

    @Test func dateIsNow() throws {
        let before = Int(Date().timeIntervalSince1970)
        let seconds = try #require(Int(try render("%[date]")))
        let shifted = try #require(Int(try render("%[date(3600)]")))
        let milliseconds = try #require(Int(try render("%[date(0,ms)]")))
        let after = Int(Date().timeIntervalSince1970)
        #expect(seconds >= before && seconds <= after)
        #expect(shifted >= before + 3600 && shifted <= after + 3600)
        #expect(milliseconds >= before * 1000 && milliseconds <= (after + 1) * 1000)
    }

    @Test func randomValuesStayInTheirRange() throws {
        var seen: Set<Int> = []
        for _ in 0..<64 {
            let n = try #require(Int(try render("%[rand(4)]")))
            #expect((0..<4).contains(n))
            seen.insert(n)
        }
        #expect(seen.count > 1, "64 draws in 0..<4 all alike: \(seen)")
        let uuid = try render("%[uuid]")
        #expect(uuid.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/) != nil, "\(uuid)")
        #expect(try render("%[uuid]") != uuid)
    }
}
