import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

func parsed(_ text: String) throws -> Configuration {
    let result = ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:])
    return try #require(result.configuration)
}

let twoProxies = """
    defaults
     timeout client 1s
     timeout connect 1s
     timeout server 1s
    frontend fe
     mode http
     bind 127.0.0.1:0
     maxconn 50
     default_backend app
    backend app
     mode http
     server s1 127.0.0.1:8001 weight 10
     server s2 127.0.0.1:8002 maxconn 5 disabled
     server s3 [::1]:8003 backup
    listen db
     bind 127.0.0.1:0
     server d1 127.0.0.1:9001

    """

@Suite struct SharedSegmentTests {
    @Test func workersWriteTheirSlotAndTheMasterReadsIt() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 3)
        defer { Posix.close(fd) }
        // A second mapping of the same memfd stands in for a worker process.
        let worker = try #require(SharedSegment.attach(fd))
        #expect(worker.slots == 3)
        #expect(worker.layout == segment.layout)
        worker.workerCounters(2).pointee.sessions = 41
        worker.workerCounters(2).pointee.sessions += 1
        #expect(segment.workerCounters(2).pointee.sessions == 42)
        #expect(segment.workerCounters(0).pointee.sessions == 0)
        let plain = try MemoryFile.create(name: "not-a-segment", size: 4096)
        defer { Posix.close(plain) }
        #expect(SharedSegment.attach(plain) == nil)
    }

    @Test func layoutFollowsTheConfiguration() throws {
        let layout = SegmentLayout(try parsed(twoProxies))
        #expect(layout.frontendCount == 2 && layout.backendCount == 2)
        #expect(layout.entities.map(\.key) == ["F fe/", "F db/", "B app/", "B db/", "S app/s1", "S app/s2", "S app/s3", "S db/d1"])
        // Proxy ids in file order; a listen section's halves share one.
        #expect(layout.entities.map(\.proxyID) == [1, 3, 2, 3, 2, 2, 2, 3])
        #expect(layout.server(backend: "app", server: "s3") == 6)
        #expect(layout.server(backend: "app", server: "nope") == nil)
        #expect(layout.backendIndex(of: 7) == 1)
        #expect(layout.entities[6].isBackup && layout.entities[6].address.hasSuffix(":1]:8003"))
        // show stat order: each proxy's frontend, servers, backend.
        #expect(layout.statOrder == [0, 4, 5, 6, 2, 1, 7, 3])
        #expect(SegmentLayout.decode(layout.encoded()) == layout)
    }

    @Test func layoutKnowsTrackersAndQueueLimitsAndReadsEarlierLayouts() throws {
        let layout = SegmentLayout(try parsed("""
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend app
                server s1 127.0.0.1:8001 check maxqueue 3
                server t1 127.0.0.1:8002 track s1
            backend api
                server t2 127.0.0.1:8003 track app/t1
            """))
        let s1 = layout.server(backend: "app", server: "s1")!, t1 = layout.server(backend: "app", server: "t1")!
        let t2 = layout.server(backend: "api", server: "t2")!
        #expect(layout.entities[t2].tracked == "app/t1" && layout.entities[s1].queueLimit == 3)
        #expect(layout.trackers == [s1: [t1], t1: [t2]])
        #expect(SegmentLayout.decode(layout.encoded()) == layout)
        // Nine fields, as an earlier Weir wrote them.
        let earlier = "F\tfe\t\t1\t0\ttcp\t0\t\t0\nB\tbe\t\t2\t0\ttcp\t0\t\t0\nS\tbe\ts1\t2\t1\ttcp\t0\t127.0.0.1:80\t0\n"
        let decoded = try #require(SegmentLayout.decode(Array(earlier.utf8)))
        #expect(decoded.entities[2].tracked == "" && decoded.entities[2].queueLimit == 0)
    }

    @Test func countersSumOverWorkersAndServersStartAsConfigured() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 2)
        defer { Posix.close(fd) }
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        let s2 = segment.layout.server(backend: "app", server: "s2")!
        #expect(segment.weight(s1) == 10 && segment.initialWeight(s1) == 10)
        #expect(segment.admin(s2) == .configMaint && segment.maxconn(s2) == 5)
        (segment.counters(slot: 0) + s1 * Counter.stride)[Counter.sessionsTotal.rawValue] = 3
        (segment.counters(slot: 1) + s1 * Counter.stride)[Counter.sessionsTotal.rawValue] = 4
        (segment.counters(slot: 0) + s1 * Counter.stride)[Counter.queueMax.rawValue] = 7
        (segment.counters(slot: 1) + s1 * Counter.stride)[Counter.queueMax.rawValue] = 2
        #expect(segment.totals(s1)[Counter.sessionsTotal.rawValue] == 7)
        #expect(segment.totals(s1)[Counter.queueMax.rawValue] == 7)
        segment.clearCounters()
        #expect(segment.totals(s1)[Counter.sessionsTotal.rawValue] == 0)
        (segment.counters(slot: 1) + s1 * Counter.stride)[Counter.sessionsTotal.rawValue] += 1
        #expect(segment.totals(s1)[Counter.sessionsTotal.rawValue] == 1)
    }

    @Test func connectionLimitsHoldAcrossMappings() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 2)
        defer { Posix.close(fd) }
        let other = try #require(SharedSegment.attach(fd))
        let s2 = segment.layout.server(backend: "app", server: "s2")!
        var granted = 0
        for i in 0..<8 where (i % 2 == 0 ? segment : other).open(s2, limit: 5) { granted += 1 }
        #expect(granted == 5 && segment.current(s2) == 5 && segment.maximum(s2) == 5)
        other.close(s2)
        #expect(segment.open(s2, limit: 5))
        #expect(!segment.open(s2, limit: 5))
    }

    @Test func stateChangesBumpTheVersion() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(fd) }
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        let before = segment.stateVersion
        segment.setAdmin([.drain], s1)
        #expect(segment.stateVersion == before + 1)
        segment.setAdmin([.drain], s1)
        #expect(segment.stateVersion == before + 1, "no change, no bump")
        segment.setWeight(300, s1)
        #expect(segment.weight(s1) == 256)
        segment.setCheckRecord(.init(status: "L4OK", duration: 1, health: 2), s1)
        #expect(segment.checkRecord(s1).status == "L4OK")
    }

    @Test func checkResultsAndCountersSurviveAReloadAndClearCountersAsHAProxy() throws {
        let (oldFD, old) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(oldFD) }
        let s1 = old.layout.server(backend: "app", server: "s1")!
        let app = old.layout.backend(named: "app")!
        let long = String(repeating: "x", count: 100)
        old.setCheckRecord(.init(status: "L7STS", code: 503, duration: 12, info: long, health: 0), s1)
        old.setCheckRecord(.init(status: "L7OK", duration: 3, info: "via agent : up", health: 1), agent: true, s1)
        #expect(old.checkRecord(s1) == .init(status: "L7STS", code: 503, duration: 12,
                                             info: String(repeating: "x", count: 64), health: 0))
        #expect(old.checkRecord(s1, agent: true).info == "via agent : up")
        old.countFailedCheck(s1)
        old.markDown(s1, now: 1_000)
        old.markDown(s1, now: 1_001)
        old.markDown(app, now: 1_000)
        #expect(old.checkCounters(s1, now: 1_010) == (1, 1, 10), "a second DOWN while DOWN counts nothing")
        old.markUp(s1, now: 1_004)
        #expect(old.checkCounters(s1, now: 2_000) == (1, 1, 4), "the downtime stops when it is back")

        let (newFD, new) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(newFD) }
        let health = new.checkRecord(s1).health
        new.takeOver(from: old)
        #expect(new.checkRecord(s1).status == "L7STS" && new.checkRecord(s1).code == 503)
        #expect(new.checkRecord(s1).health == health, "the new checks count from their own start")
        #expect(new.checkRecord(s1, agent: true).status == "L7OK")
        #expect(new.checkCounters(s1, now: 2_000) == (1, 1, 4))
        #expect(new.checkCounters(app, now: 1_020) == (0, 1, 20), "the backend is still DOWN")

        new.clearCounters()
        #expect(new.checkCounters(s1, now: 2_000) == (0, 0, 4), "a server's chkfail and chkdown restart")
        #expect(new.checkCounters(app, now: 1_020) == (0, 1, 20), "a backend's chkdown and downtimes stay")
    }

    @Test func aReloadCarriesCountersAndAdminStatesByName() throws {
        let (oldFD, old) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 2)
        defer { Posix.close(oldFD) }
        let s1 = old.layout.server(backend: "app", server: "s1")!
        (old.counters(slot: 1) + s1 * Counter.stride)[Counter.http2xx.rawValue] = 12
        old.setAdmin([.maint], s1)
        old.setWeight(4, s1)
        // The new configuration drops s2 and moves s1 after a new server.
        let renamed = twoProxies.replacingFirst("server s1", with: "server s0 127.0.0.1:8000\n server s1")
            .replacingFirst(" server s2 127.0.0.1:8002 maxconn 5 disabled\n", with: "")
        let (newFD, new) = try SharedSegment.create(configuration: parsed(renamed), slots: 3)
        defer { Posix.close(newFD) }
        new.takeOver(from: old)
        let n1 = new.layout.server(backend: "app", server: "s1")!
        #expect(n1 != s1)
        #expect(new.totals(n1)[Counter.http2xx.rawValue] == 12)
        #expect(new.admin(n1) == .maint)
        #expect(new.weight(n1) == 4)
        // What the old generation counts after the hand-over shows on its own.
        (old.counters(slot: 0) + s1 * Counter.stride)[Counter.http2xx.rawValue] += 3
        #expect(old.countedSinceHandOver(s1)[Counter.http2xx.rawValue] == 3)
        let view = StatsView(current: new, older: [old])
        #expect(view.row(n1, now: 0)[.http2xx] == 15)
    }
}

