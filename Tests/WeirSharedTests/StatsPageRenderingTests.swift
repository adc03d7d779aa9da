import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite struct StatsPageRenderingTests {
    let process = StatsProcessInfo(pid: 42, workers: 2, startedWall: 1_000_000, version: "9.9.9", maxconn: 100,
                                   fileLimit: 1024, listeners: 3, stopping: false)

    /// Two workers' slots, a draining server and a name that needs escaping.
    func segment() throws -> (Int32, SharedSegment) {
        let config = twoProxies.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(" server s3") ? line + "\n server <b&x> 127.0.0.1:8004" : String(line)
        }.joined(separator: "\n")
        let (fd, segment) = try SharedSegment.create(configuration: parsed(config), slots: 2)
        let fe = segment.layout.frontend(0)
        (segment.counters(slot: 0) + fe * Counter.stride)[Counter.requestsTotal.rawValue] = 5
        (segment.counters(slot: 1) + fe * Counter.stride)[Counter.requestsTotal.rawValue] = 6
        (segment.counters(slot: 0) + fe * Counter.stride)[Counter.http2xx.rawValue] = 4
        (segment.counters(slot: 1) + fe * Counter.stride)[Counter.http2xx.rawValue] = 5
        (segment.counters(slot: 1) + fe * Counter.stride)[Counter.http5xx.rawValue] = 2
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        (segment.counters(slot: 0) + s1 * Counter.stride)[Counter.connectTimeSum.rawValue] = 1500
        (segment.counters(slot: 0) + s1 * Counter.stride)[Counter.connectCount.rawValue] = 1
        segment.setAdmin([.drain], s1)
        return (fd, segment)
    }

    @Test func prometheusHasHAProxysNamesTypesAndSums() throws {
        let (fd, segment) = try segment()
        defer { Posix.close(fd) }
        let text = PrometheusExporter.render(view: StatsView(current: segment), process: process, now: 1_100)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE haproxy_frontend_http_requests_total counter"))
        #expect(lines.contains("haproxy_frontend_http_requests_total{proxy=\"fe\"} 11"))
        #expect(lines.contains("haproxy_frontend_http_responses_total{proxy=\"fe\",code=\"2xx\"} 9"))
        #expect(lines.contains("haproxy_frontend_http_responses_total{proxy=\"fe\",code=\"5xx\"} 2"))
        #expect(lines.contains("haproxy_frontend_limit_sessions{proxy=\"fe\"} 50"))
        #expect(lines.contains("haproxy_server_status{proxy=\"app\",server=\"s1\",state=\"DRAIN\"} 1"))
        #expect(lines.contains("haproxy_server_status{proxy=\"app\",server=\"s1\",state=\"UP\"} 0"))
        #expect(lines.contains("haproxy_server_status{proxy=\"app\",server=\"s2\",state=\"MAINT\"} 1"))
        #expect(lines.contains("haproxy_server_connect_time_average_seconds{proxy=\"app\",server=\"s1\"} 1.500"))
        #expect(lines.contains("haproxy_backend_active_servers{proxy=\"app\"} 2"))
        #expect(lines.contains("haproxy_server_weight{proxy=\"app\",server=\"<b&x>\"} 1"))
        #expect(lines.contains("haproxy_process_nbthread 2"))
        #expect(lines.contains("haproxy_process_build_info{version=\"9.9.9\"} 1"))
        // The tcp proxy has no HTTP families; each family is declared once, before its samples.
        #expect(!lines.contains { $0.hasPrefix("haproxy_frontend_http_requests_total{proxy=\"db\"}") })
        var declared: Set<String> = []
        for line in lines {
            if line.hasPrefix("# TYPE ") {
                let name = String(line.split(separator: " ")[2])
                #expect(declared.insert(name).inserted, "\(name) declared twice")
            } else if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(declared.contains(name), "\(name) has no # TYPE before it")
            }
        }
    }

    @Test func htmlPageHasATablePerProxyEscapedNamesAndStateColours() throws {
        let (fd, segment) = try segment()
        defer { Posix.close(fd) }
        let options = StatsPageRenderer.Options(uri: "/stats", refresh: 5, hideVersion: true, admin: true)
        let html = StatsPageRenderer.render(view: StatsView(current: segment), process: process, options: options,
                                            now: 1_100)
        #expect(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
        #expect(!html.contains("9.9.9"))
        #expect(html.split(separator: "<table class=\"tbl\">", omittingEmptySubsequences: false).count == 4, "fe, app, db: three tables")
        #expect(html.contains("&lt;b&amp;x&gt;"))
        #expect(!html.contains("<b&"))
        #expect(html.contains("<tr class=\"draining\">"))
        #expect(html.contains("<tr class=\"maintain\">"))
        #expect(html.contains("<input type=\"checkbox\" name=\"s\" value=\"s1\">"))
        #expect(html.contains("<input type=\"hidden\" name=\"b\" value=\"#2\">"))
        #expect(html.contains("<a href=\"/stats;csv\">"))
        let plain = StatsPageRenderer.render(view: StatsView(current: segment), process: process,
                                             options: .init(uri: "/stats", onlyUp: true), now: 1_100)
        #expect(!plain.contains("<form") && !plain.contains("refresh") && plain.contains("9.9.9"))
        #expect(!plain.contains("<tr class=\"maintain\">"))
    }

    @Test func prometheusHasTheChecksCountersDowntimesAndLastCheck() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend app
                server s1 127.0.0.1:8001 check
                server s2 127.0.0.1:8002
            """), slots: 1)
        defer { Posix.close(fd) }
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        let app = segment.layout.backend(named: "app")!
        segment.setCheckRecord(.init(status: "L7STS", code: 503, duration: 1_250, info: "Service Unavailable"), s1)
        segment.countFailedCheck(s1)
        segment.countFailedCheck(s1)
        segment.markDown(s1, now: 1_000)
        segment.markDown(app, now: 1_040)
        let lines = PrometheusExporter.render(view: StatsView(current: segment), process: process, now: 1_100)
            .split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE haproxy_server_check_failures_total counter"))
        #expect(lines.contains("haproxy_server_check_failures_total{proxy=\"app\",server=\"s1\"} 2"))
        #expect(lines.contains("haproxy_server_check_up_down_total{proxy=\"app\",server=\"s1\"} 1"))
        #expect(lines.contains("haproxy_server_downtime_seconds_total{proxy=\"app\",server=\"s1\"} 100"))
        #expect(lines.contains("haproxy_server_check_code{proxy=\"app\",server=\"s1\"} 503"))
        #expect(lines.contains("haproxy_server_check_duration_seconds{proxy=\"app\",server=\"s1\"} 1.250"))
        #expect(lines.contains("haproxy_backend_check_up_down_total{proxy=\"app\"} 1"))
        #expect(lines.contains("haproxy_backend_downtime_seconds_total{proxy=\"app\"} 60"))
        // A server without checks has none of them: 0, as for the other empty columns.
        #expect(lines.contains("haproxy_server_check_failures_total{proxy=\"app\",server=\"s2\"} 0"))
    }

    @Test func aTrackerShowsTheServerItTracksAndItsInheritedMaintenance() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend app
                server s1 127.0.0.1:8001 check
                server t1 127.0.0.1:8002 track s1
            """), slots: 1)
        defer { Posix.close(fd) }
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        let t1 = segment.layout.server(backend: "app", server: "t1")!
        let options = StatsPageRenderer.Options(uri: "/stats")
        var html = StatsPageRenderer.render(view: StatsView(current: segment), process: process, options: options, now: 1_100)
        #expect(html.contains("<td>via app/s1</td>"), "\(html)")
        segment.setAdmin([.maint], s1)
        #expect(segment.admin(t1) == .inheritedMaint)
        html = StatsPageRenderer.render(view: StatsView(current: segment), process: process, options: options, now: 1_100)
        #expect(html.split(separator: "<tr class=\"maintain\">", omittingEmptySubsequences: false).count == 3, "s1 and t1")
        #expect(html.contains("MAINT (via app/s1)"))
        let metrics = PrometheusExporter.render(view: StatsView(current: segment), process: process, now: 1_100)
        #expect(metrics.contains("haproxy_server_status{proxy=\"app\",server=\"t1\",state=\"MAINT\"} 1"))
        segment.setAdmin([], s1)
        #expect(segment.admin(t1) == [])
    }
}
