import WeirHTTP

// `unique-id-format` and `unique-id-header`: one id per exchange, generated
// once (when its request reaches the rules, else when the exchange is
// logged), kept with the exchange's rule state, sent to the server in the
// header and available to `%ID` and the `unique-id` fetch.

extension Worker {
    /// Generates the exchange's unique id now, if its frontend has a
    /// format and it was not generated yet. Called when the request rules
    /// begin, so that they (and the header) see it.
    mutating func generateUniqueIDIfNeeded(_ slot: UInt32, now: Int64) {
        let frontend = Int(sessions.pointer(slot).pointee.frontend)
        guard let format = rules.compiled.frontendLogging[frontend].uniqueIDFormat, !rules.sessions.hasUniqueID(slot) else {
            return
        }
        var c = exchangeLogContext(slot, now: now)
        generateUniqueID(slot, format, &c, layer4Samples: false)
    }

    /// Renders `format` after whatever `logger.line` holds, keeps it as the
    /// slot's unique id (at most 128 bytes), and takes it back off the line.
    mutating func generateUniqueID(_ slot: UInt32, _ format: CompiledLogFormat, _ c: inout LogContext,
                                   layer4Samples: Bool) {
        let start = logger.line.count
        renderLog(format, &c, mandatory: false, layer4Samples: layer4Samples)
        rules.sessions.setUniqueID(slot, UnsafeRawBufferPointer(start: logger.line.bytes + start,
                                                                count: logger.line.count - start))
        logger.line.count = start
    }

    /// `unique-id-header NAME: ID`, for the request head sent to the server.
    mutating func appendUniqueIDHeader(_ w: inout HeadWriter, slot: UInt32) {
        // The cheap test first: without an id, the header's name is not copied out.
        guard rules.sessions.hasUniqueID(slot) else { return }
        let frontend = Int(sessions.pointer(slot).pointee.frontend)
        guard let name = rules.compiled.frontendLogging[frontend].uniqueIDHeader else { return }
        let id = rules.sessions.uniqueID(slot) ?? UnsafeRawBufferPointer(start: nil, count: 0)
        name.withUnsafeBytes { w.appendHeader(name: $0, value: id) }
    }
}
