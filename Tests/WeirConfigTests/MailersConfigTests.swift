import Foundation
import Testing
@testable import WeirConfig

@Suite struct MailersConfigTests {
    private func withAlerts(_ alerts: String, mailers: String = "mailers ops\n    mailer smtp1 10.0.0.25:25\n    timeout mail 20s")
        -> String {
        timeoutDefaults + mailers + "\nbackend be\n" + alerts + "\n    server s1 127.0.0.1:1 check\n"
    }

    @Test func sectionAndSettings() throws {
        let c = try #require(config(withAlerts("""
                email-alert mailers ops
                email-alert from lb@example.com
                email-alert to ops@example.com
                email-alert level notice
                email-alert myhostname lb1
            """)))
        #expect(c.mailers.first?.name == "ops" && c.mailers.first?.timeout == 20_000)
        #expect(c.mailers.first?.mailers == [Mailer(name: "smtp1", ip: IPAddress.parse("10.0.0.25")!, port: 25)])
        #expect(c.backends.first?.emailAlert == EmailAlert(mailers: 0, from: "lb@example.com", to: "ops@example.com",
                                                           level: .notice, myHostname: "lb1"))
        // From defaults, with HAProxy's default level.
        let inherited = try #require(config(timeoutDefaults.replacingOccurrences(
            of: "defaults\n", with: "defaults\n    email-alert mailers ops\n    email-alert from a@b\n    email-alert to c@d\n")
            + "mailers ops\n    mailer m 127.0.0.1:25\nbackend be\n    server s1 127.0.0.1:1\n"))
        #expect(inherited.backends.first?.emailAlert?.level == .alert)
    }

    @Test func incompleteSettingsWarn() {
        let text = withAlerts("    email-alert mailers ops\n    email-alert from lb@example.com")
        #expect(errors(text) == [])
        #expect(warnings(text) == [
            "t.cfg:9:5: warning: 'email-alert' is ignored for 'be': it needs 'email-alert mailers', 'email-alert from' "
                + "and 'email-alert to'"])
    }

    @Test func errorsNameTheLine() {
        #expect(errors(withAlerts("    email-alert mailers opz\n    email-alert from a@b\n    email-alert to c@d"))
                == ["t.cfg:9:25: error: email-alert: no mailers section named 'opz'; did you mean 'ops'?"])
        #expect(errors(withAlerts("    email-alert level loud\n    email-alert sender x\n    email-alert to")) == [
            "t.cfg:9:23: error: email-alert level: expected one of emerg, alert, crit, err, warning, notice, info, debug, "
                + "got 'loud'",
            "t.cfg:10:17: error: email-alert: unknown setting 'sender'; expected mailers, from, to, level or myhostname",
            "t.cfg:11:17: error: email-alert: expected one of mailers, from, to, level or myhostname, and a value",
        ])
        #expect(errors(withAlerts("", mailers: "mailers ops\n    mailer smtp1 10.0.0.25\n    mailer smtp1 10.0.0.26:25\n"
                                  + "    mailer smtp1 10.0.0.27:25\n    timeout smtp 5s\n    mailr x")) == [
            "t.cfg:6:18: error: mailer 'smtp1': expected an address and a port like 10.0.0.25:25, got '10.0.0.25'",
            "t.cfg:8:12: error: mailer 'smtp1' is already defined in mailers 'ops'",
            "t.cfg:9:13: error: 'timeout' in a 'mailers' section expects 'mail' and a duration",
            "t.cfg:10:5: error: unknown keyword 'mailr' in 'mailers' section; did you mean 'mailer'?",
        ])
        // A name is resolved when the configuration is read (`.invalid` never resolves, RFC 6761).
        let unresolved = errors(withAlerts("", mailers: "mailers ops\n    mailer smtp1 nowhere.invalid:25"))
        #expect(unresolved.count == 2 && unresolved[0].hasPrefix("t.cfg:6:18: error: mailer 'smtp1': could not resolve "
                                                                  + "'nowhere.invalid': "), "\(unresolved)")
        #expect(errors(timeoutDefaults + "mailers ops\nbackend be\n    server s1 127.0.0.1:1\n")
                == ["t.cfg:5:9: error: mailers 'ops' has no mailer; add 'mailer <name> <ip>:<port>'"])
    }
}
