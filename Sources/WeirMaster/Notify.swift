import CSystemd
import Glibc

/// systemd notifications through libsystemd's sd_notify. Nothing is sent
/// when NOTIFY_SOCKET is unset (sd_notify then does nothing).
public enum SystemdNotify {
    public static var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    static func send(_ lines: [String]) {
        guard isEnabled else { return }
        _ = sd_notify(0, lines.joined(separator: "\n"))
    }

    static func ready(status: String) {
        send(["READY=1", "STATUS=\(status)", "MAINPID=\(getpid())"])
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, so systemd can order the reload.
    static func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(usec)", "STATUS=reloading"])
    }

    static func status(_ status: String) { send(["STATUS=\(status)"]) }

    static func stopping() { send(["STOPPING=1", "STATUS=stopping"]) }

    static func watchdog() { send(["WATCHDOG=1"]) }

    /// The watchdog period systemd asks for (`WATCHDOG_USEC`), in ms, if any.
    static func watchdogInterval() -> Int64? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return Int64(usec / 1000)
    }
}
