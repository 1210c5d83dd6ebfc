import Dispatch
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// Something that receives a room's live EV lines (a session). Called on the shard's queue;
/// the receiver hops to its own queue.
protocol EventSubscriber: AnyObject, Sendable {
    var subscriberID: UInt64 { get }
    var accountName: String { get }
    func deliver(_ line: [UInt8])
}

/// One cluster's state, journal and subscribers, confined to its own serial queue: clusters are
/// the natural shards. Writes are group-committed per shard: while one batch is being made durable,
/// new writes queue up and go out together as the next batch, and the state changes (and fan-out)
/// happen only after a batch is durable, so no member ever sees an event a crash could lose.
final class ClusterShard: @unchecked Sendable {
    struct RoomSummary: Sendable {
        var name: RoomName
        var members: Int
        var lastSeq: UInt64
        var topic: String
    }

    struct Summary: Sendable {
        var name: String
        var description: String
        var rooms: [RoomSummary]
    }

    private enum Write {
        case event(room: RoomName, actor: String, kind: String, fields: [(String, String)], text: String?,
                   completion: @Sendable (Result<UInt64, DomainError>) -> Void)
        case join(room: RoomName, subscriber: any EventSubscriber,
                  completion: @Sendable (Result<UInt64, DomainError>) -> Void)
        case part(room: RoomName, account: String)
    }

    let name: String
    let queue: DispatchQueue
    private var state: ClusterState
    private let journal: Journal
    private var subscribers: [String: [UInt64: any EventSubscriber]] = [:]
    private var queuedWrites: [Write] = []
    private var batchInFlight = false
    private var drainWaiters: [@Sendable () -> Void] = []

    init(state: ClusterState, journal: Journal) {
        name = state.name
        queue = DispatchQueue(label: "partnerline.cluster.\(state.name)")
        self.state = state
        self.journal = journal
    }

    // MARK: Reads (answered on the shard queue)

    func summary(_ reply: @escaping @Sendable (Summary) -> Void) {
        queue.async { [self] in
            reply(Summary(name: state.name, description: state.description, rooms: state.orderedRooms.map(roomSummary)))
        }
    }

    func history(room: RoomName, after: UInt64?, before: UInt64?, limit: Int,
                 reply: @escaping @Sendable (Result<[[UInt8]], DomainError>) -> Void) {
        queue.async { [self] in
            guard let roomState = state.room(room) else { return reply(.failure(noSuchRoom(room))) }
            reply(.success(Array(roomState.history(after: after, before: before, limit: limit))))
        }
    }

    /// Members of a room, sorted, with whether each has a session joined to it now.
    func who(room: RoomName, reply: @escaping @Sendable (Result<[(String, Bool)], DomainError>) -> Void) {
        queue.async { [self] in
            guard let roomState = state.room(room) else { return reply(.failure(noSuchRoom(room))) }
            let online = Set((subscribers[room.room] ?? [:]).values.map(\.accountName))
            reply(.success(roomState.members.sorted().map { ($0, online.contains($0)) }))
        }
    }

    /// Applies a reloaded definition (new rooms, topics, description); replies with what changed.
    func reconfigure(_ definition: ClusterDefinition, reply: @escaping @Sendable ([String]) -> Void) {
        queue.async { [self] in reply(state.reconfigure(definition)) }
    }

    // MARK: Writes

    /// Stores an event; `completion` gets its seq once durable, after it was fanned out to subscribers.
    func post(room: RoomName, actor: String, kind: String, fields: [(String, String)] = [], text: String?,
              completion: @escaping @Sendable (Result<UInt64, DomainError>) -> Void) {
        queue.async { [self] in
            guard state.room(room) != nil else { return completion(.failure(noSuchRoom(room))) }
            enqueue(.event(room: room, actor: actor, kind: kind, fields: fields, text: text, completion: completion))
        }
    }

    /// Subscribes to a room's live events and makes the account a member (stored, if it is new).
    /// `completion` gets the room's last seq at the moment the subscription took effect.
    func join(room: RoomName, subscriber: any EventSubscriber,
              completion: @escaping @Sendable (Result<UInt64, DomainError>) -> Void) {
        queue.async { [self] in
            guard let roomState = state.room(room) else { return completion(.failure(noSuchRoom(room))) }
            if roomState.members.contains(subscriber.accountName) {
                subscribers[room.room, default: [:]][subscriber.subscriberID] = subscriber
                completion(.success(roomState.lastSeq))
            } else {
                enqueue(.join(room: room, subscriber: subscriber, completion: completion))
            }
        }
    }

