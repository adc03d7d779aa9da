/// The rise/fall state machine of one server's checks, as HAProxy keeps it:
/// a health counter from 0 to `rise + fall - 1`. An UP server stays UP while
/// the counter is at least `rise`; each failure takes one off, and a failure
/// at `rise` marks it DOWN (counter 0). A DOWN server counts successes up;
/// reaching `rise` marks it UP (counter at the top). A failure while DOWN
/// starts the count again.
///
/// A server starts UP with the counter at `rise`, as in HAProxy: the first
/// failed check after start marks it DOWN at once.
public struct CheckState: Sendable, Hashable {
    public enum Transition: Sendable, Hashable {
        case none
        case wentDown
        case wentUp
    }

    public let rise: Int
    public let fall: Int
    public private(set) var health: Int
    public private(set) var isUp: Bool

    public init(rise: Int, fall: Int, startUp: Bool = true) {
        self.rise = max(1, rise)
        self.fall = max(1, fall)
        health = startUp ? self.rise : 0
        isUp = startUp
    }

    var top: Int { rise + fall - 1 }

    /// Neither fully UP nor fully DOWN: checks run at `fastinter`.
    public var isTransitioning: Bool { isUp ? health < top : health > 0 }

    /// `fall` as HAProxy shows it (`status: 2/3 UP`): `health - rise + 1` of
    /// `fall` while UP, `health` of `rise` while DOWN.
    public var progress: (count: Int, of: Int) {
        isUp ? (health - rise + 1, fall) : (health, rise)
    }

    /// One check's result.
    public mutating func record(success: Bool) -> Transition {
        if success {
            if isUp {
                if health < top { health += 1 }
                return .none
            }
            health += 1
            if health >= rise {
                health = top
                isUp = true
                return .wentUp
            }
            return .none
        }
        if isUp {
            if health > rise {
                health -= 1
                return .none
            }
            health = 0
            isUp = false
            return .wentDown
        }
        health = 0
        return .none
    }

    /// `on-error sudden-death`: one failure short of DOWN (DOWN stays DOWN).
    public mutating func suddenDeath() {
        if isUp { health = rise } else { health = 0 }
    }

    /// `set server … health up|down` from the runtime API: fully UP (the
    /// counter at the top) or fully DOWN (0), whatever the checks said.
    public mutating func force(up: Bool) -> Transition {
        let was = isUp
        health = up ? top : 0
        isUp = up
        if was == up { return .none }
        return up ? .wentUp : .wentDown
    }

    /// `on-error mark-down`: DOWN now.
    public mutating func markDown() -> Transition {
        health = 0
        guard isUp else { return .none }
        isUp = false
        return .wentDown
    }
}
