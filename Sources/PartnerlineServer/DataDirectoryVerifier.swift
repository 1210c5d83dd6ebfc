import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// `partnerline-server verify`: every journal of a data directory, every record's checksum and
/// the hash chain, and each journal's newest checkpoint against a full replay up to its position,
/// read-only (safe beside a running server). One summary line per journal, one
/// line per fault naming the file and the byte offset of the bad record.
public enum DataDirectoryVerifier {
    public struct Outcome: Sendable {
        /// The report, one line each, for stdout.
        public var lines: [String]
        public var faults: Int
        public var passed: Bool { faults == 0 }
    }

    public static func verify(dataDir: String, receipts: [HeadReceipt] = []) -> Outcome {
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
            let checkpoint = CheckpointVerifier.check(journal, journalHasFaults: !report.faults.isEmpty)
            lines += checkpoint.lines
            faults += checkpoint.faults
        }
        for receipt in receipts {
            let line = check(receipt, dataDir: dataDir)
            if line.hasPrefix("FAULT") { faults += 1 }
            lines.append(line)
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

    /// Whether the cluster's chain still passes through the receipt's hash at its record count.
    static func check(_ receipt: HeadReceipt, dataDir: String) -> String {
        let name = "clusters/\(receipt.cluster)"
        let report = JournalVerifier.verify(directory: DataDirectory.clusterPath(dataDir, cluster: receipt.cluster),
                                            hashAfterRecord: receipt.records)
        let label = "receipt \(name) records=\(receipt.records)"
        guard receipt.records > 0 else { return "FAULT \(label): a receipt names at least one record" }
        guard let found = report.hashAfterRecord else {
            return "FAULT \(label): the journal holds only \(report.records) valid records"
        }
        guard found == receipt.hashHex else {
            return "FAULT \(label): the chain has hash=\(found) there, not hash=\(receipt.hashHex): history up to that record is not what was shown"
        }
        return "\(label): matches hash=\(found)"
    }

    private static func time(of payload: [UInt8]?) -> String {
        guard let payload, let entry = try? JournalEntryCodec.decode(payload) else { return "-" }
        return Timestamp.format(millis: entry.timeMillis)
    }
}

/// A receipt from `HEAD <cluster>`: `OK HEAD cluster=<c> records=<n> hash=<64 hex>` (the whole line,
/// with or without its tag, or just the three fields).
public struct HeadReceipt: Sendable, Equatable {
    public var cluster: String
    public var records: Int
    public var hashHex: String

    public init?(_ line: String) {
        var fields: [Substring: Substring] = [:]
        for token in line.split(separator: " ") {
            guard let equals = token.firstIndex(of: "=") else { continue }
            fields[token[..<equals]] = token[token.index(after: equals)...]
        }
        guard let cluster = fields["cluster"], Names.isValidCluster(String(cluster)),
              let records = fields["records"].flatMap({ Int($0) }), records >= 0,
              let hash = fields["hash"], hash.count == 64, hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { return nil }
        self.cluster = String(cluster)
        self.records = records
        hashHex = String(hash)
    }
}
