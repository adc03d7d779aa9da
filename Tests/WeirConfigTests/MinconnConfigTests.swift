import Testing
@testable import WeirConfig

/// Server `minconn` and the backend's `fullconn` as the configuration reads them.
@Suite("minconn and fullconn configuration")
struct MinconnConfigTests {
    @Test func minconnBelowMaxconnMakesADynamicLimit() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                fullconn 100
                server s1 127.0.0.1:8001 minconn 10 maxconn 50
                server s2 127.0.0.1:8002 minconn 30
                server s3 127.0.0.1:8003 minconn 80 maxconn 50
                server s4 127.0.0.1:8004 minconn 50 maxconn 50
            """))
        let servers = configuration.backends[0].servers
        #expect(configuration.backends[0].fullconn == 100)
        // As HAProxy: minconn alone, or not below maxconn, is a fixed limit.
        #expect(servers.map(\.minconn) == [10, 0, 0, 0])
        #expect(servers.map(\.maxconn) == [50, 30, 80, 50])
    }

    @Test func fullconnDefaultsToATenthOfTheFrontendsMaxconn() throws {
        let configuration = try #require(config("""
            global
                maxconn 5000
            """ + "\n" + timeoutDefaults + """
            frontend a
                bind 127.0.0.1:8080
                maxconn 1000
                default_backend be
            frontend b
                bind 127.0.0.1:8081
                use_backend be if { src 10.0.0.0/8 }
                default_backend other
            listen own
                bind 127.0.0.1:8082
                maxconn 95
                server s 127.0.0.1:9000
            backend be
                server s1 127.0.0.1:8001 minconn 1 maxconn 10
            backend other
                server s1 127.0.0.1:8002
            backend unused
                server s1 127.0.0.1:8003
            """))
        let fullconn = Dictionary(uniqueKeysWithValues: configuration.backends.map { ($0.name, $0.fullconn) })
        // be: frontend a (1000) and b (the global 5000): 600.
        #expect(fullconn["be"] == 600)
        #expect(fullconn["other"] == 500)
        // (95 + 9) / 10, rounded up.
        #expect(fullconn["own"] == 10)
        #expect(fullconn["unused"] == 1)
    }

    @Test func fullconnInDefaultsApplies() throws {
        let configuration = try #require(config(timeoutDefaults + """
            defaults
                fullconn 40
            backend be
                server s1 127.0.0.1:8001
            """))
        #expect(configuration.backends[0].fullconn == 40)
    }

    @Test func minconnNeedsACount() {
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 minconn -1
            """) == ["t.cfg:6:38: error: minconn: expected a number between 0 and 2147483647, got '-1'"])
    }

    @Test func theDynamicLimitFollowsHAProxysFormula() {
        func limit(_ load: Int) -> Int { Server.dynamicMaxconn(minconn: 2, maxconn: 4, load: load, fullconn: 8) }
        #expect((0...10).map(limit) == [2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4])
        #expect(Server.dynamicMaxconn(minconn: 0, maxconn: 4, load: 0, fullconn: 8) == 4)
        #expect(Server.dynamicMaxconn(minconn: 2, maxconn: 0, load: 0, fullconn: 8) == 0)
    }
}
