import WeirConfig

/// The exact configuration files the master validated, in order, as one
/// byte string a worker parses again: `FILE <length> <name>\n<bytes>` each.
/// Workers never read the files themselves, so they cannot disagree with
/// the master about what the configuration says.
public enum ConfigBundle {
    public static func encode(_ files: [ConfigFile]) -> [UInt8] {
        var out: [UInt8] = []
        for file in files {
            out += Array("FILE \(file.bytes.count) \(file.name)\n".utf8)
            out += file.bytes
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) -> [ConfigFile]? {
        var files: [ConfigFile] = []
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let header = String(decoding: bytes[index..<newline], as: UTF8.self).split(separator: " ", maxSplits: 2)
            guard header.count == 3, header[0] == "FILE", let length = Int(header[1]), length >= 0,
                  newline + 1 + length <= bytes.count else { return nil }
            files.append(ConfigFile(name: String(header[2]), bytes: Array(bytes[(newline + 1)..<(newline + 1 + length)])))
            index = newline + 1 + length
        }
        return files
    }
}
