import PartnerlineProtocol

/// A cluster's rooms, rebuilt by folding its journal. Pure; no I/O.
public struct ClusterState: Sendable {
    public let name: String
    public internal(set) var description: String
    public internal(set) var rooms: [String: RoomState] = [:]
    /// Rooms in configured order (rooms found only in the journal follow, in order of appearance).
    public internal(set) var roomOrder: [String] = []
    /// Needs, offers, proposals and funding alerts, folded from the same room events.
    public internal(set) var items = ItemBook()
    /// Who may become a new member (set by POLICY).
    public internal(set) var membershipPolicy: MembershipPolicy = .open
    /// Accounts that are members of the cluster: approved, or ever joined one of its rooms.
    public internal(set) var clusterMembers: Set<String> = []
    /// JOINs refused under `approval`, waiting for a facilitator: account -> when it asked.
    public internal(set) var joinRequests: [String: Int64] = [:]
    /// Muted accounts per room (the room part of the name).
    public internal(set) var muted: [String: Set<String>] = [:]

    /// Events per room kept in memory (older ones are read back from the journal).
    public let historyWindow: Int

    public init(definition: ClusterDefinition, historyWindow: Int = RoomState.defaultHistoryWindow) {
        name = definition.name
        description = definition.description
        self.historyWindow = historyWindow
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
            foldRoomChange(event)
            items.apply(event)
        case .readMarker(let room, let account, let seq, _):
            try withRoom(room) { $0.markRead(account, seq: seq) }
        case .memberJoined(let room, let account, _):
            try withRoom(room) { $0.addMember(account) }
            clusterMembers.insert(account)
            joinRequests[account] = nil
        case .memberLeft(let room, let account, _):
            try withRoom(room) { $0.removeMember(account) }
        case .accountRegistered, .roleGranted, .roleRevoked, .inviteCreated:
            throw ReplayError("account record in the journal of cluster \(name)")
        case .roomCreated(let room, let topic, _, _):
            try withRoom(room) { $0.topic = topic }
        case .topicSet(let room, let topic, _, _):
            try withRoom(room) { $0.topic = topic }
        case .muted(let room, let account, _, _, _):
            try withRoom(room) { _ in }
            muted[room.room, default: []].insert(account)
        case .unmuted(let room, let account, _, _):
            muted[room.room]?.remove(account)
        case .membershipPolicy(_, let policy, _, _):
            membershipPolicy = policy
        case .memberApproved(_, let account, _, _):
            clusterMembers.insert(account)
            joinRequests[account] = nil
        case .joinRequested(_, let account, let time):
            if !clusterMembers.contains(account) { joinRequests[account] = time }
        case .requestDenied(_, let account, _, _):
            joinRequests[account] = nil
        }
    }

    /// Encodes the EV lines of replayed events still in each room's window (see RoomState.deferred).
    public mutating func encodeDeferredLines() {
        for room in roomOrder { rooms[room]?.encodeDeferredLines() }
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

    /// The waiting requests, oldest first (REQUESTS).
    public var orderedJoinRequests: [(account: String, timeMillis: Int64)] {
        joinRequests.map { ($0.key, $0.value) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }

    /// Whether a refused JOIN by `account` is to be stored as a request: under `approval`, for an
    /// account that is not a member and has none waiting.
    public func takesRequest(from account: String) -> Bool {
        membershipPolicy == .approval && joinRequests[account] == nil && !clusterMembers.contains(account)
    }

    /// The record of a refused JOIN kept for the facilitators, or nil when `takesRequest` says no.
    public func joinRequest(account: String, timeMillis: Int64) -> JournalEntry? {
        takesRequest(from: account) ? .joinRequested(cluster: name, account: account, timeMillis: timeMillis) : nil
    }

    /// Room changes are room events (protocol 1.1): ROOM makes the room (its text is the topic),
    /// TOPIC sets the topic, MUTE and UNMUTE (`account=`) stop and allow posting. The room itself
    /// exists already (a ROOM event is the first event of the room it makes).
    private mutating func foldRoomChange(_ event: StoredEvent) {
        let room = event.room.room
        switch event.kind {
        case RoomChange.created, RoomChange.topic:
            rooms[room]?.topic = event.text ?? ""
        case RoomChange.muted:
            if let account = event.field("account") { muted[room, default: []].insert(account) }
        case RoomChange.unmuted:
            if let account = event.field("account") { muted[room]?.remove(account) }
        default:
            break
        }
    }

    public func isMuted(_ account: String, in room: RoomName) -> Bool {
        muted[room.room]?.contains(account) ?? false
    }

    /// Why `account` may not join a room of this cluster for the first time, or nil when it may.
    /// Members stay members whatever the policy; facilitators and admins (`moderates`) always may;
    /// an account invited to this cluster by a facilitator's code counts as approved.
    public func joinRefusal(account: String, moderates: Bool, invitedHere: Bool) -> DomainError? {
        guard !clusterMembers.contains(account), !moderates else { return nil }
        switch membershipPolicy {
        case .open:
            return nil
        case .approval:
            if invitedHere { return nil }
            return joinRequests[account] != nil
                ? DomainError(.forbidden, "your request to join \(name) is waiting for a facilitator (APPROVE or DENY)")
                : DomainError(.forbidden, "new members of \(name) need a facilitator's approval: your request is recorded and its facilitators are told")
        case .closed:
            return DomainError(.forbidden, "\(name) is closed to new members")
        }
    }

    /// Judges a facilitator's action and says what to store, or why not (and nothing changes).
    /// Room changes are events of the room (the shard gives them their seq); policy and approval
    /// change the cluster and are records.
    public func prepare(_ action: ModerationAction, by actor: String, timeMillis: Int64) -> Result<ModerationOutcome, DomainError> {
        func existing(_ room: RoomName) -> DomainError? {
            self.room(room) == nil ? DomainError(.noSuchRoom, "no room \(room.room) in cluster \(name)") : nil
        }
        func event(_ room: RoomName, _ kind: String, _ fields: [(String, String)], _ text: String?) -> Result<ModerationOutcome, DomainError> {
            .success(.event(EventDraft(room: room, actor: actor, kind: kind, fields: fields, text: text)))
        }
        switch action {
        case .createRoom(let room, let topic):
            guard room.cluster == name else { return .failure(DomainError(.noSuchCluster, "\(room.cluster) is not \(name)")) }
            guard rooms[room.room] == nil else { return .failure(DomainError(.invalidState, "\(room) already exists")) }
            return event(room, RoomChange.created, [], topic.isEmpty ? nil : topic)
        case .setTopic(let room, let topic):
            if let refusal = existing(room) { return .failure(refusal) }
            return event(room, RoomChange.topic, [], topic.isEmpty ? nil : topic)
        case .mute(let room, let account, let reason):
            if let refusal = existing(room) { return .failure(refusal) }
            guard !isMuted(account, in: room) else { return .failure(DomainError(.invalidState, "\(account) is already muted in \(room)")) }
            return event(room, RoomChange.muted, [("account", account)], reason)
        case .unmute(let room, let account):
            if let refusal = existing(room) { return .failure(refusal) }
            guard isMuted(account, in: room) else { return .failure(DomainError(.invalidState, "\(account) is not muted in \(room)")) }
            return event(room, RoomChange.unmuted, [("account", account)], nil)
        case .setPolicy(let policy):
            guard policy != membershipPolicy else {
                return .failure(DomainError(.invalidState, "\(name) is already \(policy.rawValue)"))
            }
            return .success(.record(.membershipPolicy(cluster: name, policy: policy, by: actor, timeMillis: timeMillis)))
        case .approve(let account):
            guard !clusterMembers.contains(account) else {
                return .failure(DomainError(.invalidState, "\(account) is already a member of \(name)"))
            }
            return .success(.record(.memberApproved(cluster: name, account: account, by: actor, timeMillis: timeMillis)))
        case .deny(let account):
            guard joinRequests[account] != nil else {
                return .failure(DomainError(.invalidState, "\(account) has no request to join \(name)"))
            }
            return .success(.record(.requestDenied(cluster: name, account: account, by: actor, timeMillis: timeMillis)))
        }
    }

    /// Judges MARK: the record that moves `account`'s read marker in `room` to `seq`, nil when the
    /// marker is already there or further (forward only: nothing to store), or why not. A seq
    /// beyond the room's last event is INVALID_STATE (the syntax is fine; the room has no such event).
    public func prepareMark(room name: RoomName, account: String, seq: UInt64, timeMillis: Int64) -> Result<JournalEntry?, DomainError> {
        guard let room = room(name) else {
            return .failure(DomainError(.noSuchRoom, "no room \(name.room) in cluster \(self.name)"))
        }
        guard room.members.contains(account) else { return .failure(DomainError(.notJoined, "JOIN \(name) first")) }
        guard seq <= room.lastSeq else {
            return .failure(DomainError(.invalidState, "\(name) has no event \(seq) (its last is \(room.lastSeq))"))
        }
        guard seq > room.readMarker(of: account) else { return .success(nil) }
        return .success(.readMarker(room: name, account: account, seq: seq, timeMillis: timeMillis))
    }

    /// Adds a live event with its already-encoded line, and folds it into the items and the rooms
    /// (a ROOM event makes its room first).
    public mutating func append(_ event: StoredEvent, line: [UInt8]) {
        if event.kind == RoomChange.created { addRoom(event.room.room, topic: "") }
        rooms[event.room.room]?.append(seq: event.seq, timeMillis: event.timeMillis, line: line)
        foldRoomChange(event)
        items.apply(event)
    }

    private mutating func addRoom(_ room: String, topic: String) {
        guard rooms[room] == nil else { return }
        rooms[room] = RoomState(name: RoomName(cluster: name, room: room), topic: topic, historyWindow: historyWindow)
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

/// What a judged moderation action stores: a room event (ROOM, TOPIC, MUTE, UNMUTE), or a record
/// of the cluster (POLICY, APPROVE).
public enum ModerationOutcome: Sendable {
    case event(EventDraft)
    case record(JournalEntry)
}

/// The kinds of the room events that change a room (protocol 1.1: seen live and in HISTORY).
/// `EV <room> <seq> <time> <by> ROOM :<topic>`, `TOPIC :<topic>`, `MUTE account=<a> :<reason>`,
/// `UNMUTE account=<a>`.
public enum RoomChange {
    public static let created = "ROOM"
    public static let topic = "TOPIC"
    public static let muted = "MUTE"
    public static let unmuted = "UNMUTE"
}

/// What facilitators (and admins) do to a cluster. Pure data; judged by `ClusterState.prepare`.
public enum ModerationAction: Sendable {
    case createRoom(RoomName, topic: String)
    case setTopic(RoomName, topic: String)
    case mute(RoomName, account: String, reason: String?)
    case unmute(RoomName, account: String)
    case setPolicy(MembershipPolicy)
    case approve(account: String)
    /// Drops a JOIN request (DENY).
    case deny(account: String)
}
