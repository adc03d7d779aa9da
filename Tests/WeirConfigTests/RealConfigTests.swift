import Testing
@testable import WeirConfig

@Suite struct RealConfigTests {
    static let text = """
        # A typical TCP load balancer, written as for HAProxy.
        global
            log stdout format raw local0 info
            maxconn 20000
            nbthread "${WORKERS-2}"
            tune.bufsize 16384

        defaults tcp-defaults
            mode tcp
            log global
            option tcplog
            option dontlognull
            option redispatch
            retries 2
            timeout connect 5s
            timeout client  1m
            timeout server  1m
            timeout queue   30s
            default-server maxconn 256

        frontend postgres from tcp-defaults
            bind 127.0.0.1:5432,[::1]:5432 name pg
        .if defined(EXTRA_PORT)
            bind "127.0.0.1:${EXTRA_PORT}"
        .endif
            default_backend pg_primary
            use_backend pg_replicas if FALSE

        backend pg_primary from tcp-defaults
            balance first
            server db1 10.0.0.11:5432 id 1
            server db2 10.0.0.12:5432 id 2 backup

        backend pg_replicas from tcp-defaults
            balance leastconn
            server r1 db-r1.internal:5432 weight 50
            server r2 db-r2.internal:5432 weight 100
            server r3 unix@/run/pg.sock disabled

        listen redis from tcp-defaults
            bind :6379
            balance source
            server cache1 10.0.1.1:6379
        """

    @Test func parsesWithoutDiagnostics() throws {
        let r = parse(Self.text, environment: ["EXTRA_PORT": "6432"])
        #expect(r.diagnostics.map { $0.rendered() } == [])
        let c = try #require(r.configuration)
        #expect(c.global.nbthread == 2)
        #expect(c.frontends.map(\.name) == ["postgres", "redis"])
        #expect(c.backends.map(\.name) == ["pg_primary", "pg_replicas", "redis"])
        let pg = c.frontends[0]
        #expect(pg.binds.count == 3)
        #expect(pg.binds[2].address == .ip(v4(127, 0, 0, 1), port: 6432))
        #expect(pg.logs.map(\.destination) == [.stdout])
        #expect(pg.logs.first?.maxLevel == .info)
        #expect(pg.tcpLog && pg.dontLogNull)
        #expect(pg.defaultBackend == 0)
        #expect(pg.useBackends.map(\.condition) == [.never])
        #expect(c.backends[1].servers.map(\.address) == [.host("db-r1.internal", port: 5432),
                                                         .host("db-r2.internal", port: 5432),
                                                         .unix(path: "/run/pg.sock")])
        #expect(c.backends[1].servers.map(\.maxconn) == [256, 256, 256])
        #expect(c.backends[0].retries == 2)
        #expect(c.frontends[1].defaultBackend == 2)
    }

    @Test func environmentChangesTheResult() throws {
        let c = try #require(parse(Self.text, environment: ["WORKERS": "8"]).configuration)
        #expect(c.global.nbthread == 8)
        #expect(c.frontends[0].binds.count == 2)
    }

    @Test func largeConfigurationsParse() throws {
        var text = timeoutDefaults
        for i in 0..<2000 {
            text += "backend b\(i)\n    balance roundrobin\n    server s1 10.0.\(i / 250).\(i % 250 + 1):80 weight 10\n"
            text += "    server s2 10.1.\(i / 250).\(i % 250 + 1):80 maxconn 100 # second\n"
        }
        let c = try #require(parse(text).configuration)
        #expect(c.backends.count == 2000)
        #expect(c.backends[1999].servers[1].address == .ip(v4(10, 1, 7, 250), port: 80))
    }
}
