import Dispatch
import Foundation
import Logging
import PartnerlineCore
import PartnerlineStore

/// Writes checkpoints off the shard queues, one at a time, on a queue of its own: a shard hands over a
/// copy of its state (copy-on-write, so taking it costs nothing until the shard changes a room) and
/// goes on serving; the encoding, checksum and fsyncs happen here.
final class CheckpointWriter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "partnerline.checkpoint", qos: .utility)
    let log: Logger
    /// Test seam for the crash tests: with `PARTNERLINE_TEST_CHECKPOINT_PAUSE=1` in the environment
    /// at start, every checkpoint write stops for good half-way through its temporary file (and says
    /// so in the log), so a kill -9 lands mid-write deterministically.
    private let pauseMidWrite: Bool

    init(log: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.log = log
        pauseMidWrite = environment["PARTNERLINE_TEST_CHECKPOINT_PAUSE"] == "1"
    }

    /// Encodes and writes a checkpoint of `journal` on the checkpoint queue; `done` runs there
    /// afterwards with whether it was written.
    func write(journal: String, directory: String, position: JournalPosition, encode: @escaping @Sendable () -> [UInt8],
               done: @escaping @Sendable (Bool) -> Void = { _ in }) {
        queue.async { [self] in done(writeNow(journal: journal, directory: directory, position: position, encode: encode)) }
    }

    /// Blocks until every checkpoint handed over so far is written (shutdown).
    func waitForWrites() { queue.sync {} }

    private func writeNow(journal: String, directory: String, position: JournalPosition,
                          encode: () -> [UInt8]) -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        let body = encode()
        let log = self.log
        let pause: ((String) -> Void)? = pauseMidWrite ? { temporary in
            log.notice("checkpoint: pausing half-way through \(temporary) (PARTNERLINE_TEST_CHECKPOINT_PAUSE is set)")
            while true { sleep(3600) }
        } : nil
        do {
            let path = try CheckpointFiles.write(body, position: position, directory: directory, midWrite: pause)
            let millis = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            log.info("journal \(journal): checkpoint \(path) written (\(body.count) bytes, \(position), \(String(format: "%.1f", millis)) ms)")
            return true
        } catch {
            log.warning("journal \(journal): checkpoint not written: \(error.description); the journal still holds everything, the next start replays more of it")
            return false
        }
    }
}

/// A cluster's checkpoint bookkeeping. Touched only on the shard's queue.
final class ShardCheckpoints: @unchecked Sendable {
    let writer: CheckpointWriter
    let directory: String
    /// The cluster's config when the shard started: a checkpoint records it, and start uses a
    /// checkpoint only under the same config (a full replay would fold differently otherwise).
    let definition: ClusterDefinition
    /// 0: only at shutdown.
    let everyRecords: Int
    /// Records folded into the shard's state: a checkpoint is taken only when the journal's durable
    /// position says exactly this many (so the state and the position it names agree).
    var appliedRecords: Int
    /// Records the newest checkpoint covers (or 0).
    var checkpointedRecords: Int
    var writing = false
    /// Why checkpoints stopped for this run (a reload changed the cluster's config: the live state
    /// no longer equals a replay under either config).
    var suspended: String?

    init(writer: CheckpointWriter, directory: String, definition: ClusterDefinition, everyRecords: Int,
         appliedRecords: Int, checkpointedRecords: Int) {
        self.writer = writer
        self.directory = directory
        self.definition = definition
        self.everyRecords = everyRecords
        self.appliedRecords = appliedRecords
        self.checkpointedRecords = checkpointedRecords
    }
}

extension ClusterShard {
    /// Called on the shard queue once a batch of `records` records is durable and applied.
    func noteDurable(records: Int) {
        guard let checkpoints else { return }
        checkpoints.appliedRecords += records
        guard checkpoints.everyRecords > 0, !checkpoints.writing,
              checkpoints.appliedRecords - checkpoints.checkpointedRecords >= checkpoints.everyRecords else { return }
        takeCheckpoint(checkpoints)
    }

    /// Writes a checkpoint of the state as it is now, if it holds records no checkpoint covers; at
    /// shutdown, after the last write is durable. Blocks until it is written.
    func writeFinalCheckpoint() {
        guard let checkpoints else { return }
        queue.sync {
            if checkpoints.appliedRecords > checkpoints.checkpointedRecords { takeCheckpoint(checkpoints) }
        }
        checkpoints.writer.waitForWrites()
    }

    /// Hands a copy of the state to the checkpoint writer (on the shard queue).
    private func takeCheckpoint(_ checkpoints: ShardCheckpoints) {
        if let reason = checkpoints.suspended {
            checkpoints.checkpointedRecords = checkpoints.appliedRecords   // say it once per run, not per batch
            checkpoints.writer.log.debug("cluster \(name): no checkpoint (\(reason))")
            return
        }
        guard let position = journal.durablePosition, position.records == checkpoints.appliedRecords else {
            checkpoints.writer.log.debug("cluster \(name): no checkpoint now: the journal's durable records differ from the state's")
            return
        }
        let state = self.state
        let index = self.index
        let definition = checkpoints.definition
        checkpoints.writing = true
        checkpoints.checkpointedRecords = position.records
        checkpoints.writer.write(journal: name, directory: checkpoints.directory, position: position, encode: {
            var snapshot = StateSnapshot(cluster: state, definition: definition)
            index.encode(into: &snapshot)
            return snapshot.encoded()
        }, done: { [self] _ in
            queue.async { checkpoints.writing = false }
        })
    }

    /// A reload changed this cluster's config: no more checkpoints this run (see `ShardCheckpoints.suspended`).
    func suspendCheckpoints(_ reason: String) {
        checkpoints?.suspended = reason
    }
}
