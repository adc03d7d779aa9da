import Glibc

/// Replays inputs through `fuzzOneInput` without libFuzzer: every file named,
/// and every file directly inside every directory named.
enum CorpusReplay {
    static func run(paths: [String]) -> Int32 {
        guard !paths.isEmpty else {
            print("usage: WeirHTTPFuzz FILE-OR-DIRECTORY...  (replays inputs; build with -sanitize=fuzzer to fuzz)")
            return 2
        }
        var replayed = 0
        for path in paths {
            for file in files(at: path) {
                guard let bytes = read(file) else {
                    print("WeirHTTPFuzz: cannot read \(file)")
                    return 1
                }
                _ = bytes.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress, $0.count) }
                replayed += 1
            }
        }
        print("WeirHTTPFuzz: replayed \(replayed) inputs, no invariant broken")
        return 0
    }

    /// `path` itself, or the regular files inside it when it is a directory.
    private static func files(at path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var found: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." && entry.pointee.d_type == UInt8(DT_REG) {
                found.append(path + "/" + name)
            }
        }
        return found.sorted()
    }

    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }
}
