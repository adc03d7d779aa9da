import Testing
@testable import WeirConfig

@Suite("bind socket options and backlog")
struct BindOptionsConfigTests {
    @Test func optionsReachEverySocketOfTheLine() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                backlog 500
                bind 127.0.0.1:8080-8081 backlog 100 maxconn 50 mss -40 defer-accept tfo
                bind [::]:443 v4v6 v6only interface lo
                bind [::]:444 v6only v4v6 mss 1400 maxconn 0 backlog 0
                default_backend be
            backend be
                server s1 127.0.0.1:8080
            """))
        let f = c.frontends[0]
        #expect(f.backlog == 500)
        var expected = BindOptions()
        expected.backlog = 100
        expected.maxconn = 50
        expected.maxSegment = -40
        expected.deferAccept = true
        expected.fastOpen = true
        #expect(f.binds.prefix(2).allSatisfy { $0.options == expected })
        #expect(f.binds[2].options.v6only == true && f.binds[2].options.interface == "lo")
        // v6only wins over v4v6 whichever comes first; 0 is "not set".
        #expect(f.binds[3].options.v6only == true && f.binds[3].options.maxSegment == 1400)
        #expect(f.binds[3].options.maxconn == nil && f.binds[3].options.backlog == nil)
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        let text = timeoutDefaults + """
            frontend fe
                bind :80 backlog lots
                bind :81 maxconn -1
                bind :82 mss 0
                bind :83 mss 40000
                bind :84 interface averyverylongname0
                bind :85 backlog
                backlog -5
                default_backend be
            backend be
                backlog 10
                server s1 127.0.0.1:8080
            """
        #expect(errors(text) == [
            "t.cfg:6:22: error: bind: 'backlog' expects a non-negative number, got 'lots'",
            "t.cfg:7:22: error: bind: 'maxconn' expects a non-negative number, got '-1'",
            "t.cfg:8:18: error: bind: 'mss' expects a segment size between 1 and 32767, or a negative number to take "
                + "off the default one, got '0'",
            "t.cfg:9:18: error: bind: 'mss' expects a segment size between 1 and 32767, or a negative number to take "
                + "off the default one, got '40000'",
            "t.cfg:10:24: error: bind: 'interface' expects a network interface name like eth0, got 'averyverylongname0'",
            "t.cfg:11:14: error: bind: 'backlog' expects a value",
            "t.cfg:12:13: error: backlog: expected a number between 0 and 2147483647, got '-5'",
        ])
        #expect(warnings(text) == ["t.cfg:15:5: warning: 'backlog' is ignored in a 'backend' section: it applies to frontends"])
    }
}
