import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whether the Prometheus test runs: with Debian's python3-prometheus-client,
/// or always under CI, where `.ci/run` installs it.
let prometheusParserEnabled: Bool = ProcessInfo.processInfo.environment["CI"] == "true"
    || pythonHas("prometheus_client.parser")

/// The HTML stats page and the Prometheus exporter, served by the workers of
/// a master with two workers, from the counters every worker keeps in shared memory.
@Suite("Stats page and Prometheus exporter", .serialized)
struct StatsPageTests {
    /// `web` balances over the backends; `stats` serves the page (with
    /// Basic auth and admin rights) and `/metrics`.
    private func config(socket: String, backends: [HTTPBackend]) throws -> (text: String, web: UInt16, stats: UInt16) {
        let web = try freeLoopbackPort(), stats = try freeLoopbackPort()
        let text = """
        global
            nbthread 2
            stats socket \(socket) level admin
            node edge-1
            description Front door
        defaults
            mode http
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend web
            bind 127.0.0.1:\(web)
            http-request deny if { path_beg /deny }
            default_backend app
        backend app
            stats uri /app-stats
            stats hide-version
            stats show-node
            stats show-desc
        \(backends.map { "    server \($0.name) \($0.address)" }.joined(separator: "\n"))
        listen stats
            bind 127.0.0.1:\(stats)
            stats enable
            stats uri /stats
            stats realm Weir\\ statistics
            stats auth admin:secret
            stats admin if LOCALHOST
            stats refresh 10s
            http-request use-service prometheus-exporter if { path /metrics }

        """
        return (text, web, stats)
    }

    /// `count` requests for `path`, each on a fresh connection (so the kernel spreads them over the workers).
    private func get(_ port: UInt16, _ path: String, count: Int, status: Int,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        for i in 0..<count {
            let connection = try HTTPConnection(port: port)
            defer { connection.close() }
            try connection.request("GET", "\(path)\(i)")
            let response = try connection.readResponse()
            #expect(response.status == status, sourceLocation: sourceLocation)
        }
    }

    private func page(_ port: UInt16, _ target: String, method: String = "GET", headers: [String] = [],
                      body: [UInt8]? = nil, splitBody: Bool = false) throws -> HTTPResponse {
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        if splitBody, let body {
            // The head alone first: the page waits for the form.
            var head = "\(method) \(target) HTTP/1.1\r\nhost: weir.test\r\n"
            for h in headers { head += h + "\r\n" }
            head += "content-length: \(body.count)\r\ncontent-type: application/x-www-form-urlencoded\r\n\r\n"
            try connection.send(head)
            try connection.send(body)
        } else {
            try connection.request(method, target, headers: headers, body: body)
        }
        return try connection.readResponse(method: method)
    }

    static let credentials = "authorization: Basic " + Data("admin:secret".utf8).base64EncodedString()

    /// The cells of the `<tr class="rowClass">` row in proxy `proxy`'s table.
    private func cells(_ html: String, proxy: String, rowClass: String) -> [String]? {
        guard let table = html.range(of: ">\(proxy)</th>") else { return nil }
        let rest = html[table.upperBound...]
        guard let row = rest.range(of: "<tr class=\"\(rowClass)\">") else { return nil }
        let line = rest[row.upperBound...].prefix { $0 != "\n" }
        return line.components(separatedBy: "<td").dropFirst().map { cell in
            let content = cell.drop { $0 != ">" }.dropFirst()
            return String(content.prefix { $0 != "<" })
        }
    }

    @Test("the page asks for credentials, counts what two workers served, its CSV is show stat's, and its form drains a server")
    func statsPage() throws {
        let h1 = try HTTPBackend(name: "h1"), h2 = try HTTPBackend(name: "h2")
        defer {
            h1.stop()
            h2.stop()
        }
        let socket = statsSocketPath()
        let (text, web, stats) = try config(socket: socket, backends: [h1, h2])
        let h = try MasterHarness(config: text)
        defer { h.close() }
        do {
            try get(web, "/r", count: 40, status: 200)
            try get(web, "/deny", count: 3, status: 403)
        } catch {
            Issue.record("\(error); \(h.output)")
            return
        }
        let (settled, _) = waitForStat(socket) { $0.int("web/FRONTEND", "req_tot") == 43 && $0.int("app/BACKEND", "stot") == 40 }
        #expect(settled)

        // No credentials, then wrong ones: 401 with the realm.
        let anonymous = try page(stats, "/stats")
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.value("www-authenticate") == "Basic realm=\"Weir statistics\"")
        let wrong = try page(stats, "/stats", headers: ["authorization: Basic " + Data("admin:nope".utf8).base64EncodedString()])
        #expect(wrong.status == 401)

