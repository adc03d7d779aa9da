import Testing
import WeirConfig
@testable import WeirHealth

@Suite struct MailAlertsTests {
    @Test("SMTP replies: multi-line ones end at the line whose code is followed by a space")
    func replies() {
        var bytes = Array("250-sink\r\n250-SIZE 1000\r\n250 OK\r\n354 go".utf8)
        let first = MailAlerts.completeReply(&bytes)
        #expect(first?.code == 250 && first?.text == "250 OK")
        #expect(MailAlerts.completeReply(&bytes) == nil, "354 has no line end yet")
        bytes += Array(" ahead\r\n".utf8)
        #expect(MailAlerts.completeReply(&bytes)?.code == 354 && bytes.isEmpty)
        var garbage = Array("oops\n".utf8)
        #expect(MailAlerts.completeReply(&garbage)?.code == 0)
    }

    @Test("the commands carry the envelope; the message's lines are dot-stuffed")
    func commands() {
        let settings = EmailAlert(mailers: 0, from: "lb@a.test", to: "ops@b.test", level: .alert, myHostname: nil)
        let commands = MailAlerts.commands(settings, hostname: "lb1", message: "Server be/s1 is DOWN\n.hidden",
                                           date: "Sun, 06 Dec 2026 04:00:00 +0000").map { String(decoding: $0, as: UTF8.self) }
        #expect(commands.count == 6)
        #expect(Array(commands[0..<4]) == ["EHLO lb1\r\n", "MAIL FROM:<lb@a.test>\r\n", "RCPT TO:<ops@b.test>\r\n", "DATA\r\n"])
        #expect(commands[4].hasPrefix("From: lb@a.test\r\nTo: ops@b.test\r\nDate: Sun, 06 Dec 2026 04:00:00 +0000\r\n"))
        #expect(commands[4].hasSuffix("\r\n\r\nServer be/s1 is DOWN\r\n..hidden\r\n.\r\n"))
        #expect(commands[5] == "QUIT\r\n")
        #expect(MailAlerts.date(0) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }
}
