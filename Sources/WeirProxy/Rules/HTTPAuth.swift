import CShims
import Glibc

extension RuleEngine {
    /// `http_auth(userlist)`: the index of the user whose Basic credentials
    /// the request carries, when the password is right. Checked once per
    /// request and user list. Insecure passwords are compared as they are,
    /// hashed ones with crypt_r(3) (every scheme libxcrypt knows: yescrypt,
    /// bcrypt, SHA-512/256-crypt, MD5-crypt…).
    mutating func authenticatedUser(_ userlist: Int) -> Int? {
        if authUserlist == userlist { return authUser >= 0 ? authUser : nil }
        let mark = scratch.mark
        defer { scratch.rewind(to: mark) }
        authUserlist = userlist
        authUser = -1
        guard userlist >= 0, userlist < compiled.userlists.count,
              let credentials = basicCredentials() else { return nil }
        var colon = 0
        while colon < credentials.count && credentials[colon] != UInt8(ascii: ":") { colon += 1 }
        guard colon < credentials.count else { return nil }
        let name = credentials.slice(0, colon)
        let password = credentials.slice(colon + 1, credentials.count)
        let users = compiled.userlists[userlist].users
        guard let index = users.firstIndex(where: { ByteMatching.equal(name, $0.name, ignoreCase: false) }) else {
            return nil
        }
        switch users[index].password {
        case .plain(let expected):
            guard ByteMatching.equal(password, expected, ignoreCase: false) else { return nil }
        case .hashed(let hash):
            guard let cryptData, let phrase = scratch.reserve(password.count + 1) else { return nil }
            if password.count > 0 { phrase.copyMemory(from: password.baseAddress!, byteCount: password.count) }
            phrase.storeBytes(of: 0, toByteOffset: password.count, as: UInt8.self)
            let data = cryptData.assumingMemoryBound(to: crypt_data.self)
            guard let result = crypt_r(phrase.assumingMemoryBound(to: CChar.self), hash, data),
                  strcmp(result, hash) == 0 else { return nil }
        }
        authUser = index
        return index
    }

    /// `stats auth`: whether the request's Basic credentials are one of `accepted` (`user:password` each).
    mutating func carriesCredentials(_ accepted: [[UInt8]]) -> Bool {
        let mark = scratch.mark
        defer { scratch.rewind(to: mark) }
        guard let credentials = basicCredentials() else { return false }
        return accepted.contains { expected in expected.elementsEqual(credentials) }
    }

    /// The decoded `user:password` of an `Authorization: Basic …` field.
    private mutating func basicCredentials() -> UnsafeRawBufferPointer? {
        guard kind == .request, let value = firstValue(named: "authorization"), value.count > 6 else { return nil }
        let scheme: StaticString = "basic "
        guard ByteMatching.equal(value.slice(0, 6), UnsafeRawBufferPointer(start: scheme.utf8Start, count: 6),
                                 ignoreCase: true) else { return nil }
        var start = 6
        while start < value.count && value[start] == 32 { start += 1 }
        return base64Decode(value.slice(start, value.count))
    }
}
