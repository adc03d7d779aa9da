// `no-sslv3`, `no-tlsv10` … `no-tlsv13`, `force-sslv3`, `force-tlsv10` …
// `force-tlsv13`: the older way of choosing TLS versions that HAProxy
// keeps beside `ssl-min-ver` and `ssl-max-ver`, on `bind` and `server`
// lines and in `ssl-default-bind-options` / `ssl-default-server-options`.

/// One version keyword, as HAProxy reads it.
enum TLSVersionToggle: Equatable {
    /// `no-tlsv1x`: the version is left out of the range.
    case disable(BindTLS.Version)
    /// `force-tlsv1x`: that version only, as `ssl-min-ver X ssl-max-ver X`.
    case force(BindTLS.Version)
    /// `no-sslv3`: nothing to do, OpenSSL has no SSLv3 here.
    case disableSSLv3
    /// `force-sslv3`: refused, OpenSSL has no SSLv3 here.
    case forceSSLv3

    static let keywords = ["no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
                           "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13"]

    /// The toggle `keyword` names, nil when it is not one.
    init?(_ keyword: String) {
        let versions: [(String, BindTLS.Version)] = [("tlsv10", .tls10), ("tlsv11", .tls11), ("tlsv12", .tls12),
                                                     ("tlsv13", .tls13)]
        switch keyword {
        case "no-sslv3": self = .disableSSLv3
        case "force-sslv3": self = .forceSSLv3
        default:
            for (suffix, version) in versions {
                if keyword == "no-" + suffix {
                    self = .disable(version)
                    return
                }
                if keyword == "force-" + suffix {
                    self = .force(version)
                    return
                }
            }
            return nil
        }
    }

    /// The error for `force-sslv3`.
    static let sslv3Refused = "'force-sslv3' cannot be honoured: this system's OpenSSL has no SSLv3 "
        + "(nor should it: SSLv3 is broken); use 'ssl-min-ver TLSv1.2'"

    /// The versions offered once `no-tlsv1x` flags are applied, as HAProxy
    /// decides: when the line (or `global`) sets `ssl-min-ver` or
    /// `ssl-max-ver` (`force-*` included), those win and the flags are
    /// ignored; otherwise the flags cut the default range, TLSv1.2 to
    /// TLSv1.3. nil bounds keep the defaults.
    enum Resolution: Equatable {
        case range(min: BindTLS.Version?, max: BindTLS.Version?)
        /// The flags that would have changed the range had they been
        /// honoured, with the range they were ignored for.
        case flagsIgnored([BindTLS.Version], min: BindTLS.Version?, max: BindTLS.Version?)
        case allDisabled
    }

    static func resolve(min: BindTLS.Version?, max: BindTLS.Version?, disabled: Set<BindTLS.Version>) -> Resolution {
        let all = BindTLS.Version.allCases
        let lowest = all.firstIndex(of: min ?? .tls12)!, highest = all.firstIndex(of: max ?? .tls13)!
        if min != nil || max != nil {
            // Flags outside the range change nothing: only those inside it are worth a warning.
            let ignored = lowest <= highest ? all[lowest...highest].filter { disabled.contains($0) } : []
            return ignored.isEmpty ? .range(min: min, max: max) : .flagsIgnored(ignored, min: min, max: max)
        }
        let enabled = all[lowest...highest].filter { !disabled.contains($0) }
        guard let first = enabled.first, let last = enabled.last else { return .allDisabled }
        return .range(min: first == .tls12 ? nil : first, max: last == .tls13 ? nil : last)
    }

    /// `no-tlsv12`, `no-tlsv13`: the keywords of `versions`, for messages.
    static func names(_ versions: [BindTLS.Version]) -> String {
        versions.map { "'no-tlsv1\($0.rawValue.last!)'" }.joined(separator: ", ")
    }
}
