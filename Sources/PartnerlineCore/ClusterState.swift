import PartnerlineProtocol

/// A cluster's rooms, rebuilt by folding its journal. Pure; no I/O.
public struct ClusterState: Sendable {
    public let name: String
    public private(set) var description: String
    public private(set) var rooms: [String: RoomState] = [:]
    /// Rooms in configured order (rooms found only in the journal follow, in order of appearance).
    public private(set) var roomOrder: [String] = []

    public init(definition: ClusterDefinition) {
        name = definition.name
        description = definition.description
        for room in definition.rooms {
            addRoom(room.name, topic: room.topic)
        }
    }

    public func room(_ name: RoomName) -> RoomState? {
        name.cluster == self.name ? rooms[name.room] : nil
    }

    public var orderedRooms: [RoomState] { roomOrder.compactMap { rooms[$0] } }

    public mutating func apply(_ entry: JournalEntry) throws {
        switch entry {
        case .event(let event):
            try withRoom(event.room) { try $0.append(event) }
        case .memberJoined(let room, let account, _):
            try withRoom(room) { $0.addMember(account) }
        case .memberLeft(let room, let account, _):
            try withRoom(room) { $0.removeMember(account) }
        case .accountRegistered:
            throw ReplayError("account record in the journal of cluster \(name)")
        }
    }

    /// Adds a live event whose line was already encoded for fan-out.
    public mutating func appendEncoded(room: RoomName, seq: UInt64, timeMillis: Int64, line: [UInt8]) {
        rooms[room.room]?.append(seq: seq, timeMillis: timeMillis, line: line)
    }

    /// Applies a changed config live: a new description, new rooms, new topics. Rooms missing from
    /// the new definition stay (their history is in the journal); the caller says so. Returns what changed.
    public mutating func reconfigure(_ definition: ClusterDefinition) -> [String] {
        var changes: [String] = []
        if definition.description != description {
            description = definition.description
            changes.append("description of \(name)")
        }
        for room in definition.rooms {
            if let existing = rooms[room.name] {
                if existing.topic != room.topic {
                    rooms[room.name]?.topic = room.topic
                    changes.append("topic of \(name)/\(room.name)")
                }
            } else {
                addRoom(room.name, topic: room.topic)
                changes.append("new room \(name)/\(room.name)")
            }
        }
        return changes
    }

    private mutating func addRoom(_ room: String, topic: String) {
        guard rooms[room] == nil else { return }
        rooms[room] = RoomState(name: RoomName(cluster: name, room: room), topic: topic)
        roomOrder.append(room)
    }

    /// A journal may name a room that was since removed from the config: keep its history
    /// rather than refuse to start or drop records.
    private mutating func withRoom(_ room: RoomName, _ change: (inout RoomState) throws -> Void) throws {
        guard room.cluster == name else {
            throw ReplayError("record for \(room) in the journal of cluster \(name)")
        }
        addRoom(room.room, topic: "")
        try change(&rooms[room.room]!)
    }
}
