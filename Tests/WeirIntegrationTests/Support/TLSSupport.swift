import Foundation
import Testing

let opensslPath = "/usr/bin/openssl"
var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: opensslPath) }

/// The files of one certificate made by `TestPKI`.
struct TestCertificate: Sendable {
    /// The certificate alone (PEM).
    let cert: String
    /// Its private key alone (PEM).
    let key: String
    /// The certificate then its key, in one file, as `crt` loads them.
    let pem: String
}

/// Certificates made with the `openssl` CLI in a temporary directory (no
/// private key is checked in): self-signed ones, CAs and the certificates
/// they sign, CRLs and OCSP responses. Every certificate is valid 2 days.
final class TestPKI: @unchecked Sendable {
    enum KeyType {
        /// ECDSA on P-256.
        case ecdsa
        /// RSA, 2048 bits.
        case rsa

        var newKeyArguments: [String] {
            switch self {
            case .ecdsa: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            case .rsa: ["-newkey", "rsa:2048"]
            }
        }
    }

    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "weir-pki-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// The path of the file `name` in the directory.
    func path(_ name: String) -> String { dir + "/" + name }

    /// Writes `text` to the file `name` of the directory; its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// The files at `paths`, end to end, in the file `name`; its path.
    @discardableResult
    func bundle(_ paths: [String], into name: String) throws -> String {
        var text = ""
        for file in paths { text += try String(contentsOfFile: file, encoding: .utf8) }
        return try write(text, to: name)
    }

    /// Runs `openssl arguments` with the directory as its working directory; its standard output.
    @discardableResult
    func openssl(_ arguments: [String]) throws -> String {
        let script = "cd \"$1\" && shift && exec \"$@\""
        let run = try runTool("/bin/sh", ["-c", script, "sh", dir, opensslPath] + arguments, timeout: 30)
        guard run.status == 0 else {
            throw WeirProcess.SpawnFailure(description: "openssl \(arguments.joined(separator: " ")) failed: \(run.stderr)")
        }
        return run.stdout
    }

    /// A self-signed certificate `NAME.crt` with its key `NAME.key` and both in
    /// `NAME.pem`. The subject is `/CN=` the first of `names` unless given;
    /// `names` are its DNS subjectAltNames (none when empty).
    func selfSigned(_ name: String, subject: String? = nil, names: [String] = [], key: KeyType = .ecdsa) throws -> TestCertificate {
        var arguments = ["req", "-x509"] + key.newKeyArguments + ["-nodes", "-keyout", path(name + ".key"),
                                                                  "-out", path(name + ".crt"), "-days", "2",
                                                                  "-subj", subject ?? "/CN=\(names[0])"]
        if !names.isEmpty { arguments += ["-addext", "subjectAltName=" + names.map { "DNS:" + $0 }.joined(separator: ",")] }
        try openssl(arguments)
        return try files(name)
    }

