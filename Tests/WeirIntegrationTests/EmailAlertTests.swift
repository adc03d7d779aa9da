import Foundation
import Testing

/// `email-alert` with a `mailers` section: the checks' state changes go to
/// a real SMTP server (a python one on loopback).
@Suite("email alerts", .serialized)
struct EmailAlertTests {
    private func config(backend: Backend, smtp: SMTPSink, level: String? = nil) -> String {
        masterConfig(server: "\(backend.address) check inter 100ms fall 1 rise 1", extraSections: """
                email-alert mailers ops
                email-alert from weir@lb.test
                email-alert to oncall@ops.test
                email-alert myhostname lb1.test
            \(level.map { "    email-alert level \($0)" } ?? "")

            mailers ops
                mailer smtp1 \(smtp.address)
                timeout mail 5s
            """)
    }

    @Test("a server going DOWN is mailed, as HAProxy mails it; coming back UP is only a notice")
    func downIsMailed() throws {
        var backend = try Backend(.echo)
        let port = backend.port
        defer { backend.stop() }
        let smtp = try SMTPSink()
        defer { smtp.stop() }
        let harness = try MasterHarness(config: config(backend: backend, smtp: smtp))
        defer { harness.close() }
        backend.stop()
        let down = smtp.waitForMail { $0.hasPrefix("[HAProxy Alert] Server be/s1 is DOWN") }
        #expect(down != nil, "mails: \(smtp.mails.map(\.data))\nstderr:\n\(harness.master.stderr.text)")
        if let down {
            #expect(down.ehlo == "lb1.test" && down.from == "<weir@lb.test>" && down.to == ["<oncall@ops.test>"])
            #expect(down.header("From") == "weir@lb.test" && down.header("To") == "oncall@ops.test")
            #expect(down.header("Date")?.hasSuffix("+0000") == true, "\(down.data)")
            // The body is the log line.
            let line = harness.master.stderr.lines.first { $0.contains("Server be/s1 is DOWN") }
            #expect(line.map { down.data.hasSuffix("\r\n\r\n" + $0[$0.range(of: "Server be/s1")!.lowerBound...]) } == true,
                    "\(down.data)\n\(String(describing: line))")
        }
        // UP is at level notice: not mailed at the default level (alert).
        // The next DOWN's mail comes after where UP's would have been.
        backend = try Backend(.echo, port: port)
        #expect(harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is UP") } != nil)
        backend.stop()
        #expect(waitUntil(timeout: 10) { smtp.mails.count >= 2 }, "stderr:\n\(harness.master.stderr.text)")
        #expect(smtp.mails.compactMap { $0.header("Subject") }.allSatisfy { $0.contains(" is DOWN") },
                "\(smtp.mails.map { $0.header("Subject") })")
        harness.expectNoWorkerCrash()
    }

    @Test("email-alert level notice mails UP too; -d sends alerts from the single process")
    func levelNoticeInDebugMode() throws {
        var backend = try Backend(.echo)
        let port = backend.port
        defer { backend.stop() }
        let smtp = try SMTPSink()
        defer { smtp.stop() }
        let weir = try WeirProcess.start(config: config(backend: backend, smtp: smtp, level: "notice"))
        defer { weir.stop() }
        backend.stop()
        #expect(smtp.waitForMail { $0.hasPrefix("[HAProxy Alert] Server be/s1 is DOWN") } != nil,
                "stderr:\n\(weir.stderr.text)")
        backend = try Backend(.echo, port: port)
        #expect(smtp.waitForMail { $0.hasPrefix("[HAProxy Alert] Server be/s1 is UP") } != nil,
                "stderr:\n\(weir.stderr.text)")
    }

    @Test("a mailer that cannot be reached is logged; the proxy goes on")
    func unreachableMailer() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let refused = try freeLoopbackPort()
        let text = masterConfig(server: "\(backend.address) check inter 100ms fall 1 rise 1", extraSections: """
                email-alert mailers ops
                email-alert from weir@lb.test
                email-alert to oncall@ops.test

            mailers ops
                mailer smtp1 127.0.0.1:\(refused)
            """)
        let harness = try MasterHarness(config: text)
        defer { harness.close() }
        backend.stop()
        let failed = harness.master.stderr.waitForLine(timeout: 10) {
            $0.contains("email-alert: mailer ops/smtp1: cannot connect") && $0.contains("the alert is not sent")
        }
        #expect(failed != nil, "stderr:\n\(harness.master.stderr.text)")
        harness.expectNoWorkerCrash()
    }
}