    /// Stops live events at once and ends the account's membership.
    func part(room: RoomName, subscriber: any EventSubscriber) {
        queue.async { [self] in
            subscribers[room.room]?[subscriber.subscriberID] = nil
            if state.room(room)?.members.contains(subscriber.accountName) == true {
                enqueue(.part(room: room, account: subscriber.accountName))
            }
        }
    }

    /// A closed connection: stop delivering to it; membership stays (WHO shows it offline).
    func unsubscribe(_ subscriber: any EventSubscriber, from rooms: [RoomName]) {
        queue.async { [self] in
            for room in rooms { subscribers[room.room]?[subscriber.subscriberID] = nil }
        }
    }

    /// Blocks until every write queued so far is durable and answered (shutdown).
    func drain() {
        let done = DispatchSemaphore(value: 0)
        queue.async { [self] in
            drainWaiters.append { done.signal() }
            signalDrainedIfIdle()
        }
        done.wait()
        journal.flush()
    }

    private func signalDrainedIfIdle() {
        guard !batchInFlight, queuedWrites.isEmpty else { return }
        let waiters = drainWaiters
        drainWaiters.removeAll()
        waiters.forEach { $0() }
    }

    // MARK: Group commit

    private func enqueue(_ write: Write) {
        queuedWrites.append(write)
        if !batchInFlight { startBatch() }
    }

    /// A write with its journal entry; seqs are given out only when a batch starts, so a failed batch
    /// never leaves a gap: its seqs are given again to the next one.
    private struct Staged {
        var write: Write
        var entry: JournalEntry
        var line: [UInt8]?
    }

    private func startBatch() {
        guard !queuedWrites.isEmpty else { return signalDrainedIfIdle() }
        let writes = queuedWrites
        queuedWrites.removeAll(keepingCapacity: true)
        batchInFlight = true

        var nextSeq: [String: UInt64] = [:]
        var staged: [Staged] = []
        staged.reserveCapacity(writes.count)
        let now = Timestamp.nowMillis()
        for write in writes {
            switch write {
            case .event(let room, let actor, let kind, let fields, let text, _):
                let roomState = state.room(room)!
                let seq = (nextSeq[room.room] ?? roomState.lastSeq) + 1
                nextSeq[room.room] = seq
                // Times never go backwards within a room, even if the wall clock does.
                let event = StoredEvent(room: room, seq: seq, timeMillis: max(now, roomState.lastTimeMillis),
                                        actor: actor, kind: kind, fields: fields, text: text)
                staged.append(Staged(write: write, entry: .event(event), line: event.encodedLine()))
            case .join(let room, let subscriber, _):
                staged.append(Staged(write: write, entry: .memberJoined(room: room, account: subscriber.accountName,
                                                                        timeMillis: now)))
            case .part(let room, let account):
                staged.append(Staged(write: write, entry: .memberLeft(room: room, account: account, timeMillis: now)))
            }
        }
        let payloads = staged.map { JournalEntryCodec.encode($0.entry) }
        let batch = staged
        journal.appendBatch(payloads) { [self] result in
            queue.async { [self] in finishBatch(batch, result) }
        }
    }

    private func finishBatch(_ staged: [Staged], _ result: Result<Void, StorageError>) {
        batchInFlight = false
        switch result {
        case .success:
            for item in staged { applyDurable(item) }
        case .failure(let error):
            let refusal = DomainError(.storage, "not stored: \(error.description)")
            for item in staged {
                switch item.write {
                case .event(_, _, _, _, _, let completion), .join(_, _, let completion):
                    completion(.failure(refusal))
                case .part:
                    break  // presence already ended; membership stays until a later PART is stored
                }
            }
        }
        startBatch()
    }

    private func applyDurable(_ item: Staged) {
        switch (item.write, item.entry) {
        case (.event(let room, _, _, _, _, let completion), .event(let event)):
            let line = item.line!
            state.appendEncoded(room: room, seq: event.seq, timeMillis: event.timeMillis, line: line)
            // The poster is a subscriber too: its EV is queued to its connection before its OK.
            for subscriber in (subscribers[room.room] ?? [:]).values { subscriber.deliver(line) }
            completion(.success(event.seq))
        case (.join(let room, let subscriber, let completion), let entry):
            try? state.apply(entry)
            subscribers[room.room, default: [:]][subscriber.subscriberID] = subscriber
            completion(.success(state.room(room)?.lastSeq ?? 0))
        case (.part, let entry):
            try? state.apply(entry)
        default:
            assertionFailure("staged write and entry disagree")
        }
    }

    private func roomSummary(_ room: RoomState) -> RoomSummary {
        RoomSummary(name: room.name, members: room.members.count, lastSeq: room.lastSeq, topic: room.topic)
    }

    private func noSuchRoom(_ room: RoomName) -> DomainError {
        DomainError(.noSuchRoom, "no room \(room.room) in cluster \(room.cluster)")
    }
}
