/// When a busy loop naps before it waits (`tune.wakeup-coalesce`).
///
/// A proxy that is not the bottleneck of a busy system wakes up for every
/// few events: it handles them faster than its peers produce new ones, then
/// sleeps in epoll_wait and is woken again. Each sleep and wake-up costs a
/// context switch on its core and a cross-CPU wake-up on the peer's, more
/// than the work the wake-up serves. Under such load the loop, finding no
/// event ready, first naps: the events of several connections gather and
/// one wake-up serves them all (what a network card's interrupt
/// coalescing does).
///
/// A nap lasts 6 µs per busy connection, about what serving one of their
/// events costs, up to the configured length (300 µs by default): a nap
/// holds an event about as long as the batch it joins takes to serve, so
/// with a few connections it is short and a trial nap that does not pay
/// costs little.
///
/// Large transfers shorten it further. A batch's cost to the peers grows
/// with the bytes it carries (fifty 16 KiB responses handed to a client at
/// once are read one after the other), while what it saves, wake-ups, is a
/// cost per batch. So once the bytes the handler moves per event
/// (`countBytes`, averaged over the milliseconds) exceed 3 KiB, the share
/// of each busy connection is scaled by (3 KiB / bytes per event)²: 6 µs up
/// to 3 KiB, 1.5 µs at 6 KiB, 0.8 µs at 8 KiB (a 16 KiB response and its
/// request, two events).
///
/// A nap delays the events it gathers, so it is only taken while it pays.
/// Two measures decide. How many connections are busy: the handler counts
/// each connection once per millisecond of the loop's clock in which it
/// had an event (`countBusy`), and the busier of the last two milliseconds
/// stands for the connections in play; it counts them once per tick too,
/// so that a nap is judged by the connections it gathered, not by their
/// events (a connection may have one on each side). And how much work gets
/// done: the events handled per millisecond, averaged over the
/// milliseconds spent without napping and, separately, over those spent
/// napping. Then:
/// * napping starts after a wait that returned several events from at most
///   a third of the busy connections;
/// * it stops at once when a nap gathers events from every busy
///   connection: all of them were waiting on this loop, so its peers sat
///   idle while it slept (a few busy clients, a benchmark at low
///   concurrency, however many idle connections are open besides);
/// * it stops when, after two milliseconds of napping, the loop handles
///   fewer than four fifths of the events per millisecond it handled
///   awake: the naps hold the work up instead of batching it;
/// * it stops after four naps in a row that each gathered fewer than two
///   events: the traffic is too thin for batches.
///
/// Under a load its peers cannot keep up with, the naps let the events of
/// most connections gather and be served together, in step: fewer wake-ups
/// on every core, and latencies that vary less.
///
/// A loop that stopped napping starts again only after a cool-down of
/// ticks that doubles each time it stops, and is reset by a nap that
/// gathers a batch (two events or more, not from every busy connection).
/// The policy is pure state, so that its decisions can be tested without
/// timing.
public struct WakeupCoalescing: Sendable {
    /// The longest nap in nanoseconds; 0 turns coalescing off.
    public let napNanoseconds: Int
    /// Nanoseconds of nap per busy connection.
    public static let napPerBusyConnection = 6_000
    /// Bytes per event up to which a busy connection's share of a nap is whole.
    public static let smallEventBytes = 3_072
    /// Whether the next wait that finds nothing ready naps first.
    public private(set) var napping = false
    private var coolDown = 0
    private var penalty = WakeupCoalescing.minimumCoolDown
    private var thinNaps = 0
    /// Connections counted in the current millisecond and the one before.
    private var millisecond: Int64 = 0
    @usableFromInline var busyNow = 0
    private var busyBefore = 0
    /// The loop's ticks so far, the first of the current millisecond, and
    /// the connections with an event in the current tick.
    @usableFromInline var tick: Int64 = 0
    @usableFromInline var millisecondFirstTick: Int64 = 0
    @usableFromInline var connectionsThisTick = 0
    /// Bytes moved in the current millisecond, and the running average of
    /// bytes per event.
    @usableFromInline var bytesNow = 0
    private(set) var bytesPerEvent = 0
    /// Events handled in the current millisecond, and the running averages
    /// of events per millisecond (in sixteenths) awake and napping.
    private var eventsNow = 0
    private var awakeRate = 0
    private var nappingRate = 0
    private var nappingMilliseconds = 0

