import Testing
@testable import WeirConfig

/// `accept-proxy`, `send-proxy`, `send-proxy-v2`, `check-send-proxy`,
/// `tcp-request connection expect-proxy layer4`.
@Suite struct ProxyProtocolKeywordTests {
    @Test func acceptProxyMarksEveryAddressOfItsBindLine() throws {
        let r = parse("""
            frontend fe
                mode tcp
                bind 127.0.0.1:8080,127.0.0.1:8081 accept-proxy
                bind 127.0.0.1:8082
                default_backend be
            backend be
                mode tcp
                server s1 127.0.0.1:9000
            """)
        #expect(messages(r) == [])
        let binds = try #require(r.configuration?.frontends.first?.binds)
        #expect(binds.map(\.acceptProxy) == [true, true, false])
    }

    @Test func sendProxyVersionsAndTheirDefaults() throws {
        let r = parse("""
            backend be
                mode tcp
                default-server send-proxy-v2
                server plain 127.0.0.1:9000 no-send-proxy-v2
                server inherited 127.0.0.1:9001
                server both 127.0.0.1:9002 send-proxy
                server v1 127.0.0.1:9003 no-send-proxy-v2 send-proxy
                server none 127.0.0.1:9004 send-proxy no-send-proxy no-send-proxy-v2
            """)
        #expect(messages(r) == [])
        let servers = try #require(r.configuration?.backends.first?.servers)
        #expect(servers.map(\.sendProxy) == [nil, .v2, .v2, .v1, nil])
    }

    @Test func checksSendTheHeaderAsHAProxyDecides() throws {
        let r = parse("""
            backend be
                mode tcp
                server traffic 127.0.0.1:9000 check send-proxy
                server otherport 127.0.0.1:9001 check send-proxy port 9100
                server forced 127.0.0.1:9002 check check-send-proxy
                server forcedv2 127.0.0.1:9003 check check-send-proxy send-proxy-v2 addr 127.0.0.2
                server none 127.0.0.1:9004 check
            """)
        #expect(messages(r) == [])
        let servers = try #require(r.configuration?.backends.first?.servers)
        #expect(servers.map(\.checkSendProxy) == [.v1, nil, .v1, .v2, nil])
    }

    @Test func expectProxyIsAConnectionRule() throws {
        let r = parse("""
            frontend fe
                mode tcp
                bind 127.0.0.1:8080
                tcp-request connection expect-proxy layer4 if { src 10.0.0.0/8 }
                default_backend be
            backend be
                mode tcp
                server s1 127.0.0.1:9000
            """)
        #expect(messages(r) == [])
        let rules = try #require(r.configuration?.frontends.first?.tcpRequestConnectionRules)
        #expect(rules.map(\.action) == [.expectProxy])
        #expect(rules.first?.condition != .always)
    }

    @Test func unsupportedNeighboursStaySo() {
        #expect(errors("backend be\n server s1 10.0.0.1:80 send-proxy-v2-ssl\n")
                == ["t.cfg:2:24: error: server option 'send-proxy-v2-ssl' is not supported by Weir yet"])
        #expect(errors("frontend fe\n bind :80 accept-netscaler-cip 1234\n")
                == ["t.cfg:2:11: error: unsupported bind option 'accept-netscaler-cip'"])
    }
}
