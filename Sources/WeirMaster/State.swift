import WeirConfig
import WeirShared
import WeirSystem

/// One worker process as the master sees it.
struct WorkerProcess {
    var pid: Int32
    var generation: Int
    var slot: Int
    /// The master's end of the control channel, -1 once closed.
    var channel: Int32
    /// Wall-clock ms at spawn, for `show proc`'s uptime.
    var startedWall: Int64
    var ready = false
    var draining = false
    /// Reloads this worker has lived through (for `mworker-max-reloads`).
    var reloadsSurvived = 0
    var version: String
}

/// What the master keeps for each generation whose workers are alive.
struct Generation {
    var number: Int
    /// The validated configuration bytes (a memfd holding a ConfigBundle).
    var configFD: Int32
    /// The shared-memory segment every worker of this generation maps.
    var sharedFD: Int32
    /// nil for a generation started by an older binary whose segment this one
    /// cannot read (its workers serve on; their counters are not seen).
    var segment: SharedSegment?
    /// Monotonic ms after which still-draining workers are killed.
    var hardStopDeadline: Int64?
}

/// The generation being started (at startup or by a reload) and what it
/// replaces if it succeeds.
struct PendingGeneration {
    var number: Int
    var configuration: Configuration
    var files: [ConfigFile]
    var listeners: [OpenListener]
    var messages: [String]
    var deadline: Int64
}
