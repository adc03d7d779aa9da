// `track`: servers without checks of their own that take the health of the
// checked server at the end of their chain (HAProxy's "via").
extension HealthChecker {
    /// A server with `track`: it has no check of its own and takes the
    /// health of the checked server at the end of its chain.
    struct Tracker {
        let backend: Int
        let server: Int
        let backendName: String
        let serverName: String
        let isBackup: Bool
        let configuredWeight: Int
        /// Index into `servers`: the checked server at the end of the chain.
        let root: Int
        /// `backend/server` of the server it names in `track`, for the log lines.
        let via: String
        var health: ServerHealth
    }

    /// `events` of checked servers, each followed by the same change on
    /// every server that tracks it (HAProxy's "Server B/T is DOWN via B/S").
    mutating func withTrackers(_ events: [CheckEvent]) -> [CheckEvent] {
        guard !trackers.isEmpty else { return events }
        var all: [CheckEvent] = []
        for event in events {
            all.append(event)
            guard event.kind != .progress, event.changesState, let root = members[event.backend][event.server].checked else { continue }
            for t in servers[root].trackers {
                trackers[t].health = HealthChecker.trackedHealth(servers[root].health, rootWeight: servers[root].configuredWeight,
                                                                 ownWeight: trackers[t].configuredWeight)
                all.append(trackerEvent(t, event.kind))
            }
        }
        return all
    }

    /// A tracking server's health: its tracked server's, at its own weight
    /// scaled as the tracked one's is (slow start, stopping).
    static func trackedHealth(_ root: ServerHealth, rootWeight: Int, ownWeight: Int) -> ServerHealth {
        guard root.weight != rootWeight else { return ServerHealth(usable: root.usable, weight: ownWeight) }
        guard root.weight > 0, rootWeight > 0, ownWeight > 0 else { return ServerHealth(usable: root.usable, weight: 0) }
        return ServerHealth(usable: root.usable, weight: max(1, ownWeight * root.weight / rootWeight))
    }

    func trackerEvent(_ t: Int, _ kind: CheckEvent.Kind) -> CheckEvent {
        let tracker = trackers[t]
        let online = onlineCounts(tracker.backend)
        var e = CheckEvent(kind: kind, backend: tracker.backend, server: tracker.server, state: tracker.health,
                           result: nil, backendName: tracker.backendName, serverName: tracker.serverName,
                           isBackup: tracker.isBackup, activeLeft: online.active, backupLeft: online.backup)
        e.via = tracker.via
        return e
    }
}
