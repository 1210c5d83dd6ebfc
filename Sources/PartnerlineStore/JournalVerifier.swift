public enum JournalVerifier {
    /// Read-only check of every record's hash and the chain across segments; never
    /// modifies files (and takes no lock, so it can run beside a live server).
    ///
    /// Each fault is named by file and the start offset of the bad record, and checking goes
    /// on past it (see `JournalScanner` for how the walk resumes): one flipped payload byte is
    /// one fault, and an unparseable record resumes at the next line.
    public static func verify(directory: String, hashAfterRecord wanted: Int? = nil) -> JournalVerifyReport {
        var report = JournalVerifyReport(
            directory: directory, records: 0, firstPayload: nil, lastPayload: nil,
            headHashHex: Digest.zero.hex, faults: [])
        let scanner: JournalScanner
        do {
            scanner = try JournalScanner(directory: directory)
        } catch {
            report.faults.append(.unreadable(error, file: directory))
            return report
        }
        if scanner.segments.isEmpty {
            report.faults.append(.noSegments(in: directory))
            return report
        }
        var head = Digest.zero
        // Verify's reading of a fault: report it and go on.
        scanner.walk { event in
            switch event {
            case .record(let record):
                report.records += 1
                if report.records == wanted { report.hashAfterRecord = record.hash.hex }
                let payload = Array(record.payload)
                if report.firstPayload == nil { report.firstPayload = payload }
                report.lastPayload = payload
                head = record.hash
            case .fault(let fault, _):
                report.faults.append(fault)
            case .segmentEnd:
                break
            }
            return .proceed
        }
        report.headHashHex = head.hex
        return report
    }
}

/// The first records of a journal, replayed (what a checkpoint covering them must equal).
public struct JournalPrefix: Sendable {
    /// Records replayed (fewer than asked when the journal is shorter or a fault stopped the walk).
    public var records: Int
    /// The position after the last of them (nil when none).
    public var position: JournalPosition?
    /// The fault that stopped the walk, if any.
    public var fault: JournalFault?
}

extension JournalVerifier {
    /// Replays the first `records` records of the journal in `directory`, checking the chain, and
    /// stops at the first fault. Read-only; takes no lock.
    public static func replayPrefix(directory: String, records wanted: Int,
                                    _ body: ([UInt8], RecordLocation) throws -> Void) throws -> JournalPrefix {
        var prefix = JournalPrefix(records: 0, position: nil, fault: nil)
        guard wanted > 0 else { return prefix }
        let scanner = try JournalScanner(directory: directory)
        var last: (hash: Digest, location: RecordLocation, end: Int)?
        try scanner.walk { event in
            switch event {
            case .record(let record):
                try body(Array(record.payload), record.location)
                prefix.records += 1
                last = (record.hash, record.location, record.end)
                return prefix.records == wanted ? .stop : .proceed
            case .fault(let fault, _):
                prefix.fault = fault
                return .stop
            case .segmentEnd:
                return .proceed
            }
        }
        if let last {
            prefix.position = JournalPosition(records: prefix.records, headHashHex: last.hash.hex, last: last.location,
                                              tailOffset: last.end)
        }
        return prefix
    }
}
