import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `show table NAME` as (key, server_id, exp) triples, and its header line.
private struct TableDump {
    let header: String
    let entries: [(key: String, serverID: Int, exp: Int)]

    init(_ text: String) {
        let lines = text.split(separator: "\n").map(String.init)
        header = lines.first ?? ""
        entries = lines.dropFirst().compactMap { line in
            var fields: [String: String] = [:]
            for word in line.split(separator: " ") {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            guard line.hasPrefix("0x"), let key = fields["key"], let id = fields["server_id"].flatMap({ Int($0) }),
                  let exp = fields["exp"].flatMap({ Int($0) }) else { return nil }
            return (key, id, exp)
        }
    }

    func server(of key: String) -> Int? { entries.first { $0.key == key }?.serverID }
}

@Suite("Stick tables", .serialized)
struct StickTableScenarioTests {
    private func tcpConfig(socket: String, port: UInt16, servers: [Backend], table: String, nbthread: Int = 4) -> String {
        """
        global
            nbthread \(nbthread)
            stats socket \(socket) level admin
        defaults
            mode tcp
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend fe
            bind 127.0.0.1:\(port)
            default_backend be
        backend be
            balance roundrobin
            \(table)
            stick on src
        \(serverLines(servers))

        """
    }

    @Test("stick on src: with 4 workers each source address keeps its server over 1,000 connections")
    func sourcePersistenceAcrossWorkers() throws {
        let servers = try (1...3).map { try Backend(.name("s\($0)")) }
        defer { for s in servers { s.stop() } }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: tcpConfig(socket: socket, port: port, servers: servers,
                                                    table: "stick-table type ip size 1k expire 10m"))
        defer { h.close() }
        let sources = (1...8).map { "127.0.0.\($0)" }
        var seen: [String: [String: Int]] = [:]
        for i in 0..<1000 {
            let source = sources[i % sources.count]
            let name: String
            do { name = try askName(port, source: source) } catch {
                Issue.record("connection \(i) from \(source): \(error); \(h.output)")
                return
            }
            seen[source, default: [:]][name, default: 0] += 1
        }
        for source in sources {
            #expect(seen[source]?.count == 1, "\(source) reached \(seen[source] ?? [:])")
        }
        // Round robin spreads the first connection of each source.
        let chosen = sources.compactMap { seen[$0]?.keys.first }
        #expect(Set(chosen).count >= 2, "servers by source: \(seen)")
        // Four workers served them.
        let procs = try h.showProc()
        #expect(procs.workers.count == 4)

