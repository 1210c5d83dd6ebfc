import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// `partnerline-server verify`: every journal of a data directory, every record's checksum and
/// the hash chain, read-only (safe beside a running server). One summary line per journal, one
/// line per fault naming the file and the byte offset of the bad record.
public enum DataDirectoryVerifier {
    public struct Outcome: Sendable {
        /// The report, one line each, for stdout.
        public var lines: [String]
        public var faults: Int
        public var passed: Bool { faults == 0 }
    }

    public static func verify(dataDir: String) -> Outcome {
        let journals = DataDirectory.journals(in: dataDir)
        guard !journals.isEmpty else {
            return Outcome(lines: ["FAULT \(dataDir): no journals (expected accounts/ or clusters/<name>/)"], faults: 1)
        }
        var lines: [String] = []
        var faults = 0
        var records = 0
        for journal in journals {
            let report = JournalVerifier.verify(directory: journal.path)
            records += report.records
            lines.append(summary(journal.name, report))
            for fault in report.faults {
                lines.append("FAULT \(fault.file) offset=\(fault.offset): \(fault.reason)")
            }
            faults += report.faults.count
        }
        let verdict = faults == 0 ? "ok" : "\(faults) fault\(faults == 1 ? "" : "s")"
        lines.append("verify: \(journals.count) journals, \(records) records, \(verdict)")
        return Outcome(lines: lines, faults: faults)
    }

    /// `<name>: records=<n> first=<time> last=<time> head=<hash>`; a time is `-` when the journal is
    /// empty or the payload is not a journal entry (a fault line says why when that matters).
    static func summary(_ name: String, _ report: JournalVerifyReport) -> String {
        "\(name): records=\(report.records) first=\(time(of: report.firstPayload)) "
            + "last=\(time(of: report.lastPayload)) head=\(report.headHashHex)"
    }

    private static func time(of payload: [UInt8]?) -> String {
        guard let payload, let entry = try? JournalEntryCodec.decode(payload) else { return "-" }
        return Timestamp.format(millis: entry.timeMillis)
    }
}
