import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `unix-bind` and the `mode`, `user`, `group` settings of UNIX sockets.
@Suite("UNIX sockets: unix-bind, mode, user, group", .serialized)
struct UnixSocketAccessTests {
    func temporaryDirectory() throws -> String {
        var template = Array("/tmp/weir-unix-XXXXXX".utf8CString)
        return String(cString: try #require(mkdtemp(&template)))
    }

    /// The permission bits, owner and group of a file.
    func access(_ path: String) -> (mode: mode_t, uid: uid_t, gid: gid_t)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (info.st_mode & 0o7777, info.st_uid, info.st_gid)
    }

    /// The first line a connection to the UNIX socket at `path` reads.
    func firstLine(_ path: String) -> String? {
        let fd = socket_unix(path)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("'bind PATH mode 600': the socket file gets those permissions and serves")
    func bindMode() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weir = try WeirProcess.start(config: tcpConfig(backend: serverLines([backend]),
                                                            frontend: "    bind \(dir)/fe.sock mode 600"))
        defer { weir.stop() }
        #expect(access("\(dir)/fe.sock")?.mode == 0o600)
        #expect(firstLine("\(dir)/fe.sock") == "s1")
    }

    @Test("'unix-bind prefix DIR mode 640': binds and the stats socket go under DIR with that mode; their own user and group win",
          .enabled(if: geteuid() == 0))
    func unixBindDefaults() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let nogroup = try #require(getgrnam("nogroup")).pointee.gr_gid
        let weir = try WeirProcess.start(config: tcpConfig(
            backend: serverLines([backend]),
            frontend: "    bind unix@/fe.sock user nobody group nogroup\n    bind /plain.sock mode 600",
            global: "    unix-bind prefix \(dir) mode 640 gid \(nogroup)\n    stats socket /stats.sock uid \(nobody)"))
        defer { weir.stop() }
        let fe = try #require(access("\(dir)/fe.sock"), "no socket under the prefix: \(weir.stderr.text)")
        #expect(fe.mode == 0o640 && fe.uid == nobody && fe.gid == nogroup)
        let plain = try #require(access("\(dir)/plain.sock"))
        #expect(plain.mode == 0o600 && plain.uid == 0 && plain.gid == nogroup)
        let stats = try #require(access("\(dir)/stats.sock"))
        #expect(stats.mode == 0o640 && stats.uid == nobody && stats.gid == nogroup)
        #expect(firstLine("\(dir)/fe.sock") == "s1")
        #expect(try statsCommand("\(dir)/stats.sock", "show info").contains("Name: "))
    }

    @Test("a user that does not exist stops startup with the bind's file:line")
    func unknownUser() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try TempFile(tcpConfig(backend: serverLines([backend]),
                                          frontend: "    bind \(dir)/fe.sock user no-such-user-weir"))
        defer { file.remove() }
        let result = try WeirProcess.run(["-d", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file.path):") && result.stderr.contains("unknown user 'no-such-user-weir'"),
                "\(result.stderr)")
    }
}
