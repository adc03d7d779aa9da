import WeirLoop
import WeirShared
import WeirTLS

extension Master {
    /// The TLS session-ticket keys: the newest generation's ring decides
    /// (it took over the running one's keys, so a reload keeps tickets
    /// readable); when it has no key yet or its newest is a lifetime old, one
    /// fresh key goes into every live generation's ring, so old and new
    /// workers encrypt alike. Arms the timer for the next one.
    mutating func tendTicketKeys(lifetime: Int, loop: inout EventLoop) {
        guard let newest = generations.keys.max(), let ring = generations[newest]?.segment?.ticketKeys else { return }
        if TLSTicketKeys.isDue(ring, lifetime: lifetime, now: loop.now) {
            let key = TLSTicketKeys.generate()
            for generation in generations.values { generation.segment?.ticketKeys?.publish(key, now: loop.now) }
        }
        let due = TLSTicketKeys.nextRotation(ring, lifetime: lifetime)
        guard due != ticketKeysDue else { return }
        ticketKeysDue = due
        loop.schedule(Token(kind: MasterToken.ticketKeys.rawValue, slot: 0), at: due)
    }
}
