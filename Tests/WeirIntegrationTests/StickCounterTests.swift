import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The entries of `show table NAME`: each one's fields (`key`, `use`,
/// `http_req_cnt`, …) by name, and the header line.
private struct CounterDump {
    let header: String
    let entries: [[String: String]]

    init(_ text: String) {
        let lines = text.split(separator: "\n").map(String.init)
        header = lines.first ?? ""
        entries = lines.dropFirst().filter { $0.hasPrefix("0x") }.map { line in
            var fields: [String: String] = [:]
            for word in line.split(separator: " ").dropFirst() {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            return fields
        }
    }

    func entry(_ key: String) -> [String: String]? { entries.first { $0["key"] == key } }
}

/// `key`'s entry in `table` once no session tracks it any more: a client has
/// its answer a moment before the worker ends the exchange and counts it.
private func settledEntry(_ socket: String, _ table: String, _ key: String) -> [String: String]? {
    var entry: [String: String]?
    _ = waitUntil(timeout: 10) {
        entry = CounterDump((try? statsCommand(socket, "show table \(table)")) ?? "").entry(key)
        return entry?["use"] == "0"
    }
    return entry
}

@Suite("Stick counters", .serialized)
struct StickCounterTests {
    private func httpConfig(socket: String, port: UInt16, backend: HTTPBackend, rules: String, table: String,
                            nbthread: Int = 2) -> String {
        """
        global
            nbthread \(nbthread)
            stats socket \(socket) level admin
        defaults
            mode http
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend fe
            bind 127.0.0.1:\(port)
            \(table)
        \(rules)
            default_backend be
        backend be
            server s1 \(backend.address)

        """
    }

    /// One request on its own connection: the status.
    private func get(_ port: UInt16, _ path: String) throws -> Int {
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        try connection.request("GET", path, headers: ["connection: close"])
        return try connection.readResponse().status
    }

    @Test("http_req_rate: with 2 workers, a client is answered 429 once over the limit, counted across connections")
    func rateLimiting() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: httpConfig(
            socket: socket, port: port, backend: backend,
            rules: """
                    http-request track-sc0 src
                    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }
                """,
            table: "stick-table type ip size 100k expire 10m store http_req_rate(1d),http_req_cnt,conn_cnt,conn_cur"))
        defer { h.close() }
        #expect(try h.showProc().workers.count == 2)
        // The rate cannot exceed the count: the first ten pass.
        for i in 1...10 { #expect(try get(port, "/\(i)") == 200, "request \(i)") }
        // Then the limit: the first request over it is refused, and so is every later one.
        var statuses: [Int] = []
        for i in 11...40 {
            statuses.append(try get(port, "/\(i)"))
            if statuses.count >= 5 && statuses.suffix(5) == [429, 429, 429, 429, 429] { break }
        }
        #expect(statuses.suffix(5) == [429, 429, 429, 429, 429], "\(statuses)")
        #expect(backend.requests.count == 10 + statuses.filter { $0 == 200 }.count)
        // Every worker counted in the same shared entry.
        let dump = CounterDump(try statsCommand(socket, "show table fe"))
        #expect(dump.header == "# table: fe, type: ip, size:102400, used:1", "\(dump.header)")
        let entry = try #require(settledEntry(socket, "fe", "127.0.0.1"), "\(dump.entries)")
        let total = 10 + statuses.count
        #expect(entry["http_req_cnt"] == "\(total)" && entry["conn_cnt"] == "\(total)", "\(entry)")
        #expect(entry["conn_cur"] == "0" && entry["use"] == "0", "\(entry)")
        #expect(Int(entry["http_req_rate(86400000)"] ?? "") ?? 0 > 10, "\(entry)")
        h.expectNoWorkerCrash()
    }

