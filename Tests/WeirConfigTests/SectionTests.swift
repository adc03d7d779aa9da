import Testing
@testable import WeirConfig

@Suite struct SectionTests {
    @Test func minimalTCPProxy() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                bind 127.0.0.1:8080
                default_backend be

            backend be
                server s1 127.0.0.1:9001
                server s2 127.0.0.1:9002
            """))
        #expect(c.frontends.map(\.name) == ["fe"])
        #expect(c.backends.map(\.name) == ["be"])
        #expect(c.frontends[0].defaultBackend == 0)
        #expect(c.frontends[0].binds.map(\.address) == [.ip(v4(127, 0, 0, 1), port: 8080)])
        #expect(c.backends[0].servers.map(\.address) == [.ip(v4(127, 0, 0, 1), port: 9001), .ip(v4(127, 0, 0, 1), port: 9002)])
        #expect(c.backends[0].servers.map(\.id) == [1, 2])
        #expect(c.frontends[0].location == WeirConfig.SourceLocation(file: "t.cfg", line: 5, column: 10))
    }

    @Test func listenIsAFrontendAndABackend() throws {
        let c = try #require(config(timeoutDefaults + """
            backend other
                server o 10.0.0.9:80
            listen app
                bind :80
                balance leastconn
                server a 10.0.0.1:80
            """))
        #expect(c.frontends.map(\.name) == ["app"])
        #expect(c.backends.map(\.name) == ["other", "app"])
        #expect(c.frontends[0].defaultBackend == 1)
        #expect(c.backends[1].balance == .leastConn)
        #expect(c.backends[1].servers.map(\.name) == ["a"])
    }

    @Test func defaultsAreInherited() throws {
        let c = try #require(config("""
            defaults
                mode tcp
                timeout connect 3s
                timeout client 1m
                timeout server 2m
                timeout queue 10s
                timeout tunnel 1h
                timeout client-fin 1s
                timeout server-fin 2s
                maxconn 500
                retries 5
                option redispatch
                option tcplog
                option dontlognull
                balance source
                default-server maxconn 20 weight 7
            frontend fe
                bind :80
                default_backend be
            backend be
                server s 10.0.0.1:80
                server t 10.0.0.2:80 weight 3
            """))
        let fe = c.frontends[0], be = c.backends[0]
        #expect(fe.maxconn == 500)
        #expect(fe.tcpLog && fe.dontLogNull)
        #expect(fe.timeouts.client == 60_000)
        #expect(fe.timeouts.clientFin == 1000)
        #expect(be.timeouts == Timeouts(connect: 3000, client: 60_000, server: 120_000, queue: 10_000, tunnel: 3_600_000,
                                        clientFin: 1000, serverFin: 2000))
        #expect(be.retries == 5)
        #expect(be.redispatch)
        #expect(be.balance == .source)
        #expect(be.servers.map(\.maxconn) == [20, 20])
        #expect(be.servers.map(\.weight) == [7, 3])
    }

    @Test func builtinDefaultsWithoutADefaultsSection() throws {
        let r = parse("frontend fe\n bind :80\n default_backend be\nbackend be\n server s 10.0.0.1:80\n")
        let c = try #require(r.configuration)
        #expect(c.frontends[0].mode == .tcp)
        #expect(c.backends[0].retries == 3)
        #expect(c.backends[0].balance == .roundRobin)
        #expect(!c.backends[0].redispatch)
        #expect(c.backends[0].servers[0].weight == 1)
        #expect(c.global.bufferSize == 16384)
    }

    @Test func aLaterDefaultsSectionReplacesTheEarlierOne() throws {
        let c = try #require(config("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                retries 7
            backend a
                server s 10.0.0.1:80
            defaults
                timeout connect 2s
                timeout client 2s
                timeout server 2s
            backend b
                server s 10.0.0.1:80
            """))
        #expect(c.backends[0].retries == 7)
        #expect(c.backends[0].timeouts.connect == 1000)
        // Not 7: the new section starts from built-in values.
        #expect(c.backends[1].retries == 3)
        #expect(c.backends[1].timeouts.connect == 2000)
    }

    @Test func namedDefaultsAndFrom() throws {
        let c = try #require(config("""
            defaults base
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                retries 9
            defaults tuned from base
                retries 1
                balance first
            defaults
                timeout connect 5s
                timeout client 5s
                timeout server 5s
            backend uses_last
                server s 10.0.0.1:80
            backend uses_base from base
                server s 10.0.0.1:80
            backend uses_tuned from tuned
                server s 10.0.0.1:80
            frontend fe from tuned
                bind :80
                default_backend uses_tuned
            """))
        #expect(c.backends.map(\.retries) == [3, 9, 1])
        #expect(c.backends.map(\.balance) == [.roundRobin, .roundRobin, .first])
        #expect(c.backends.map(\.timeouts.connect) == [5000, 1000, 1000])
        #expect(c.frontends[0].timeouts.client == 1000)
    }

    @Test func anonymousDefaultsFromANamedOne() throws {
        let c = try #require(config("""
            defaults base
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                retries 4
            defaults from base
                balance leastconn
            backend be
            """))
        #expect(c.backends[0].retries == 4)
        #expect(c.backends[0].balance == .leastConn)
    }

    @Test func sectionPseudoVariable() throws {
        let c = try #require(parse("backend app\n server s \"${.SECTION}.internal:${.LINE}\"\n").configuration)
        #expect(c.backends[0].servers[0].address == .host("app.internal", port: 2))
    }

    @Test func fromAnUnknownDefaultsSection() {
        #expect(errors("defaults base\nbackend b from bsae\n")
                == ["t.cfg:2:16: error: no defaults section named 'bsae'; did you mean 'base'?"])
        #expect(errors("defaults a\ndefaults a\n")
                == ["t.cfg:2:10: error: defaults section 'a' is already defined at t.cfg:1:10"])
    }

    @Test func repeatedGlobalSectionsMerge() throws {
        let c = try #require(config("""
            global
                maxconn 100
                log stdout format raw local0
            global
                nbthread 2
                log stderr local1 info
                maxconn 200
            """))
        #expect(c.global.maxconn == 200)
        #expect(c.global.nbthread == 2)
        #expect(c.global.logs.map(\.destination) == [.stdout, .stderr])
    }

    @Test func logGlobalIsResolvedAfterEveryGlobalSection() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                log global
                log stderr local2
                bind :80
                default_backend be
            backend be
                server s 10.0.0.1:80
            global
                log stdout format raw local0
            """))
        #expect(c.frontends[0].logs.map(\.destination) == [.stdout, .stderr])
        #expect(c.frontends[0].logs.map(\.facility) == [16, 18])
    }

    @Test func logsFromDefaultsAndNoLog() throws {
        let c = try #require(config("""
            global
                log stdout local0
            defaults
                log global
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend a
                bind :80
                default_backend be
            frontend b
                bind :81
                no log
                log stderr local1
                default_backend be
            backend be
                server s 10.0.0.1:80
            """))
        #expect(c.frontends[0].logs.map(\.destination) == [.stdout])
        #expect(c.frontends[1].logs.map(\.destination) == [.stderr])
    }

    @Test func sectionsNeedNames() {
        #expect(errors("frontend\n bind :80\n") == ["t.cfg:1:1: error: 'frontend' needs a name"])
        #expect(errors("backend a/b\n") == ["t.cfg:1:9: error: character '/' is not permitted in backend name 'a/b'"])
        #expect(errors("global extra\n") == ["t.cfg:1:8: error: unexpected argument 'extra' after 'global'"])
    }

    @Test func keywordsOutsideSections() {
        #expect(errors("maxconn 10\n")
                == ["t.cfg:1:1: error: 'maxconn' must be inside a section (global, defaults, frontend, backend or listen)"])
        #expect(errors("fronted fe\n") == ["t.cfg:1:1: error: unknown section 'fronted'; did you mean 'frontend'?"])
    }

    @Test func unsupportedSectionsAreSkipped() {
        #expect(errors("""
            userlist admins
                user bob password x
            cache assets
                total-max-size 64
            global
                maxconn 10
            """) == ["t.cfg:3:1: error: 'cache' sections are not supported by Weir yet"])
    }

    @Test func sectionsEndAtTheEndOfAFile() {
        let files = [ConfigFile(name: "a.cfg", bytes: Array("global\n".utf8)),
                     ConfigFile(name: "b.cfg", bytes: Array("maxconn 5\n".utf8))]
        #expect(messages(ConfigParser.parse(files, environment: [:]))
                == ["b.cfg:1:1: error: 'maxconn' must be inside a section (global, defaults, frontend, backend or listen)"])
    }

    @Test func defaultsCarryAcrossFiles() throws {
        let files = [ConfigFile(name: "a.cfg", bytes: Array(timeoutDefaults.utf8)),
                     ConfigFile(name: "b.cfg", bytes: Array("backend be\n server s 10.0.0.1:1\n".utf8))]
        let r = ConfigParser.parse(files, environment: [:])
        #expect(r.diagnostics.isEmpty)
        #expect(r.configuration?.backends[0].timeouts.connect == 5000)
    }

    @Test func defaultBackendFromDefaults() throws {
        let c = try #require(config(timeoutDefaults.replacingOccurrences("defaults", "defaults\n    default_backend be") + """
            frontend fe
                bind :80
            backend be
                server s 10.0.0.1:80
            """))
        #expect(c.frontends[0].defaultBackend == 0)
    }
}

extension String {
    /// Test helper without Foundation.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