    /// A self-signed CA (basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign).
    func authority(_ name: String, subject: String, key: KeyType = .rsa) throws -> TestCertificate {
        try openssl(["req", "-x509"] + key.newKeyArguments + [
            "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".crt"), "-days", "2", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        return try files(name)
    }

    /// A certificate for `subject` signed by `issuer`, with the X.509v3
    /// `extensions` (one `key=value` each) and `serial` (a random one when nil).
    func signed(_ name: String, subject: String, by issuer: TestCertificate, key: KeyType = .rsa,
                extensions: [String] = [], serial: String? = nil) throws -> TestCertificate {
        try openssl(["req"] + key.newKeyArguments + ["-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"),
                                                    "-subj", subject])
        let extensionFile = try write(extensions.map { $0 + "\n" }.joined(), to: name + ".ext")
        try openssl(["x509", "-req", "-in", path(name + ".csr"), "-CA", issuer.cert, "-CAkey", issuer.key]
                    + (serial.map { ["-set_serial", $0] } ?? ["-CAcreateserial"])
                    + ["-days", "2", "-out", path(name + ".crt"), "-extfile", extensionFile])
        return try files(name)
    }

    /// `NAME.crt` and `NAME.key`, and both in `NAME.pem`.
    private func files(_ name: String) throws -> TestCertificate {
        let pem = try bundle([path(name + ".crt"), path(name + ".key")], into: name + ".pem")
        return TestCertificate(cert: path(name + ".crt"), key: path(name + ".key"), pem: pem)
    }

    /// The CRL of `authority` (made with `openssl ca`) revoking `revoked`; its path.
    func revocationList(of authority: TestCertificate, revoking revoked: [TestCertificate]) throws -> String {
        try FileManager.default.createDirectory(atPath: path("db"), withIntermediateDirectories: true)
        try write("", to: "db/index.txt")
        try write("01\n", to: "db/crlnumber")
        try write("""
            [ ca ]
            default_ca = CA_default
            [ CA_default ]
            database = db/index.txt
            crlnumber = db/crlnumber
            default_md = sha256
            default_crl_days = 2

            """, to: "ca.cnf")
        let ca = ["-config", "ca.cnf", "-keyfile", authority.key, "-cert", authority.cert]
        for certificate in revoked { try openssl(["ca"] + ca + ["-revoke", certificate.cert]) }
        try openssl(["ca"] + ca + ["-gencrl", "-out", path("crl.pem")])
        return path("crl.pem")
    }

    /// A DER OCSP response, signed by `issuer` and valid a day, saying
    /// `certificate` is good; written to `output`.
    func ocspResponse(for certificate: TestCertificate, issuer: TestCertificate, to output: String) throws {
        let request = certificate.cert + ".ocsp-request"
        // index.txt: status, expiry (YYMMDDHHMMSSZ), revocation, serial, file, subject.
        let index = try write("V\t301231235959Z\t\t\(try serial(of: certificate.cert))\tunknown\t/CN=unknown\n", to: "ocsp-index.txt")
        try openssl(["ocsp", "-issuer", issuer.cert, "-cert", certificate.cert, "-no_nonce", "-reqout", request])
        try openssl(["ocsp", "-index", index, "-rsigner", issuer.cert, "-rkey", issuer.key, "-CA", issuer.cert,
                     "-reqin", request, "-respout", output, "-ndays", "1"])
    }

    /// `openssl x509 -noout OPTION…` of the first certificate in `certificate`: the text after `=`.
    private func field(_ certificate: String, _ option: [String]) throws -> String {
        let out = try openssl(["x509", "-in", certificate, "-noout"] + option).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let equals = out.firstIndex(of: "=") else { return out }
        return String(out[out.index(after: equals)...])
    }

    /// The serial in hexadecimal ("1234ABCD"), as `ssl_c_serial,hex` writes it.
    func serial(of certificate: String) throws -> String { try field(certificate, ["-serial"]) }

    /// The SHA-1 fingerprint without colons, as `ssl_c_sha1,hex` writes it.
    func sha1(of certificate: String) throws -> String {
        try field(certificate, ["-fingerprint", "-sha1"]).replacingOccurrences(of: ":", with: "")
    }

    /// notAfter as YYMMDDhhmmssZ (from "Dec  7 11:10:55 2026 GMT").
    func notAfter(of certificate: String) throws -> String {
        let parts = try field(certificate, ["-enddate"]).split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 5, let month = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]) else { return "?" }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return String(parts[3].suffix(2)) + two(month + 1) + two(day) + parts[2].replacingOccurrences(of: ":", with: "") + "Z"
    }
}

extension TestPKI {
    /// The self-signed ECDSA certificate for `a.test` (CN and SAN) most TLS tests serve.
    func aTest() throws -> TestCertificate { try selfSigned("a", names: ["a.test"]) }
}

