import Testing
@testable import WeirConfig

@Suite struct StickCounterConfigTests {
    @Test func storesTrackersAndFetches() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
                mode http
                bind 127.0.0.1:8000
                stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur,gpc0,conn_rate(1m),gpt0
                tcp-request connection track-sc1 src table limits
                tcp-request connection reject if { sc1_conn_cur gt 10 }
                http-request track-sc0 src
                http-request sc-inc-gpc0(0) if { path_beg /login }
                http-request sc-set-gpt0(0) 7
                http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 } || { src_get_gpc0(limits) gt 3 }
                http-request set-header x-n %[table_cnt(limits)]
                default_backend limits
            backend limits
                mode http
                stick-table type ip size 1k store conn_cur,gpc0
                server s1 127.0.0.1:8001

            """))
        let fe = c.frontends[0]
        let table = try #require(fe.stickTable)
        #expect(table.stores == [StickStore(type: .httpRequestRate, period: 10_000), StickStore(type: .connCurrent),
                                 StickStore(type: .gpc0), StickStore(type: .connRate, period: 60_000),
                                 StickStore(type: .gpt0)])
        // The backends' tables first, then the frontends'.
        #expect(c.stickTables.map(\.name) == ["limits", "fe"])
        guard case .track(let t1)? = fe.tcpRequestConnectionRules[0].stickAction else {
            Issue.record("not a track rule: \(fe.tcpRequestConnectionRules[0])")
            return
        }
        #expect(t1.counter == 1 && t1.table == 0 && t1.key.fetch == .src)
        #expect(fe.tcpRequestConnectionRules[0].action == nil && fe.tcpRequestConnectionRules[1].action == .reject)
        guard case .stickCounter(.track(let t0)) = fe.httpRequestRules[0].action else {
            Issue.record("not a track rule: \(fe.httpRequestRules[0])")
            return
        }
        #expect(t0.counter == 0 && t0.table == 1)
        #expect(fe.httpRequestRules[1].action == .stickCounter(.increment(counter: 0, type: .gpc0)))
        #expect(fe.httpRequestRules[2].action == .stickCounter(.setGPT0(counter: 0, value: 7)))
        let acls = fe.httpRequestRules[3].condition.alternatives.flatMap { $0.flatMap(\.acls) }
        #expect(acls.map(\.sample.fetch) == [
            .stickCounter(StickFetch(entry: .tracked(0), query: .value(.httpRequestRate), table: -1)),
            .stickCounter(StickFetch(entry: .source, query: .value(.gpc0), table: 0)),
        ])
    }

    @Test func fetchNames() throws {
        let c = try #require(config(timeoutDefaults + """
            listen app
                mode http
                bind 127.0.0.1:8000
                stick-table type ip size 1k store conn_cur,http_req_cnt,gpc0,gpc1
                http-request track-sc2 src
                http-request deny if { sc2_conn_cur gt 1 } || { sc_http_req_cnt(2,app) gt 5 } || { sc0_tracked }
                http-request deny if { src_inc_gpc0 gt 3 } || { src_conn_cur ge 2 } || { sc_clr_gpc1(2) eq 1 }
                http-request deny if { table_avl lt 1 }
                server s1 127.0.0.1:8001

            """))
        let rules = c.frontends[0].httpRequestRules
        func fetches(_ i: Int) -> [Fetch] { rules[i].condition.alternatives.flatMap { $0.flatMap(\.acls) }.map(\.sample.fetch) }
        #expect(fetches(1) == [
            .stickCounter(StickFetch(entry: .tracked(2), query: .value(.connCurrent), table: -1)),
            .stickCounter(StickFetch(entry: .tracked(2), query: .value(.httpRequestCount), table: 0)),
            .stickCounter(StickFetch(entry: .tracked(0), query: .tracked, table: -1)),
        ])
        #expect(fetches(2) == [
            .stickCounter(StickFetch(entry: .source, query: .increment(.gpc0), table: 0)),
            .stickCounter(StickFetch(entry: .source, query: .value(.connCurrent), table: 0)),
            .stickCounter(StickFetch(entry: .tracked(2), query: .clear(.gpc1), table: -1)),
        ])
        #expect(fetches(3) == [.stickCounter(StickFetch(entry: .table, query: .available, table: 0))])
    }

    @Test func diagnostics() {
        #expect(errors(timeoutDefaults + """
            frontend fe
                mode http
                bind 127.0.0.1:8000
                stick-table type ip size 1k store http_req_rat(10s)
                stick-table type ip size 1k store http_req_rate
                stick-table type ip size 1k store conn_cur(10s),gpc0_rate(0)
                http-request track-sc3 src
                http-request track-sc0 src table nowhere
                http-request track-sc1 hdr(host) table ips
                tcp-request connection track-sc0
                http-request deny if { sc_http_req_rate(3) gt 1 }
                http-request deny if { sc4_conn_cur gt 1 }
                http-request sc-inc-gpc0(5)
                http-request sc-set-gpt0(0) x
                http-request deny if { src_conn_cur(nowhere2) gt 1 }
                default_backend ips
            backend ips
                mode http
                stick-table type ip size 1k store conn_cur
                server s1 127.0.0.1:8001

            """) == [
            "t.cfg:8:39: error: stick-table store: unknown data type 'http_req_rat' (did you mean 'http_req_rate'?)",
            "t.cfg:9:39: error: stick-table store: 'http_req_rate' needs a period, as in http_req_rate(10s)",
            "t.cfg:10:39: error: stick-table store: 'conn_cur' takes no period",
            "t.cfg:11:18: error: http-request track-sc3: the counter number must be 0, 1 or 2 (track-sc0, track-sc1, track-sc2)",
            "t.cfg:14:28: error: tcp-request connection track-sc0: expected a key, as in 'track-sc0 src'",
            "t.cfg:15:28: error: acl: 'sc_http_req_rate': the counter number must be 0, 1 or 2, got 3",
            "t.cfg:16:28: error: acl: 'sc4_conn_cur': the counter number must be 0, 1 or 2, got 4",
            "t.cfg:17:18: error: http-request sc-inc-gpc0: the counter number must be 0, 1 or 2, got 5",
            "t.cfg:18:33: error: http-request sc-set-gpt0: expected an integer value, as in 'sc-set-gpt0(0) 1'",
            "t.cfg:19:28: error: no stick-table named 'nowhere2'",
            "t.cfg:12:38: error: no stick-table named 'nowhere'",
            "t.cfg:13:18: error: track-sc1: the key is a string but table 'ips' has keys of type ip",
        ])
    }
}
