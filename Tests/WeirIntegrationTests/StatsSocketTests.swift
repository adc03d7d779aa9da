import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `show stat` as a table: rows by `pxname/svname`, fields by column name.
struct StatTable: CustomStringConvertible {
    let raw: String
    let columns: [String]
    let rows: [String: [String: String]]

    init(_ text: String) throws {
        raw = text
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.first, header.hasPrefix("# ") else {
            throw WeirProcess.SpawnFailure(description: "not a show stat answer:\n\(text)")
        }
        columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var rows: [String: [String: String]] = [:]
        for line in lines.dropFirst() {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard values.count >= 2 else { continue }
            var row: [String: String] = [:]
            for (i, name) in columns.enumerated() where i < values.count { row[name] = values[i] }
            rows[values[0] + "/" + values[1]] = row
        }
        self.rows = rows
    }

    /// An integer field (0 when empty or absent).
    func int(_ row: String, _ column: String) -> Int { Int(rows[row]?[column] ?? "") ?? 0 }
    func text(_ row: String, _ column: String) -> String { rows[row]?[column] ?? "?" }
    var description: String { raw }
}

/// A path for a stats socket in the temporary directory (short: sun_path).
func statsSocketPath() -> String { NSTemporaryDirectory() + "weir-s-" + String(UUID().uuidString.prefix(8)) + ".sock" }

func statsCommand(_ path: String, _ command: String) throws -> String { try masterCLI(path, command, timeout: 10) }

func showStat(_ path: String) throws -> StatTable { try StatTable(statsCommand(path, "show stat")) }

/// Waits until `show stat` satisfies `condition`; the last table read.
func waitForStat(_ path: String, timeout: Double = 10, _ condition: (StatTable) -> Bool) -> (ok: Bool, table: StatTable?) {
    var last: StatTable?
    let ok = waitUntil(timeout: timeout) {
        guard let table = try? showStat(path) else { return false }
        last = table
        return condition(table)
    }
    return (ok, last)
}

@Suite("Stats socket and shared counters", .serialized)
struct StatsSocketTests {
    /// Fixed ports: two `:0` binds would share one key across a reload.
    private func httpAndTCPConfig(socket: String, nbthread: Int, http: [HTTPBackend], echo: Backend,
                                  balance: String = "roundrobin") throws -> String {
        let webPort = try freeLoopbackPort(), tcpPort = try freeLoopbackPort()
        return """
        global
            nbthread \(nbthread)
            stats socket \(socket) level admin
        defaults
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend web
            mode http
            bind 127.0.0.1:\(webPort)
            default_backend app
        backend app
            mode http
            balance \(balance)
        \(http.map { "    server \($0.name) \($0.address)" }.joined(separator: "\n"))
        listen tcpx
            mode tcp
            bind 127.0.0.1:\(tcpPort)
            server e1 \(echo.address)

        """
    }

    /// `count` GETs, each on a fresh connection (so the kernel spreads them over the workers).
    private func get(_ port: UInt16, count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        var served: [String] = []
        for i in 0..<count {
            let connection = try HTTPConnection(port: port)
            defer { connection.close() }
            try connection.request("GET", "/r\(i)")
            let response = try connection.readResponse()
            #expect(response.status == 200, sourceLocation: sourceLocation)
            served.append(response.headers.value("x-served-by") ?? "?")
        }
        return served
    }

    /// `count` TCP sessions through the echo server, `payload` bytes each.
    private func echo(_ port: UInt16, count: Int, payload: String) throws {
        for _ in 0..<count {
            let client = try Client(port: port)
            defer { client.close() }
            try client.send(payload)
            client.shutdownWrite()
            let (bytes, _) = client.readToEnd()
            #expect(bytes.count == payload.utf8.count)
        }
    }