    @Test("conn_cur: tcp-request connection tracking limits concurrent connections; closing one lets a new one in")
    func concurrentConnections() throws {
        let server = try Backend(.nameThenHold("s1"))
        defer { server.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: """
            global
                nbthread 2
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:\(port)
                tcp-request connection track-sc1 src table limits
                tcp-request connection reject if { sc1_conn_cur gt 3 }
                default_backend be
            backend be
                server s1 \(server.address)
            backend limits
                stick-table type ip size 1k expire 10m store conn_cur,conn_cnt,sess_cnt,bytes_in_cnt

            """)
        defer { h.close() }
        var held: [Client] = []
        defer { for c in held { c.close() } }
        for _ in 0..<3 {
            let c = try Client(port: port)
            #expect(try c.readLine() == "s1")
            held.append(c)
        }
        var entry = CounterDump(try statsCommand(socket, "show table limits")).entry("127.0.0.1")
        #expect(entry?["conn_cur"] == "3" && entry?["use"] == "3", "\(entry ?? [:])")
        // The fourth is refused before it reaches the server.
        let refused = try Client(port: port)
        let (bytes, _) = refused.readToEnd()
        refused.close()
        #expect(bytes.isEmpty)
        // Closing one frees a place, once its session has ended.
        held.removeFirst().close()
        #expect(waitUntil(timeout: 10) {
            CounterDump((try? statsCommand(socket, "show table limits")) ?? "").entry("127.0.0.1")?["conn_cur"] == "2"
        })
        let again = try Client(port: port)
        #expect(try again.readLine() == "s1")
        held.append(again)
        entry = CounterDump(try statsCommand(socket, "show table limits")).entry("127.0.0.1")
        // Five connections tracked; four became sessions (the refused one did not).
        #expect(entry?["conn_cur"] == "3" && entry?["conn_cnt"] == "5" && entry?["sess_cnt"] == "4", "\(entry ?? [:])")
        // A data filter selects on the new types.
        #expect(CounterDump(try statsCommand(socket, "show table limits data.conn_cur ge 3")).entries.count == 1)
        #expect(CounterDump(try statsCommand(socket, "show table limits data.conn_cur lt 3")).entries.isEmpty)
        #expect(try statsCommand(socket, "show table limits data.gpc0 gt 0").hasPrefix("Data type not stored in this table\n"))
        h.expectNoWorkerCrash()
    }

    @Test("gpc0: one rule increments it, another reads it; src_* fetches read the entry without tracking it")
    func generalPurposeCounter() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: httpConfig(
            socket: socket, port: port, backend: backend,
            rules: """
                    http-request return status 200 content-type text/plain lf-string "gpc0=%[src_get_gpc0] cnt=%[src_http_req_cnt] tracked=%[sc_tracked(0)] entries=%[table_cnt]" if { path /peek }
                    http-request track-sc0 src
                    http-request sc-inc-gpc0(0) if { path_beg /login-failed }
                    http-request sc-set-gpt0(0) 42 if { path /mark }
                    http-request deny deny_status 403 if { sc_get_gpc0(0) ge 2 }
                """,
            table: "stick-table type ip size 1k expire 10m store gpc0,gpt0,http_req_cnt,http_err_cnt"))
        defer { h.close() }
        #expect(try get(port, "/") == 200)
        #expect(try get(port, "/login-failed") == 200)
        #expect(try get(port, "/mark") == 200)
        #expect(try get(port, "/login-failed") == 403)
        #expect(try get(port, "/") == 403)
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        try connection.request("GET", "/peek")
        let peek = try connection.readResponse()
        // The peek is not tracked: its own request is not counted.
        #expect(peek.body.text == "gpc0=2 cnt=5 tracked=0 entries=1", "\(peek)")
        let entry = settledEntry(socket, "fe", "127.0.0.1")
        // The two 403 answers count as errors.
        #expect(entry?["gpc0"] == "2" && entry?["gpt0"] == "42" && entry?["http_req_cnt"] == "5"
                && entry?["http_err_cnt"] == "2", "\(entry ?? [:])")
        // Clearing the table lets the client in again.
        #expect(try statsCommand(socket, "clear table fe") == "\n")
        #expect(try get(port, "/") == 200)
        h.expectNoWorkerCrash()
    }

    @Test("show table prints the stored data in HAProxy's format; a reload keeps the counters")
    func showTableAndReload() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let config = httpConfig(
            socket: socket, port: port, backend: backend,
            rules: """
                    http-request track-sc0 src
                    http-request sc-inc-gpc0(0) if { path /inc }
                """,
            table: "stick-table type ip size 1k expire 10m store server_id,gpc0,conn_cnt,http_req_cnt,http_req_rate(1d),bytes_out_cnt")
        let h = try MasterHarness(config: config)
        defer { h.close() }
        for path in ["/inc", "/", "/inc"] { #expect(try get(port, path) == 200) }
        _ = settledEntry(socket, "fe", "127.0.0.1")
        let text = try statsCommand(socket, "show table fe")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "# table: fe, type: ip, size:1024, used:1", "\(text)")
        let pattern = #"^0x[0-9a-f]+: key=127\.0\.0\.1 use=0 exp=[0-9]+ server_id=0 gpc0=2 conn_cnt=3 "#
            + #"http_req_cnt=3 http_req_rate\(86400000\)=[0-9]+ bytes_out_cnt=[1-9][0-9]*$"#
        #expect(lines.count == 2 && lines[1].range(of: pattern, options: .regularExpression) != nil, "\(text)")
        let before = try #require(CounterDump(text).entry("127.0.0.1"))

        // The same table (a longer expiry): the counters carry over.
        try h.writeConfig(config.replacingOccurrences(of: "expire 10m", with: "expire 20m"))
        let (success, answer) = try h.reload()
        try #require(success, "\(answer)")
        var after = try #require(CounterDump(try statsCommand(socket, "show table fe")).entry("127.0.0.1"))
        for field in ["gpc0", "conn_cnt", "http_req_cnt", "bytes_out_cnt"] {
            #expect(after[field] == before[field], "\(field): \(after) after \(before)")
        }
        #expect(try get(port, "/inc") == 200)
        after = try #require(settledEntry(socket, "fe", "127.0.0.1"))
        #expect(after["gpc0"] == "3" && after["http_req_cnt"] == "4", "\(after)")

        // Another store list: the entries stay, their counters start again.
        try h.writeConfig(config.replacingOccurrences(of: ",bytes_out_cnt", with: ""))
        let (changed, changedAnswer) = try h.reload()
        try #require(changed, "\(changedAnswer)")
        after = try #require(CounterDump(try statsCommand(socket, "show table fe")).entry("127.0.0.1"))
        #expect(after["gpc0"] == "0" && after["http_req_cnt"] == "0" && after["bytes_out_cnt"] == nil, "\(after)")
        h.expectNoWorkerCrash()
    }

    @Test("keep-alive: a connection's tracker counts each request; a content tracker lasts one request")
    func keepAliveCounting() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let port = try freeLoopbackPort()
        let h = try MasterHarness(config: """
            global
                nbthread 2
                stats socket \(socket) level admin
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:\(port)
                tcp-request connection track-sc1 src table per_connection
                tcp-request content track-sc2 src table per_request
                http-request set-header x-counts "%[sc1_http_req_cnt]/%[sc2_conn_cnt]/%[sc_tracked(0)]"
                default_backend be
            backend be
                server s1 \(backend.address)
            backend per_connection
                stick-table type ip size 1k expire 10m store conn_cnt,conn_cur,sess_cnt,http_req_cnt
            backend per_request
                stick-table type ip size 1k expire 10m store conn_cnt,conn_cur,http_req_cnt

            """)
        defer { h.close() }
        let connection = try HTTPConnection(port: port)
        for _ in 1...3 {
            try connection.request("GET", "/")
            #expect(try connection.readResponse().status == 200)
        }
        #expect(backend.requests.map { $0.headers.value("x-counts") } == ["1/1/0", "2/2/0", "3/3/0"],
                "\(backend.requests.map(\.headers))")
        let open = CounterDump(try statsCommand(socket, "show table per_connection")).entry("127.0.0.1")
        #expect(open?["use"] == "1" && open?["conn_cur"] == "1" && open?["conn_cnt"] == "1" && open?["sess_cnt"] == "1"
                && open?["http_req_cnt"] == "3", "\(open ?? [:])")
        connection.close()
        let perConnection = settledEntry(socket, "per_connection", "127.0.0.1")
        #expect(perConnection?["conn_cur"] == "0" && perConnection?["http_req_cnt"] == "3", "\(perConnection ?? [:])")
        let perRequest = settledEntry(socket, "per_request", "127.0.0.1")
        #expect(perRequest?["conn_cur"] == "0" && perRequest?["conn_cnt"] == "3" && perRequest?["http_req_cnt"] == "3",
                "\(perRequest ?? [:])")
        h.expectNoWorkerCrash()
    }

    @Test("configuration errors name the file, line and column")
    func configurationErrors() throws {
        let file = try TempFile("""
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend fe
                bind 127.0.0.1:0
                stick-table type ip size 1k store http_req_rate,bogus_cnt
                http-request track-sc0 src table nowhere
                http-request track-sc5 src
                default_backend be
            backend be
                stick-table type string size 1k store conn_cur
                tcp-request content track-sc0 src
                server s1 127.0.0.1:1
            """)
        defer { file.remove() }
        let run = try WeirProcess.run(["-c", "-f", file.path])
        #expect(run.status != 0)
        for message in [
            "\(file.path):8:39: error: stick-table store: 'http_req_rate' needs a period, as in http_req_rate(10s)",
            "\(file.path):9:38: error: no stick-table named 'nowhere'",
            "\(file.path):10:18: error: http-request track-sc5: the counter number must be 0, 1 or 2",
            "\(file.path):14:25: error: track-sc0: the key is an address but table 'be' has keys of type string",
        ] {
            #expect(run.stderr.contains(message), "missing \(message) in:\n\(run.stderr)")
        }
    }
}
