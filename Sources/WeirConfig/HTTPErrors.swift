// `http-errors NAME` sections (a named set of `errorfile CODE FILE` pages)
// and the `errorfiles NAME [CODE...]` proxy keyword that imports them.

/// One `http-errors` section.
struct HTTPErrorsSection: Sendable {
    var name: String
    var location: SourceLocation
    /// The raw HTTP responses by status, as `errorfile` read them.
    var pages: [Int: [UInt8]] = [:]
}

/// `errorfiles NAME [CODE...]` in a proxy: resolved once every section is read.
struct ErrorFilesImport: Sendable {
    var name: String
    /// Empty: every page of the section.
    var codes: [Int]
    var location: SourceLocation
}

extension ParserState {
    mutating func openHTTPErrors(_ words: [Word]) {
        // Without a name, the section is still read, for its own errors.
        let name = sectionName(words, label: "http-errors", defined: httpErrorSections.map { ($0.name, $0.location) })
            ?? ("", location(words[0]))
        httpErrorSections.append(HTTPErrorsSection(name: name.text, location: name.location))
        section = .httpErrors(index: httpErrorSections.count - 1)
    }

    /// A line of an `http-errors` section: only `errorfile CODE FILE`.
    mutating func httpErrorsKeyword(_ words: [Word]) {
        guard case .httpErrors(let index) = section else { return }
        guard words[0].text == "errorfile" else {
            error("unknown keyword '\(words[0].text)' in 'http-errors' section; expected 'errorfile'", at: words[0])
            return
        }
        guard let (code, bytes) = errorFileLine(words) else { return }
        httpErrorSections[index].pages[code] = bytes
    }

    /// `errorfiles NAME [CODE...]` in a proxy section.
    mutating func parseErrorFiles(_ words: [Word]) {
        guard words.count > 1 else {
            error("errorfiles: expected the name of an 'http-errors' section", at: words[0])
            return
        }
        var codes: [Int] = []
        for i in 2..<max(2, words.count) {
            guard let code = errorStatus(words, i, keyword: "errorfiles") else { return }
            codes.append(code)
        }
        settings.errorFilesImports.append(ErrorFilesImport(name: words[1].text, codes: codes, location: location(words[1])))
    }

    /// The error pages of a proxy: the pages its `errorfiles` lines import,
    /// in order, then its own `errorfile`, `errorloc` and `http-error` lines,
    /// which win.
    mutating func resolvedErrorPages(_ settings: ProxySettings) -> [Int: ErrorPage] {
        var pages: [Int: ErrorPage] = [:]
        for imported in settings.errorFilesImports {
            guard let section = httpErrorSections.first(where: { $0.name == imported.name }) else {
                report(.error, "errorfiles: no 'http-errors' section named '\(imported.name)'"
                       + Keywords.didYouMean(imported.name, among: httpErrorSections.map(\.name)), at: imported.location)
                continue
            }
            for code in imported.codes where section.pages[code] == nil {
                report(.warning, "errorfiles: 'http-errors \(imported.name)' has no page for status \(code)",
                       at: imported.location)
            }
            for (code, bytes) in section.pages where imported.codes.isEmpty || imported.codes.contains(code) {
                pages[code] = .raw(bytes)
            }
        }
        for (code, page) in settings.errorPages { pages[code] = page }
        return pages
    }
}

extension ParserState {
    /// Replaces each `errorfiles NAME` body of a `return`, `deny`,
    /// `tarpit` or `http-error` with the page of that section for the
    /// status, or with the proxy's page when the section has none.
    mutating func resolveErrorFilesBodies() {
        for p in proxies.indices {
            var draft = proxies[p]
            for i in draft.httpRequestRules.indices { resolveErrorFiles(&draft.httpRequestRules[i].action) }
            for i in draft.httpResponseRules.indices { resolveErrorFiles(&draft.httpResponseRules[i].action) }
            for (code, page) in draft.settings.errorPages {
                guard case .response(var spec) = page else { continue }
                resolveErrorFiles(&spec)
                draft.settings.errorPages[code] = .response(spec)
            }
            proxies[p] = draft
        }
    }

    private mutating func resolveErrorFiles(_ action: inout HTTPAction) {
        switch action {
        case .returnResponse(var spec):
            resolveErrorFiles(&spec)
            action = .returnResponse(spec)
        case .deny(let status, var spec?):
            resolveErrorFiles(&spec)
            action = .deny(status: status, answer: spec.body == .defaultErrorFiles ? nil : spec)
        case .tarpit(let status, var spec?):
            resolveErrorFiles(&spec)
            action = .tarpit(status: status, answer: spec.body == .defaultErrorFiles ? nil : spec)
        default:
            break
        }
    }

    private mutating func resolveErrorFiles(_ spec: inout ReturnSpec) {
        guard case .errorFiles(let name, let location) = spec.body else { return }
        guard let section = httpErrorSections.first(where: { $0.name == name }) else {
            report(.error, "errorfiles: no 'http-errors' section named '\(name)'"
                   + Keywords.didYouMean(name, among: httpErrorSections.map(\.name)), at: location)
            return
        }
        spec.body = section.pages[spec.status].map { .rawResponse($0) } ?? .defaultErrorFiles
    }
}