        // show table lists the table and its entries with the servers' ids.
        let list = try statsCommand(socket, "show table")
        #expect(list == "# table: be, type: ip, size:1024, used:8\n\n", "\(list)")
        var dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.header == "# table: be, type: ip, size:1024, used:8")
        #expect(dump.entries.count == 8)
        for (index, source) in sources.enumerated() {
            let server = chosen[index]
            #expect(dump.server(of: source).map { "s\($0)" } == server, "\(source): \(dump.entries)")
        }
        #expect(dump.entries.allSatisfy { $0.exp > 0 && $0.exp <= 600_000 })
        let filtered = TableDump(try statsCommand(socket, "show table be data.server_id eq 1"))
        #expect(filtered.entries.map(\.key).sorted()
                == sources.enumerated().filter { chosen[$0.offset] == "s1" }.map(\.element).sorted())

        // A server in maintenance is not used: its sources move, and stay
        // on their new server once it is ready again.
        let moved = chosen[0]
        let movedSources = sources.enumerated().filter { chosen[$0.offset] == moved }.map(\.element)
        #expect(try statsCommand(socket, "set server be/\(moved) state maint") == "\n")
        var after: [String: Set<String>] = [:]
        for source in movedSources {
            for _ in 0..<12 { after[source, default: []].insert(try askName(port, source: source)) }
        }
        for source in movedSources {
            #expect(after[source]?.count == 1 && after[source]?.contains(moved) == false, "\(source): \(after)")
        }
        #expect(try statsCommand(socket, "set server be/\(moved) state ready") == "\n")
        for source in movedSources {
            let again = try (0..<8).map { _ in try askName(port, source: source) }
            #expect(Set(again) == after[source], "\(source) after ready: \(again)")
        }
        dump = TableDump(try statsCommand(socket, "show table be"))
        for source in movedSources {
            #expect(dump.server(of: source).map { "s\($0)" } == after[source]?.first)
        }

        // A draining server keeps its sticky clients.
        let drained = try #require(dump.server(of: sources[1]).map { "s\($0)" })
        #expect(try statsCommand(socket, "set server be/\(drained) state drain") == "\n")
        let stayed = try (0..<8).map { _ in try askName(port, source: sources[1]) }
        #expect(Set(stayed) == [drained], "\(sources[1]) while its server drains: \(stayed)")
        #expect(try statsCommand(socket, "set server be/\(drained) state ready") == "\n")

        // clear table forgets one key, then all of them.
        #expect(try statsCommand(socket, "clear table be key 127.0.0.2") == "\n")
        dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.entries.count == 7 && dump.server(of: "127.0.0.2") == nil)
        #expect(try statsCommand(socket, "clear table be") == "\n")
        #expect(try statsCommand(socket, "show table") == "# table: be, type: ip, size:1024, used:0\n\n")
        #expect(try statsCommand(socket, "show table nope") == "No such table\n\n")
        #expect(try statsCommand(socket, "clear table be key nonsense") == "Invalid key\n\n")
        h.expectNoWorkerCrash()
    }

    @Test("entries expire: a source is balanced again once its entry is gone")
    func expiry() throws {
        let servers = try (1...2).map { try Backend(.name("s\($0)")) }
        defer { for s in servers { s.stop() } }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: tcpConfig(socket: socket, port: port, servers: servers,
                                                    table: "stick-table type ip size 100 expire 300ms", nbthread: 2))
        defer { h.close() }
        let first = try askName(port, source: "127.0.0.5")
        var dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.entries.count == 1 && dump.entries.first.map { $0.exp <= 300 } == true, "\(dump.entries)")
        #expect(waitUntil(timeout: 10) { (try? statsCommand(socket, "show table be")).map { TableDump($0).entries.isEmpty } ?? false })
        dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.header == "# table: be, type: ip, size:100, used:0")
        // Round robin: with the entry gone, other connections move the
        // rotation; the source is stored again with whatever it gets.
        let second = try askName(port, source: "127.0.0.5")
        dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.server(of: "127.0.0.5").map { "s\($0)" } == second)
        _ = first
        h.expectNoWorkerCrash()
    }

    @Test("a server that refuses the connection is not stored; the one a redispatch reaches is")
    func refusedConnectionsAreNotStored() throws {
        let alive = try Backend(.name("s2"))
        defer { alive.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort(), refused = try freeLoopbackPort()
        let config = """
            global
                nbthread 1
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                balance first
                retries 0
                stick-table type ip size 10
                stick on src
                server s1 127.0.0.1:\(refused)
                server s2 \(alive.address)
            frontend fe2
                bind 127.0.0.1:0
                default_backend be2
            backend be2
                balance first
                retries 1
                option redispatch
                stick-table type ip size 10
                stick on src
                server s1 127.0.0.1:\(refused)
                server s2 \(alive.address)

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        // `first` picks s1, which refuses: no retry, nothing stored.
        let client = try Client(port: port, source: "127.0.0.7")
        _ = client.readToEnd()
        client.close()
        #expect(try statsCommand(socket, "show table be") == "# table: be, type: ip, size:10, used:0\n\n")
        // With a redispatch, s2 answers and is the one stored.
        let port2 = try h.master.port(of: "fe2")
        #expect(try askName(port2, source: "127.0.0.7") == "s2")
        #expect(TableDump(try statsCommand(socket, "show table be2")).server(of: "127.0.0.7") == 2)
        h.expectNoWorkerCrash()
    }

    @Test("a reload keeps the entries of a table that keeps its name and type")
    func entriesSurviveAReload() throws {
        let servers = try (1...3).map { try Backend(.name("s\($0)")) }
        defer { for s in servers { s.stop() } }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let config = tcpConfig(socket: socket, port: port, servers: servers, table: "stick-table type ip size 1k expire 10m",
                               nbthread: 2)
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let sources = (1...6).map { "127.0.0.\($0)" }
        var chosen: [String: String] = [:]
        for source in sources { chosen[source] = try askName(port, source: source) }
        // The new configuration's table is larger: the entries move over.
        try h.writeConfig(config.replacingOccurrences(of: "size 1k", with: "size 2k"))
        let (success, answer) = try h.reload()
        try #require(success, "\(answer)")
        let dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.header == "# table: be, type: ip, size:2048, used:6", "\(dump.header)")
        for source in sources {
            #expect(dump.server(of: source).map { "s\($0)" } == chosen[source])
            let again = try (0..<6).map { _ in try askName(port, source: source) }
            #expect(Set(again) == [chosen[source]!], "\(source) after the reload: \(again), before: \(chosen[source] ?? "?")")
        }
        // Another key type is another table: it starts empty.
        try h.writeConfig(config.replacingOccurrences(of: "type ip", with: "type ipv6"))
        let (changed, changedAnswer) = try h.reload()
        try #require(changed, "\(changedAnswer)")
        #expect(try statsCommand(socket, "show table") == "# table: be, type: ipv6, size:1024, used:0\n\n")
        _ = try askName(port, source: "127.0.0.9")
        #expect(TableDump(try statsCommand(socket, "show table be")).server(of: "::ffff:127.0.0.9") != nil)
        h.expectNoWorkerCrash()
    }

    @Test("mode http: stick on hdr(x-user), and store-response learning from the server's answer")
    func httpHeaderPersistence() throws {
        let backends = try (1...3).map { try HTTPBackend(name: "s\($0)") }
        defer { for b in backends { b.stop() } }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let config = """
            global
                nbthread 2
                stats socket \(socket) level admin
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend web
                bind 127.0.0.1:\(port)
                use_backend learn if { hdr(x-want) -m found }
                default_backend app
            backend app
                balance roundrobin
                stick-table type string len 16 size 100 expire 10m
                stick on hdr(x-user) if { hdr(x-user) -m found }
            \(backends.map { "    server \($0.name) \($0.address)" }.joined(separator: "\n"))
            backend learn
                balance roundrobin
                stick-table type string size 10
                stick match hdr(x-want)
                stick store-response res.hdr(x-served-by)
            \(backends.map { "    server \($0.name) \($0.address)" }.joined(separator: "\n"))

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        func get(_ headers: [String]) throws -> String {
            let connection = try HTTPConnection(port: port)
            defer { connection.close() }
            try connection.request("GET", "/", headers: headers)
            let response = try connection.readResponse()
            #expect(response.status == 200)
            return response.headers.value("x-served-by") ?? "?"
        }
        let users = ["alice", "bob", "carol", "dave", "erin"]
        var seen: [String: Set<String>] = [:]
        for i in 0..<60 {
            let user = users[i % users.count]
            seen[user, default: []].insert(try get(["x-user: \(user)"]))
        }
        for user in users { #expect(seen[user]?.count == 1, "\(user): \(seen)") }
        #expect(Set(users.compactMap { seen[$0]?.first }).count >= 2, "\(seen)")
        // Without the header, round robin.
        let anonymous = Set(try (0..<6).map { _ in try get([]) })
        #expect(anonymous.count == 3)
        let dump = TableDump(try statsCommand(socket, "show table app"))
        #expect(dump.header == "# table: app, type: string, size:100, used:5")
        for user in users { #expect(dump.server(of: user).map { "s\($0)" } == seen[user]?.first) }

        // store-response: the answers teach the table which id each name has.
        for _ in 0..<12 { _ = try get(["x-want: nobody"]) }
        let learnt = TableDump(try statsCommand(socket, "show table learn"))
        #expect(Set(learnt.entries.map(\.key)) == ["s1", "s2", "s3"], "\(learnt.entries)")
        for name in ["s3", "s1", "s2"] {
            let served = try (0..<4).map { _ in try get(["x-want: \(name)"]) }
            #expect(Set(served) == [name], "x-want \(name): \(served)")
        }
        h.expectNoWorkerCrash()
    }

    @Test("type binary: keys are padded to their length, shown in hexadecimal, and keep their server")
    func binaryKeys() throws {
        let backends = try namedHTTPServers(2)
        defer { backends.forEach { $0.stop() } }
        let socket = statsSocketPath()
        let config = httpConfig(backend: """
                balance roundrobin
                stick-table type binary len 6 size 100
                stick on req.hdr(x-user) if { req.hdr(x-user) -m found }
            """ + "\n" + httpServerLines(backends), global: "    stats socket \(socket) level admin")
        let scenario = try HTTPScenario(config: config, backends: backends)
        defer { scenario.close() }
        func served(_ user: String) throws -> String {
            let connection = try scenario.connect()
            defer { connection.close() }
            try connection.request("GET", "/", headers: ["x-user: \(user)"])
            return try connection.readResponse().headers.value("x-served-by") ?? "?"
        }
        let first = try (0..<4).map { _ in try served("ab") }
        #expect(Set(first).count == 1, "\(first)")
        _ = try served("cd")
        let dump = TableDump(try statsCommand(socket, "show table be"))
        #expect(dump.header.contains("type: binary"), "\(dump.header)")
        #expect(Set(dump.entries.map(\.key)) == ["616200000000", "636400000000"], "\(dump.entries)")
        // A key typed on the socket in hexadecimal, padded the same way.
        #expect(try statsCommand(socket, "clear table be key 6162") == "\n")
        #expect(TableDump(try statsCommand(socket, "show table be")).entries.map(\.key) == ["636400000000"])
    }
}
