// `track [BACKEND/]SERVER`: resolved once every backend is known, because a
// server may track one declared further down the file.

extension ParserState {
    /// Resolves every `track` to its server, and refuses what HAProxy
    /// refuses: an unknown name, `check` on the tracking server, a tracked
    /// server with neither `check` nor `track`, and chains that loop.
    mutating func resolveServerTracks(_ config: inout Configuration, backendIndex: [String: Int]) {
        for b in config.backends.indices {
            for s in config.backends[b].servers.indices {
                guard let track = config.backends[b].servers[s].track else { continue }
                let server = config.backends[b].servers[s]
                let label = "server '\(config.backends[b].name)/\(server.name)'"
                if server.check.enabled {
                    report(.error, "\(label): 'track' and 'check' cannot be used together: a tracking server "
                           + "takes its health from the tracked one", at: track.location)
                    continue
                }
                var target = b
                if let name = track.backendName {
                    guard let found = backendIndex[name] else {
                        report(.error, "track: no backend named '\(name)'"
                               + Keywords.didYouMean(name, among: backendIndex.keys.sorted()), at: track.location)
                        continue
                    }
                    target = found
                }
                let names = config.backends[target].servers.map(\.name)
                guard let tracked = names.firstIndex(of: track.serverName) else {
                    report(.error, "track: no server '\(track.serverName)' in backend '\(config.backends[target].name)'"
                           + Keywords.didYouMean(track.serverName, among: names), at: track.location)
                    continue
                }
                let other = config.backends[target].servers[tracked]
                guard other.check.enabled || other.track != nil else {
                    report(.error, "track: server '\(config.backends[target].name)/\(other.name)' has neither 'check' "
                           + "nor 'track': there is no health to follow", at: track.location)
                    continue
                }
                config.backends[b].servers[s].track?.backend = target
                config.backends[b].servers[s].track?.server = tracked
            }
        }
        // Chains that come back to where they started (every link resolved above).
        for b in config.backends.indices {
            for s in config.backends[b].servers.indices {
                guard let track = config.backends[b].servers[s].track, track.backend >= 0 else { continue }
                var path = ["\(config.backends[b].name)/\(config.backends[b].servers[s].name)"]
                var next: (backend: Int, server: Int)? = (track.backend, track.server)
                var steps = 0
                while let at = next, steps <= config.backends.reduce(0, { $0 + $1.servers.count }) {
                    let server = config.backends[at.backend].servers[at.server]
                    path.append("\(config.backends[at.backend].name)/\(server.name)")
                    if at.backend == b && at.server == s {
                        report(.error, "track: tracking loop \(path.joined(separator: " -> "))", at: track.location)
                        break
                    }
                    next = server.track.flatMap { $0.backend >= 0 ? ($0.backend, $0.server) : nil }
                    steps += 1
                }
            }
        }
    }
}

extension Configuration {
    /// The server at the end of `track` links from a server: the checked one
    /// whose health it takes; nil for a server that tracks nothing.
    public func trackedRoot(backend: Int, server: Int) -> (backend: Int, server: Int)? {
        var at = (backend: backend, server: server)
        var steps = 0
        while let track = backends[at.backend].servers[at.server].track, track.backend >= 0, steps < 1000 {
            at = (track.backend, track.server)
            steps += 1
        }
        return steps > 0 ? at : nil
    }
}
