import CShims
import Glibc

/// `global user`, `group` and `chroot`: a worker applies them once it holds
/// its sockets (binding :80 needs root, serving does not).
public struct Privileges: Sendable {
    public var uid: uid_t?
    public var gid: gid_t?
    public var chroot: String?

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Resolves the names now, while /etc/passwd and /etc/group are still
    /// visible (a chroot hides them). A user without a group gets the user's
    /// primary group rather than keeping root's. Numeric ids (`uid`, `gid`)
    /// take precedence over names and need no entry.
    public static func resolve(user: String?, group: String?, uid: uid_t? = nil, gid: gid_t? = nil,
                               chroot: String?) throws(Failure) -> Privileges {
        var plan = Privileges(uid: nil, gid: nil, chroot: chroot)
        if let user {
            guard let entry = getpwnam(user) else { throw Failure(description: "user '\(user)' does not exist") }
            plan.uid = entry.pointee.pw_uid
            plan.gid = entry.pointee.pw_gid
        }
        if let uid {
            plan.uid = uid
            if let entry = getpwuid(uid) { plan.gid = entry.pointee.pw_gid }
        }
        if let group {
            guard let entry = getgrnam(group) else { throw Failure(description: "group '\(group)' does not exist") }
            plan.gid = entry.pointee.gr_gid
        }
        if let gid { plan.gid = gid }
        return plan
    }

    public var isEmpty: Bool { uid == nil && gid == nil && chroot == nil }

    /// chroot + chdir, then the group (and no supplementary groups), then the user.
    public func apply() throws(Failure) {
        if let chroot {
            guard Glibc.chroot(chroot) == 0, chdir("/") == 0 else {
                throw Failure(description: "cannot chroot to '\(chroot)': \(Errno.current)")
            }
        }
        if let gid {
            var groups = [gid]
            guard setgroups(1, &groups) == 0, setgid(gid) == 0 else {
                throw Failure(description: "cannot change to group id \(gid): \(Errno.current)")
            }
        }
        if let uid {
            guard setuid(uid) == 0 else { throw Failure(description: "cannot change to user id \(uid): \(Errno.current)") }
        }
    }
}

extension Posix {
    /// `set-dumpable`: a process that changed user may dump core again (the
    /// change clears its dumpable flag), as large as the hard limit allows.
    public static func enableCoreDumps() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_CORE.rawValue), &limit) == 0 && limit.rlim_cur != limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        }
        _ = CShims_set_dumpable(1)
    }

    /// Sets RLIMIT_NOFILE to at least `needed` (soft and, if required, hard).
    public static func ensureFileLimit(_ needed: Int) throws(Privileges.Failure) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw Privileges.Failure(description: "cannot read the file-descriptor limit: \(Errno.current)")
        }
        if limit.rlim_cur != rlim_t.max && Int(limit.rlim_cur) >= needed { return }
        var raised = limit
        raised.rlim_cur = rlim_t(needed)
        if limit.rlim_max != rlim_t.max && Int(limit.rlim_max) < needed { raised.rlim_max = rlim_t(needed) }
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else {
            throw Privileges.Failure(description: "cannot raise the file-descriptor limit to \(needed) (hard limit \(limit.rlim_max)): "
                + "raise it (ulimit -n, LimitNOFILE=) or lower maxconn/ulimit-n")
        }
    }
}

extension Posix {
    /// sched_setaffinity: lets process `pid` (0: this one) run only on `cpus`.
    public static func setAffinity(_ pid: pid_t, cpus: [Int]) throws(Errno) {
        let list = cpus.map { Int32(truncatingIfNeeded: $0) }
        guard CShims_set_affinity(pid, list, Int32(list.count)) == 0 else { throw Errno.current }
    }
}
