import Testing
@testable import WeirConfig

@Suite struct AddressTests {
    func binds(_ line: String, environment: [String: String] = [:]) -> [ListenAddress]? {
        let r = parse(timeoutDefaults + "frontend fe\n" + line + "\n default_backend be\nbackend be\n",
                      environment: environment)
        #expect(messages(r) == [], "\(r.diagnostics.map { $0.rendered() })")
        return r.configuration?.frontends.first?.binds.map(\.address)
    }

    func server(_ address: String) -> ServerAddress? {
        let r = parse(timeoutDefaults + "backend be\n server s \(address)\n")
        #expect(messages(r) == [], "\(r.diagnostics.map { $0.rendered() })")
        return r.configuration?.backends.first?.servers.first?.address
    }

    static let v6Loopback = IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1])

    @Test func bindIPv4() {
        #expect(binds("bind 10.1.2.3:80") == [.ip(v4(10, 1, 2, 3), port: 80)])
        #expect(binds("bind ipv4@127.0.0.1:443") == [.ip(v4(127, 0, 0, 1), port: 443)])
        #expect(binds("bind localhost:80") == [.ip(v4(127, 0, 0, 1), port: 80)])
    }

    @Test func bindPortZeroLetsTheKernelChoose() {
        #expect(binds("bind 127.0.0.1:0") == [.ip(v4(127, 0, 0, 1), port: 0)])
        #expect(binds("bind [::1]:0") == [.ip(AddressTests.v6Loopback, port: 0)])
    }

    @Test func bindAnyAddress() {
        #expect(binds("bind *:80") == [.ip(.anyV4, port: 80)])
        #expect(binds("bind :80") == [.ip(.anyV4, port: 80)])
        #expect(binds("bind ipv6@:80") == [.ip(.anyV6, port: 80)])
    }

    @Test func bindIPv6() {
        #expect(binds("bind [::]:80") == [.ip(.anyV6, port: 80)])
        #expect(binds("bind :::80") == [.ip(.anyV6, port: 80)])
        #expect(binds("bind [::1]:8443") == [.ip(Self.v6Loopback, port: 8443)])
        #expect(binds("bind ::1:8443") == [.ip(Self.v6Loopback, port: 8443)])
        let v6 = IPAddress(bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10])
        #expect(binds("bind [2001:db8::10]:80") == [.ip(v6, port: 80)])
        let mapped = IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1])
        #expect(binds("bind [::ffff:192.168.0.1]:80") == [.ip(mapped, port: 80)])
    }

    @Test func bindPortRangesAndLists() {
        #expect(binds("bind :8000-8002") == [.ip(.anyV4, port: 8000), .ip(.anyV4, port: 8001), .ip(.anyV4, port: 8002)])
        #expect(binds("bind 127.0.0.1:80,[::1]:81") == [.ip(v4(127, 0, 0, 1), port: 80), .ip(Self.v6Loopback, port: 81)])
        #expect(binds("bind :80\n bind :81 name second") == [.ip(.anyV4, port: 80), .ip(.anyV4, port: 81)])
    }

    @Test func bindInheritedDescriptors() {
        #expect(binds("bind fd@3") == [.inheritedFD(3)])
        #expect(binds("bind \"fd@${LISTEN_FD}\"", environment: ["LISTEN_FD": "7"]) == [.inheritedFD(7)])
    }

    @Test func bindUnixSockets() {
        #expect(binds("bind /run/weir.sock") == [.unix(path: "/run/weir.sock")])
        #expect(binds("bind unix@relative.sock") == [.unix(path: "relative.sock")])
    }

    @Test func bindLocationsPointAtEachAddress() throws {
        let c = try #require(parse(timeoutDefaults + "frontend fe\n  bind :80,:81\n default_backend be\nbackend be\n").configuration)
        #expect(c.frontends[0].binds.map(\.location.column) == [8, 12])
        #expect(c.frontends[0].binds.map(\.location.line) == [6, 6])
    }

    @Test func serverAddresses() {
        #expect(server("10.0.0.1:80") == .ip(v4(10, 0, 0, 1), port: 80))
        #expect(server("[::1]:80") == .ip(Self.v6Loopback, port: 80))
        #expect(server("app.internal:8080") == .host("app.internal", port: 8080))
        #expect(server("localhost:1") == .host("localhost", port: 1))
        #expect(server("/run/app.sock") == .unix(path: "/run/app.sock"))
        #expect(server("unix@/run/app.sock") == .unix(path: "/run/app.sock"))
        #expect(server("ipv4@10.0.0.2:81") == .ip(v4(10, 0, 0, 2), port: 81))
    }

    func serverPort(_ address: String) -> (ServerAddress, Int?)? {
        let r = parse(timeoutDefaults + "backend be\n server s \(address)\n")
        #expect(messages(r) == [], "\(r.diagnostics.map { $0.rendered() })")
        return r.configuration?.backends.first?.servers.first.map { ($0.address, $0.portOffset) }
    }

    /// No port, or `+N`/`-N`: the port the client connected to, moved by
    /// the offset; `*`, `0.0.0.0`, `::`: the address it connected to.
    @Test func serverPortsAndAddressesFollowingTheClient() throws {
        let cases: [(String, ServerAddress, Int?)] = [
            ("10.0.0.1:80", .ip(v4(10, 0, 0, 1), port: 80), nil),
            ("10.0.0.1", .ip(v4(10, 0, 0, 1), port: 0), 0),
            ("10.0.0.1:+1000", .ip(v4(10, 0, 0, 1), port: 0), 1000),
            ("10.0.0.1:-80", .ip(v4(10, 0, 0, 1), port: 0), -80),
            ("app.internal", .host("app.internal", port: 0), 0),
            ("app.internal:+1", .host("app.internal", port: 0), 1),
            ("::1", .ip(Self.v6Loopback, port: 0), 0),
            ("[::1]", .ip(Self.v6Loopback, port: 0), 0),
            ("[::1]:+2", .ip(Self.v6Loopback, port: 0), 2),
            ("*:80", .ip(.anyV4, port: 80), nil),
            (":8080", .ip(.anyV4, port: 8080), nil),
            ("*", .ip(.anyV4, port: 0), 0),
            ("0.0.0.0:+1", .ip(.anyV4, port: 0), 1),
            ("::", .ip(.anyV6, port: 0), 0),
            ("ipv6@*:81", .ip(.anyV6, port: 81), nil),
        ]
        for (text, address, offset) in cases {
            let parsed = try #require(serverPort(text), "\(text)")
            #expect(parsed.0 == address && parsed.1 == offset, "\(text): \(parsed)")
            #expect(parsed.0.isUnspecified == ["*:80", ":8080", "*", "0.0.0.0:+1", "::", "ipv6@*:81"].contains(text), "\(text)")
        }
    }

    @Test func syslogTargetsParseWithoutWarnings() {
        let r = parse("global\n    log stdout local0\n    log 10.0.0.5:514 local1\n    log /dev/log local2\n")
        #expect(messages(r) == [])
        #expect(messages(r, .warning) == [])
    }

    @Test func logTargets() throws {
        let c = try #require(config("""
            global
                log stdout format raw local0
                log stderr len 200 format rfc5424 daemon warning emerg
                log 10.0.0.5 local1
                log udp@10.0.0.6:1514 local2 info
                log [::1]:515 local3
                log /dev/log local4 notice
                log unix@/tmp/log.sock user
                log "fd@1" local5
            """))
        let logs = c.global.logs
        #expect(logs.map(\.destination) == [
            .stdout, .stderr, .udp(v4(10, 0, 0, 5), port: 514), .udp(v4(10, 0, 0, 6), port: 1514),
            .udp(Self.v6Loopback, port: 515), .unixDatagram(path: "/dev/log"), .unixDatagram(path: "/tmp/log.sock"),
            .stdout,
        ])
        #expect(logs.map(\.facility) == [16, 3, 17, 18, 19, 20, 1, 21])
        #expect(logs.map(\.format) == [.raw, .rfc5424, .rfc3164, .rfc3164, .rfc3164, .rfc3164, .rfc3164, .rfc3164])
        #expect(logs[1].maxLength == 200)
        #expect(logs[0].maxLength == 1024)
        #expect(logs[1].maxLevel == .warning)
        #expect(logs[1].minLevel == .emerg)
        #expect(logs[3].maxLevel == .info)
        #expect(logs[0].maxLevel == nil)
        #expect(logs[2].location == WeirConfig.SourceLocation(file: "t.cfg", line: 4, column: 5))
    }

    @Test("log HOST[:PORT]: a host name is resolved when the configuration is read")
    func logHostNames() throws {
        let name = loopbackHostName()
        let c = try #require(config("global\n    log \(name):5140 local0\n    log ipv4@\(name) local1\n"))
        #expect(c.global.logs.map(\.destination) == [.udp(v4(127, 0, 0, 1), port: 5140), .udp(v4(127, 0, 0, 1), port: 514)])
    }

    @Test func ipLiteralParsing() {
        #expect(Addresses.parseIPv4("256.1.1.1") == nil)
        #expect(Addresses.parseIPv4("1.2.3") == nil)
        #expect(Addresses.parseIPv6("1:2:3:4:5:6:7:8") != nil)
        #expect(Addresses.parseIPv6("1:2:3:4:5:6:7:8:9") == nil)
        #expect(Addresses.parseIPv6("1::2::3") == nil)
        #expect(Addresses.parseIPv6("12345::") == nil)
        #expect(Addresses.parseIPv6("::")?.bytes == [UInt8](repeating: 0, count: 16))
    }
}

@Suite struct AbstractAddressTests {
    @Test func abnsNamesAnAbstractSocket() throws {
        let c = try #require(config(timeoutDefaults + "frontend fe\n    bind abns@inner\n    default_backend be\nbackend be\n    server s1 abns@inner\n"))
        #expect(c.frontends[0].binds[0].address.description == "abns@inner")
        #expect(c.backends[0].servers[0].address.description == "abns@inner")
        #expect(errors(timeoutDefaults + "backend be\n    server s1 abns@\n") == ["t.cfg:6:15: error: server: expected a name after 'abns@'"])
    }
}

@Suite struct SourceAddressConfigTests {
    @Test func serversTakeTheirBackendsSourceUnlessTheyHaveTheirOwn() throws {
        let c = try #require(config(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:80
                source 10.0.0.1
                server s2 127.0.0.1:81 source 10.0.0.2:4000
                server s3 [::1]:82 source *:5000
            """ + "\n"))
        let sources = c.backends[0].servers.map { $0.source.map { "\($0.ip) \($0.port)" } }
        #expect(sources == ["10.0.0.1 0", "10.0.0.2 4000", "0:0:0:0:0:0:0:0 5000"], "a wildcard source takes the server's family: \(sources)")
    }

    @Test func errors() {
        let backend = timeoutDefaults + "backend be\n"
        #expect(WeirConfigTests.errors(backend + "    source 10.0.0.1 usesrc clientip\n    server s1 127.0.0.1:80\n")
                == ["t.cfg:6:21: error: source: 'usesrc' is not supported by Weir yet"])
        #expect(WeirConfigTests.errors(backend + "    server s1 127.0.0.1:80 source 10.0.0.1:1025-65000\n")
                == ["t.cfg:6:35: error: source: port ranges are not supported by Weir yet; give one port, or none"])
        #expect(WeirConfigTests.errors(backend + "    server s1 [::1]:80 source 10.0.0.1\n")
                == ["t.cfg:6:12: error: server 'be/s1': source 10.0.0.1 is IPv4 but the server's address is IPv6"])
        #expect(WeirConfigTests.errors(backend + "    server s1 127.0.0.1:80 source nowhere\n")
                == ["t.cfg:6:35: error: source: expected an IP address, got 'nowhere'"])
    }
}
