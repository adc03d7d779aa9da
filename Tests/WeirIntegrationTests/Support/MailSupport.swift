import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tiny SMTP server in python3 on 127.0.0.1 (an ephemeral port): it says
/// yes to EHLO, MAIL FROM, RCPT TO and DATA, and prints each mail it gets as
/// one JSON line (the envelope and the message), so a test reads what
/// Weir sent.
final class SMTPSink: @unchecked Sendable {
    struct Mail: Decodable {
        var ehlo: String
        var from: String
        var to: [String]
        var data: String

        /// A header of the message, nil when missing.
        func header(_ name: String) -> String? {
            let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
            for line in head.components(separatedBy: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ": ") {
                return String(line.dropFirst(name.count + 2))
            }
            return nil
        }
    }

    let process: Process
    let port: UInt16
    let output: LineCollector

    private static let script = #"""
import json, socket, sys, threading

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print("port %d" % listener.getsockname()[1], flush=True)

def serve(conn):
    f = conn.makefile("rb")
    mail = {"ehlo": "", "from": "", "to": [], "data": ""}
    conn.sendall(b"220 sink ESMTP\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        command = line.decode().rstrip("\r\n")
        upper = command.upper()
        if upper.startswith("EHLO "):
            mail["ehlo"] = command[5:]
            conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
        elif upper.startswith("MAIL FROM:"):
            mail["from"] = command[10:]
            conn.sendall(b"250 OK\r\n")
        elif upper.startswith("RCPT TO:"):
            mail["to"].append(command[8:])
            conn.sendall(b"250 OK\r\n")
        elif upper == "DATA":
            conn.sendall(b"354 go ahead\r\n")
            data = b""
            while not data.endswith(b"\r\n.\r\n"):
                chunk = f.readline()
                if not chunk:
                    return
                data += chunk
            mail["data"] = data[:-5].decode()
            conn.sendall(b"250 queued\r\n")
            print(json.dumps(mail), flush=True)
        elif upper == "QUIT":
            conn.sendall(b"221 bye\r\n")
            conn.close()
            return
        else:
            conn.sendall(b"500 what\r\n")

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""#

    init(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let python = try #require(pythonPath, "python3 is not installed", sourceLocation: sourceLocation)
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.script]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        output = LineCollector(fd: dup(pipe.fileHandleForReading.fileDescriptor))
        try process.run()
        guard let line = output.waitForLine(timeout: 20, where: { $0.hasPrefix("port ") }),
              let port = UInt16(line.dropFirst(5))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "the python SMTP server did not start")
        }
        self.port = port
    }

    var address: String { "127.0.0.1:\(port)" }

    /// The mails received so far.
    var mails: [Mail] {
        output.lines.filter { $0.hasPrefix("{") }.compactMap { try? JSONDecoder().decode(Mail.self, from: Data($0.utf8)) }
    }

    /// Waits for a mail whose subject satisfies `matches`.
    func waitForMail(timeout: Double = 10, _ matches: (String) -> Bool) -> Mail? {
        var found: Mail?
        _ = waitUntil(timeout: timeout) {
            found = mails.first { $0.header("Subject").map(matches) == true }
            return found != nil
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
