import Testing
@testable import WeirConfig

@Suite("option tcpka, clitcpka, srvtcpka and their probe settings")
struct TCPKeepAliveConfigTests {
    @Test func eachSideTakesItsOwn() throws {
        let c = try #require(config(timeoutDefaults + """
            defaults
                timeout connect 5s
                timeout client 30s
                timeout server 30s
                option tcpka
                clitcpka-cnt 5
                clitcpka-idle 2m
                clitcpka-intvl 15
                srvtcpka-idle 30s
                srvtcpka-cnt 0
            frontend fe
                bind :80
                default_backend be
            frontend off
                bind :81
                no option tcpka
                default_backend be
            backend be
                srvtcpka-intvl 7s
                server s1 127.0.0.1:8080
            listen only-server
                bind :82
                no option clitcpka
                server s1 127.0.0.1:8080
            """))
        #expect(c.frontends.map(\.clientTCPKeepAlive) == [TCPKeepAlive(probes: 5, idle: 120, interval: 15), nil, nil])
        #expect(c.backends.map(\.serverTCPKeepAlive) == [TCPKeepAlive(idle: 30, interval: 7), TCPKeepAlive(idle: 30)])
        let plain = try #require(config(timeoutDefaults + """
            frontend fe
                bind :80
                option clitcpka
                default_backend be
            backend be
                option srvtcpka
                server s1 127.0.0.1:8080
            """))
        #expect(plain.frontends[0].clientTCPKeepAlive == TCPKeepAlive())
        #expect(plain.backends[0].serverTCPKeepAlive == TCPKeepAlive())
    }

    @Test func mistakesAndTheWrongSide() {
        let text = timeoutDefaults + """
            frontend fe
                bind :80
                clitcpka-cnt 128
                clitcpka-idle 500ms
                clitcpka-intvl 40000
                clitcpka-idle
                option tcpka now
                srvtcpka-idle 10
                option srvtcpka
                default_backend be
            backend be
                option clitcpka
                clitcpka-cnt 3
                server s1 127.0.0.1:8080
            """
        #expect(errors(text) == [
            "t.cfg:7:18: error: clitcpka-cnt: expected a number between 0 and 127, got '128'",
            "t.cfg:8:19: error: clitcpka-idle: expected a whole number of seconds up to 32767s, got '500ms'",
            "t.cfg:9:20: error: clitcpka-intvl: expected a whole number of seconds up to 32767s, got '40000'",
            "t.cfg:10:5: error: clitcpka-idle: expected a duration like 30s (seconds when no unit is given)",
            "t.cfg:11:18: error: unexpected argument 'now' after 'option tcpka'",
        ])
        #expect(warnings(text) == [
            "t.cfg:12:5: warning: 'srvtcpka-idle' is ignored in a 'frontend' section: it applies to backends",
            "t.cfg:13:12: warning: 'option srvtcpka' is ignored in a 'frontend' section: it applies to backends",
            "t.cfg:16:12: warning: 'option clitcpka' is ignored in a 'backend' section: it applies to frontends",
            "t.cfg:17:5: warning: 'clitcpka-cnt' is ignored in a 'backend' section: it applies to frontends",
        ])
    }
}
