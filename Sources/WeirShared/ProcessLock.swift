import Atomics
import Glibc

/// A spin lock in shared memory: one word holding the owner's PID (0 when
/// free), so every process mapping the segment can take it without a
/// futex or a robust mutex. A lock whose owner no longer exists (a worker
/// killed in its critical section) is taken over, so a dead process never
/// holds it for ever. Critical sections are short copies: no system call,
/// no allocation inside.
enum ProcessLock {
    /// This process's PID, the owner's mark: read once (getpid is a system
    /// call; worker processes are exec'd, never forked).
    static let pid = Int(getpid())

    @inline(__always)
    static func lock(_ word: UnsafeAtomic<Int>) {
        let me = pid
        var spins = 0
        while true {
            let (done, owner) = word.weakCompareExchange(expected: 0, desired: me, successOrdering: .acquiring,
                                                         failureOrdering: .relaxed)
            if done { return }
            // One thread per process and no nested locking: a word naming
            // this process was left by a dead one that had the same PID
            // (PIDs are reused). Waiting for ourselves would spin for ever.
            if owner == me {
                if word.compareExchange(expected: me, desired: me, ordering: .acquiring).exchanged { return }
                continue
            }
            spins += 1
            if spins & 1023 == 0 {
                if owner != 0, kill(pid_t(owner), 0) == -1, errno == ESRCH {
                    _ = word.compareExchange(expected: owner, desired: 0, ordering: .relaxed)
                }
                sched_yield()
            }
        }
    }

    @inline(__always)
    static func unlock(_ word: UnsafeAtomic<Int>) {
        word.store(0, ordering: .releasing)
    }
}
