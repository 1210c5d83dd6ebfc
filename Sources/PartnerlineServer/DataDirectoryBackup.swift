import Foundation
import PartnerlineStore

/// `partnerline-server backup`: a consistent copy of a data directory, safe while the server runs.
/// Restoring is starting a server with the copy as its data directory.
public enum DataDirectoryBackup {
    public struct BackupError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Copies every journal (clusters first, accounts last, so every account a copied event names is
    /// in the copy too) and the self-signed TLS files if there are any. Returns the report lines.
    public static func run(dataDir: String, to destination: String) throws -> [String] {
        let files = FileManager.default
        if let existing = try? files.contentsOfDirectory(atPath: destination), !existing.isEmpty {
            throw BackupError(description: "\(destination) is not empty; back up into a new or empty directory")
        }
        let journals = DataDirectory.journals(in: dataDir)
        guard !journals.isEmpty else {
            throw BackupError(description: "\(dataDir) holds no journals (expected accounts/ or clusters/<name>/)")
        }
        let ordered = journals.filter { $0.name != "accounts" } + journals.filter { $0.name == "accounts" }
        var lines: [String] = []
        var records = 0
        for journal in ordered {
            let report = try JournalBackup.copy(from: journal.path, to: DataDirectory.join(destination, journal.name))
            records += report.records
            lines.append("\(journal.name): records=\(report.records) bytes=\(report.bytes) segments=\(report.segments) head=\(report.headHashHex)")
        }
        let tls = DataDirectory.join(dataDir, "tls")
        if files.fileExists(atPath: tls) {
            try files.copyItem(atPath: tls, toPath: DataDirectory.join(destination, "tls"))
        }
        lines.append("backup: \(journals.count) journals, \(records) records copied to \(destination)")
        return lines
    }
}
