import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

extension ClusterShard {
    /// HISTORY for a range that reaches back before the room's in-memory window: read it from the
    /// journal, starting at the nearest indexed event. Called on the shard queue; the read itself
    /// runs on `diskReads`. Every seq in `range` is durable (at most the room's last seq), and
    /// segments are append-only, so the read needs no lock against the writer.
    func readHistory(room: RoomName, range: ClosedRange<UInt64>,
                     reply: @escaping @Sendable (Result<[[UInt8]], DomainError>) -> Void) {
        guard let start = index.start(room: room.room, forSeq: range.lowerBound) else {
            return reply(.failure(DomainError(.internal, "no index entry for \(room) seq \(range.lowerBound)")))
        }
        let reader = journal.reader
        diskReads.async {
            do {
                let lines = try Self.read(room: room, range: range, from: start.location, reader: reader)
                guard lines.count == range.count else {
                    return reply(.failure(DomainError(.internal, "history of \(room) \(range) is incomplete in the journal")))
                }
                reply(.success(lines))
            } catch {
                reply(.failure(DomainError(.storage, "cannot read history from the journal: \(error)")))
            }
        }
    }

    /// The EV lines of `range` for `room`, read from `location` on (pure apart from the reader).
    static func read(room: RoomName, range: ClosedRange<UInt64>, from location: RecordLocation,
                     reader: JournalReader) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        lines.reserveCapacity(range.count)
        try reader.read(from: location) { payload in
            guard case .event(let event) = try JournalEntryCodec.decode(payload), event.room == room else { return true }
            if range.contains(event.seq) { lines.append(event.encodedLine()) }
            return event.seq < range.upperBound
        }
        return lines
    }
}
