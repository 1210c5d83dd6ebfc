import PartnerlineCore
import PartnerlineStore

/// `verify`'s check of a journal's newest checkpoint: the journal is replayed from its first record up
/// to the checkpoint's position, and the state folded so (the same fold the server runs) must equal the
/// checkpoint's, section by section; the position's head hash and offsets must be the journal's.
/// Read-only; safe beside a running server. A mismatch is a fault: start would fall back to an older
/// checkpoint or a full replay, but something wrote a checkpoint the journal does not support.
enum CheckpointVerifier {
    /// The report lines for one journal (none when it has no checkpoint), and how many are faults.
    /// A journal with faults of its own is not replayed again: its checkpoint is named, not checked.
    static func check(_ journal: DataDirectory.JournalLocation, journalHasFaults: Bool) -> (lines: [String], faults: Int) {
        guard let newest = CheckpointFiles.list(directory: journal.path).first else { return ([], 0) }
        let name = newest.path.split(separator: "/").last.map(String.init) ?? newest.path
        if journalHasFaults {
            return (["\(journal.name): checkpoint \(name) not checked: the journal has faults (above); start replays only what a checkpoint does not cover, so fix or restore the journal first"], 0)
        }
        let label = "\(journal.name): checkpoint \(newest.path)"
        let checkpoint: Checkpoint
        let snapshot: StateSnapshot
        do {
            checkpoint = try CheckpointFiles.load(path: newest.path)
            snapshot = try StateSnapshot(decoding: checkpoint.body)
        } catch let error as CheckpointFileError {
            return (["FAULT \(label): \(error.reason) (start falls back to an older checkpoint or the whole journal)"], 1)
        } catch {
            return (["FAULT \(label): cannot decode it: \(error) (start falls back to an older checkpoint or the whole journal)"], 1)
        }
        let position = checkpoint.position
        do {
            let replayed: StateSnapshot
            let prefix: JournalPrefix
            if journal.name == "accounts" {
                var registry = AccountRegistry()
                prefix = try JournalVerifier.replayPrefix(directory: journal.path, records: position.records) { payload, _ in
                    try registry.apply(JournalEntryCodec.decode(payload))
                }
                replayed = StateSnapshot(accounts: registry)
            } else {
                let made = try snapshot.clusterDefinition()
                var state = ClusterState(definition: made.definition, historyWindow: made.historyWindow)
                var index = HistoryIndex()
                prefix = try JournalVerifier.replayPrefix(directory: journal.path, records: position.records) { payload, location in
                    let entry = try JournalEntryCodec.decode(payload)
                    try state.apply(entry)
                    if case .event(let event) = entry { index.note(room: event.room.room, seq: event.seq, at: location) }
                }
                var sections = StateSnapshot(cluster: state, definition: made.definition)
                index.encode(into: &sections)
                replayed = sections
            }
            if let fault = prefix.fault {
                return (["FAULT \(label): the journal's first \(position.records) records cannot be replayed: \(fault)"], 1)
            }
            guard prefix.records == position.records, let found = prefix.position else {
                return (["FAULT \(label): covers \(position.records) records, the journal holds only \(prefix.records)"], 1)
            }
            guard found == position else {
                return (["FAULT \(label): the journal at record #\(position.records) is \(found), the checkpoint says \(position)"], 1)
            }
            if let difference = snapshot.firstDifference(from: replayed) {
                return (["FAULT \(label): its state is not what a full replay of its \(position.records) records gives: \(difference)"], 1)
            }
            return (["\(journal.name): checkpoint \(name) records=\(position.records) head=\(position.headHashHex) matches a full replay"], 0)
        } catch {
            return (["FAULT \(label): \(error)"], 1)
        }
    }
}
