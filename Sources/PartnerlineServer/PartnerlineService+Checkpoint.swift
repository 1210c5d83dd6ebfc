import Foundation
import Logging
import PartnerlineCore
import PartnerlineStore

/// Start from checkpoints: each journal's newest valid checkpoint, then only the records after it.
/// A checkpoint that is damaged (cut short, checksum), made under another config, or that the
/// journal does not agree with (its head hash is not at its position: a journal restored from an
/// older backup) is logged and skipped for the next older one; with none left the journal is
/// replayed whole, as before checkpoints. The journal is the source of truth: a checkpoint is only
/// ever a shortcut to the state the journal folds to.
extension PartnerlineService {
    struct OpenedCluster {
        var journal: Journal
        var recovery: RecoveryReport
        var state: ClusterState
        var index: HistoryIndex
        /// Records the checkpoint it started from covers (0: replayed whole).
        var checkpointRecords: Int
    }

    var checkpointsEnabled: Bool { config.journal.checkpointEveryRecords > 0 }

    func openCluster(_ definition: ClusterDefinition, directory: String) throws -> OpenedCluster {
        for candidate in checkpointCandidates(directory: directory, journal: definition.name) {
            do {
                let checkpoint = try CheckpointFiles.load(path: candidate)
                let snapshot = try StateSnapshot(decoding: checkpoint.body)
                let made = try snapshot.clusterDefinition()
                guard made.definition == definition, made.historyWindow == config.journal.historyWindow else {
                    log.notice("journal \(definition.name): checkpoint \(candidate) was made under another config of the cluster (rooms, topics, description or history_window); not used")
                    continue
                }
                let start = (state: try snapshot.clusterState(), index: try HistoryIndex(snapshot: snapshot), position: checkpoint.position)
                let opened = try replayCluster(definition, directory: directory, from: start)
                log.info("journal \(definition.name): started from checkpoint \(candidate) (\(checkpoint.position.records) records) and \(opened.recovery.records - checkpoint.position.records) records after it")
                return OpenedCluster(journal: opened.journal, recovery: opened.recovery, state: opened.state, index: opened.index,
                                     checkpointRecords: checkpoint.position.records)
            } catch let error as CheckpointFileError {
                log.warning("journal \(definition.name): checkpoint not used: \(error.description)")
            } catch let error as SnapshotDecodingError {
                log.warning("journal \(definition.name): checkpoint \(candidate) not used: cannot decode it: \(error.description)")
            } catch let error as JournalPositionMismatch {
                log.warning("journal \(definition.name): checkpoint \(candidate) not used: \(error.description)")
            } catch let error as ReplayError {
                log.warning("journal \(definition.name): checkpoint \(candidate) not used: the records after it do not fold onto it: \(error.description)")
            }
        }
        let opened = try replayCluster(definition, directory: directory, from: nil)
        return OpenedCluster(journal: opened.journal, recovery: opened.recovery, state: opened.state, index: opened.index,
                             checkpointRecords: 0)
    }

    func openAccounts(_ directory: String, _ options: JournalOptions) throws -> (AccountRegistry, Journal, RecoveryReport) {
        for candidate in checkpointCandidates(directory: directory, journal: "accounts") {
            do {
                let checkpoint = try CheckpointFiles.load(path: candidate)
                var registry = try StateSnapshot(decoding: checkpoint.body).accountRegistry()
                let (journal, report) = try openJournal(directory, options, from: checkpoint.position) { payload, _ in
                    try registry.apply(JournalEntryCodec.decode(payload))
                }
                log.info("journal accounts: started from checkpoint \(candidate) (\(checkpoint.position.records) records) and \(report.records - checkpoint.position.records) records after it")
                return (registry, journal, report)
            } catch let error as CheckpointFileError {
                log.warning("journal accounts: checkpoint not used: \(error.description)")
            } catch let error as SnapshotDecodingError {
                log.warning("journal accounts: checkpoint \(candidate) not used: cannot decode it: \(error.description)")
            } catch let error as JournalPositionMismatch {
                log.warning("journal accounts: checkpoint \(candidate) not used: \(error.description)")
            } catch let error as ReplayError {
                log.warning("journal accounts: checkpoint \(candidate) not used: the records after it do not fold onto it: \(error.description)")
            }
        }
        var registry = AccountRegistry()
        let (journal, report) = try openJournal(directory, options) { payload, _ in
            try registry.apply(JournalEntryCodec.decode(payload))
        }
        return (registry, journal, report)
    }

    /// The checkpoints to try, newest first, after removing temporary files a crash left behind.
    /// None when checkpoints are off (the files stay, unused).
    private func checkpointCandidates(directory: String, journal: String) -> [String] {
        guard checkpointsEnabled else { return [] }
        for path in CheckpointFiles.removeTemporaries(directory: directory) {
            log.notice("journal \(journal): removed \(path), a checkpoint a crash left half-written")
        }
        return CheckpointFiles.list(directory: directory).map(\.path)
    }
}

extension AccountDirectory {
    /// Writes a checkpoint of the accounts at shutdown, once every write is durable, if the registry
    /// holds records no checkpoint covers. Blocks until written.
    func writeFinalCheckpoint(journal: Journal, writer: CheckpointWriter) {
        journal.flush()
        guard let (registry, position) = checkpointState(), let position else { return }
        let directory = journal.directory
        guard CheckpointFiles.list(directory: directory).first?.records != position.records else { return }
        writer.write(journal: "accounts", directory: directory, position: position, encode: {
            StateSnapshot(accounts: registry).encoded()
        })
        writer.waitForWrites()
    }
}
