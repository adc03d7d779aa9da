import Glibc
import WeirSystem

/// Startup, shutdown and debug messages on stderr, as HAProxy prints them:
/// `[NOTICE]   (1234) : message`.
public enum Notice {
    public static func notice(_ message: String) { emit("NOTICE", message) }
    public static func warning(_ message: String) { emit("WARNING", message) }
    public static func alert(_ message: String) { emit("ALERT", message) }
    public static func debug(_ message: String) { emit("DEBUG", message) }

    private static func emit(_ level: String, _ message: String) {
        let padding = String(repeating: " ", count: max(1, 9 - level.count))
        Posix.writeAll(2, "[\(level)]\(padding)(\(getpid())) : \(message)\n")
    }
}
