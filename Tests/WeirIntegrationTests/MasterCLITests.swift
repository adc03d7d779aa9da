import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The master CLI (`-S`) and its built-in client, `weir cli SOCKET COMMAND…`.
@Suite("Master: CLI", .serialized)
struct MasterCLITests {
    @Test("help, quit, unknown commands; one command per connection")
    func basicCommands() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let help = try h.cli("help")
        #expect(help.contains("show proc") && help.contains("reload") && help.contains("quit"), "\(help)")
        #expect(try h.cli("quit") == "")
        let unknown = try h.cli("frobnicate")
        #expect(unknown.lowercased().contains("unknown") && unknown.contains("show proc"), "\(unknown)")
        // The master answers and closes: nothing after the first command is read.
        let two = try h.cli("show proc\nhelp")
        #expect(try ProcTable(parsing: two).workers.count == 2, "\(two)")
        #expect(!two.contains("The following commands"), "\(two)")
    }

    @Test("weir cli: show proc printed, exit 0; reload Success=1, exit 0")
    func builtInClient() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let show = try WeirProcess.run(["cli", h.socketPath, "show", "proc"])
        #expect(show.status == 0, "stderr: \(show.stderr)")
        let table = try ProcTable(parsing: show.stdout)
        #expect(table.master.pid == h.pid && table.workers.count == 2, "\(table)")

        let reload = try WeirProcess.run(["cli", h.socketPath, "reload"])
        #expect(reload.status == 0, "stdout: \(reload.stdout) stderr: \(reload.stderr)")
        #expect(reload.stdout.hasPrefix("Success=1\n--"), "\(reload.stdout)")
        let after = try h.showProc()
        #expect(Set(after.workers.map(\.pid)).isDisjoint(with: table.workers.map(\.pid)), "\(after)")
        #expect(connectAndEcho(try h.master.port(of: "fe")))
    }

    @Test("weir cli against a missing socket: non-zero exit and a message naming it")
    func missingSocket() throws {
        let path = NSTemporaryDirectory() + "weir-missing-" + String(UUID().uuidString.prefix(8)) + ".sock"
        for command in [["show", "proc"], ["reload"]] {
            let result = try WeirProcess.run(["cli", path] + command)
            #expect(result.status != 0, "weir cli \(command) exited 0")
            #expect(result.stderr.contains(path), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        }
    }

    @Test("-S fd@3: the master CLI on an inherited socket, kept across a reload")
    func inheritedCLISocket() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address), cliListener: unixListener(path:))
        defer { h.close() }
        let table = try h.showProc()
        #expect(table.master.pid == h.pid && table.workers.count == 2, "\(table)")
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        let after = try h.showProc()
        #expect(after.master.pid == h.pid && Set(after.workers.map(\.pid)).isDisjoint(with: table.workers.map(\.pid)), "\(after)")
    }
}
