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
