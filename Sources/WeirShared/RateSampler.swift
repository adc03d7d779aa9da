/// HAProxy's per-second rates (`rate`, `req_rate`, `conn_rate`, their
/// maxima, and what `show info` and the exporter derive from them): the
/// master samples the counters' totals once a second and writes, for each
/// entity, how many sessions, HTTP requests and connections the last
/// interval added, per second, into the current generation's segment,
/// where every reader finds them.
public struct RateSampler: Sendable {
    /// The segment sampled last (a reload starts the rates over), when,
    /// and each entity's sessions, requests and connections then.
    var segment = 0
    var time: Int64 = 0
    var totals: [(Int64, Int64, Int64)] = []

    public init() {}

    /// One sample at `now` (monotonic ms): the rates since the previous one.
    public mutating func tick(_ view: StatsView, now: Int64) {
        let current = view.layout.entities.indices.map { entity -> (Int64, Int64, Int64) in
            let row = view.row(entity, now: 0)
            return (row[.sessionsTotal], row[.requestsTotal], row[.connectionsTotal])
        }
        // Over a second at least: a shorter interval (a sample as a
        // generation starts) does not inflate the rate.
        let elapsed = max(1000, now - time)
        if segment == Int(bitPattern: view.current.memory.baseAddress), now > time, totals.count == current.count {
            // Per second, rounded; a total that went down (`clear counters all`) counts 0.
            func rate(_ now: Int64, _ before: Int64) -> Int { Int((max(0, now - before) * 1000 + elapsed / 2) / elapsed) }
            for (entity, (sessions, requests, connections)) in current.enumerated() {
                let (s, r, c) = totals[entity]
                view.current.setRates(session: rate(sessions, s), request: rate(requests, r),
                                      connection: rate(connections, c), entity)
            }
        }
        segment = Int(bitPattern: view.current.memory.baseAddress)
        time = now
        totals = current
    }
}
