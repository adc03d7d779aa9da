import Testing
@testable import WeirConfig

/// A typical HAProxy HTTP configuration, written as for HAProxy, parses
/// cleanly and produces the expected model.
@Suite struct RealHTTPConfigTests {
    static func text(blocklist: String, hostsMap: String) -> String {
        """
        # A web front door: routing by path and host, header rewrites, sticky sessions.
        global
            log /dev/log local0
            log stdout format raw local1 notice
            maxconn 50000
            tune.http.maxhdr 128

        defaults
            mode http
            log global
            option httplog
            option dontlognull
            option http-server-close
            option forwardfor except 127.0.0.0/8
            option redispatch
            retries 3
            timeout http-request 10s
            timeout queue 1m
            timeout connect 5s
            timeout client 1m
            timeout server 1m
            timeout http-keep-alive 10s
            errorloc302 503 https://status.example.com/

        userlist stats_users
            user admin insecure-password "change me"

        frontend www
            bind :8080
            bind [::]:8080
            capture request header Host len 64
            capture request header User-Agent len 128
            unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
            unique-id-header X-Request-ID

            acl is_api        path_beg -i /api/ /v1/
            acl is_static     path_end .css .js .png .svg
            acl is_static     path_beg /static/
            acl host_admin    hdr(host) -i admin.example.com
            acl blocked_src   src -f \(blocklist)
            acl bad_method    method TRACE CONNECT
            acl api_down      nbsrv(api) lt 1

            tcp-request connection reject if blocked_src
            http-request deny deny_status 405 if bad_method
            http-request auth realm Admin if host_admin !{ http_auth(stats_users) }
            http-request set-header X-Forwarded-Proto http
            http-request del-header X-Internal-Token
            http-request set-var(txn.host) req.hdr(host),lower
            http-request return status 503 content-type application/json string "{\\"error\\":\\"api down\\"}" if is_api api_down
            redirect scheme https code 301 if { hdr(host) -i secure.example.com } !{ dst_port 443 }
            http-response set-header Strict-Transport-Security "max-age=31536000"
            http-response del-header Server

            use_backend static if is_static
            use_backend api    if is_api
            use_backend %[var(txn.host),map(\(hostsMap),web)] if { var(txn.host) -m found }
            default_backend web

        backend web
            balance roundrobin
            cookie SRVID insert indirect nocache httponly
            option httpclose
            server web1 10.0.1.1:8080 cookie w1 maxconn 500
            server web2 10.0.1.2:8080 cookie w2 maxconn 500

        backend api
            balance uri depth 2
            hash-type consistent
            http-reuse aggressive
            http-request set-path %[path,regsub(^/v1/,/)]
            server api1 10.0.2.1:9000
            server api2 10.0.2.2:9000

        backend static
            balance hdr(host)
            errorfile 503 /dev/null
            server cdn1 10.0.3.1:80
        """
    }

    @Test func parsesCleanly() throws {
        let blocklist = temporaryFile("# abusers\n192.0.2.0/24\n198.51.100.7\n")
        let hostsMap = temporaryFile("shop.example.com static\napi.example.com api\n")
        let r = parse(Self.text(blocklist: blocklist, hostsMap: hostsMap))
        #expect(r.diagnostics.map { $0.rendered() } == [])
        let c = try #require(r.configuration)
        #expect(c.global.maxHeaders == 128)
        #expect(c.userlists.map(\.name) == ["stats_users"])
        #expect(c.backends.map(\.name) == ["web", "api", "static"])

        let fe = try #require(c.frontends.first)
        #expect(fe.mode == .http)
        #expect(fe.binds.count == 2)
        #expect(fe.logFormat == LogFormat.httplog)
        #expect(fe.httpLog && fe.dontLogNull)
        #expect(fe.connectionMode == .serverClose)
        #expect(fe.forwardFor == ForwardedHeader(header: "X-Forwarded-For",
                                                  except: [IPNetwork(address: v4(127, 0, 0, 0), prefixLength: 8)]))
        #expect(fe.timeouts.httpRequest == 10_000 && fe.timeouts.httpKeepAlive == 10_000)
        #expect(fe.requestCaptures.map(\.name) == ["Host", "User-Agent"])
        #expect(fe.uniqueIDHeader == "X-Request-ID")
        #expect(fe.errorPages[503] == .redirect(code: 302, location: "https://status.example.com/"))

        #expect(fe.tcpRequestConnectionRules.count == 1)
        #expect(fe.tcpRequestConnectionRules[0].condition.alternatives[0][0].acls[0].match.networks.count == 2)
        #expect(fe.httpRequestRules.map(\.action) == [
            .deny(status: 405),
            .auth(realm: "Admin"),
            .setHeader(name: "X-Forwarded-Proto", value: LogFormat(nodes: [.literal(Array("http".utf8))])),
            .delHeader(name: "X-Internal-Token", method: .str),
            .setVar(scope: .txn, name: "host", sample: Sample(fetch: .hdr(name: "host", occurrence: nil), converters: [.lower])),
            .returnResponse(ReturnSpec(status: 503, contentType: "application/json",
                                       body: .bytes(Array(#"{"error":"api down"}"#.utf8)))),
        ])
        #expect(fe.httpRequestRules[5].condition.alternatives[0].map(\.name) == ["is_api", "api_down"])
        #expect(fe.httpRequestRules[5].condition.alternatives[0][1].acls[0].sample.fetch == .nbsrv(backend: 1))
        #expect(fe.httpRequestRules[1].condition.alternatives[0][1].acls[0].sample.fetch == .httpAuth(userlist: 0))
        #expect(fe.redirectRules.count == 1)
        #expect(fe.httpResponseRules.count == 2)

        // Two lines of is_static: either one matches.
        let staticRule = fe.useBackends[0]
        #expect(staticRule.backend == 2)
        #expect(staticRule.condition.alternatives[0][0].acls.map(\.match.method) == [.end, .beg])
        #expect(fe.useBackends[1].backend == 1)
        #expect(fe.useBackends[1].condition.alternatives[0][0].acls[0].match
                == Match(method: .beg, ignoreCase: true, strings: ["/api/", "/v1/"]))
        #expect(fe.useBackends[2].backend == -1)
        #expect(fe.useBackends[2].dynamicName != nil)
        #expect(fe.defaultBackend == 0)

        let web = c.backends[0]
        #expect(web.cookie?.name == "SRVID" && web.cookie?.mode == .insert && web.cookie?.indirect == true)
        #expect(web.servers.map(\.cookie) == ["w1", "w2"])
        #expect(web.connectionMode == .close)
        #expect(web.forwardFor?.header == "X-Forwarded-For")
        let api = c.backends[1]
        #expect(api.balance == .uri(whole: false, length: nil, depth: 2))
        #expect(api.hashType == HashType(method: .consistent))
        #expect(api.httpReuse == .aggressive)
        #expect(api.httpRequestRules.count == 1)
        #expect(c.backends[2].balance == .header("host"))
        #expect(c.backends[2].errorPages[503] == .raw([]))
    }
}
