import PartnerlineCore
import PartnerlineStore

/// A sparse index of where room events sit in a cluster's journal: the location of every
/// `stride`-th event of each room (seq 1, stride+1, 2*stride+1, ...). HISTORY beyond the
/// in-memory window starts reading at the nearest indexed event at or below the first seq it
/// needs, so it reads at most `stride` events of that room (plus other rooms' records between
/// them) before reaching its range. Rebuilt while the journal is replayed at start; grows by one
/// entry per `stride` events (16 bytes per 64 events by default), not with the events themselves.
struct HistoryIndex: Sendable {
    static let defaultStride: UInt64 = 64

    let stride: UInt64
    /// Per room: entry i is the location of seq i*stride + 1.
    private var entries: [String: [RecordLocation]] = [:]

    init(stride: UInt64 = HistoryIndex.defaultStride) {
        self.stride = max(1, stride)
    }

    /// Notes where an event was stored; events of a room arrive in seq order.
    mutating func note(room: String, seq: UInt64, at location: RecordLocation) {
        guard seq >= 1, (seq - 1) % stride == 0 else { return }
        let slot = Int((seq - 1) / stride)
        guard slot == entries[room]?.count ?? 0 else { return }  // already noted (or a gap, which replay refuses)
        entries[room, default: []].append(location)  // in place: no copy of the room's list
    }

    /// The indexed event nearest at or below `seq`: where to start reading for it.
    func start(room: String, forSeq seq: UInt64) -> (seq: UInt64, location: RecordLocation)? {
        guard seq >= 1, let list = entries[room], !list.isEmpty else { return nil }
        let slot = min(Int((seq - 1) / stride), list.count - 1)
        return (UInt64(slot) * stride + 1, list[slot])
    }

    /// Entries held, over all rooms (for tests and the memory claim above).
    var entryCount: Int { entries.values.reduce(0) { $0 + $1.count } }
}

extension HistoryIndex {
    /// The `history-index` section of a cluster's checkpoint: the stride, then each room's
    /// locations (sorted by room, so one index has one encoding).
    func encode(into snapshot: inout StateSnapshot) {
        snapshot.add("history-index") { w in
            w.varint(stride)
            let rooms = entries.sorted { $0.key < $1.key }
            w.int(rooms.count)
            for (room, locations) in rooms {
                w.string(room)
                w.int(locations.count)
                for location in locations {
                    w.int(location.segment)
                    w.int(location.offset)
                }
            }
        }
    }

    init(snapshot: StateSnapshot) throws(SnapshotDecodingError) {
        guard let section = snapshot.section("history-index") else { throw SnapshotDecodingError("no section 'history-index'") }
        var r = SnapshotReader(section.bytes)
        self.init(stride: try r.varint())
        let rooms = try r.count()
        for _ in 0..<rooms {
            let room = try r.string()
            let count = try r.count()
            var locations: [RecordLocation] = []
            locations.reserveCapacity(count)
            for _ in 0..<count { locations.append(RecordLocation(segment: try r.int(), offset: try r.int())) }
            entries[room] = locations
        }
    }
}
