import Testing
@testable import WeirHealth
import WeirShared

/// An agent's line, read as HAProxy reads it.
@Suite struct AgentReplyTests {
    private func reply(_ text: String) -> AgentReply? { AgentReply(Array(text.utf8)) }

    @Test func wordsOfEveryKindInAnyOrderAndCase() throws {
        let r = try #require(reply("75%, DRAIN\tmaxconn:30 up\r\n"))
        #expect(r.weightPercent == 75 && r.admin == .drain && r.maxconn == 30 && r.health == .up)
        #expect(r.status == .layer7OK && r.info == "via agent : up")
        // The last word of a kind wins.
        let last = try #require(reply("ready maint 10% 20%\n"))
        #expect(last.admin == .maint && last.weightPercent == 20 && last.health == nil)
        #expect(last.status == .checked && last.info == nil)
    }

    @Test func healthWordsAndTheDescription() throws {
        for word in ["down", "stopped", "fail"] {
            let r = try #require(reply("\(word) # disk full\n"))
            #expect(r.health?.rawValue == word && r.status == .layer7WrongStatus)
            #expect(r.info == "via agent : \(word) (disk full)")
        }
        // An `up` names a word it did not understand rather than its description.
        #expect(reply("up sideways # fine\n")?.info == "via agent : up (sideways)")
        #expect(reply("sideways\n")?.info == "agent reports an error : sideways")
    }

    @Test func aLineNeedsItsEnd() {
        #expect(reply("50%") == nil)
        #expect(reply("") == nil)
        #expect(reply("\n") == AgentReply())
        // A weight is a number then '%'; a bad maxconn is not applied.
        #expect(reply("%50 maxconn:x\n")?.weightPercent == nil)
        #expect(reply("%50 maxconn:x\n")?.maxconn == nil)
        #expect(reply("99999999%\n")?.weightPercent == 25600)
    }

    @Test func adminRequestsAsTheRuntimeAPIAppliesThem() {
        #expect(RequestedAdminState.ready.applied(to: [.maint, .drain, .configMaint]) == [.configMaint])
        #expect(RequestedAdminState.drain.applied(to: [.maint]) == [.drain])
        #expect(RequestedAdminState.maint.applied(to: [.drain]) == [.maint])
    }
}