        let html = try page(stats, "/stats", headers: [Self.credentials])
        #expect(html.status == 200)
        #expect(html.headers.value("content-type") == "text/html")
        #expect(html.text.contains("<meta http-equiv=\"refresh\" content=\"10\">"))
        // Name, queue cur/max, sessions cur/max/limit/total: the totals of both workers.
        let frontend = try #require(cells(html.text, proxy: "web", rowClass: "frontend"), "\(html.text)")
        #expect(frontend.first == "Frontend" && frontend[6] == "43", "\(frontend)")
        let backend = try #require(cells(html.text, proxy: "app", rowClass: "backend"), "\(html.text)")
        // Its table has the admin form's checkbox column first.
        let name = try #require(backend.firstIndex(of: "Backend"), "\(backend)")
        #expect(backend[name + 6] == "40", "\(backend)")
        let servers = ["h1", "h2"].compactMap { name in
            html.text.range(of: "value=\"\(name)\"></td><td class=\"name\">\(name)</td>").map { _ in name }
        }
        #expect(servers == ["h1", "h2"], "the admin form lists both servers")

        // `;csv` is `show stat`, column for column (the stats proxy, counting this very request, aside).
        let csv = try page(stats, "/stats;csv", headers: [Self.credentials])
        #expect(csv.status == 200)
        let fromPage = try StatTable(csv.text)
        let fromSocket = try showStat(socket)
        #expect(fromPage.columns == fromSocket.columns)
        #expect(Set(fromPage.rows.keys) == Set(fromSocket.rows.keys))
        for key in ["web/FRONTEND", "app/h1", "app/h2", "app/BACKEND"] {
            for column in fromPage.columns where column != "lastchg" && column != "lastsess" {
                #expect(fromPage.text(key, column) == fromSocket.text(key, column), "\(key) \(column)")
            }
        }
        #expect(fromPage.int("app/h1", "stot") + fromPage.int("app/h2", "stot") == 40)

        // The admin form, as the page posts it: h1 drains.
        let proxyID = fromSocket.text("app/BACKEND", "iid")
        #expect(html.text.contains("<input type=\"hidden\" name=\"b\" value=\"#\(proxyID)\">"))
        let form = Array("s=h1&action=drain&b=%23\(proxyID)".utf8)
        let denied = try page(stats, "/stats", method: "POST", body: form)
        #expect(denied.status == 401, "no credentials, no action")
        let posted = try page(stats, "/stats", method: "POST", headers: [Self.credentials], body: form, splitBody: true)
        #expect(posted.status == 303)
        #expect(posted.headers.value("location") == "/stats;st=DONE")
        let drained = waitForStat(socket) { $0.text("app/h1", "status") == "DRAIN" }
        #expect(drained.ok, "\(drained.table.map(\.raw) ?? "no answer")")
        #expect(drained.table?.text("app/h2", "status") == "no check")
        // New requests go to h2 only.
        let before = h1.requests.count
        try get(web, "/after", count: 6, status: 200)
        #expect(h1.requests.count == before)
        let after = try page(stats, "/stats;up", headers: [Self.credentials])
        #expect(after.text.contains("<tr class=\"draining\">") == false, ";up hides servers that are not UP")
        let all = try page(stats, "/stats;norefresh", headers: [Self.credentials])
        #expect(all.text.contains("<tr class=\"draining\">") && !all.text.contains("http-equiv=\"refresh\""))
        // A client that waits for `100 Continue` before sending its form gets it.
        do {
            let connection = try HTTPConnection(port: stats)
            defer { connection.close() }
            let form = "s=h2&action=maint&b=app"
            try connection.send("POST /stats HTTP/1.1\r\nhost: weir.test\r\n\(Self.credentials)\r\n"
                                + "expect: 100-continue\r\ncontent-length: \(form.utf8.count)\r\n\r\n")
            let interim = try connection.readResponse()
            #expect(interim.status == 100)
            try connection.send(form)
            let final = try connection.readResponse()
            #expect(final.status == 303 && final.headers.value("location") == "/stats;st=DONE")
            let maint = waitForStat(socket) { $0.text("app/h2", "status") == "MAINT" }
            #expect(maint.ok)
            _ = try page(stats, "/stats", method: "POST", headers: [Self.credentials],
                         body: Array("s=h2&action=ready&b=app".utf8))
            #expect(waitForStat(socket) { $0.text("app/h2", "status") == "no check" }.ok)
        }
        // Long answers end cleanly: the connection serves the next request.
        let connection = try HTTPConnection(port: stats)
        defer { connection.close() }
        for target in ["/metrics", "/stats", "/metrics"] {
            try connection.request("GET", target, headers: [Self.credentials])
            let response = try connection.readResponse()
            #expect(response.status == 200 && response.complete, "\(target)")
            #expect(response.body.count == Int(response.headers.value("content-length") ?? "") ?? -1)
        }
        let unknown = try page(stats, "/stats", method: "POST", headers: [Self.credentials],
                               body: Array("s=nope&action=maint&b=app".utf8))
        #expect(unknown.headers.value("location") == "/stats;st=NONE")

