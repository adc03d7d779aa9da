import Glibc
import Testing
@testable import WeirConfig

@Suite("resolvers sections and server DNS keywords")
struct ResolversConfigTests {
    private func withBackend(_ resolvers: String, server: String = "server s1 app.example:80 resolvers dns init-addr none")
        -> String {
        resolvers + "\n" + timeoutDefaults + "backend be\n    \(server)\n"
    }

    @Test("every keyword of a resolvers section, with HAProxy's defaults")
    func section() throws {
        let c = try #require(config(withBackend("""
            resolvers dns
                nameserver ns1 10.0.0.53:53
                nameserver ns2 udp@[2001:db8::53]:5353
                resolve_retries 5
                timeout resolve 2s
                timeout retry 500ms
                hold valid 20s
                hold nx 5s
                hold timeout 6s
                hold refused 7s
                hold other 8s
                hold obsolete 9s
                accepted_payload_size 8192
            """)))
        let r = try #require(c.resolvers.first)
        #expect(r.name == "dns" && r.nameservers.map(\.id) == ["ns1", "ns2"])
        #expect(r.nameservers[0].ip.description == "10.0.0.53" && r.nameservers[0].port == 53)
        #expect(r.nameservers[1].ip.isV6 && r.nameservers[1].port == 5353)
        #expect(r.retries == 5 && r.resolveInterval == 2000 && r.retryTimeout == 500)
        #expect(r.holdValid == 20_000 && r.holdNX == 5000 && r.holdTimeout == 6000 && r.holdRefused == 7000)
        #expect(r.holdOther == 8000 && r.holdObsolete == 9000 && r.acceptedPayloadSize == 8192)
        let defaults = ResolversSection(name: "x", location: r.location)
        #expect(defaults.retries == 3 && defaults.holdValid == 10_000 && defaults.holdNX == 30_000)
        let server = try #require(c.backends.first?.servers.first)
        #expect(server.resolution?.resolvers == "dns" && server.resolution?.index == 0)
        #expect(server.resolution?.prefer == .ipv6)
    }

    @Test("server keywords: resolve-prefer, resolve-opts, resolve-net, and default-server")
    func serverKeywords() throws {
        let c = try #require(config("""
            resolvers dns
                nameserver ns1 10.0.0.53:53
            \(timeoutDefaults)
            backend be
                default-server resolvers dns init-addr none
                server s1 a.example:80 resolve-prefer ipv4 resolve-opts allow-dup-ip,ignore-weight resolve-net 10.0.0.0/8,fd00::/8
                server s2 10.0.0.2:80
            """))
        let servers = try #require(c.backends.first?.servers)
        #expect(servers[0].resolution?.prefer == .ipv4)
        #expect(servers[0].resolution?.networks.map(\.prefixLength) == [8, 8])
        #expect(servers[1].resolution?.resolvers == "dns")
    }

    @Test("a name server given by name is resolved when the configuration is read")
    func nameServerByName() throws {
        let c = try #require(config(withBackend("resolvers dns\n    nameserver local localhost:5353")))
        let server = try #require(c.resolvers.first?.nameservers.first)
        #expect(["127.0.0.1", "::1"].contains(server.ip.description) && server.port == 5353, "\(server)")
    }

    @Test("parse-resolv-conf adds the name servers of /etc/resolv.conf")
    func resolvConf() throws {
        guard let file = fopen("/etc/resolv.conf", "r") else { return }
        var expected = 0
        var line = [CChar](repeating: 0, count: 1024)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if fields.count >= 2, fields[0] == "nameserver", IPAddress.parse(String(fields[1])) != nil { expected += 1 }
        }
        fclose(file)
        let result = parse(withBackend("resolvers dns\n    parse-resolv-conf\n    nameserver extra 10.0.0.53:53"))
        if expected == 0 { return }
        let r = try #require(result.configuration?.resolvers.first)
        #expect(r.nameservers.count == expected + 1)
        #expect(r.nameservers.first?.port == 53 && r.nameservers.last?.id == "extra")
    }

    @Test("prevent-dup-ip warns; an SRV name needs resolvers")
    func unsupported() {
        #expect(warnings(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53",
                                     server: "server s1 a.example:80 resolvers dns resolve-opts prevent-dup-ip init-addr none"))
                == ["t.cfg:8:55: warning: 'resolve-opts prevent-dup-ip' is ignored: Weir lets servers share an address "
                    + "(a server-template still gives each server its own)"])
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53",
                                   server: "server-template s 3 _http._tcp.app.local init-addr none"))
                == ["t.cfg:8:25: error: server-template: '_http._tcp.app.local' names DNS SRV records, which only a "
                    + "'resolvers' section resolves; add 'resolvers <section>'"])
        let srv = parse(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53",
                                    server: "server-template s 3 _http._tcp.app.local resolvers dns resolve-opts ignore-weight"))
        let servers = srv.configuration?.backends.first?.servers ?? []
        #expect(servers.count == 3 && servers.allSatisfy { $0.address.isServiceName && $0.resolution?.ignoreWeight == true },
                "\(messages(srv))")
    }

    @Test("errors name the file, line and column")
    func errorsArePrecise() {
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53",
                                   server: "server s1 a.example:80 resolvers dsn init-addr none"))
                == ["t.cfg:8:38: error: server 'be/s1': unable to find resolvers 'dsn'; did you mean 'dns'?"])
        // A name is resolved when the configuration is read (`.invalid` never resolves, RFC 6761).
        let unresolved = errors(withBackend("resolvers dns\n    nameserver ns1 nowhere.invalid:53"))
        #expect(unresolved.count == 2
                && unresolved[0].hasPrefix("t.cfg:2:20: error: nameserver 'ns1': could not resolve 'nowhere.invalid': "),
                "\(unresolved)")
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 :53"))
                == ["t.cfg:2:20: error: nameserver 'ns1': expected an IP address and a port like 10.0.0.53:53, got ':53'",
                    "t.cfg:1:11: error: resolvers 'dns' has no nameserver; add 'nameserver <id> <ip>:<port>' or 'parse-resolv-conf'"])
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 tcp@10.0.0.53:53"))
                == ["t.cfg:2:20: error: nameserver 'ns1': 'tcp@' addresses are not supported by Weir yet; Weir queries name servers over UDP",
                    "t.cfg:1:11: error: resolvers 'dns' has no nameserver; add 'nameserver <id> <ip>:<port>' or 'parse-resolv-conf'"])
        #expect(errors(withBackend("resolvers dns")) == ["t.cfg:1:11: error: resolvers 'dns' has no nameserver; add 'nameserver <id> <ip>:<port>' or 'parse-resolv-conf'"])
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53\n    hold forever 1s"))
                == ["t.cfg:3:10: error: 'hold' expects one of valid, nx, timeout, refused, other, obsolete and a duration, got 'forever'"])
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53\n    timeot resolve 1s"))
                == ["t.cfg:3:5: error: unknown keyword 'timeot' in 'resolvers' section; did you mean 'timeout'?"])
        #expect(errors(withBackend("resolvers dns\n    nameserver ns1 10.0.0.53:53",
                                   server: "server s1 a.example:80 resolvers dns resolve-prefer ipv5 init-addr none"))
                == ["t.cfg:8:57: error: 'resolve-prefer' expects 'ipv4' or 'ipv6', got 'ipv5'"])
    }
}

@Suite("server-template")
struct ServerTemplateConfigTests {
    @Test("a count or a range makes the servers, with the template's options")
    func servers() throws {
        let c = try #require(config(timeoutDefaults + """
            backend be
                server-template web 3 app.example:8080 check weight 20
                server-template api 5-6 10.0.0.1:80
            """))
        let servers = try #require(c.backends.first?.servers)
        #expect(servers.map(\.name) == ["web1", "web2", "web3", "api5", "api6"])
        #expect(servers.map(\.id) == [1, 2, 3, 4, 5])
        #expect(servers[0].weight == 20 && servers[2].check.enabled && servers[2].address.description == "app.example:8080")
        #expect(servers[0].template == 0 && servers[2].template == 0 && servers[3].template == 3)
    }

    @Test("errors name the file, line and column")
    func errors() {
        #expect(WeirConfigTests.errors(timeoutDefaults + "backend be\n    server-template web x app.example:80\n")
                == ["t.cfg:6:25: error: server-template: expected a number of servers or a range like 1-5, got 'x'"])
        #expect(WeirConfigTests.errors(timeoutDefaults + "backend be\n    server-template web 2 app.example:80 id 4\n")
                == ["t.cfg:6:42: error: 'id' is not allowed in 'server-template': each server needs its own"])
        #expect(WeirConfigTests.errors(timeoutDefaults + "frontend fe\n    bind :80\n    server-template web 2 app.example:80\n")
                == ["t.cfg:7:5: error: 'server-template' is not allowed in a 'frontend' section"])
    }
}
