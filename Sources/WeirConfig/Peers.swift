// `peers` sections. HAProxy's peers push stick-table entries to other
// instances, and from an old process to the new one on a reload. Weir's
// tables live in shared memory, which a reload carries over, so a section
// whose only peer is this instance changes nothing; one that names other
// instances loads with a warning: their tables are not synchronized.

/// A `peers` section: its name and the names of its peers.
struct PeersSection {
    var name: String
    var location: SourceLocation
    var peers: [String] = []
    /// `disabled`: no synchronization asked for.
    var disabled = false
}

extension ParserState {
    static let peersKeywords = [
        "peer", "server", "bind", "default-bind", "default-server", "disabled", "enabled", "enable", "log", "shards",
        "table",
    ]

    mutating func openPeers(_ words: [Word]) {
        guard let name = sectionName(words, label: "peers section", defined: peersSections.map { ($0.name, $0.location) })
        else {
            section = .unsupported
            return
        }
        peersSections.append(PeersSection(name: name.text, location: name.location))
        section = .peers(index: peersSections.count - 1)
    }

    mutating func peersKeyword(_ words: [Word]) {
        guard case .peers(let index) = section else { return }
        let keyword = words[0]
        switch keyword.text {
        case "peer":
            guard words.count > 2 else {
                error("'peer' expects a name and an address like 10.0.0.2:10000", at: keyword)
                return
            }
            addPeer(words[1], to: index)
        case "server":
            // HAProxy 2.0's spelling: `server NAME [ADDR:PORT]`, no address for the local peer.
            guard words.count > 1 else {
                error("'server' expects a peer name", at: keyword)
                return
            }
            addPeer(words[1], to: index)
        case "bind", "default-bind", "default-server", "log", "shards":
            // Where a local peer would listen, and how: Weir has no peer listener.
            break
        case "disabled":
            peersSections[index].disabled = true
        case "enabled", "enable":
            peersSections[index].disabled = false
        case "table":
            error("'table' in a 'peers' section is not supported by Weir yet; declare the table with 'stick-table' "
                  + "in a backend", at: keyword)
        default:
            error("unknown keyword '\(keyword.text)' in 'peers' section"
                  + Keywords.didYouMean(keyword.text, among: Self.peersKeywords), at: keyword)
        }
    }

    private mutating func addPeer(_ name: Word, to index: Int) {
        if peersSections[index].peers.contains(name.text) {
            error("peer '\(name.text)' is already defined in peers '\(peersSections[index].name)'", at: name)
            return
        }
        peersSections[index].peers.append(name.text)
    }

    mutating func finishPeers(_ index: Int) {
        let section = peersSections[index]
        guard !section.disabled, section.peers.count > 1 else { return }
        report(.warning, "peers '\(section.name)': Weir does not exchange stick-table entries with other instances; "
               + "its tables stay local (a reload keeps them, as a local peer would)", at: section.location)
    }

    /// Each `stick-table … peers NAME` names a section.
    mutating func checkPeersReferences() {
        let names = peersSections.map(\.name)
        for reference in peersReferences where !names.contains(reference.name) {
            report(.error, "stick-table: no peers section named '\(reference.name)'"
                   + Keywords.didYouMean(reference.name, among: names), at: reference.location)
        }
    }
}
