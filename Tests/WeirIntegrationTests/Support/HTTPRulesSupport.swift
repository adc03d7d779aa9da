import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A response as curl printed it with `-i`.
struct CurlResponse: CustomStringConvertible {
    var exitCode: Int32
    var status: Int
    /// Lowercased names.
    var headers: [(name: String, value: String)]
    var body: String

    var description: String { "curl exit \(exitCode): \(status) \(headers) \(body.debugDescription)" }

    func header(_ name: String) -> String? { headers.first { $0.name == name.lowercased() }?.value }
}

extension CurlResponse {
    /// What curl `-i` printed to standard `output` and its exit code.
    init(exitCode: Int32, output: String) {
        self.init(exitCode: exitCode, status: 0, headers: [], body: "")
        guard let split = output.range(of: "\r\n\r\n") else { return }
        let lines = output[..<split.lowerBound].components(separatedBy: "\r\n")
        status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        body = String(output[split.upperBound...])
    }
}

/// One request with curl (`-i`, no retries, bounded), from `source` when given.
func curlRequest(port: UInt16, _ path: String, source: String? = nil, arguments: [String] = []) throws -> CurlResponse {
    var args = ["-s", "-i", "--max-time", "10", "--noproxy", "*"]
    if let source { args += ["--interface", source] }
    args += arguments
    args.append("http://127.0.0.1:\(port)\(path)")
    let run = try runTool(curlPath, args, timeout: 20)
    return CurlResponse(exitCode: run.status, output: run.stdout)
}

/// HTTP backends named `names`, each answering `<name> <METHOD> <target>`;
/// their `backend NAME` sections, each with its one server.
func namedBackends(_ names: [String]) throws -> (backends: [HTTPBackend], sections: String) {
    var backends: [HTTPBackend] = []
    do {
        for name in names { backends.append(try HTTPBackend(name: name)) }
    } catch {
        for b in backends { b.stop() }
        throw error
    }
    let sections = backends.map { "backend \($0.name)\n    server \($0.name) \($0.address)\n" }.joined(separator: "\n")
    return (backends, sections)
}

/// A `mode http` configuration with httplog on stdout (plus `global` lines), frontend `fe` on an
/// ephemeral loopback port with `frontend` lines, then `sections`.
func rulesConfig(frontend: String, sections: String, defaults: String = "", global: String = "") -> String {
    """
    global
        log stdout format raw local0
    \(global)

    defaults
        mode http
        log global
        option httplog
        timeout connect 2s
        timeout client 30s
        timeout server 30s
    \(defaults)

    frontend fe
        bind 127.0.0.1:0
    \(frontend)

    \(sections)
    """
}

/// A file holding `contents`, in a fresh temporary directory.
func rulesFile(_ contents: String, name: String) throws -> TempFile {
    try TempFile(contents, name: name)
}
