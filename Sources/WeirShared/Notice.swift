import Glibc
import WeirSystem

/// Startup, shutdown and debug messages on stderr, as HAProxy prints them:
/// `[NOTICE]   (1234) : message`.
public enum Notice {
    /// Where the messages go: stderr, or in a daemon starting up a copy of
    /// the terminal's stderr that its workers do not inherit (`Daemon`).
    /// Set before any thread starts.
    nonisolated(unsafe) public static var descriptor: Int32 = 2

    /// A daemon that serves: its messages go to its stderr (/dev/null) from now on.
    public static func detachFromTerminal() {
        guard descriptor != 2 else { return }
        close(descriptor)
        descriptor = 2
    }

    public static func notice(_ message: String) { emit("NOTICE", message) }
    public static func warning(_ message: String) { emit("WARNING", message) }
    public static func alert(_ message: String) { emit("ALERT", message) }
    public static func debug(_ message: String) { emit("DEBUG", message) }

    private static func emit(_ level: String, _ message: String) {
        let padding = String(repeating: " ", count: max(1, 9 - level.count))
        Posix.writeAll(descriptor, "[\(level)]\(padding)(\(getpid())) : \(message)\n")
    }
}