@Suite struct StatsRenderingTests {
    @Test func showStatHasHAProxysColumnsAndRows() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 2)
        defer { Posix.close(fd) }
        let fe = segment.layout.frontend(0)
        (segment.counters(slot: 0) + fe * Counter.stride)[Counter.requestsTotal.rawValue] = 5
        (segment.counters(slot: 1) + fe * Counter.stride)[Counter.requestsTotal.rawValue] = 6
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        segment.open(s1)
        segment.setAdmin([.drain], s1)
        let csv = StatsCSV.render(StatsView(current: segment).rows(now: 100), now: 100)
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,"))
        let header = lines[0].dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(header.firstIndex(of: "req_tot") == 48 && header.firstIndex(of: "uweight") == 99)
        #expect(lines.count == 9)
        func field(_ line: String, _ name: String) -> String {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return values[header.firstIndex(of: name)!]
        }
        #expect(lines[1].hasPrefix("fe,FRONTEND,"))
        #expect(field(lines[1], "req_tot") == "11")
        #expect(field(lines[1], "status") == "OPEN" && field(lines[1], "slim") == "50")
        #expect(lines[2].hasPrefix("app,s1,"))
        #expect(field(lines[2], "status") == "DRAIN" && field(lines[2], "scur") == "1" && field(lines[2], "weight") == "10",
                "HAProxy 2.6 shows a drained server's weight")
        #expect(field(lines[3], "status") == "MAINT")
        #expect(field(lines[4], "status") == "no check" && field(lines[4], "bck") == "1")
        #expect(lines[5].hasPrefix("app,BACKEND,") && field(lines[5], "status") == "UP")
        #expect(field(lines[5], "act") == "1", "the draining server still runs: \(lines[5])")
        #expect(lines[6].hasPrefix("db,FRONTEND,") && lines[7].hasPrefix("db,d1,") && lines[8].hasPrefix("db,BACKEND,"))
        #expect(field(lines[6], "hrsp_2xx") == "" && field(lines[6], "mode") == "tcp")
        for line in lines.dropFirst() {
            #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == header.count)
        }
    }

    @Test func commandsChangeServersAtTheirLevel() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(fd) }
        let view = StatsView(current: segment)
        let info = StatsProcessInfo(pid: 1, workers: 1, startedWall: 0, version: "t", maxconn: 10, fileLimit: 100,
                                    listeners: 2, stopping: false)
        func run(_ command: String, _ level: StatsLevel = .admin) -> String {
            StatsCommands.run(command, view: view, process: info, level: level)
        }
        let s1 = segment.layout.server(backend: "app", server: "s1")!
        #expect(run("set server app/s1 state maint", .operator) == "Permission denied\n")
        #expect(run("set server app/s1 state maint") == "")
        #expect(segment.admin(s1) == .maint)
        #expect(run("set server app/s1 state drain") == "")
        #expect(segment.admin(s1) == .drain)
        #expect(run("set server app/s1 state ready") == "")
        #expect(segment.admin(s1) == [])
        #expect(run("disable server app/s1") == "" && segment.admin(s1) == .maint)
        #expect(run("enable server app/s1") == "" && segment.admin(s1) == [])
        #expect(run("set server app/s1 weight 50%") == "" && segment.weight(s1) == 5)
        #expect(run("get weight app/s1", .user) == "5 (initial 10)\n")
        #expect(run("set weight app/s1 7") == "" && segment.weight(s1) == 7)
        #expect(run("set maxconn server app/s1 7") == "" && segment.maxconn(s1) == 7)
        #expect(run("set maxconn frontend fe 20") == "" && segment.maxconn(segment.layout.frontend(0)) == 20)
        #expect(run("set maxconn frontend nope 20") == "No such frontend.\n")
        #expect(run("set maxconn server app/s1 7", .operator) == "Permission denied\n")
        #expect(run("set server app/nope state ready") == "No such server.\n")
        #expect(run("set server nope/s1 state ready") == "No such backend.\n")
        #expect(run("show backend", .user) == "# name\napp\ndb\n")
        #expect(run("show info", .user).contains("Name: Weir\n"))
        #expect(run("clear counters", .user) == "Permission denied\n")
        #expect(run("clear counters all", .operator) == "Permission denied\n")
        #expect(run("bogus").hasPrefix("Unknown command: 'bogus'\n"))
        let state = run("show servers state app", .user).split(separator: "\n").map(String.init)
        #expect(state[0] == "1" && state.count == 5)
        #expect(state[2].hasPrefix("2 app 1 s1 127.0.0.1 2 0 7 10 "))
        #expect(state[3].hasPrefix("2 app 2 s2 127.0.0.1 0 5 1 1 "), "disabled: forced and configured maintenance")
        #expect(run("show stat -1 4 -1", .user).split(separator: "\n").count == 5)
        #expect(run("show stat json", .user).hasPrefix("[[{\"objType\":\"Frontend\",\"proxyId\":1,"))
        #expect(run("show stat typed", .user).hasPrefix("F.1.0.0.pxname.1:KNS:str:fe\n"))
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement, maxReplacements: 1)
    }
}