/// A weir configuration as the TLS tests write it: `global` (with
/// `log stdout format raw local0` first when `log` is set) when it has lines,
/// `defaults` (`mode`; `log global` and the `log` option when set; timeouts
/// connect 2s, client 10s and server 10s; then `defaults`), then `sections`.
func tlsTestConfig(mode: String = "http", log: TLSTestLog? = nil, global: [String] = [], defaults: [String] = [],
                   _ sections: String) -> String {
    let globalLines = (log == nil ? [] : ["log stdout format raw local0"]) + global
    var lines = globalLines.isEmpty ? [] : ["global"] + globalLines.map { "    " + $0 }
    lines += ["defaults", "    mode \(mode)"]
    if let log { lines += ["    log global"] + (log.option.map { ["    option " + $0] } ?? []) }
    lines += ["    timeout connect 2s", "    timeout client 10s", "    timeout server 10s"] + defaults.map { "    " + $0 }
    return (lines + [sections]).joined(separator: "\n")
}

/// How a `tlsTestConfig` logs: to stdout, in the frontends' formats or in HAProxy's httplog or tcplog.
enum TLSTestLog {
    case frontendFormats, httplog, tcplog

    var option: String? {
        switch self {
        case .frontendFormats: nil
        case .httplog: "httplog"
        case .tcplog: "tcplog"
        }
    }
}

/// A frontend line answering `pid=<the worker's pid>` itself.
let answerWorkerPID = #"http-request return status 200 content-type text/plain lf-string "pid=%pid\n""#

/// `frontend fe` with `lines` (its binds first) and `default_backend be`,
/// then `backend be` with `server s1 ADDRESS`.
func frontendToServer(_ lines: [String], server address: String) -> String {
    (["frontend fe"] + (lines + ["default_backend be"]).map { "    " + $0 } + ["backend be", "    server s1 \(address)"])
        .joined(separator: "\n")
}

/// A `mode http` weir logging httplog to stdout, whose frontend `fe` has
/// `binds`, then `frontend` lines, and sends to `backend`.
func tlsHTTPConfig(binds: [String], frontend: [String] = [], backend: HTTPBackend, global: [String] = [],
                   defaults: [String] = []) -> String {
    tlsTestConfig(log: .httplog, global: global, defaults: defaults,
                  frontendToServer(binds + frontend, server: backend.address))
}

/// `weir -c -f FILE` on `config`: its exit status, its standard error, and
/// the file's path (which the errors name).
func checkConfiguration(_ config: String) throws -> (status: Int32, stderr: String, path: String) {
    let file = try TempFile(config)
    defer { file.remove() }
    let run = try WeirProcess.run(["-c", "-f", file.path])
    return (run.status, run.stderr, file.path)
}

/// `curl https://NAME:PORT/PATH` resolved to loopback, trusting `ca`.
func curlHTTPS(port: UInt16, name: String = "a.test", _ path: String = "/", ca: String, arguments: [String] = []) throws -> CurlResponse {
    let run = try runTool(curlPath, ["-s", "-i", "--max-time", "5", "--noproxy", "*", "--cacert", ca,
                                     "--resolve", "\(name):\(port):127.0.0.1"] + arguments + ["https://\(name):\(port)\(path)"],
                          timeout: 10)
    return CurlResponse(exitCode: run.status, output: run.stdout)
}

/// What `openssl s_client` printed.
struct SClientRun {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Both, standard output first.
    var output: String { stdout + stderr }
}

/// `openssl s_client` to loopback `port` with the SNI `serverName` (none
/// when nil), `alpn` and `extra` arguments. It reads its standard input from
/// the file `input` (nothing when nil), so it closes once the handshake is
/// done, or once the file is sent and the server closed with `-ign_eof`.
func sClient(port: UInt16, serverName: String?, alpn: String? = nil, extra: [String] = [], input: String? = nil) throws -> SClientRun {
    var arguments = ["s_client", "-connect", "127.0.0.1:\(port)"]
    if let serverName { arguments += ["-servername", serverName] } else { arguments.append("-noservername") }
    if let alpn { arguments += ["-alpn", alpn] }
    arguments += extra
    let run = if let input {
        try runTool("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", input, opensslPath] + arguments, timeout: 15)
    } else {
        try runTool(opensslPath, arguments, timeout: 15)
    }
    return SClientRun(status: run.status, stdout: run.stdout, stderr: run.stderr)
}
