import Testing
@testable import WeirProxy

/// Sample fetches, converters and log-format rendering, read back through
/// `http-request set-header`.
@Suite struct RuleSampleTests {
    /// Runs one `set-header x-out FORMAT` over `request` and returns the value.
    private func render(_ format: String, _ request: String = "GET /a/b.html?x=1&y=two HTTP/1.1\nhost: Example.com\n\n",
                        before: String = "") throws -> String? {
        var harness = try RuleHarness(routingConfig(before + "\n    http-request set-header x-out \"\(format)\""))
        try harness.begin(request: request)
        guard case .proceed = harness.runRequestRules() else { return nil }
        return harness.fields("x-out").first
    }

    @Test(arguments: [
        ("%[path]", "/a/b.html"),
        ("%[url]", "/a/b.html?x=1&y=two"),
        ("%[query]", "x=1&y=two"),
        ("%[method]", "GET"),
        ("%[base]", "Example.com/a/b.html"),
        ("%[req.ver]", "1.1"),
        ("%[url_param(y)]", "two"),
        ("%[urlp(nope)]", ""),
        ("%[hdr(host),lower]", "example.com"),
        ("%[hdr(host),upper]", "EXAMPLE.COM"),
        ("%[path,field(2,/)]", "a"),
        ("%[path,field(-1,/.)]", "html"),
        ("%[str(a..b),field(2,.)]", ""),
        ("%[str(a..b),word(2,.)]", "b"),
        ("%[path,regsub(/,_,g)]", "_a_b.html"),
        ("%[path,regsub('^/([a-z]+)/','\\\\1:')]", "a:b.html"),
        ("%[hdr(host),regsub(EXAMPLE,site,i)]", "site.com"),
        ("%[str(hello),base64]", "aGVsbG8="),
        ("%[str(hi),hex]", "6869"),
        ("%[str(a%20b%2F),url_dec]", "a b/"),
        ("%[path,length]", "9"),
        ("%[src]", "10.1.2.3"),
        ("%[src,ipmask(16)]", "10.1.0.0"),
        ("%[src_port]", "40000"),
        ("%[dst]:%[dst_port]", "192.168.0.1:8080"),
        ("%[fe_name]", "f"),
        ("%[int(42)]", "42"),
        ("%[hdr(missing)]", ""),
        ("%{+Q}[path]", "\"/a/b.html\""),
        ("%ci:%cp %HM %HP %HQ %HV %f", "10.1.2.3:40000 GET /a/b.html ?x=1&y=two HTTP/1.1 f"),
        ("%r", "GET /a/b.html?x=1&y=two HTTP/1.1"),
        ("100%% %[path]", "100% /a/b.html"),
    ])
    func renders(_ format: String, _ expected: String) throws {
        #expect(try render(format) == expected)
    }

    @Test func cookies() throws {
        let request = "GET / HTTP/1.1\nhost: a\ncookie: a=1; sid=xyz ; sid=last\ncookie: b=2\n\n"
        #expect(try render("%[cook(sid)]", request) == "last", "as a value, the last occurrence")
        #expect(try render("%[req.cook]", request) == "1", "no name: the first cookie")
        #expect(try render("%[cook_cnt(sid)]/%[cook_cnt]", request) == "2/4")
    }

    @Test func variablesCarryValuesBetweenRules() throws {
        let value = try render("%[var(txn.who)]-%[var(req.n)]",
                               before: "http-request set-var(txn.who) hdr(host),lower\n    http-request set-var(req.n) int(7)")
        #expect(value == "example.com-7")
    }

    @Test func laterRulesSeeEarlierEdits() throws {
        let value = try render("%[hdr(x-a)] %[path] %[url]",
                               before: "http-request set-header x-a first\n    http-request set-header x-a second\n"
                                   + "    http-request set-path /new%[path]")
        #expect(value == "second /new/a/b.html /new/a/b.html?x=1&y=two")
    }
}
