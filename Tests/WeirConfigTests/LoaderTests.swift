import Testing
@testable import WeirConfig
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LoaderTests {
    /// A fresh temporary directory.
    func temporaryDirectory() throws -> String {
        var template = Array("/tmp/weir-config-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil)
        return String(cString: template)
    }

    func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        try #require(n == bytes.count)
    }

    func remove(_ dir: String, _ names: [String]) {
        for n in names { unlink(dir + "/" + n) }
        rmdir(dir)
    }

    @Test func directoryContributesItsCfgFilesInLexicalOrder() throws {
        let dir = try temporaryDirectory()
        let names = ["20-backend.cfg", "10-global.cfg", "notes.txt", "30-z.cfg", ".cfg"]
        defer { remove(dir, names) }
        try write(dir + "/20-backend.cfg", "backend be\n")
        try write(dir + "/10-global.cfg", "global\n maxconn 5\n")
        try write(dir + "/notes.txt", "not a config\n")
        try write(dir + "/30-z.cfg", "")
        try write(dir + "/.cfg", "")
        let files = try ConfigLoader.load(paths: [dir])
        #expect(files.map(\.name) == [dir + "/10-global.cfg", dir + "/20-backend.cfg", dir + "/30-z.cfg"])
        #expect(files[0].bytes == Array("global\n maxconn 5\n".utf8))
        let r = ConfigParser.parse(files, environment: [:])
        #expect(r.configuration?.global.maxconn == 5)
        #expect(r.configuration?.backends.map(\.name) == ["be"])
    }

    @Test func filesAndDirectoriesMixInOrder() throws {
        let dir = try temporaryDirectory()
        defer { remove(dir, ["a.cfg", "main.conf"]) }
        try write(dir + "/a.cfg", "backend a\n")
        try write(dir + "/main.conf", "global\n")
        let files = try ConfigLoader.load(paths: [dir + "/main.conf", dir + "/"])
        #expect(files.map(\.name) == [dir + "/main.conf", dir + "/a.cfg"])
    }

    @Test func unreadablePathNamesThePathAndTheReason() throws {
        let dir = try temporaryDirectory()
        defer { remove(dir, []) }
        let missing = dir + "/missing.cfg"
        #expect {
            _ = try ConfigLoader.load(paths: [missing])
        } throws: { error in
            guard let e = error as? ConfigLoadError else { return false }
            return e.path == missing && e.errno == ENOENT
                && e.description == "cannot read '\(missing)': No such file or directory"
        }
    }

    @Test func largeFilesAreReadWhole() throws {
        let dir = try temporaryDirectory()
        defer { remove(dir, ["big.cfg"]) }
        var text = "global\n"
        for i in 0..<5000 { text += "  # comment line number \(i) to make the file larger than one read\n" }
        try write(dir + "/big.cfg", text)
        let files = try ConfigLoader.load(paths: [dir + "/big.cfg"])
        #expect(files[0].bytes.count == text.utf8.count)
    }
}