    @Test("show stat sums what two workers counted, HTTP and TCP, and the counts survive a reload")
    func countersSumOverWorkersAndSurviveAReload() throws {
        let h1 = try HTTPBackend(name: "h1"), h2 = try HTTPBackend(name: "h2")
        let echoServer = try Backend(.echo)
        defer {
            h1.stop()
            h2.stop()
            echoServer.stop()
        }
        let socket = statsSocketPath()
        let config = try httpAndTCPConfig(socket: socket, nbthread: 2, http: [h1, h2], echo: echoServer)
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let web = try h.master.port(of: "web"), tcp = try h.master.port(of: "tcpx")

        let served: [String]
        do {
            served = try get(web, count: 40)
            try echo(tcp, count: 10, payload: "hello weir\n")
        } catch {
            Issue.record("\(error) (web \(web), tcp \(tcp)); \(h.output)")
            return
        }
        // A session's bytes are counted when it ends, which may come after
        // the client saw the echo's end: wait for them too.
        var (ok, table) = waitForStat(socket) { t in
            t.int("web/FRONTEND", "req_tot") == 40 && t.int("tcpx/BACKEND", "stot") == 10
                && t.int("tcpx/FRONTEND", "bin") == 110 && t.int("tcpx/e1", "bin") == 110
        }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        guard let t = table else { return }
        #expect(t.int("web/FRONTEND", "stot") == 40)
        #expect(t.int("web/FRONTEND", "hrsp_2xx") == 40)
        #expect(t.int("app/BACKEND", "stot") == 40 && t.int("app/BACKEND", "hrsp_2xx") == 40)
        #expect(t.int("app/h1", "stot") == served.filter { $0 == "h1" }.count)
        #expect(t.int("app/h2", "stot") == served.filter { $0 == "h2" }.count)
        #expect(t.int("app/h1", "stot") + t.int("app/h2", "stot") == 40)
        #expect(t.int("tcpx/FRONTEND", "stot") == 10 && t.int("tcpx/e1", "stot") == 10)
        #expect(t.int("tcpx/FRONTEND", "bin") == 110 && t.int("tcpx/FRONTEND", "bout") == 110)
        #expect(t.int("tcpx/e1", "bin") == 110)
        #expect(t.text("app/h1", "status") == "no check" && t.text("app/BACKEND", "status") == "UP")
        #expect(t.int("web/FRONTEND", "scur") == 0 || t.int("web/FRONTEND", "scur") <= 1)
        #expect(t.columns.prefix(21).joined(separator: ",")
                == "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck")
        let procs = try h.showProc()
        #expect(procs.workers.count == 2)

        // A reload: the new generation starts from what the old one counted.
        let (success, answer) = try h.reload()
        try #require(success, "\(answer)")
        (ok, table) = waitForStat(socket) { t in t.int("web/FRONTEND", "req_tot") == 40 && t.int("tcpx/e1", "stot") == 10 }
        #expect(ok, "after the reload: \(table.map(\.raw) ?? "no answer")")
        _ = try get(web, count: 10)
        try echo(tcp, count: 5, payload: "hi\n")
        (ok, table) = waitForStat(socket) { t in
            t.int("web/FRONTEND", "req_tot") == 50 && t.int("app/BACKEND", "hrsp_2xx") == 50 && t.int("tcpx/e1", "stot") == 15
        }
        #expect(ok, "after traffic on the new generation: \(table.map(\.raw) ?? "no answer")")
        if let t = table { #expect(t.int("app/h1", "stot") + t.int("app/h2", "stot") == 50) }

        // clear counters all: everything reads 0, and counts again from there.
        #expect(try statsCommand(socket, "clear counters all") == "\n")
        _ = try get(web, count: 3)
        (ok, table) = waitForStat(socket) { t in t.int("web/FRONTEND", "req_tot") == 3 && t.int("tcpx/e1", "stot") == 0 }
        #expect(ok, "after clear counters all: \(table.map(\.raw) ?? "no answer")")
        h.expectNoWorkerCrash()
    }

