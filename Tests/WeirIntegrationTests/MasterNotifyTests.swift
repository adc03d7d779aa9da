import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// systemd notifications (`-Ws` with NOTIFY_SOCKET), received on a socket the
/// test owns, with each datagram's sender pid from SCM_CREDENTIALS.
@Suite("Master: systemd notify", .serialized)
struct MasterNotifyTests {
    @Test("READY=1, then per reload RELOADING=1 + MONOTONIC_USEC and READY=1 (also when it fails), then STOPPING=1, all from the master")
    func notifySequence() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let directory = NSTemporaryDirectory() + "weir-n-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notify = try NotifySocket(path: directory + "/notify.sock")
        defer { notify.stop() }

        let valid = masterConfig(server: backend.address)
        let h = try MasterHarness(config: valid, mode: "-Ws", environment: ["NOTIFY_SOCKET": notify.path])
        defer { h.close() }
        let port = try h.master.port(of: "fe")

        let firstReady = notify.waitFor { $0.has("READY=1") }
        try #require(firstReady != nil, "no READY=1; received: \(notify.received)")
        #expect(connectAndEcho(port))
        if let mainPID = notify.received[firstReady!].lines.first(where: { $0.hasPrefix("MAINPID=") }) {
            #expect(mainPID == "MAINPID=\(h.pid)")
        }

        // A successful reload.
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        let reloading = notify.waitFor(after: firstReady! + 1) { $0.has("RELOADING=1") }
        try #require(reloading != nil, "no RELOADING=1; received: \(notify.received)")
        let message = notify.received[reloading!]
        let usec = message.lines.first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }
        #expect(usec != nil, "RELOADING=1 without MONOTONIC_USEC: \(message)")
        if let usec {
            // CLOCK_MONOTONIC, as ours: within a minute of now.
            let now = monotonicNow() * 1_000_000
            #expect(abs(Double(usec) - now) < 60_000_000, "MONOTONIC_USEC=\(usec), our monotonic clock: \(UInt64(now))")
        }
        let secondReady = notify.waitFor(after: reloading! + 1) { $0.has("READY=1") }
        #expect(secondReady != nil, "no READY=1 after the reload; received: \(notify.received)")

        // A failed reload ends with READY=1 too, and STATUS= tells why.
        try h.writeConfig(valid.replacingOccurrences(of: "    default_backend be", with: "    frobnicate yes\n    default_backend be"))
        let failed = try h.reload()
        #expect(!failed.success, "\(failed.answer)")
        let reloadingAgain = notify.waitFor(after: (secondReady ?? reloading!) + 1) { $0.has("RELOADING=1") }
        #expect(reloadingAgain != nil, "no RELOADING=1 for the failed reload; received: \(notify.received)")
        let thirdReady = notify.waitFor(after: (reloadingAgain ?? reloading!) + 1) { $0.has("READY=1") }
        #expect(thirdReady != nil, "no READY=1 after the failed reload; received: \(notify.received)")
        let failureStatus = notify.received.dropFirst((reloadingAgain ?? 0) + 1)
            .flatMap(\.lines).first { $0.hasPrefix("STATUS=") && $0.lowercased().contains("fail") }
        #expect(failureStatus != nil, "no STATUS= telling the reload failed; received: \(notify.received)")
        #expect(connectAndEcho(port))

        h.master.signal(SIGTERM)
        #expect(h.master.waitForExit(timeout: 10) == 0, "\(h.output)")
        let stopping = notify.waitFor(timeout: 5) { $0.has("STOPPING=1") }
        #expect(stopping != nil, "no STOPPING=1; received: \(notify.received)")

        // The exact order of the state changes, and every datagram from the master.
        let all = notify.received
        let events = all.flatMap { m in m.lines.filter { ["READY=1", "RELOADING=1", "STOPPING=1"].contains($0) } }
        #expect(events == ["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
                "received: \(all)")
        #expect(all.allSatisfy { $0.pid == h.pid }, "datagrams not from the master \(h.pid): \(all.filter { $0.pid != h.pid })")
        for m in all where m.has("RELOADING=1") {
            #expect(m.lines.contains { $0.hasPrefix("MONOTONIC_USEC=") }, "\(m)")
        }
    }

    @Test("WATCHDOG_USEC set: WATCHDOG=1 at about half the period, from the master, also after a reload")
    func watchdog() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let directory = NSTemporaryDirectory() + "weir-n-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notify = try NotifySocket(path: directory + "/notify.sock")
        defer { notify.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address), mode: "-Ws",
                                  environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { h.close() }
        func pings() -> Int { notify.received.filter { $0.has("WATCHDOG=1") }.count }
        #expect(waitUntil(timeout: 5) { pings() >= 3 }, "received: \(notify.received)")
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        let afterReload = pings()
        #expect(waitUntil(timeout: 5) { pings() >= afterReload + 2 }, "no WATCHDOG=1 after the re-exec; received: \(notify.received)")
        #expect(notify.received.allSatisfy { $0.pid == h.pid }, "\(notify.received.filter { $0.pid != h.pid })")
    }
}
