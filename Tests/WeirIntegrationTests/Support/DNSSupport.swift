import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tiny DNS server in python3 on 127.0.0.1 (an ephemeral UDP port): it
/// answers A, AAAA and SRV questions from a zone file read again at every
/// query, so a test changes the answers by rewriting it (`set`). A name
/// missing from the zone gets NXDOMAIN. Answers name their owner by a
/// compression pointer to the question, as real servers do. SRV records are
/// written "priority weight port target"; the targets' A records go in the
/// additional section, as Consul sends them, unless the name's zone entry
/// has "NOADDITIONAL".
final class DNSServer: @unchecked Sendable {
    let process: Process
    let port: UInt16
    let output: LineCollector
    let zonePath: String

    private static let script = #"""
import json, os, socket, struct, sys

zone_path = sys.argv[1]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print("port %d" % sock.getsockname()[1], flush=True)

def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"

def question(data):
    labels, i = [], 12
    while data[i] != 0:
        labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
        i += 1 + data[i]
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    return ".".join(labels), qtype, i + 5

while True:
    data, peer = sock.recvfrom(4096)
    try:
        name, qtype, end = question(data)
    except (IndexError, struct.error, UnicodeDecodeError):
        continue
    with open(zone_path) as f:
        zone = json.load(f)
    records = []
    additional = []
    rcode = 0
    if name not in zone:
        rcode = 3
    elif qtype == 33:
        for line in zone[name].get("SRV", []):
            priority, weight, port, target = line.split()
            rdata = struct.pack("!HHH", int(priority), int(weight), int(port)) + encode(target)
            records.append(struct.pack("!HHHIH", 0xC00C, 33, 1, 30, len(rdata)) + rdata)
            if "NOADDITIONAL" in zone[name]:
                continue
            for ip in zone.get(target, {}).get("A", []):
                additional.append(encode(target) + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(ip))
    else:
        family = socket.AF_INET if qtype == 1 else socket.AF_INET6 if qtype == 28 else None
        key = "A" if qtype == 1 else "AAAA"
        for ip in zone[name].get(key, []) if family else []:
            rdata = socket.inet_pton(family, ip)
            records.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, 30, len(rdata)) + rdata)
    header = struct.pack("!HHHHHH", struct.unpack("!H", data[:2])[0], 0x8180 | rcode, 1, len(records), 0,
                         len(additional))
    sock.sendto(header + data[12:end] + b"".join(records) + b"".join(additional), peer)
    print("query %s %d" % (name, qtype), flush=True)
"""#

    /// `zone`: name → ["A": [...], "AAAA": [...]].
    init(zone: [String: [String: [String]]], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let python = try #require(pythonPath, "python3 is not installed", sourceLocation: sourceLocation)
        zonePath = NSTemporaryDirectory() + "weir-dns-" + String(UUID().uuidString.prefix(8)) + ".json"
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.script, zonePath]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        output = LineCollector(fd: dup(pipe.fileHandleForReading.fileDescriptor))
        try Self.write(zone, to: zonePath)
        try process.run()
        let line = output.waitForLine(timeout: 20) { $0.hasPrefix("port ") }
        guard let line, let port = UInt16(line.dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "the python DNS server did not start")
        }
        self.port = port
    }

    /// Replaces the answers (written aside, then renamed: a query never reads half a file).
    func set(_ zone: [String: [String: [String]]]) throws { try Self.write(zone, to: zonePath) }

    private static func write(_ zone: [String: [String: [String]]], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: zone)
        let temporary = path + ".new"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw WeirProcess.SpawnFailure(description: "cannot rename the zone file")
        }
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Queries answered so far.
    var queries: Int { output.lines.filter { $0.hasPrefix("query ") }.count }

    /// SIGKILL: a child of the test runner may inherit SIGTERM blocked.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        unlink(zonePath)
    }
}
