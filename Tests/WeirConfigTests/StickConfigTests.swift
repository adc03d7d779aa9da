import Testing
@testable import WeirConfig

@Suite struct StickConfigTests {
    @Test func tablesAndRules() throws {
        let c = try #require(config(timeoutDefaults + """
            backend web
                mode http
                stick-table type string len 16 size 10k expire 30m store server_id
                stick on hdr(x-user) if { hdr(x-user) -m found }
                stick match req.cook(sid),lower table shared
                stick store-response res.hdr(x-session)
                server s1 127.0.0.1:8001
            backend shared
                stick-table type ip size 1m nopurge
                stick on src
                server s2 127.0.0.1:8002 id 5

            """))
        let web = c.backends[0], shared = c.backends[1]
        let table = try #require(web.stickTable)
        #expect(table.type == .string && table.length == 16 && table.size == 10 * 1024)
        #expect(table.expire == 30 * 60_000 && !table.noPurge && table.stores.map(\.type) == [.serverID])
        #expect(web.stickRules.map(\.kind) == [.on, .match, .storeResponse])
        #expect(web.stickRules.map(\.table) == [0, 1, 0])
        #expect(web.stickRules[0].condition != .always)
        #expect(web.stickRules[1].sample.converters.count == 1)
        let other = try #require(shared.stickTable)
        #expect(other.type == .ip && other.size == 1 << 20 && other.noPurge && other.expire == nil)
        #expect(shared.stickRules.first?.table == 1)
    }

    @Test func diagnostics() {
        #expect(errors(timeoutDefaults + """
            backend a
                stick-table size 10
                stick-table type ip
                server s1 127.0.0.1:1
            backend b
                stick-table type ipv4 size 10
                stick-table type string len 0 size 1
                stick-table type ip size 10 store conn_cnt,bytes_in_rate(1s)
                stick-table type ip size 10 expire 5x
                stick-table type ip size 0
                stick-table type ip size 1 peers p
                server s1 127.0.0.1:1
            backend c
                stick-table type ip size 10
                stick-table type ip size 10
                stick in src
                stick on
                stick on src table nowhere
                stick on src table a
                stick match src unless
                stick store-request status
                stick on src tabel c
                server s1 127.0.0.1:1
            backend d
                stick on src
                server s1 127.0.0.1:1
            """) == [
            "t.cfg:6:5: error: stick-table: missing 'type' (ip, ipv6, integer, string or binary)",
            "t.cfg:7:5: error: stick-table: missing 'size', as in 'size 100k'",
            "t.cfg:10:22: error: stick-table: unknown type 'ipv4'; expected ip, ipv6, integer, string or binary (did you mean 'ipv6'?)",
            "t.cfg:11:33: error: stick-table len: expected a number between 1 and 65535, got '0'",
            "t.cfg:12:39: error: stick-table store: data type 'bytes_in_rate' is not supported by Weir yet",
            "t.cfg:13:40: error: stick-table expire: expected a duration like 5s, got '5x'",
            "t.cfg:14:30: error: stick-table size: expected a number of entries, as in 100k, got '0'",
            "t.cfg:19:5: error: stick-table: only one table per section",
            "t.cfg:20:11: error: stick: unknown rule 'in'; expected on, match, store-request or store-response (did you mean 'on'?)",
            "t.cfg:21:11: error: stick on: expected a sample expression, as in 'stick on src'",
            "t.cfg:24:21: error: stick match: expected a condition after 'unless'",
            "t.cfg:25:25: error: stick store-request: this sample needs the HTTP response, which is not available before the response arrives",
            "t.cfg:26:18: error: stick on: unexpected 'tabel'; expected 'table', 'if' or 'unless'",
            "t.cfg:15:38: error: stick-table: no peers section named 'p'",
            "t.cfg:22:24: error: stick on: no backend named 'nowhere'",
            "t.cfg:23:24: error: stick on: backend 'a' has no stick-table; did you mean 'b'?",
            "t.cfg:29:5: error: stick on: backend 'd' has no stick-table; declare one or name another backend's with 'table'",
        ])
    }
}

@Suite struct BinaryStickTableConfigTests {
    @Test func binaryKeysTakeALength() throws {
        let c = try #require(config(timeoutDefaults + "backend be\n    stick-table type binary len 20 size 1k\n    stick on src\n    server s1 127.0.0.1:1\n"))
        #expect(c.backends[0].stickTable?.type == .binary && c.backends[0].stickTable?.length == 20)
        #expect(warnings(timeoutDefaults + "backend be\n    stick-table type binary len 100 size 1k\n    server s1 127.0.0.1:1\n") == [
            "t.cfg:6:33: warning: stick-table len: Weir keeps at most 64 bytes of a binary key; longer keys are cut there"])
        #expect(errors(timeoutDefaults + "backend be\n    stick-table type bin size 1k\n    server s1 127.0.0.1:1\n") == [
            "t.cfg:6:22: error: stick-table: unknown type 'bin'; expected ip, ipv6, integer, string or binary"])
    }
}

/// `peers` sections: Weir's tables live in shared memory, which a reload
/// keeps, so a section of one peer changes nothing; other instances are
/// not synchronized, which a warning says.
@Suite struct PeersConfigTests {
    private func withPeers(_ peers: String, table: String = "stick-table type ip size 1k peers mypeers") -> String {
        timeoutDefaults + peers + "\nbackend be\n    \(table)\n    stick on src\n    server s1 127.0.0.1:1\n"
    }

    @Test func aLocalPeerAloneLoadsQuietly() {
        let text = "global\n    localpeer lb1\n" + withPeers("peers mypeers\n    peer lb1 127.0.0.1:10000")
        #expect(config(text)?.backends.first?.stickTable != nil)
        #expect(warnings(text) == [])
        // HAProxy 2.0's spelling: a server line without address for the local peer, and bind.
        #expect(warnings(withPeers("peers mypeers\n    bind 127.0.0.1:10000 ssl crt x.pem\n    server lb1\n"
                                   + "    default-server ssl\n    shards 2")) == [])
    }

    @Test func remotePeersWarn() {
        let text = withPeers("peers mypeers\n    peer lb1 10.0.0.1:10000\n    peer lb2 10.0.0.2:10000")
        #expect(errors(text) == [])
        #expect(warnings(text) == [
            "t.cfg:5:7: warning: peers 'mypeers': Weir does not exchange stick-table entries with other instances; "
                + "its tables stay local (a reload keeps them, as a local peer would)"])
        #expect(warnings(withPeers("peers mypeers\n    disabled\n    peer lb1 10.0.0.1:10000\n    peer lb2 10.0.0.2:10000")) == [])
    }

    @Test func errorsNameTheLine() {
        #expect(errors(withPeers("peers mypeers\n    peer lb1 10.0.0.1:10000", table: "stick-table type ip size 1k peers mypers"))
                == ["t.cfg:8:39: error: stick-table: no peers section named 'mypers'; did you mean 'mypeers'?"])
        #expect(errors(withPeers("peers mypeers\n    peer lb1\n    peer lb1 10.0.0.1:1\n    peer lb1 10.0.0.1:2\n"
                                 + "    table t type ip size 1k\n    peeer x")) == [
            "t.cfg:6:5: error: 'peer' expects a name and an address like 10.0.0.2:10000",
            "t.cfg:8:10: error: peer 'lb1' is already defined in peers 'mypeers'",
            "t.cfg:9:5: error: 'table' in a 'peers' section is not supported by Weir yet; declare the table with "
                + "'stick-table' in a backend",
            "t.cfg:10:5: error: unknown keyword 'peeer' in 'peers' section; did you mean 'peer'?",
        ])
    }
}
