import Glibc

public enum Clock {
    /// CLOCK_MONOTONIC in milliseconds: for deadlines and durations.
    /// Inlinable (as `wallMilliseconds`): the event loop reads it every tick.
    @inlinable @inline(__always)
    public static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// CLOCK_REALTIME in milliseconds since the epoch: for log dates.
    @inlinable @inline(__always)
    public static func wallMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
