import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `global user`/`group`/`chroot`: the master binds as root, workers serve
/// without it. Needs root to change users, as in production (CI runs as root).
@Suite("Master: privileges", .serialized, .enabled(if: geteuid() == 0))
struct MasterPrivilegeTests {
    /// The real and effective uid and gid of a process, from /proc.
    func ids(_ pid: pid_t) -> (uid: String, gid: String)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }?
                .split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.map(String.init)
        }
        guard let uid = field("Uid"), let gid = field("Gid") else { return nil }
        return (uid, gid)
    }

    @Test("workers run as 'user nobody' and 'group nogroup' inside a chroot; the master stays root")
    func workersDropPrivileges() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let nogroup = try #require(getgrnam("nogroup")).pointee.gr_gid
        var template = Array("/tmp/weir-chroot-XXXXXX".utf8CString)
        let jail = String(cString: try #require(mkdtemp(&template)))
        defer { rmdir(jail) }
        let h = try MasterHarness(config: masterConfig(server: backend.address,
                                                       global: "    user nobody\n    group nogroup\n    chroot \(jail)"))
        defer { h.close() }
        for worker in h.master.readyLines {
            let worker = try #require(ids(worker.pid))
            #expect(worker.uid == String(nobody) && worker.gid == String(nogroup))
        }
        #expect(ids(h.pid)?.uid == "0")
        #expect(connectAndEcho(try h.master.port(of: "fe")), "a worker without root still serves: \(h.output)")
        for worker in h.master.readyLines {
            let root = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker.pid)/root")
            #expect(root == jail)
        }
    }

    /// Linux makes the files under /proc/PID of a process that changed user,
    /// and is not dumpable, owned by root: what `set-dumpable` changes is seen there.
    @Test("'set-dumpable': workers that became nobody can dump core; without it they cannot")
    func setDumpable() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        for dumpable in [true, false] {
            let global = "    user nobody\n    group nogroup" + (dumpable ? "\n    set-dumpable" : "")
            let h = try MasterHarness(config: masterConfig(server: backend.address, global: global))
            defer { h.close() }
            for worker in h.master.readyLines {
                var info = stat()
                #expect(stat("/proc/\(worker.pid)/status", &info) == 0)
                #expect(info.st_uid == (dumpable ? nobody : 0), "set-dumpable \(dumpable): worker \(worker.pid)")
            }
            #expect(connectAndEcho(try h.master.port(of: "fe")), "\(h.output)")
        }
    }

    @Test("'uid' and 'gid' by number: workers take those ids")
    func numericIDs() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, global: "    uid 65534\n    gid 65533"))
        defer { h.close() }
        for worker in h.master.readyLines {
            let worker = try #require(ids(worker.pid))
            #expect(worker.uid == "65534" && worker.gid == "65533")
        }
        #expect(connectAndEcho(try h.master.port(of: "fe")), "\(h.output)")
    }
}

/// `cpu-map`: the master binds each worker to the CPUs its line gives.
@Suite("Master: cpu-map", .serialized, .enabled(if: sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2))
struct MasterCPUMapTests {
    func allowedCPUs(_ pid: pid_t) -> String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?
            .split(separator: "\t").last.map(String.init)
    }

    @Test("'cpu-map auto:1/1-2 0-1' puts worker 1 on CPU 0 and worker 2 on CPU 1; a reload applies a new map")
    func workersFollowTheMap() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, global: "    cpu-map auto:1/1-2 0-1"))
        defer { h.close() }
        let workers = h.master.readyLines
        #expect(workers.count == 2)
        for worker in workers {
            #expect(allowedCPUs(worker.pid) == String(worker.slot), "worker of slot \(worker.slot)")
        }
        #expect(connectAndEcho(try h.master.port(of: "fe")), "\(h.output)")

        // The later line wins for worker 2.
        try h.writeConfig(masterConfig(server: backend.address, global: "    cpu-map 1/all 0-1\n    cpu-map 1/2 0"))
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        // The reload's answer can come before the reader of the master's
        // output has seen both ready lines.
        var fresh: [WorkerReadyLine] = []
        #expect(waitUntil(timeout: 10) {
            fresh = h.master.readyLines.filter { w in !workers.contains { $0.pid == w.pid } }
            return fresh.count == 2
        }, "\(h.output)")
        for worker in fresh {
            #expect(allowedCPUs(worker.pid) == (worker.slot == 0 ? "0-1" : "0"), "worker of slot \(worker.slot)")
        }
    }
}

/// Lowering `nbthread` on reload: connections already queued on the sockets
/// of the slots that go away are still served.
@Suite("Master: fewer workers", .serialized)
struct MasterShrinkTests {
    @Test("nbthread 2 -> 1 on reload: connections queued while the workers were frozen are all served")
    func queuedConnectionsSurviveFewerSlots() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, nbthread: 2))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let frozen = h.master.readyLines.map(\.pid)
        #expect(frozen.count == 2)
        // Frozen workers accept nothing: the kernel queues new connections on
        // both slots' sockets.
        for pid in frozen { kill(pid, SIGSTOP) }
        var clients: [Client] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<12 { clients.append(try Client(port: port)) }
        try h.writeConfig(masterConfig(server: backend.address, nbthread: 1))
        let (success, answer) = try h.reload()
        for pid in frozen { kill(pid, SIGCONT) }
        #expect(success, "\(answer)")
        for (i, client) in clients.enumerated() {
            #expect(echoes(client, "queued \(i)"), "connection \(i) queued before the reload was not served")
        }
    }
}