    static let minimumCoolDown = 16
    static let maximumCoolDown = 4096
    static let thinNapsToStop = 4
    /// Milliseconds of napping before its rate is judged.
    static let nappingMillisecondsToJudge = 2

    public init(napNanoseconds: Int) {
        self.napNanoseconds = max(0, napNanoseconds)
    }

    /// The connections in play: the busier of the last two milliseconds.
    var busyConnections: Int { max(busyNow, busyBefore) }

    /// The next nap, in nanoseconds.
    var napLength: Int {
        var share = Self.napPerBusyConnection
        if bytesPerEvent > Self.smallEventBytes {
            share = share * Self.smallEventBytes / bytesPerEvent * Self.smallEventBytes / bytesPerEvent
        }
        return min(napNanoseconds, busyConnections * share)
    }

    /// Counts a connection that has an event in this tick, once per tick
    /// and once per millisecond: `stamp` is the connection's own record of
    /// the tick it was last counted in. Inlinable: the handler calls it for
    /// every event, from another module.
    @inlinable @inline(__always)
    public mutating func countBusy(_ stamp: inout Int64) {
        if stamp != tick {
            if stamp < millisecondFirstTick { busyNow += 1 }
            stamp = tick
            connectionsThisTick += 1
        }
    }

    /// Counts bytes the handler moved (sent or received) for an event.
    @inlinable @inline(__always)
    public mutating func countBytes(_ count: Int) {
        bytesNow &+= count
    }

    /// Starts a tick at the loop's time `now`, before its events are handled.
    @inline(__always)
    mutating func beginTick(at now: Int64) {
        tick += 1
        connectionsThisTick = 0
        if now == millisecond { return }
        let followsOn = now == millisecond + 1
        // Only a millisecond followed at once by the next one was spent
        // working; one that ended in a longer wait says nothing of the rate.
        if followsOn { sampleRate() }
        if eventsNow > 0 { bytesPerEvent += (bytesNow / eventsNow - bytesPerEvent) / 4 }
        busyBefore = followsOn ? busyNow : 0
        busyNow = 0
        eventsNow = 0
        bytesNow = 0
        millisecond = now
        millisecondFirstTick = tick
    }

    /// Folds the millisecond that ended into the running average of the
    /// state the loop was in.
    private mutating func sampleRate() {
        let sample = eventsNow << 4
        if napping {
            nappingRate += (sample - nappingRate) / 2
            nappingMilliseconds += 1
            if nappingMilliseconds >= Self.nappingMillisecondsToJudge && nappingRate * 5 < awakeRate * 4 { stop() }
        } else {
            awakeRate += (sample - awakeRate) / 4
        }
    }

    /// Two or more events from at most a third of the busy connections.
    @inline(__always)
    private func isBatch(_ count: Int) -> Bool {
        count >= 2 && count * 3 <= busyConnections
    }

    /// After the events of an ordinary wait, `count` of them, were handled.
    @inline(__always)
    mutating func observeWait(_ count: Int) {
        eventsNow += count
        if coolDown > 0 {
            coolDown -= 1
        } else if napNanoseconds > 0 && isBatch(count) {
            napping = true
            nappingRate = awakeRate
            nappingMilliseconds = 0
        }
    }

    /// After the events gathered by a nap, `count` of them, were handled.
    mutating func observeNap(gathered count: Int) {
        eventsNow += count
        if connectionsThisTick > 0 && connectionsThisTick >= busyConnections {
            stop()
        } else if count >= 2 {
            penalty = Self.minimumCoolDown
            thinNaps = 0
        } else {
            thinNaps += 1
            if thinNaps == Self.thinNapsToStop { stop() }
        }
    }

    private mutating func stop() {
        napping = false
        thinNaps = 0
        coolDown = penalty
        penalty = min(penalty * 2, Self.maximumCoolDown)
    }
}
