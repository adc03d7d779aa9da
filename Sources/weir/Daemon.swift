import CShims
import Glibc
import WeirShared
import WeirSystem

/// `daemon` / `-D`: the command returns once Weir serves, with the master
/// running on in the background, in a session of its own, its standard
/// streams and its workers' on /dev/null.
enum Daemon {
    /// Forks (Weir has no thread yet). The parent waits until the child
    /// writes to the pipe, which the master does once its first workers are
    /// ready, and exits 0; if the child ends first, the parent exits with its
    /// status. The child returns the pipe's write end.
    static func detach() -> Int32 {
        var ends: [Int32] = [-1, -1]
        guard CShims_pipe2(&ends, O_CLOEXEC) == 0 else { fail("[ALERT]    (\(getpid())) : daemon: cannot create a pipe: \(Errno.current)") }
        let child = fork()
        guard child >= 0 else { fail("[ALERT]    (\(getpid())) : daemon: cannot fork: \(Errno.current)") }
        if child > 0 {
            close(ends[1])
            var byte: UInt8 = 0
            var n: Int
            repeat { n = read(ends[0], &byte, 1) } while n < 0 && errno == EINTR
            if n == 1 { exit(0) }
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            // Exited: its code; killed by a signal: 1.
            exit(status & 0x7F == 0 ? (status >> 8) & 0xFF : 1)
        }
        close(ends[0])
        _ = setsid()
        // Startup messages still reach the terminal, through a copy of stderr
        // closed on exec: the workers start on /dev/null.
        Notice.descriptor = fcntl(2, F_DUPFD_CLOEXEC, 3)
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            for fd: Int32 in 0...2 { dup2(null, fd) }
            close(null)
        }
        return ends[1]
    }
}
