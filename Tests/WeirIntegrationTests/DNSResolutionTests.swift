import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Server addresses at run time: `set server … addr`, and DNS resolution
// by the master (`resolvers` sections) against a real DNS server.

/// A `resolvers dns` section asking `dns` quickly, with a short `hold nx`.
private func resolvers(_ dns: DNSServer) -> String {
    """
    resolvers dns
        nameserver ns1 \(dns.address)
        timeout resolve 100ms
        timeout retry 100ms
        hold valid 1s
        hold nx 200ms
    """
}

@Suite("DNS resolution by the master", .serialized)
struct DNSResolutionTests {
    @Test("a server follows its name's address; NXDOMAIN puts it in maintenance and a new answer brings it back")
    func followsDNS() throws {
        let pair = try Backend.onOnePort([(.name("old"), "127.0.0.1"), (.name("new"), "127.0.0.2")])
        let old = pair[0], new = pair[1]
        defer {
            old.stop()
            new.stop()
        }
        let dns = try DNSServer(zone: ["app.test": ["A": ["127.0.0.1"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server s1 app.test:\(old.port) resolvers dns init-addr none resolve-prefer ipv4"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        #expect(waitForName(port, "old"), "stderr:\n\(harness.master.stderr.text)")

        try dns.set(["app.test": ["A": ["127.0.0.2"]]])
        #expect(waitForName(port, "new"), "stderr:\n\(harness.master.stderr.text)")
        let moved = harness.master.stderr.waitForLine(timeout: 10) {
            $0.contains("be/s1 changed its IP from 127.0.0.1 to 127.0.0.2 by dns/ns1")
        }
        #expect(moved != nil, "stderr:\n\(harness.master.stderr.text)")
        #expect(serverStates(socket)["be/s1"]?.address == "127.0.0.2")

        try dns.set([:])
        let down = harness.master.stderr.waitForLine(timeout: 10) {
            $0.contains("Server be/s1 is going DOWN for maintenance (DNS NX status)")
        }
        #expect(down != nil, "stderr:\n\(harness.master.stderr.text)")
        let state = serverStates(socket)["be/s1"]
        #expect(state.map { $0.admin & 0x20 != 0 } == true, "\(String(describing: state))")
        let stat = waitForStat(socket) { $0.text("be/s1", "status") == "MAINT (resolution)" }
        #expect(stat.ok, "\(String(describing: stat.table))")
        // In maintenance the server takes no traffic.
        #expect((try? askName(port)) != "new")

        try dns.set(["app.test": ["A": ["127.0.0.1"]]])
        #expect(waitForName(port, "old"), "stderr:\n\(harness.master.stderr.text)")
        #expect(serverStates(socket)["be/s1"].map { $0.admin & 0x20 == 0 } == true)
        harness.expectNoWorkerCrash()
    }

    @Test("across a reload the server keeps the address its name resolved to, and goes on following it")
    func reloadKeepsTheAddress() throws {
        let trio = try Backend.onOnePort([(.name("old"), "127.0.0.1"), (.name("new"), "127.0.0.2"),
                                          (.name("third"), "127.0.0.3")])
        let old = trio[0], new = trio[1], third = trio[2]
        defer {
            old.stop()
            new.stop()
            third.stop()
        }
        let dns = try DNSServer(zone: ["app.test": ["A": ["127.0.0.2"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server s1 app.test:\(old.port) resolvers dns init-addr none resolve-prefer ipv4"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        #expect(waitForName(try harness.master.port(of: "fe"), "new"), "stderr:\n\(harness.master.stderr.text)")
        let reload = try harness.reload()
        #expect(reload.success, "\(reload.answer)")
        let port = try harness.master.port(of: "fe")
        // The new workers start on the carried address, before any answer.
        #expect(try askName(port) == "new")
        try dns.set(["app.test": ["A": ["127.0.0.3"]]])
        #expect(waitForName(port, "third"), "stderr:\n\(harness.master.stderr.text)")
        harness.expectNoWorkerCrash()
    }

    @Test("-d: the single process resolves too")
    func debugMode() throws {
        let pair = try Backend.onOnePort([(.name("old"), "127.0.0.1"), (.name("new"), "127.0.0.2")])
        let old = pair[0], new = pair[1]
        defer {
            old.stop()
            new.stop()
        }
        let dns = try DNSServer(zone: ["app.test": ["A": ["127.0.0.1"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server s1 app.test:\(old.port) resolvers dns init-addr none resolve-prefer ipv4"
        let weir = try WeirProcess.start(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        #expect(waitForName(port, "old"), "stderr:\n\(weir.stderr.text)")
        try dns.set(["app.test": ["A": ["127.0.0.2"]]])
        #expect(waitForName(port, "new"), "stderr:\n\(weir.stderr.text)")
        #expect(serverStates(socket)["be/s1"]?.address == "127.0.0.2")
    }

    @Test("resolve-prefer ipv6 (the default) asks AAAA first and falls back to A")
    func prefersIPv6ThenIPv4() throws {
        let backend = try Backend(.name("v4"))
        defer { backend.stop() }
        let dns = try DNSServer(zone: ["v4only.test": ["A": ["127.0.0.1"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server s1 v4only.test:\(backend.port) resolvers dns init-addr none"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        #expect(waitForName(port, "v4"), "stderr:\n\(harness.master.stderr.text)")
        #expect(dns.output.lines.contains("query v4only.test 28"), "asked AAAA: \(dns.output.lines)")
        harness.expectNoWorkerCrash()
    }
}

@Suite("server-template with DNS", .serialized)
struct ServerTemplateTests {
    @Test("server-template spreads a multi-record answer over its servers; the rest wait in maintenance")
    func spreadsRecords() throws {
        let names = ["one", "two", "three"]
        let trio = try Backend.onOnePort([(.name("one"), "127.0.0.1"), (.name("two"), "127.0.0.2"),
                                          (.name("three"), "127.0.0.3")])
        let first = trio[0], others = Array(trio[1...])
        defer {
            first.stop()
            others.forEach { $0.stop() }
        }
        let dns = try DNSServer(zone: ["pool.test": ["A": ["127.0.0.1", "127.0.0.2"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server-template web 4 pool.test:\(first.port) resolvers dns init-addr none resolve-prefer ipv4"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        let filled = waitUntil(timeout: 10) {
            let states = serverStates(socket)
            return states["be/web1"]?.address == "127.0.0.1" && states["be/web2"]?.address == "127.0.0.2"
                && states["be/web3"].map { $0.admin & 0x20 != 0 } == true
                && states["be/web4"].map { $0.admin & 0x20 != 0 } == true
        }
        #expect(filled, "\(serverStates(socket))")
        var seen = Set<String>()
        for _ in 0..<20 { if let name = try? askName(port) { seen.insert(name) } }
        #expect(seen == ["one", "two"], "\(seen)")

        // A third record fills a waiting server; the others keep theirs.
        try dns.set(["pool.test": ["A": ["127.0.0.3", "127.0.0.2", "127.0.0.1"]]])
        let third = waitUntil(timeout: 10) {
            let states = serverStates(socket)
            return states["be/web3"]?.address == "127.0.0.3" && states["be/web3"].map { $0.admin & 0x20 == 0 } == true
        }
        #expect(third, "\(serverStates(socket))")
        let states = serverStates(socket)
        #expect(states["be/web1"]?.address == "127.0.0.1" && states["be/web2"]?.address == "127.0.0.2")
        seen = []
        #expect(waitUntil(timeout: 10) {
            if let name = try? askName(port) { seen.insert(name) }
            return seen == Set(names)
        }, "\(seen)")
        harness.expectNoWorkerCrash()
    }

    @Test("hold obsolete: a server keeps an address that left the answers for that long, then waits")
    func holdObsolete() throws {
        let pair = try Backend.onOnePort([(.name("one"), "127.0.0.1"), (.name("two"), "127.0.0.2")])
        let first = pair[0], second = pair[1]
        defer {
            first.stop()
            second.stop()
        }
        let dns = try DNSServer(zone: ["pool.test": ["A": ["127.0.0.1", "127.0.0.2"]]])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server-template web 2 pool.test:\(first.port) resolvers dns init-addr none resolve-prefer ipv4"
        let harness = try MasterHarness(config: addressConfig(socket: socket,
                                                              resolvers: resolvers(dns) + "\n    hold obsolete 2s",
                                                              servers: servers))
        defer { harness.close() }
        #expect(waitUntil(timeout: 10) {
            let states = serverStates(socket)
            return states["be/web1"]?.address == "127.0.0.1" && states["be/web2"]?.address == "127.0.0.2"
        }, "\(serverStates(socket))")
        try dns.set(["pool.test": ["A": ["127.0.0.2"]]])
        // Several answers without 127.0.0.1 (each query is logged after its answer).
        let queries = dns.queries
        #expect(waitUntil(timeout: 10) { dns.queries >= queries + 4 })
        #expect(serverStates(socket)["be/web1"]?.address == "127.0.0.1", "kept while obsolete")
        #expect(waitUntil(timeout: 10) { serverStates(socket)["be/web1"].map { $0.admin & 0x20 != 0 } == true },
                "\(serverStates(socket))")
        #expect(serverStates(socket)["be/web2"]?.address == "127.0.0.2")
        harness.expectNoWorkerCrash()
    }
}

@Suite("DNS SRV records", .serialized)
struct ServiceRecordTests {
    @Test("SRV records give a server-template's servers their targets' addresses, ports and weights; a record that leaves frees its server")
    func followsRecords() throws {
        let one = try Backend(.name("one"))
        let two = try Backend(.name("two"))
        let three = try Backend(.name("three"))
        defer { [one, two, three].forEach { $0.stop() } }
        let service = "_app._tcp.pool.test"
        let hosts: [String: [String: [String]]] = [
            "a.pool.test": ["A": ["127.0.0.1"]], "b.pool.test": ["A": ["127.0.0.1"]], "c.pool.test": ["A": ["127.0.0.1"]],
        ]
        let dns = try DNSServer(zone: hosts.merging([
            service: ["SRV": ["0 512 \(one.port) a.pool.test", "0 2560 \(two.port) b.pool.test"]],
        ]) { $1 })
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server-template web 3 \(service) resolvers dns resolve-prefer ipv4"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        let filled = waitUntil(timeout: 10) {
            let states = serverStates(socket)
            return states["be/web1"]?.port == String(one.port) && states["be/web2"]?.port == String(two.port)
                && states["be/web3"].map { $0.admin & 0x20 != 0 } == true
        }
        #expect(filled, "\(serverStates(socket))\nstderr:\n\(harness.master.stderr.text)")
        #expect(serverStates(socket)["be/web1"]?.address == "127.0.0.1")
        // HAProxy's scale: an SRV weight of 0-255 is 1, 256-511 is 2, ...
        #expect(try statsCommand(socket, "get weight be/web1").hasPrefix("3 (initial 1)\n"))
        #expect(try statsCommand(socket, "get weight be/web2").hasPrefix("11 (initial 1)\n"))
        var seen = Set<String>()
        #expect(waitUntil(timeout: 10) {
            if let name = try? askName(port) { seen.insert(name) }
            return seen == ["one", "two"]
        }, "\(seen)")

        // a.pool.test leaves the answers: its server waits, the other keeps its record.
        try dns.set(hosts.merging([service: ["SRV": ["0 2560 \(two.port) b.pool.test"]]]) { $1 })
        let removed = harness.master.stderr.waitForLine(timeout: 10) {
            $0.contains("Server be/web1 is going DOWN for maintenance (entry removed from SRV record)")
        }
        #expect(removed != nil, "stderr:\n\(harness.master.stderr.text)")
        #expect(serverStates(socket)["be/web2"]?.port == String(two.port))
        #expect(waitForName(port, "two"))

        // A new record goes to a server without one.
        try dns.set(hosts.merging([
            service: ["SRV": ["0 2560 \(two.port) b.pool.test", "0 0 \(three.port) c.pool.test"]],
        ]) { $1 })
        #expect(waitUntil(timeout: 10) { serverStates(socket)["be/web1"]?.port == String(three.port) },
                "\(serverStates(socket))")
        #expect(try statsCommand(socket, "get weight be/web1").hasPrefix("1 (initial 1)\n"))
        seen = []
        #expect(waitUntil(timeout: 10) {
            if let name = try? askName(port) { seen.insert(name) }
            return seen == ["two", "three"]
        }, "\(seen)")
        harness.expectNoWorkerCrash()
    }

    @Test("an SRV target missing from the additional section is asked for its A record; a lone server follows the first record")
    func asksForTargets() throws {
        let backend = try Backend(.name("only"))
        defer { backend.stop() }
        let service = "_app._tcp.lone.test"
        let dns = try DNSServer(zone: [
            service: ["SRV": ["0 0 \(backend.port) host.lone.test"], "NOADDITIONAL": []],
            "host.lone.test": ["A": ["127.0.0.1"]],
        ])
        defer { dns.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let servers = "    server s1 \(service) resolvers dns resolve-prefer ipv4 resolve-opts ignore-weight weight 7"
        let harness = try MasterHarness(config: addressConfig(socket: socket, resolvers: resolvers(dns), servers: servers))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        #expect(waitForName(port, "only"), "stderr:\n\(harness.master.stderr.text)")
        #expect(dns.output.lines.contains("query host.lone.test 1"), "\(dns.output.lines)")
        #expect(serverStates(socket)["be/s1"]?.port == String(backend.port))
        // ignore-weight: the record's weight 0 would make it 1.
        #expect(try statsCommand(socket, "get weight be/s1").hasPrefix("7 (initial 7)\n"))
        harness.expectNoWorkerCrash()
    }
}
