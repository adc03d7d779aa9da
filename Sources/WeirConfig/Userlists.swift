// `userlist` sections: users with a password hash (or a clear-text
// password), and groups, for `http_auth(NAME)` and `http_auth_group(NAME)`.

extension ParserState {
    mutating func openUserlist(_ words: [Word]) {
        // Without a name, the section is still read, for its own errors.
        let name = sectionName(words, label: "userlist", defined: userlists.map { ($0.name, $0.location) })
            ?? ("", location(words[0]))
        userlists.append(Userlist(name: name.text, location: name.location))
        userlistLocations.append(([], []))
        section = .userlist(index: userlists.count - 1)
    }

    mutating func userlistKeyword(_ words: [Word]) {
        guard case .userlist(let index) = section else { return }
        let keyword = words[0]
        switch keyword.text {
        case "user":
            guard words.count > 1 else {
                error("user: expected a name and a password", at: keyword)
                return
            }
            let name = words[1]
            var password: UserPassword?
            var groups: [String] = []
            var i = 2
            while i < words.count {
                let w = words[i]
                guard i + 1 < words.count else {
                    error("user '\(name.text)': '\(w.text)' expects a value", at: w)
                    return
                }
                switch w.text {
                case "password": password = .hashed(words[i + 1].text)
                case "insecure-password": password = .insecure(words[i + 1].text)
                case "groups":
                    groups += words[i + 1].text.split(separator: ",").map(String.init)
                default:
                    error("user '\(name.text)': unexpected '\(w.text)'; expected password, insecure-password or groups"
                          + Keywords.didYouMean(w.text, among: ["password", "insecure-password", "groups"]).replacingDidYouMean(),
                          at: w)
                    return
                }
                i += 2
            }
            guard let password else {
                error("user '\(name.text)': expected 'password HASH' or 'insecure-password TEXT'", at: name)
                return
            }
            if userlists[index].users.contains(where: { $0.name == name.text }) {
                error("user '\(name.text)' is already defined in userlist '\(userlists[index].name)'", at: name)
                return
            }
            userlists[index].users.append(UserlistUser(name: name.text, password: password, groups: groups))
            userlistLocations[index].users.append(location(name))
        case "group":
            guard words.count > 1 else {
                error("group: expected a name", at: keyword)
                return
            }
            let name = words[1]
            var users: [String] = []
            if words.count > 2 {
                guard words[2].text == "users", words.count > 3 else {
                    error("group '\(name.text)': expected 'users' and a comma-separated list", at: words[2])
                    return
                }
                users = words[3].text.split(separator: ",").map(String.init)
                expectAtMost(4, words, after: "users \(words[3].text)")
            }
            if userlists[index].groups.contains(where: { $0.name == name.text }) {
                error("group '\(name.text)' is already defined in userlist '\(userlists[index].name)'", at: name)
                return
            }
            userlists[index].groups.append(UserlistGroup(name: name.text, users: users))
            userlistLocations[index].groups.append(location(name))
        default:
            error("unknown keyword '\(keyword.text)' in 'userlist' section"
                  + Keywords.didYouMean(keyword.text, among: ["user", "group"]), at: keyword)
        }
    }

    /// Checks that every group a user names, and every user a group names,
    /// exists; then records each membership on both sides.
    mutating func finishUserlist(_ index: Int) {
        var list = userlists[index]
        let groupNames = list.groups.map(\.name)
        let userNames = list.users.map(\.name)
        for (u, user) in list.users.enumerated() {
            for group in user.groups where !groupNames.contains(group) {
                report(.error, "user '\(user.name)': no group named '\(group)' in userlist '\(list.name)'"
                       + Keywords.didYouMean(group, among: groupNames), at: userlistLocations[index].users[u])
            }
        }
        for (g, group) in list.groups.enumerated() {
            for user in group.users where !userNames.contains(user) {
                report(.error, "group '\(group.name)': no user named '\(user)' in userlist '\(list.name)'"
                       + Keywords.didYouMean(user, among: userNames), at: userlistLocations[index].groups[g])
            }
        }
        for g in list.groups.indices {
            for user in list.users where user.groups.contains(list.groups[g].name) && !list.groups[g].users.contains(user.name) {
                list.groups[g].users.append(user.name)
            }
        }
        for u in list.users.indices {
            for group in list.groups where group.users.contains(list.users[u].name) && !list.users[u].groups.contains(group.name) {
                list.users[u].groups.append(group.name)
            }
        }
        userlists[index] = list
    }
}
