import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A PROXY protocol v1 line.
func proxyV1(_ family: String, _ source: String, _ destination: String, _ sourcePort: Int, _ destinationPort: Int) -> [UInt8] {
    Array("PROXY \(family) \(source) \(destination) \(sourcePort) \(destinationPort)\r\n".utf8)
}

let proxyV2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

/// A PROXY protocol v2 header (command PROXY over TCP) for 4- or 16-byte addresses.
func proxyV2(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16, tlvs: [UInt8] = []) -> [UInt8] {
    let block = source + destination + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF),
                                        UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)] + tlvs
    return proxyV2Signature + [0x21, source.count == 4 ? 0x11 : 0x21, UInt8(block.count >> 8), UInt8(block.count & 0xFF)] + block
}

/// The v2 LOCAL header, without TLVs.
let proxyV2Local: [UInt8] = proxyV2Signature + [0x20, 0x00, 0x00, 0x00]

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// A server written in python that reads the PROXY header each connection
/// starts with (v1 or v2, exactly, nothing more) and prints
/// `header <connection> <hex>`. In `tcp` mode it then answers
/// `hdr=<hex>\n` and closes; in `http` mode it serves requests on the
/// connection (keep-alive) answering `conn=<n> hdr=<hex>`.
final class ProxyHeaderRecorder: @unchecked Sendable {
    let process: Process
    let output: LineCollector
    let port: UInt16

    static let script = #"""
import socket, sys, threading

mode = sys.argv[1]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("port %d" % listener.getsockname()[1], flush=True)
lock = threading.Lock()
count = [0]
SIG = b"\r\n\r\n\x00\r\nQUIT\n"

def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError()
        data += chunk
    return data

def read_header(conn):
    first = read_exact(conn, 1)
    if first == b"P":
        line = first
        while not line.endswith(b"\r\n") and len(line) < 108:
            line += read_exact(conn, 1)
        return line
    fixed = first + read_exact(conn, 15)
    if fixed[:12] != SIG:
        return fixed
    return fixed + read_exact(conn, (fixed[14] << 8) | fixed[15])

def serve(conn):
    conn.settimeout(20)
    try:
        with lock:
            count[0] += 1
            number = count[0]
        header = read_header(conn)
        print("header %d %s" % (number, header.hex()), flush=True)
        if mode == "tcp":
            conn.sendall(("hdr=%s\n" % header.hex()).encode())
            return
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                pending += chunk
            _, pending = pending.split(b"\r\n\r\n", 1)
            body = ("conn=%d hdr=%s" % (number, header.hex())).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""#

    init(mode: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let python = try #require(pythonPath, "python3 is not installed", sourceLocation: sourceLocation)
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.script, mode]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        output = LineCollector(fd: dup(pipe.fileHandleForReading.fileDescriptor))
        let line = output.waitForLine(timeout: 20) { $0.hasPrefix("port ") }
        guard let line, let port = UInt16(line.dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "the python recorder did not start")
        }
        self.port = port
    }

    var address: String { "127.0.0.1:\(port)" }

    /// The headers received so far, hex, by connection number.
    var headers: [Int: String] {
        var found: [Int: String] = [:]
        for line in output.lines where line.hasPrefix("header ") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let n = Int(parts[1]) { found[n] = String(parts[2]) }
        }
        return found
    }

    /// SIGKILL: a child of the test runner may inherit SIGTERM blocked.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A python3 client: connects to `port`, writes `header`, then (`http`) a
/// GET over plain TCP or (`tls`) the same GET inside TLS, and prints the
/// whole response; `raw` writes the header alone and prints what came back
/// before the close.
func pythonProxyClient(port: UInt16, header: [UInt8], mode: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let script = #"""
import socket, ssl, sys
port, header, mode = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
data = b""
try:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(header)
    if mode == "tls":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname="a.test")
    if mode != "raw":
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    # A refused header or handshake: the connection was closed on us.
    pass
sys.stdout.write(data.decode("latin-1"))
"""#
    let python = try #require(pythonPath, "python3 is not installed", sourceLocation: sourceLocation)
    let run = try runTool(python, ["-c", script, String(port), hex(header), mode], timeout: 30)
    try #require(run.status == 0, "python3 exited \(run.status): \(run.stderr)", sourceLocation: sourceLocation)
    return run.stdout
}
