import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The master at startup: workers, listeners, pidfile, `show proc`, and
/// workers that never outlive their master.
@Suite("Master: startup", .serialized)
struct MasterStartupTests {
    @Test("nbthread 2: two workers, children of the master, serve; show proc lists them; the pidfile holds the master")
    func startsWorkers() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }

        let ready = h.master.readyLines
        #expect(ready.count == 2, "\(h.output)")
        #expect(Set(ready.map(\.slot)) == [0, 1], "\(h.output)")
        #expect(Set(ready.map(\.pid)).count == 2 && !ready.map(\.pid).contains(h.pid), "\(h.output)")
        // Every master notice carries the master's pid.
        for line in h.master.stderr.lines where line.hasPrefix("[NOTICE]") {
            #expect(line.contains("(\(h.pid))"), "notice not from the master: \(line)")
        }
        for worker in ready {
            #expect(parentPID(of: worker.pid) == h.pid, "worker \(worker.pid)'s parent is not the master \(h.pid)")
        }

        let port = try h.master.port(of: "fe")
        for i in 0..<10 { #expect(connectAndEcho(port, "hello \(i)")) }

        let pidfile = try String(contentsOfFile: h.pidfilePath, encoding: .utf8)
        #expect(pidfile.trimmingCharacters(in: .whitespacesAndNewlines) == String(h.pid))

        let table = try h.showProc()
        #expect(table.master.pid == h.pid && table.master.role == "master", "\(table)")
        #expect(Set(table.workers.map(\.pid)) == Set(ready.map(\.pid)), "\(table)")
        #expect(table.workers.allSatisfy { $0.generation == table.workers[0].generation }, "\(table)")
        #expect(table.old.isEmpty && table.starting.isEmpty, "\(table)")
        h.expectNoWorkerCrash()
    }

    @Test("plain 'weir -f' (no -W, no -d) runs a master too")
    func plainInvocationIsMaster() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address), mode: nil)
        defer { h.close() }
        #expect(h.master.readyLines.count == 2, "\(h.output)")
        #expect(connectAndEcho(try h.master.port(of: "fe")))
        #expect(try h.showProc().workers.count == 2)
    }

    @Test("workers exit when the master is killed with SIGKILL")
    func workersDieWithMaster() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let workers = h.master.readyLines.map(\.pid)
        try #require(workers.count == 2, "\(h.output)")
        #expect(connectAndEcho(port))

        h.master.signal(SIGKILL)
        #expect(h.master.waitForExit(timeout: 10) == 128 + SIGKILL)
        let gone = waitUntil(timeout: 10) { workers.allSatisfy { !processIsAlive($0) } }
        #expect(gone, "workers still alive 10 s after the master died: \(workers.filter(processIsAlive))")
        #expect(waitUntil(timeout: 5) { Sock.isRefused(port: port) }, "the port still accepts with no master")
    }

    @Test("startup fails as a whole, exit 1 with a clear message, when a port is taken")
    func portTakenFailsStartup() throws {
        let stranger = try Sock.listener()
        defer { close(stranger) }
        let taken = Sock.localPort(stranger)
        let h = try MasterHarness(config: masterConfig(server: "127.0.0.1:1", binds: ["127.0.0.1:0", "127.0.0.1:\(taken)"]),
                                  waitForReady: false)
        defer { h.close() }
        let status = h.master.waitForExit(timeout: 20)
        #expect(status == 1, "exit status \(String(describing: status)); \(h.output)")
        h.master.stderr.waitForClose(timeout: 5)
        let alert = h.master.stderr.lines.first { $0.contains("[ALERT]") && $0.contains("\(taken)") }
        #expect(alert != nil, "no ALERT naming port \(taken); \(h.output)")
        #expect(!h.master.stderr.text.contains("Loading success."), "\(h.output)")
        #expect(h.master.readyLines.isEmpty, "workers started although a listener could not be bound: \(h.output)")
    }
}

/// `noreuseport`: one listening socket per address, which every worker
/// accepts from, instead of one SO_REUSEPORT socket per worker.
@Suite("Master: noreuseport", .serialized)
struct NoReusePortTests {
    /// The listening TCP sockets on `port`, from /proc/net/tcp.
    func listeningSockets(port: UInt16) -> Int {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return -1 }
        let wanted = String(format: ":%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1].hasSuffix(wanted) && fields[3] == "0A"
        }.count
    }

    @Test("two workers share one listening socket with 'noreuseport', and have one each without it; both serve, also after a reload")
    func oneSharedSocket() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        for shared in [true, false] {
            let h = try MasterHarness(config: masterConfig(server: backend.address, global: shared ? "    noreuseport" : ""))
            defer { h.close() }
            let port = try h.master.port(of: "fe")
            #expect(listeningSockets(port: port) == (shared ? 1 : 2), "noreuseport \(shared)")
            for i in 0..<6 { #expect(connectAndEcho(port, "hello \(i)"), "noreuseport \(shared)") }
            #expect(try h.reload().success, "\(h.output)")
            #expect(listeningSockets(port: port) == (shared ? 1 : 2), "after the reload, noreuseport \(shared)")
            #expect(connectAndEcho(port, "after the reload"))
        }
    }
}