    @Test("four workers, leastconn, long-lived connections: the spread over the servers is global")
    func leastconnIsGlobal() throws {
        let names = ["s1", "s2", "s3"]
        let backends = try names.map { try Backend(.nameThenHold($0)) }
        defer { for b in backends { b.stop() } }
        let socket = statsSocketPath()
        let config = """
            global
                nbthread 4
                stats socket \(socket)
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                balance leastconn
            \(zip(names, backends).map { "    server \($0) \($1.address)" }.joined(separator: "\n"))

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        var counts: [String: Int] = [:]
        for _ in 0..<30 {
            let client = try Client(port: port)
            clients.append(client)
            counts[try client.readLine(), default: 0] += 1
        }
        let values = names.map { counts[$0] ?? 0 }
        #expect(values.max()! - values.min()! <= 1, "connections per server: \(counts)")
        let (ok, table) = waitForStat(socket) { t in names.map { t.int("be/\($0)", "scur") }.reduce(0, +) == 30 }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        for name in names { #expect(table?.int("be/\(name)", "scur") == counts[name]) }
        #expect(table?.int("be/BACKEND", "scur") == 30 && table?.int("fe/FRONTEND", "scur") == 30)
        // Connections closed: the shared counts go back to 0.
        for c in clients { c.close() }
        clients = []
        let (drained, after) = waitForStat(socket) { t in t.int("be/BACKEND", "scur") == 0 && t.int("be/s1", "scur") == 0 }
        #expect(drained, "\(after.map(\.raw) ?? "no answer")")
        #expect(after?.int("be/BACKEND", "smax") == 30)
        h.expectNoWorkerCrash()
    }

    @Test("server maxconn counts every worker's connections; a slot freed in one worker serves a client queued in another")
    func maxconnIsGlobal() throws {
        let backend = try Backend(.nameThenHold("s1"))
        defer { backend.stop() }
        let socket = statsSocketPath()
        let config = """
            global
                nbthread 4
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                timeout queue 20s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server s1 \(backend.address) maxconn 2

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<8 { clients.append(try Client(port: port)) }
        // Two are served; whichever workers the others reached, they wait.
        let (ok, table) = waitForStat(socket) { t in t.int("be/s1", "scur") == 2 && t.int("be/BACKEND", "qcur") == 6 }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        // The proxy counts a connection before the backend has accepted it.
        #expect(waitUntil(timeout: 10) { backend.snapshot.maxOpen == 2 }, "\(backend.snapshot)")
        #expect(backend.snapshot.maxOpen == 2)
        var served: [Int] = []
        _ = waitUntil(timeout: 10) {
            served = clients.indices.filter { !clients[$0].receivesNothing(within: 0.02) }
            return served.count >= 2
        }
        #expect(served.count == 2, "served: \(served)")
        // Free the slots one by one: each time one more waiting client gets through.
        var closed: Set<Int> = []
        for round in 0..<6 {
            guard let first = served.first else { break }
            clients[first].close()
            closed.insert(first)
            let waiting = clients.indices.filter { !served.contains($0) && !closed.contains($0) }
            var next: Int?
            _ = waitUntil(timeout: 10) {
                next = waiting.first { !clients[$0].receivesNothing(within: 0.02) }
                return next != nil
            }
            #expect(next != nil, "round \(round): no queued client was served after a slot freed")
            if let next { #expect((try? clients[next].readLine()) == "s1", "round \(round)") }
            served.removeFirst()
            if let next { served.append(next) }
        }
        // The server's own count can see a new connection before the old
        // one's close; the proxy's never went above the limit.
        let after = try showStat(socket)
        #expect(after.int("be/s1", "smax") == 2 && after.int("be/s1", "slim") == 2, "\(after)")
        #expect(after.int("be/s1", "stot") == 8, "\(after)")
        // set maxconn server: a higher limit lets waiting clients through at once.
        for _ in 0..<3 { clients.append(try Client(port: port)) }
        var (queued, t) = waitForStat(socket) { $0.int("be/BACKEND", "qcur") == 3 }
        #expect(queued, "\(t.map(\.raw) ?? "no answer")")
        #expect(try statsCommand(socket, "set maxconn server be/s1 4") == "\n")
        (queued, t) = waitForStat(socket) { $0.int("be/s1", "scur") == 4 && $0.int("be/BACKEND", "qcur") == 1 }
        #expect(queued, "\(t.map(\.raw) ?? "no answer")")
        #expect(t?.int("be/s1", "slim") == 4)
        h.expectNoWorkerCrash()
    }

    @Test("a worker killed with sessions open: the shared counts forget them, leastconn stays even")
    func deadWorkerGivesItsSessionsBack() throws {
        let names = ["s1", "s2"]
        let backends = try names.map { try Backend(.nameThenHold($0)) }
        defer { for b in backends { b.stop() } }
        let socket = statsSocketPath()
        let config = """
            global
                nbthread 2
                stats socket \(socket)
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                balance leastconn
            \(zip(names, backends).map { "    server \($0) \($1.address)" }.joined(separator: "\n"))

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<12 {
            let client = try Client(port: port)
            clients.append(client)
            _ = try client.readLine()
        }
        var (ok, table) = waitForStat(socket) { $0.int("be/BACKEND", "scur") == 12 }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        let victim = try #require(h.showProc().workers.first { Int($0.connections) ?? 0 > 0 })
        kill(victim.pid, SIGKILL)
        // Its clients lose their sessions; the master reaps it and replaces it.
        #expect(h.master.waitForCount(of: "exited", atLeast: 1))
        let open = { backends.map { $0.snapshot.open }.reduce(0, +) }
        #expect(waitUntil(timeout: 10) { open() < 12 }, "no session ended with the worker")
        (ok, table) = waitForStat(socket) { t in
            let scur = names.map { t.int("be/\($0)", "scur") }
            return scur.reduce(0, +) == open() && t.int("be/BACKEND", "scur") == open() && t.int("fe/FRONTEND", "scur") == open()
        }
        #expect(ok, "shared counts after the crash (backends hold \(open())): \(table.map(\.raw) ?? "no answer")")
        // New connections fill the servers back evenly.
        let before = backends.map { $0.snapshot.open }
        let missing = 12 - open()
        for _ in 0..<(missing + 4) {
            let client = try Client(port: port)
            clients.append(client)
            _ = try client.readLine()
        }
        let after = backends.map { $0.snapshot.open }
        #expect(abs(after[0] - after[1]) <= 1, "before \(before), after \(after)")
    }

    @Test("drain: no new sessions to the server, the open one goes on; maint shows MAINT; disable and enable")
    func drainMaintDisableEnable() throws {
        let s1 = try Backend(.nameThenHold("s1")), s2 = try Backend(.nameThenHold("s2"))
        defer {
            s1.stop()
            s2.stop()
        }
        let socket = statsSocketPath()
        let config = """
            global
                nbthread 2
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server s1 \(s1.address)
                server s2 \(s2.address)

            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        func serverOfNewConnection() throws -> (Client, String) {
            let client = try Client(port: port)
            return (client, try client.readLine())
        }
        // A connection held on s1.
        var held: Client?
        for _ in 0..<4 {
            let (client, name) = try serverOfNewConnection()
            if name == "s1" && held == nil { held = client } else { client.close() }
        }
        let onS1 = try #require(held)
        defer { onS1.close() }

        #expect(try statsCommand(socket, "set server be/s1 state drain") == "\n")
        var (ok, table) = waitForStat(socket) { $0.text("be/s1", "status") == "DRAIN" }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        let acceptedBefore = s1.snapshot.accepted
        for _ in 0..<12 {
            let (client, name) = try serverOfNewConnection()
            #expect(name == "s2")
            client.close()
        }
        #expect(s1.snapshot.accepted == acceptedBefore, "a drained server got new sessions")
        // The session opened before the drain goes on.
        try onS1.send("still here\n")
        #expect(s1.waitFor { $0.bytesReceived >= 11 })
        #expect(s1.snapshot.open == 1)

        // maint: MAINT in show stat; the held session is not cut.
        #expect(try statsCommand(socket, "set server be/s1 state maint") == "\n")
        (ok, table) = waitForStat(socket) { $0.text("be/s1", "status") == "MAINT" }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        #expect(table?.int("be/BACKEND", "act") == 1)
        onS1.close()
        #expect(s1.waitFor { $0.open == 0 })

        // ready again: traffic returns to s1.
        #expect(try statsCommand(socket, "set server be/s1 state ready") == "\n")
        var seen: Set<String> = []
        for _ in 0..<8 {
            let (client, name) = try serverOfNewConnection()
            seen.insert(name)
            client.close()
        }
        #expect(seen == ["s1", "s2"])

        // disable then enable server (the older commands).
        #expect(try statsCommand(socket, "disable server be/s2") == "\n")
        (ok, table) = waitForStat(socket) { $0.text("be/s2", "status") == "MAINT" }
        #expect(ok)
        for _ in 0..<6 {
            let (client, name) = try serverOfNewConnection()
            #expect(name == "s1")
            client.close()
        }
        #expect(try statsCommand(socket, "enable server be/s2") == "\n")
        (ok, table) = waitForStat(socket) { $0.text("be/s2", "status") == "no check" }
        #expect(ok)
        seen = []
        for _ in 0..<8 {
            let (client, name) = try serverOfNewConnection()
            seen.insert(name)
            client.close()
        }
        #expect(seen == ["s1", "s2"])
        // A server's admin state survives a reload.
        #expect(try statsCommand(socket, "set server be/s2 state maint") == "\n")
        let (success, answer) = try h.reload()
        try #require(success, "\(answer)")
        (ok, table) = waitForStat(socket) { $0.text("be/s2", "status") == "MAINT" }
        #expect(ok, "after a reload: \(table.map(\.raw) ?? "no answer")")
        let servers = try statsCommand(socket, "show servers state be")
        #expect(servers.hasPrefix("1\n# be_id be_name srv_id srv_name srv_addr"), "\(servers)")
        #expect(servers.contains(" be 2 s2 127.0.0.1 0 1 1 1 "), "\(servers)")
        h.expectNoWorkerCrash()
    }

    @Test("set server weight takes effect at once in every worker; levels are checked")
    func weightChangeAndLevels() throws {
        let h1 = try HTTPBackend(name: "h1"), h2 = try HTTPBackend(name: "h2")
        let echoServer = try Backend(.echo)
        defer {
            h1.stop()
            h2.stop()
            echoServer.stop()
        }
        let socket = statsSocketPath()
        let userSocket = statsSocketPath()
        let config = try httpAndTCPConfig(socket: socket, nbthread: 2, http: [h1, h2], echo: echoServer)
            .replacingOccurrences(of: "level admin", with: "level admin\n    stats socket \(userSocket) level user")
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let web = try h.master.port(of: "web")
        #expect(try statsCommand(userSocket, "set server app/h1 weight 0") == "Permission denied\n\n")
        #expect(try statsCommand(userSocket, "show backend") == "# name\napp\ntcpx\n\n")

        #expect(try statsCommand(socket, "set server app/h1 weight 0") == "\n")
        #expect(try statsCommand(socket, "get weight app/h1") == "0 (initial 1)\n\n")
        #expect(try get(web, count: 12).allSatisfy { $0 == "h2" })
        #expect(try statsCommand(socket, "set server app/h1 weight 300%") == "\n")
        let served = try get(web, count: 40)
        // Each worker keeps its own round robin: 3:1 within a cycle per worker.
        #expect(abs(served.filter { $0 == "h1" }.count - 30) <= 3, "weights 3:1 over 40 requests: \(served)")
        let table = try showStat(socket)
        #expect(table.int("app/h1", "weight") == 3 && table.int("app/BACKEND", "weight") == 4)
        h.expectNoWorkerCrash()
    }

    @Test("denied requests, request errors and status classes are counted where HAProxy counts them")
    func errorCounters() throws {
        let h1 = try HTTPBackend(name: "h1")
        defer { h1.stop() }
        let socket = statsSocketPath()
        let scenario = try HTTPScenario(config: """
            global
                stats socket \(socket)
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:0
                http-request deny if { path /deny }
                default_backend be
            backend be
                server h1 \(h1.address)

            """, backends: [h1])
        defer {
            scenario.close()
            unlink(socket)
        }
        _ = try get(scenario.port, count: 3)
        for _ in 0..<2 {
            let connection = try scenario.connect()
            defer { connection.close() }
            try connection.request("GET", "/deny")
            #expect(try connection.readResponse().status == 403)
        }
        let bad = try scenario.connect()
        defer { bad.close() }
        try bad.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        #expect(try bad.readResponse().status == 400)
        let (ok, table) = waitForStat(socket) { $0.int("fe/FRONTEND", "req_tot") == 6 }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        guard let t = table else { return }
        #expect(t.int("fe/FRONTEND", "hrsp_2xx") == 3 && t.int("fe/FRONTEND", "hrsp_4xx") == 3, "\(t)")
        #expect(t.int("fe/FRONTEND", "dreq") == 2 && t.int("fe/FRONTEND", "ereq") == 1, "\(t)")
        #expect(t.int("be/BACKEND", "stot") == 3 && t.int("be/BACKEND", "hrsp_2xx") == 3, "\(t)")
        #expect(t.int("be/h1", "hrsp_2xx") == 3 && t.int("be/h1", "lbtot") == 3, "\(t)")
        #expect(t.int("fe/FRONTEND", "bout") > 0 && t.int("be/h1", "bin") > 0, "\(t)")
    }

    @Test("weir -d serves its own stats socket; prompt mode keeps the connection")
    func singleProcessStatsSocket() throws {
        let h1 = try HTTPBackend(name: "h1")
        defer { h1.stop() }
        let socket = statsSocketPath()
        let scenario = try HTTPScenario(config: """
            global
                stats socket \(socket) level operator
                stats timeout 2s
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server h1 \(h1.address)

            """, backends: [h1])
        defer {
            scenario.close()
            unlink(socket)
        }
        _ = try get(scenario.port, count: 5)
        let (ok, table) = waitForStat(socket) { $0.int("fe/FRONTEND", "req_tot") == 5 && $0.int("be/h1", "hrsp_2xx") == 5 }
        #expect(ok, "\(table.map(\.raw) ?? "no answer")")
        #expect(try statsCommand(socket, "set server be/h1 state maint") == "Permission denied\n\n")
        let info = try statsCommand(socket, "show info")
        #expect(info.hasPrefix("Name: Weir\n") && info.contains("\nCumReq: 5\n"), "\(info)")
        // prompt: the connection stays; each answer ends with the prompt.
        let fd = socket_unix(socket)
        try #require(fd >= 0)
        defer { close(fd) }
        func ask(_ command: String) -> String {
            let line = Array((command + "\n").utf8)
            _ = line.withUnsafeBufferPointer { send(fd, $0.baseAddress!, line.count, Int32(MSG_NOSIGNAL)) }
            var answer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: answer, as: UTF8.self).hasSuffix("> ") {
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { break }
                answer += chunk[0..<n]
            }
            return String(decoding: answer, as: UTF8.self)
        }
        #expect(ask("prompt") == "> ")
        #expect(ask("show backend") == "# name\nbe\n\n> ")
        #expect(ask("get weight be/h1") == "1 (initial 1)\n\n> ")
        // stats timeout: the idle connection is closed.
        var byte: UInt8 = 0
        let started = monotonicNow()
        #expect(read(fd, &byte, 1) == 0, "the idle stats connection was not closed")
        #expect(monotonicNow() - started < 8)
    }
}

/// A connected AF_UNIX stream socket with 10 s timeouts, or -1.
func socket_unix(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let r = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if r != 0 {
        close(fd)
        return -1
    }
    Sock.setTimeouts(fd, seconds: 10)
    return fd
}
