import Atomics
import Glibc

/// A spin lock in shared memory: one word holding the owner's mark (0 when
/// free), so every process mapping the segment can take it without a
/// futex or a robust mutex. A lock whose owner no longer exists (a worker
/// killed in its critical section) is taken over, so a dead process never
/// holds it for ever. Critical sections are short copies: no system call,
/// no allocation inside.
enum ProcessLock {
    /// This process's PID, read once (getpid is a system call; worker
    /// processes are exec'd, never forked).
    static let pid = Int(getpid())

    /// The owner's mark: the PID in the low 32 bits and, above, a random
    /// number drawn once per process, never 0. A word naming this PID with
    /// another number was left by a dead process that had the same PID
    /// (PIDs are reused): it is taken over at once instead of waited on for
    /// ever. Threads of one process share the mark, so they exclude each
    /// other as processes do (Weir's processes have one thread; tests use
    /// several).
    static let mark = Int(UInt32.random(in: 1...UInt32.max)) << 32 | pid

    @inline(__always)
    static func lock(_ word: UnsafeAtomic<Int>) {
        let me = mark
        var spins = 0
        while true {
            let (done, owner) = word.weakCompareExchange(expected: 0, desired: me, successOrdering: .acquiring,
                                                         failureOrdering: .relaxed)
            if done { return }
            let ownerPID = owner & 0xFFFF_FFFF
            if ownerPID == pid && owner != me {
                if word.compareExchange(expected: owner, desired: me, ordering: .acquiring).exchanged { return }
                continue
            }
            spins += 1
            if spins & 1023 == 0 {
                if owner != 0, ownerPID != pid, kill(pid_t(ownerPID), 0) == -1, errno == ESRCH {
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
