import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

/// Weir's runtime statistics against the structure HAProxy 2.6.12 printed
/// (`HAProxy26`): same headers, same field names in the same order, same
/// `typed` descriptors, same exporter HELP and TYPE lines.
@Suite struct HAProxyFidelityTests {
    static let config = """
        defaults
         mode http
         timeout client 1s
         timeout connect 1s
         timeout server 1s
        frontend fe
         bind 127.0.0.1:0
         default_backend be1
        backend be1
         server s1 127.0.0.1:8001 check
         server s2 127.0.0.1:8002 check
         server s3 127.0.0.1:8003 disabled
        backend be2
         server t1 127.0.0.1:8004
         server t2 127.0.0.1:8005 backup

        """

    let process = StatsProcessInfo(pid: 42, workers: 2, startedWall: 1_000_000, version: "9.9.9", maxconn: 100,
                                   fileLimit: 1024, listeners: 2, stopping: false)

    func run(_ command: String, _ segment: SharedSegment) -> String {
        StatsCommands.run(command, view: StatsView(current: segment), process: process, level: .admin)
    }

    @Test func showStatHeaderIsHAProxys() throws {
        #expect(StatsCSV.header == HAProxy26.statHeader)
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        let csv = run("show stat", segment)
        #expect(csv.hasPrefix(HAProxy26.statHeader))
        // Every row has a value (maybe empty) for every column, and "-" in the delimiter column.
        let dash = try #require(HAProxy26.statColumns.firstIndex(of: "-"))
        for line in csv.split(separator: "\n").dropFirst() {
            let values = line.split(separator: ",", omittingEmptySubsequences: false)
            #expect(values.count == HAProxy26.statColumns.count + 1, "\(line)")
            #expect(values[dash] == "-")
        }
    }

    @Test func showStatFiltersByProxyTypeAndServer() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        // Type mask 4: servers only, as HAProxy answered `show stat -1 4 -1`.
        let servers = run("show stat -1 4 -1", segment).split(separator: "\n").map(String.init)
        #expect(servers.first.map { $0 + "\n" } == HAProxy26.statHeader)
        #expect(servers.dropFirst().map { $0.split(separator: ",")[1] } == ["s1", "s2", "s3", "t1", "t2"])
        let be2 = segment.layout.entities[segment.layout.backend(1)].proxyID
        let one = run("show stat \(be2) 2 -1", segment).split(separator: "\n").dropFirst()
        #expect(one.map { String($0.prefix(12)) } == ["be2,BACKEND,"])
    }

    @Test func typedFieldsHaveHAProxysPositionsTagsAndTypes() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        var recorded: [String: String] = [:]
        for field in HAProxy26.typedFields {
            let head = field.split(separator: ":")[0].split(separator: ".")
            recorded["\(head[0]).\(head[2])"] = field
        }
        var compared = 0
        for line in run("show stat typed", segment).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            let head = parts[0].split(separator: ".")
            let descriptor = "\(head[0]).\(head[3]).\(head[4]):\(parts[1]):\(parts[2])"
            // A field HAProxy leaves empty on such a row (Weir prints no field HAProxy lacks).
            let expected = try #require(recorded["\(head[0]).\(head[4])"], "HAProxy prints no \(head[4]) on \(head[0]) rows")
            #expect(descriptor == expected)
            compared += 1
        }
        #expect(compared > 200)
    }

    @Test func jsonNamesHAProxysTags() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        let json = run("show stat json", segment)
        #expect(json.contains("\"field\":{\"pos\":0,\"name\":\"pxname\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},"))
        #expect(json.contains("\"name\":\"lastchg\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Metric\",\"nature\":\"Age\",\"scope\":\"Process\"},"))
        #expect(json.contains("\"name\":\"weight\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Metric\",\"nature\":\"Avg\",\"scope\":\"Process\"},"))
        #expect(json.contains("\"name\":\"rate\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Metric\",\"nature\":\"Rate\",\"scope\":\"Process\"},"))
    }

    @Test func showInfoHasHAProxysFieldsInOrder() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        let names = run("show info", segment).split(separator: "\n").map { String($0.prefix { $0 != ":" }) }
        #expect(names == HAProxy26.infoFields)
    }

    @Test func showServersStateHasHAProxysHeaderAndUncheckedColumns() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        let lines = run("show servers state", segment).split(separator: "\n").map(String.init)
        #expect(lines[0] == "1")
        #expect(lines[1] + "\n" == HAProxy26.serversStateHeader)
        func columns(_ server: String) -> [String] {
            let fields = lines.first { $0.split(separator: " ")[safe: 3] == Substring(server) }?.split(separator: " ") ?? []
            return fields.map(String.init)
        }
        // HAProxy 2.6.12: s3 (disabled, no check) "0 5 1 1 _ 1 0 0 8",
        // t1 (no check) "2 0 1 1 _ 1 0 2 0".
        let s3 = columns("s3"), t1 = columns("t1")
        #expect(Array(s3[5...8]) == ["0", "5", "1", "1"] && Array(s3[10...13]) == ["1", "0", "0", "8"], "\(s3)")
        #expect(Array(t1[5...8]) == ["2", "0", "1", "1"] && Array(t1[10...13]) == ["1", "0", "2", "0"], "\(t1)")
        #expect(s3.count == HAProxy26.serversStateColumns.count)
    }

    @Test func prometheusFamiliesAreHAProxysInOrder() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 1)
        defer { Posix.close(fd) }
        let text = PrometheusExporter.render(view: StatsView(current: segment), process: process, now: 1_100)
        let declared = text.split(separator: "\n").filter { $0.hasPrefix("# ") }.map(String.init)
        let names = Set(declared.map { $0.split(separator: " ")[2] })
        #expect(names.count * 2 == declared.count)
        let expected = HAProxy26.prometheusFamilies.filter { names.contains($0.split(separator: " ")[2]) }
        #expect(declared == expected)
    }

    @Test func clearCountersRestartsTheQueueMaximum() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(Self.config), slots: 2)
        defer { Posix.close(fd) }
        let be1 = segment.layout.backend(0)
        // Worker 0 saw 7 queued and has 2 now; worker 1 saw 3 and has none.
        (segment.counters(slot: 0) + be1 * Counter.stride)[Counter.queueMax.rawValue] = 7
        (segment.counters(slot: 0) + be1 * Counter.stride)[Counter.queueCurrent.rawValue] = 2
        (segment.counters(slot: 1) + be1 * Counter.stride)[Counter.queueMax.rawValue] = 3
        (segment.counters(slot: 0) + be1 * Counter.stride)[Counter.requestsTotal.rawValue] = 9
        func qmax() -> String { StatsCSV.value(named: "qmax", StatsView(current: segment).row(be1, now: 0), now: 0) }
        #expect(qmax() == "7")
        #expect(run("clear counters", segment) == "")
        #expect(qmax() == "2")
        #expect(StatsView(current: segment).row(be1, now: 0)[.requestsTotal] == 9, "clear counters keeps the totals")
        (segment.counters(slot: 1) + be1 * Counter.stride)[Counter.queueCurrent.rawValue] = 5
        (segment.counters(slot: 1) + be1 * Counter.stride)[Counter.queueMax.rawValue] = 5
        #expect(run("clear counters all", segment) == "")
        #expect(qmax() == "5")
        #expect(StatsView(current: segment).row(be1, now: 0)[.requestsTotal] == 0)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