        // A backend's page, reached through the frontend that chose it: no credentials asked.
        let backendPage = try page(web, "/app-stats")
        #expect(backendPage.status == 200 && backendPage.text.contains("<h1>Weir</h1>"), "\(backendPage)")
        #expect(backendPage.text.contains(" on edge-1: Front door</h2>"), "show-node, show-desc")
        let backendCSV = try page(web, "/app-stats;csv")
        #expect(backendCSV.text.hasPrefix("# pxname,svname,"))
        #expect((h1.requests + h2.requests).allSatisfy { !$0.target.hasPrefix("/app-stats") })
        h.expectNoWorkerCrash()
    }

    @Test("stats scope: the page and its CSV show only the named proxies, '.' being the page's own")
    func scope() throws {
        let app = try HTTPBackend(name: "app"), other = try HTTPBackend(name: "other")
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                stats uri /stats
                stats scope .
                stats scope app
                use_backend other if { path_beg /other }
                default_backend app
            """, sections: """
            backend app
                server a1 \(app.address)
            backend other
                server o1 \(other.address)
            """), backends: [app, other])
        defer { s.close() }
        let html = try page(s.port, "/stats")
        #expect(html.status == 200)
        #expect(html.text.contains(">fe</th>") && html.text.contains(">app</th>"), "\(html.text)")
        #expect(!html.text.contains(">other</th>"), "\(html.text)")
        let csv = try page(s.port, "/stats;csv")
        let proxies = Set(csv.text.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) })
        #expect(proxies == ["fe", "app"], "\(csv.text)")
    }

    @Test("the Prometheus exposition parses with prometheus_client and counts the traffic sent",
          .enabled(if: prometheusParserEnabled, "python3-prometheus-client is not installed"))
    func prometheus() throws {
        let h1 = try HTTPBackend(name: "h1"), h2 = try HTTPBackend(name: "h2")
        defer {
            h1.stop()
            h2.stop()
        }
        let socket = statsSocketPath()
        let (text, web, stats) = try config(socket: socket, backends: [h1, h2])
        let h = try MasterHarness(config: text)
        defer { h.close() }
        do {
            try get(web, "/r", count: 30, status: 200)
            try get(web, "/deny", count: 4, status: 403)
        } catch {
            Issue.record("\(error); \(h.output)")
            return
        }
        let (settled, _) = waitForStat(socket) { $0.int("web/FRONTEND", "req_tot") == 34 && $0.int("app/BACKEND", "stot") == 30 }
        #expect(settled)

        let script = #"""
        import json, sys, urllib.request
        from prometheus_client.parser import text_string_to_metric_families
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
        out = {}
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                key = s.name + "{" + ",".join("%s=%s" % kv for kv in sorted(s.labels.items())) + "}"
                out[key] = s.value
            out["#type " + family.name] = family.type
        out["#bytes"] = len(body)
        print(json.dumps(out))
        """#
        let python = try #require(pythonPath)
        let run = try runTool(python, ["-c", script, String(stats)], timeout: 60)
        try #require(run.status == 0, "python3: \(run.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        func value(_ key: String) -> Double? { parsed[key] as? Double }
        #expect(value("haproxy_frontend_http_requests_total{proxy=web}") == 34)
        #expect(value("haproxy_frontend_sessions_total{proxy=web}") == 34)
        #expect(value("haproxy_frontend_requests_denied_total{proxy=web}") == 4)
        #expect(value("haproxy_frontend_http_responses_total{code=2xx,proxy=web}") == 30)
        #expect(value("haproxy_frontend_http_responses_total{code=4xx,proxy=web}") == 4)
        #expect(value("haproxy_backend_http_requests_total{proxy=app}") == 30)
        #expect(value("haproxy_backend_sessions_total{proxy=app}") == 30)
        let perServer = (value("haproxy_server_sessions_total{proxy=app,server=h1}") ?? 0)
            + (value("haproxy_server_sessions_total{proxy=app,server=h2}") ?? 0)
        #expect(perServer == 30)
        #expect(value("haproxy_backend_active_servers{proxy=app}") == 2)
        #expect(value("haproxy_server_status{proxy=app,server=h1,state=UP}") == 1)
        #expect(value("haproxy_server_status{proxy=app,server=h1,state=DOWN}") == 0)
        #expect((value("haproxy_frontend_bytes_in_total{proxy=web}") ?? 0) > 0)
        #expect(value("haproxy_process_nbthread{}") == 2)
        // Longer than one 16 KiB buffer: sent a buffer at a time.
        #expect((value("#bytes") ?? 0) > 16384)
        h.expectNoWorkerCrash()
        // The parser names counter families without `_total`; their samples keep it.
        #expect(parsed["#type haproxy_frontend_http_requests"] as? String == "counter")
        #expect(parsed["#type haproxy_frontend_current_sessions"] as? String == "gauge")
    }
}
