import WeirShared
import WeirSystem

/// One answer of a server's agent (`agent-check`), as HAProxy reads it: a
/// line ended by CR or LF, made of words separated by spaces, tabs or
/// commas, in any order (the last of a kind wins), then optionally `#` and
/// a description. Words: a weight `N%` of the configured weight, a health
/// word (`up`, `down`, `stopped`, `fail`), an administrative state
/// (`ready`, `drain`, `maint`), `maxconn:N`. Case does not matter; other
/// words are reported, not applied.
public struct AgentReply: Sendable, Hashable {
    public enum Health: String, Sendable, Hashable {
        case up, down, stopped, fail
    }

    public var weightPercent: Int?
    public var health: Health?
    public var admin: RequestedAdminState?
    public var maxconn: Int?
    /// The text after `#`.
    public var description = ""
    /// The first word that means nothing to the agent protocol.
    public var unknownWord: String?

    public init() {}

    /// The reply in `bytes`; nil while its line has no end yet.
    public init?(_ bytes: [UInt8]) {
        guard let end = bytes.firstIndex(where: { $0 == 10 || $0 == 13 }) else { return nil }
        let line = String(decoding: bytes[..<end], as: UTF8.self)
        var commands = Substring(line)
        if let sharp = line.firstIndex(of: "#") {
            commands = line[..<sharp]
            description = String(line[line.index(after: sharp)...].drop { $0 == " " || $0 == "\t" })
        }
        for word in commands.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }) {
            let lower = word.lowercased()
            if let health = Health(rawValue: lower) {
                self.health = health
            } else if let admin = RequestedAdminState(rawValue: lower) {
                self.admin = admin
            } else if lower.first?.isASCII == true, lower.first?.isNumber == true, lower.hasSuffix("%"),
                      let percent = Int(lower.dropLast()) {
                // HAProxy's bound, which keeps the product with the weight small.
                weightPercent = min(percent, 25600)
            } else if lower.hasPrefix("maxconn:"), let limit = Int(lower.dropFirst(8)), limit >= 0 {
                maxconn = limit
            } else if unknownWord == nil {
                unknownWord = String(word)
            }
        }
    }

    /// The check's verdict: `up` passes, `down`/`stopped`/`fail` fail with
    /// a wrong status, anything else changes no health.
    public var status: CheckResult.Status {
        switch health {
        case .up?: return .layer7OK
        case .down?, .stopped?, .fail?: return .layer7WrongStatus
        case nil: return .checked
        }
    }

    /// The check's info, as HAProxy words it: `via agent : down (text)`
    /// with a health word (an `up` names a word it did not understand
    /// first); without one, only such a word is worth reporting.
    public var info: String? {
        guard let health else { return unknownWord.map { "agent reports an error : \($0)" } }
        var text = description
        if text.isEmpty || health == .up, let unknownWord { text = unknownWord }
        return "via agent : \(health.rawValue)" + (text.isEmpty ? "" : " (\(text))")
    }
}

extension CheckEvent {
    /// Records what this event says in the shared state, as the runtime
    /// API would: the check's or agent's result and counters (`show
    /// stat`), the server's and its backend's DOWN transitions and
    /// downtime, and an agent's administrative state, weight (`N%` of the
    /// configured one) and maxconn. The log line of an administrative
    /// change the agent made.
    public func record(in segment: SharedSegment) -> String? {
        let entity = segment.layout.server(backend: backend, server)
        if (result != nil && !fromAgent) || checkHealth != nil {
            var check = segment.checkRecord(entity)
            if let result, !fromAgent { check = SharedSegment.CheckRecord(result, health: check.health) }
            check.health = checkHealth ?? check.health
            segment.setCheckRecord(check, entity)
        }
        if (result != nil && fromAgent) || agentHealth != nil {
            var agent = segment.checkRecord(entity, agent: true)
            if let result, fromAgent { agent = SharedSegment.CheckRecord(result, health: agent.health) }
            agent.health = agentHealth ?? agent.health
            segment.setCheckRecord(agent, agent: true, entity)
        }
        if countsFailure { segment.countFailedCheck(entity) }
        let wall = Int(Clock.wallMilliseconds() / 1000)
        let backendEntity = segment.layout.backend(backend)
        if kind == .wentDown {
            segment.markDown(entity, now: wall)
            if backendHasNoServer { segment.markDown(backendEntity, now: wall) }
        } else if kind == .wentUp {
            segment.markUp(entity, now: wall)
            segment.markUp(backendEntity, now: wall)
        }
        guard let reply = agentReply else { return nil }
        if let percent = reply.weightPercent {
            segment.setWeight(StatsCommands.weight(percent: percent, of: segment.initialWeight(entity)), entity)
        }
        if let maxconn = reply.maxconn { segment.setMaxconn(maxconn, entity) }
        guard let requested = reply.admin else { return nil }
        let was = segment.admin(entity)
        let now = requested.applied(to: was)
        guard now != was else { return nil }
        segment.setAdmin(now, entity)
        let who = "\(isBackup ? "Backup " : "")Server \(backendName)/\(serverName)"
        let why = reply.description.isEmpty ? "" : ", info: \"\(reply.description)\""
        switch requested {
        case .maint: return "\(who) is going DOWN for maintenance (via agent\(why))."
        case .drain: return "\(who) enters drain state (via agent\(why))."
        case .ready:
            return "\(who) is leaving forced \(was.contains(.maint) ? "maintenance" : "drain") (via agent\(why))."
        }
    }
}

extension SharedSegment.CheckRecord {
    /// What `show stat` shows of a check's result.
    init(_ result: CheckResult, health: Int) {
        self.init(status: result.status.code, code: result.code, duration: Int(result.duration),
                  info: result.info ?? "", health: health)
    }
}
