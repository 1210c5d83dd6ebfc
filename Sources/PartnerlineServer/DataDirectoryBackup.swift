import Foundation
import PartnerlineStore

/// `partnerline-server backup`: a consistent copy of a data directory, safe while the server runs.
/// Restoring is starting a server with the copy as its data directory.
public enum DataDirectoryBackup {
    public struct BackupError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Copies every journal (clusters first, accounts last, so every account a copied event names is
    /// in the copy too) with its checkpoints (those the copied journal holds the position of, so a
    /// server started on the copy starts from them), and the self-signed TLS files if there are any.
    /// Returns the report lines.
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
            // Checkpoints are read before the segments are copied: the copy then holds at least the
            // records each covers, and one is kept only if the copy holds its position.
            let checkpoints = CheckpointFiles.list(directory: journal.path).compactMap { try? CheckpointFiles.load(path: $0.path) }
            let target = DataDirectory.join(destination, journal.name)
            let report = try JournalBackup.copy(from: journal.path, to: target)
            records += report.records
            var copied = 0
            for checkpoint in checkpoints where checkpoint.position.records <= report.records {
                guard (try? Journal.checkPosition(directory: target, checkpoint.position)) != nil else { continue }
                try CheckpointFiles.write(checkpoint.body, position: checkpoint.position, directory: target)
                copied += 1
            }
            lines.append("\(journal.name): records=\(report.records) bytes=\(report.bytes) segments=\(report.segments) head=\(report.headHashHex) checkpoints=\(copied)")
        }
        let tls = DataDirectory.join(dataDir, "tls")
        if files.fileExists(atPath: tls) {
            try files.copyItem(atPath: tls, toPath: DataDirectory.join(destination, "tls"))
        }
        lines.append("backup: \(journals.count) journals, \(records) records copied to \(destination)")
        return lines
    }
}
