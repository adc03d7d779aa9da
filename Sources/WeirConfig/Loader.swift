// Reading configuration files from disk, with Glibc only: a path that names
// a directory contributes its `*.cfg` files in lexical order, as in HAProxy.

import Glibc

/// A configuration path that could not be read.
public struct ConfigLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var errno: Int32

    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    /// `cannot read 'PATH': No such file or directory`.
    public var description: String {
        "cannot read '\(path)': \(String(cString: strerror(errno)))"
    }
}

public enum ConfigLoader {
    /// Reads every path in order. A directory contributes its regular `*.cfg`
    /// files, sorted by name; other files in it are ignored.
    public static func load(paths: [String]) throws(ConfigLoadError) -> [ConfigFile] {
        var files: [ConfigFile] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else { throw ConfigLoadError(path: path, errno: Glibc.errno) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                for entry in try directoryEntries(path) {
                    let full = path.hasSuffix("/") ? path + entry : path + "/" + entry
                    var est = stat()
                    guard stat(full, &est) == 0 else { throw ConfigLoadError(path: full, errno: Glibc.errno) }
                    guard (est.st_mode & S_IFMT) == S_IFREG else { continue }
                    files.append(ConfigFile(name: full, bytes: try readFile(full)))
                }
            } else {
                files.append(ConfigFile(name: path, bytes: try readFile(path)))
            }
        }
        return files
    }

    /// Names ending in `.cfg` (and not just `.cfg`), sorted bytewise.
    private static func directoryEntries(_ path: String) throws(ConfigLoadError) -> [String] {
        guard let dir = opendir(path) else { throw ConfigLoadError(path: path, errno: Glibc.errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name.hasSuffix(".cfg"), name.utf8.count > 4 { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    public static func readFile(_ path: String) throws(ConfigLoadError) -> [UInt8] {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && Glibc.errno == EINTR
        guard fd >= 0 else { throw ConfigLoadError(path: path, errno: Glibc.errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw ConfigLoadError(path: path, errno: Glibc.errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }
}
