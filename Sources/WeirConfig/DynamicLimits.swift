// `minconn` and `fullconn`: a server's connection limit that grows with its
// backend's load, as HAProxy computes it.

extension ParserState {
    /// As HAProxy: `minconn` alone, or above `maxconn`, is a fixed limit
    /// (`maxconn` takes its value); `minconn` equal to `maxconn` too. Only
    /// a `minconn` below `maxconn` is left, to make the limit move.
    func normalizeConnectionLimits(_ servers: inout [Server]) {
        for s in servers.indices where servers[s].minconn > 0 {
            if servers[s].minconn >= servers[s].maxconn || servers[s].maxconn == 0 {
                servers[s].maxconn = servers[s].minconn
                servers[s].minconn = 0
            }
        }
    }

    /// A backend without `fullconn`: a tenth of the `maxconn` of every
    /// frontend that may use it (a frontend without one counts the global
    /// `maxconn`, or 2000, HAProxy's default), at least 1.
    func defaultFullconn(_ config: inout Configuration, given: Set<Int>) {
        let perFrontend = config.frontends.map { frontend in
            frontend.maxconn > 0 ? frontend.maxconn : config.global.maxconn > 0 ? config.global.maxconn : 2000
        }
        for b in config.backends.indices where !given.contains(b) {
            var total = 0
            for (f, frontend) in config.frontends.enumerated() {
                let reaches = frontend.ownBackend == b || frontend.defaultBackend == b
                    || frontend.useBackends.contains { $0.backend == b || $0.backend < 0 }
                if reaches { total += perFrontend[f] }
            }
            config.backends[b].fullconn = max(1, (total + 9) / 10)
        }
    }
}

extension Server {
    /// The connection limit when `load` sessions are in the backend
    /// (HAProxy's `srv_dynamic_maxconn`): `maxconn` at `fullconn` and
    /// beyond, else in proportion, never below `minconn`.
    @inline(__always)
    public static func dynamicMaxconn(minconn: Int, maxconn: Int, load: Int, fullconn: Int) -> Int {
        guard minconn > 0, minconn < maxconn, load < fullconn else { return maxconn }
        return max(minconn, load * maxconn / fullconn)
    }
}
