import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// Where and how a post's result is answered: `completion` always runs on `queue`.
struct PostReply: Sendable {
    let queue: DispatchQueue
    let completion: @Sendable (Result<UInt64, DomainError>) -> Void

    /// Answers from any queue by hopping to `queue` (refusals; a stored post rides the outbox).
    func send(_ result: Result<UInt64, DomainError>) {
        let completion = completion
        queue.async { completion(result) }
    }
}

/// Something that receives live EV lines (a session), through a shard's FanoutOutbox.
protocol EventSubscriber: AnyObject, Sendable {
    var subscriberID: UInt64 { get }
    var accountName: String { get }
    /// The serial I/O queue the subscriber lives on; batched deliveries run there.
    var deliveryQueue: DispatchQueue { get }
    /// Called ON `deliveryQueue` with a batch's lines for one room, in seq order.
    func deliverOnQueue(_ lines: [[UInt8]])
    /// Called on the shard's queue when another connection of the account joined `room` (every
    /// logged-in connection of a member receives the room's events), before any line of it is
    /// delivered; and when the account's membership ended (PART on another connection).
    func attached(to room: RoomName, shard: ClusterShard)
    func detached(from room: RoomName)
}

extension EventSubscriber {
    func attached(to room: RoomName, shard: ClusterShard) {}
    func detached(from room: RoomName) {}
}

/// What an item command came to: its stored events (the item's own first, then any MATCH), or,
/// for a FUNDING whose `ref=` the cluster knows already, the alert first posted with it (nothing stored).
enum ItemOutcome: Sendable {
    case stored([StoredEvent])
    case duplicate(of: Item)
}

/// One room a LOGIN resumed: its newest seq at the moment the connection was attached, and the
/// account's read marker.
struct ResumedRoom: Sendable, Equatable {
    var room: RoomName
    var last: UInt64
    var read: UInt64
}

/// A HISTORY page: its lines (oldest first) and whether the bounds hold more beyond it.
struct HistoryReply: Sendable {
    var lines: [[UInt8]]
    var more: Bool
}

/// What the permission gate reads of a cluster from any queue: its rooms and its members. The shard
/// publishes a new copy whenever they change (the sets are copy-on-write, so publishing is cheap), before
/// it answers the command that changed them, so the command after a JOIN already sees the membership.
final class ClusterAccessView: @unchecked Sendable {
    private let lock = NSLock()
    private var rooms: Set<String> = []
    private var members: Set<String> = []

    func publish(_ state: ClusterState) {
        let rooms = Set(state.rooms.keys)
        let members = state.clusterMembers
        lock.lock()
        self.rooms = rooms
        self.members = members
        lock.unlock()
    }

    func roomExists(_ room: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return rooms.contains(room)
    }

    func isMember(_ account: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return members.contains(account)
    }
}

/// One cluster's state, journal and subscribers, confined to its own serial queue: clusters are
/// the natural shards. The shard is its journal's one batcher: the writes queued on its queue are
/// the batch. A batch runs in one turn of the queue (`runBatch`): stage (seqs, judgement against
/// the batch's earlier writes), one journal write and, per the fsync policy, one fdatasync on this
/// very thread (`Journal.write`), then apply and hand each I/O queue its block. Writes that arrive
/// meanwhile queue up behind the turn and become the next batch; the state changes (and fan-out)
/// happen only after a batch is durable, so no member ever sees an event a crash could lose.
///
/// Why on the shard's own queue, rather than a journal queue of its own: the old path batched
/// twice (the shard kept one batch in flight, the journal gathered again) and spent two thread
/// hops per batch (shard -> journal writer -> shard) that did no work. A read (HISTORY, WHO,
/// ROOMS, HEAD) queued behind a batch now waits for at most one batch: at most
/// `max_batch_records` records, one write and one fsync; the `batch` window is a timer, not a
/// sleep, so reads run while a batch waits for company.
final class ClusterShard: @unchecked Sendable {
    struct RoomSummary: Sendable {
        var name: RoomName
        var members: Int
        var lastSeq: UInt64
        var topic: String
        /// The asking account's read marker, for rooms it is a member of (ROOMS shows `read=`).
        var read: UInt64? = nil
    }

    struct Summary: Sendable {
        var name: String
        var description: String
        var rooms: [RoomSummary]
    }

    private enum Write {
        case event(room: RoomName, actor: String, kind: String, fields: [(String, String)], text: String?,
                   reply: PostReply)
        case join(room: RoomName, subscriber: any EventSubscriber,
                  completion: @Sendable (Result<UInt64, DomainError>) -> Void)
        /// A JOIN refused under `approval`: its request is stored, then `requested` runs and the JOIN
        /// is answered with `refusal`.
        case joinRequest(account: String, refusal: DomainError, requested: @Sendable () -> Void,
                         completion: @Sendable (Result<UInt64, DomainError>) -> Void)
        case part(room: RoomName, account: String)
        /// An item command, judged against the items as they will be when the batch before it is applied.
        case items(ItemAction, actor: String, moderates: Bool,
                   completion: @Sendable (Result<ItemOutcome, DomainError>) -> Void)
        /// MARK: `completion` gets the marker afterwards and whether it moved.
        case mark(room: RoomName, account: String, seq: UInt64,
                  completion: @Sendable (Result<(read: UInt64, moved: Bool), DomainError>) -> Void)
        /// A facilitator's action, judged against the cluster as it will be when the batch before it is applied.
        case moderation(ModerationAction, actor: String, completion: @Sendable (Result<Void, DomainError>) -> Void)
        /// Expiry and reminders due now, posted by `*server`; `completion` gets how many events were stored.
        case sweep(reminderDays: [Int], completion: @Sendable (Result<Int, DomainError>) -> Void)
    }

    let name: String
    let queue: DispatchQueue
    private(set) var state: ClusterState
    /// Rooms and members for the permission gate, readable from any queue.
    let accessView = ClusterAccessView()
    let journal: Journal
    private var subscribers: [String: [UInt64: any EventSubscriber]] = [:]
    private var queuedWrites: [Write] = []
    /// The batch run due on the queue, if any (`waits`: it is waiting out the `batch` window).
    /// A run whose id is no longer this one was superseded (the batch filled up early) and does nothing.
    private var scheduledRun: (id: UInt64, waits: Bool)?
    private var lastRunID: UInt64 = 0
    /// Window, batch size and sync of the journal's fsync policy.
    private let groupCommit: GroupCommit
    private var drainWaiters: [@Sendable () -> Void] = []
    /// Where each room's events sit in the journal, for HISTORY beyond the in-memory window.
    private(set) var index: HistoryIndex
    /// Reads of old history run here, off the shard queue, so they never hold up writes.
    let diskReads: DispatchQueue
    /// Where MATCH and watched events go beyond the room's own subscribers.
    private let online: OnlineDirectory?
    /// Event times and expiry decisions; tests move it forward.
    private let clock: @Sendable () -> Int64
    /// The need/offer pair of the last MATCH sent to sessions outside its rooms (see `applyItemEvent`).
    private var lastDirectMatch = ""
    /// PART records queued or in flight, per "room account": a JOIN right after a PART must store
    /// its own record, or the PART, once durable, would end a membership the JOIN meant to keep.
    private var pendingParts: [String: Int] = [:]
    /// Checkpoint bookkeeping (see Checkpointing.swift); nil when checkpoints are off.
    var checkpoints: ShardCheckpoints?

    init(state: ClusterState, journal: Journal, index: HistoryIndex = HistoryIndex(), online: OnlineDirectory? = nil,
         clock: @escaping @Sendable () -> Int64 = { Timestamp.nowMillis() }) {
        name = state.name
        queue = DispatchQueue(label: "partnerline.cluster.\(state.name)")
        diskReads = DispatchQueue(label: "partnerline.cluster.\(state.name).history")
        self.state = state
        self.journal = journal
        self.groupCommit = journal.groupCommit
        self.index = index
        self.online = online
        self.clock = clock
        accessView.publish(state)
    }

    /// The items as replayed (read once at start, before the shard serves anyone).
    var replayedItems: ItemBook { state.items }

    // MARK: Reads (answered on the shard queue)

    /// The cluster and its rooms; with `account`, each room it is a member of carries its read marker.
    func summary(for account: String? = nil, _ reply: @escaping @Sendable (Summary) -> Void) {
        queue.async { [self] in
            reply(Summary(name: state.name, description: state.description,
                          rooms: state.orderedRooms.map { roomSummary($0, for: account) }))
        }
    }

    /// A HISTORY page (see `RoomState.historyPage`), from memory or, beyond the window, the journal.
    func history(room: RoomName, after: UInt64?, before: UInt64?, limit: Int,
                 reply: @escaping @Sendable (Result<HistoryReply, DomainError>) -> Void) {
        queue.async { [self] in
            guard let roomState = state.room(room) else { return reply(.failure(noSuchRoom(room))) }
            let page = roomState.historyPage(after: after, before: before, limit: limit)
            guard let range = page.range else { return reply(.success(HistoryReply(lines: [], more: false))) }
            if let lines = roomState.lines(in: range) { return reply(.success(HistoryReply(lines: lines, more: page.more))) }
            let more = page.more
            readHistory(room: room, range: range) { result in reply(result.map { HistoryReply(lines: $0, more: more) }) }
        }
    }

    /// Resume on LOGIN: attaches `subscriber` to every room of this cluster its account is a member
    /// of, and says each room's last seq at that moment (on the shard queue, so no event can fall
    /// between that seq and the first live line) with the account's read marker.
    func resume(_ subscriber: any EventSubscriber, reply: @escaping @Sendable ([ResumedRoom]) -> Void) {
        queue.async { [self] in
            let account = subscriber.accountName
            var resumed: [ResumedRoom] = []
            for roomState in state.orderedRooms where isMember(account, of: roomState) {
                subscribers[roomState.name.room, default: [:]][subscriber.subscriberID] = subscriber
                resumed.append(ResumedRoom(room: roomState.name, last: roomState.lastSeq, read: roomState.readMarker(of: account)))
            }
            reply(resumed)
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
        queue.async { [self] in
            let changes = state.reconfigure(definition)
            if !changes.isEmpty { suspendCheckpoints("its config was reloaded with changes: \(changes.joined(separator: ", "))") }
            accessView.publish(state)
            reply(changes)
        }
    }

    // MARK: Writes

    /// Stores an event; `completion` gets its seq once durable, after it was fanned out to subscribers.
    /// `completion` runs on `replyQueue` (the poster's I/O queue): a stored post's reply rides in
    /// the batch's block for that queue, right after the lines, instead of costing a hop of its own.
    func post(room: RoomName, actor: String, kind: String, fields: [(String, String)] = [], text: String?,
              replyQueue: DispatchQueue, completion: @escaping @Sendable (Result<UInt64, DomainError>) -> Void) {
        let reply = PostReply(queue: replyQueue, completion: completion)
        queue.async { [self] in
            guard let roomState = state.room(room) else { return reply.send(.failure(noSuchRoom(room))) }
            // The session's gate checked its own view; membership may have ended since (a PART on
            // another connection of the account), and this is where it is known for sure.
            guard isMember(actor, of: roomState) else { return reply.send(.failure(Self.notJoined(room))) }
            if state.isMuted(actor, in: room) { return reply.send(.failure(Self.muted(room))) }
            enqueue(.event(room: room, actor: actor, kind: kind, fields: fields, text: text, reply: reply))
        }
    }

    /// Subscribes to a room's live events and makes the account a member (stored, if it is new).
    /// `completion` gets the room's last seq at the moment the subscription took effect.
    /// A first JOIN in the cluster is judged by its membership policy (`moderates`: a facilitator or
    /// admin; `invitedHere`: registered with a facilitator's invite to this cluster).
    /// Under `approval`, a refused first JOIN is stored as a request (once; `requested` runs when it is
    /// durable, to tell the facilitators) and still answered with the refusal.
    func join(room: RoomName, subscriber: any EventSubscriber, moderates: Bool = false, invitedHere: Bool = false,
              requested: @escaping @Sendable () -> Void = {},
              completion: @escaping @Sendable (Result<UInt64, DomainError>) -> Void) {
        queue.async { [self] in
            guard let roomState = state.room(room) else { return completion(.failure(noSuchRoom(room))) }
            if let refusal = state.joinRefusal(account: subscriber.accountName, moderates: moderates, invitedHere: invitedHere) {
                if state.takesRequest(from: subscriber.accountName) {
                    return enqueue(.joinRequest(account: subscriber.accountName, refusal: refusal, requested: requested,
                                                completion: completion))
                }
                return completion(.failure(refusal))
            }
            if isMember(subscriber.accountName, of: roomState) {
                subscribers[room.room, default: [:]][subscriber.subscriberID] = subscriber
                attachOtherConnections(of: subscriber, to: room)
                completion(.success(roomState.lastSeq))
            } else {
                enqueue(.join(room: room, subscriber: subscriber, completion: completion))
            }
        }
    }

    /// Stops live events at once, for every connection of the account, and ends its membership.
    func part(room: RoomName, subscriber: any EventSubscriber) {
        queue.async { [self] in
            subscribers[room.room]?[subscriber.subscriberID] = nil
            for (id, other) in subscribers[room.room] ?? [:] where other.accountName == subscriber.accountName {
                subscribers[room.room]?[id] = nil
                other.detached(from: room)
            }
            if state.room(room)?.members.contains(subscriber.accountName) == true {
                pendingParts["\(room.room) \(subscriber.accountName)", default: 0] += 1
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

    /// Runs an item command; `completion` gets its stored events (the item's own first, then any MATCH)
    /// once they are durable and fanned out, the first alert for a FUNDING whose ref is known, or
    /// the refusal (and nothing was stored).
    func items(_ action: ItemAction, actor: String, moderates: Bool,
               completion: @escaping @Sendable (Result<ItemOutcome, DomainError>) -> Void) {
        queue.async { [self] in
            if case .create(let draft) = action {
                guard let roomState = state.room(draft.room) else { return completion(.failure(noSuchRoom(draft.room))) }
                guard isMember(actor, of: roomState) else { return completion(.failure(Self.notJoined(draft.room))) }
            }
            enqueue(.items(action, actor: actor, moderates: moderates, completion: completion))
        }
    }

    /// MARK: moves `account`'s read marker in `room` forward to `seq` (stored before `completion`
    /// says it moved); a seq at or below the marker changes nothing and stores nothing.
    func mark(room: RoomName, account: String, seq: UInt64,
              completion: @escaping @Sendable (Result<(read: UInt64, moved: Bool), DomainError>) -> Void) {
        queue.async { [self] in enqueue(.mark(room: room, account: account, seq: seq, completion: completion)) }
    }

    /// Runs a facilitator's action; `completion` once its record or event is durable (and the event
    /// fanned out to the room's members), or with the refusal.
    func moderate(_ action: ModerationAction, actor: String, completion: @escaping @Sendable (Result<Void, DomainError>) -> Void) {
        queue.async { [self] in enqueue(.moderation(action, actor: actor, completion: completion)) }
    }

    /// Posts the expiries and reminders due now.
    func sweep(reminderDays: [Int], completion: @escaping @Sendable (Result<Int, DomainError>) -> Void) {
        queue.async { [self] in enqueue(.sweep(reminderDays: reminderDays, completion: completion)) }
    }

    /// Reads the items with `body` on the shard queue.
    func readItems<T: Sendable>(_ body: @escaping @Sendable (ItemBook, ClusterState) -> T, reply: @escaping @Sendable (T) -> Void) {
        queue.async { [self] in reply(body(state.items, state)) }
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
        guard scheduledRun == nil, queuedWrites.isEmpty else { return }
        let waiters = drainWaiters
        drainWaiters.removeAll()
        waiters.forEach { $0() }
    }

    // MARK: Group commit

    /// Queues a write for the next batch and makes sure a run of it is due: at once, or, under
    /// `batch` with a window, that long after the batch's first write, unless it fills up first.
    private func enqueue(_ write: Write) {
        queuedWrites.append(write)
        let wait = groupCommit.waitMicros(holding: queuedWrites.count)
        if let scheduled = scheduledRun {
            if scheduled.waits && wait == 0 { scheduleRun(afterMicros: 0) }   // full before its window ended
        } else {
            scheduleRun(afterMicros: wait)
        }
    }

    /// The run goes on the queue behind what is already there, so every write whose block is
    /// queued now (posts that arrived during the last fsync) joins the batch.
    private func scheduleRun(afterMicros wait: Int) {
        lastRunID &+= 1
        let id = lastRunID
        scheduledRun = (id, wait > 0)
        if wait > 0 {
            queue.asyncAfter(deadline: .now() + .microseconds(wait)) { [self] in run(id) }
        } else {
            queue.async { [self] in run(id) }
        }
    }

    private func run(_ id: UInt64) {
        guard scheduledRun?.id == id else { return }
        scheduledRun = nil
        runBatch()
        // Writes left over (beyond max_batch_records, or waiting on this batch) already waited
        // their turn: the next run is due at once, behind whatever reads queued up meanwhile.
        if queuedWrites.isEmpty { signalDrainedIfIdle() } else { scheduleRun(afterMicros: 0) }
    }

    /// A write with its journal entry; seqs are given out only when a batch starts, so a failed batch
    /// never leaves a gap: its seqs are given again to the next one.
    private struct Staged {
        var write: Write
        var entry: JournalEntry
        var line: [UInt8]?
        /// The last record of its write: the write is answered when this one is applied.
        var isLast = true
        /// For item writes, on the last record: every event of the write.
        var events: [StoredEvent] = []
    }

    /// One batch, in one turn of the queue: stage the queued writes (up to max_batch_records
    /// records), write and sync them (`Journal.write`, on this thread), apply and fan out.
    private func runBatch() {
        guard !queuedWrites.isEmpty else { return }
        let writes = queuedWrites
        queuedWrites.removeAll(keepingCapacity: true)

        var nextSeq: [String: UInt64] = [:]
        var staged: [Staged] = []
        staged.reserveCapacity(writes.count)
        let now = clock()
        // Item writes are judged against the items with this batch's earlier writes applied, so two
        // writes in one batch cannot both pass a check that only one of them may (e.g. two STATUS moves).
        var working: ItemBook?
        var workingState: ClusterState?
        // Writes whose answer depends on a write earlier in this batch that is not durable yet (a
        // second FUNDING with the same ref, a MARK below a marker this batch moves): they wait for
        // the next batch and are judged against the durable state then.
        var waitForNextBatch: [Write] = []
        func stage(_ drafts: [EventDraft], for write: Write) {
            var events: [StoredEvent] = []
            for draft in drafts {
                // A ROOM event makes its room: its seq is 1.
                let roomState = state.room(draft.room)
                let seq = (nextSeq[draft.room.room] ?? roomState?.lastSeq ?? 0) + 1
                nextSeq[draft.room.room] = seq
                let event = draft.stored(seq: seq, timeMillis: max(now, roomState?.lastTimeMillis ?? 0))
                working?.apply(event)
                events.append(event)
            }
            for (index, event) in events.enumerated() {
                let last = index == events.count - 1
                staged.append(Staged(write: write, entry: .event(event), line: event.encodedLine(), isLast: last,
                                     events: last ? events : []))
            }
        }
        // Whole writes only: a write's records (an item and its MATCH) are never split across
        // batches, so a write that would take the batch past the limit waits for the next one
        // (a single write larger than the limit goes alone).
        var next = 0
        var full = false
        while next < writes.count, !full, staged.count < groupCommit.maxRecords {
            let write = writes[next]
            next += 1
            let stagedBefore = staged.count
            defer {
                if stagedBefore > 0 && staged.count > groupCommit.maxRecords {
                    // Nothing of it was answered or applied yet, and the working copies that saw
                    // it are dropped with this batch: it is judged again in the next.
                    staged.removeLast(staged.count - stagedBefore)
                    next -= 1
                    full = true
                }
            }
            switch write {
            case .moderation(let action, let actor, let completion):
                if workingState == nil { workingState = state }
                switch workingState!.prepare(action, by: actor, timeMillis: now) {
                case .success(.record(let entry)):
                    try? workingState!.apply(entry)
                    staged.append(Staged(write: write, entry: entry, line: nil))
                case .success(.event(let draft)):
                    let before = staged.count
                    stage([draft], for: write)
                    for item in staged[before...] { try? workingState!.apply(item.entry) }
                case .failure(let refusal):
                    completion(.failure(refusal))
                }
            case .mark(let room, let account, let seq, let completion):
                if workingState == nil { workingState = state }
                // Judged against the marks earlier in this batch. Its seq must be durable already: a
                // client has seen no seq that is not (EVs go out after the journal).
                let pendingRoom = workingState!.room(room)
                switch workingState!.prepareMark(room: room, account: account, seq: seq, timeMillis: now) {
                case .success(let entry?):
                    try? workingState!.apply(entry)
                    staged.append(Staged(write: write, entry: entry, line: nil))
                case .success(nil):
                    let durable = state.room(room)?.readMarker(of: account) ?? 0
                    if pendingRoom?.readMarker(of: account) == durable {
                        completion(.success((read: durable, moved: false)))
                    } else {
                        waitForNextBatch.append(write)
                    }
                case .failure(let refusal):
                    completion(.failure(refusal))
                }
            case .items(let action, let actor, let moderates, let completion):
                if working == nil { working = state.items }
                let itemRoom: RoomName? = if case .create(let draft) = action { draft.room } else { working![action.itemID]?.room }
                if let itemRoom, state.isMuted(actor, in: itemRoom) {
                    completion(.failure(Self.muted(itemRoom)))
                    continue
                }
                if case .create(let draft) = action, let ref = draft.ref, working!.fundingAlert(ref: ref) != nil {
                    if let first = state.items.fundingAlert(ref: ref) {
                        completion(.success(.duplicate(of: first)))
                    } else {
                        waitForNextBatch.append(write)   // the first is in this batch, not durable yet
                    }
                    continue
                }
                switch working!.prepare(action, actor: actor, moderates: moderates) {
                case .success(let drafts): stage(drafts, for: write)
                case .failure(let refusal): completion(.failure(refusal))
                }
            case .sweep(let reminderDays, let completion):
                if working == nil { working = state.items }
                let drafts = working!.due(nowMillis: now, reminderDays: reminderDays)
                if drafts.isEmpty { completion(.success(0)) } else { stage(drafts, for: write) }
            case .event(let room, let actor, let kind, let fields, let text, _):
                let roomState = state.room(room)!
                let seq = (nextSeq[room.room] ?? roomState.lastSeq) + 1
                nextSeq[room.room] = seq
                // Times never go backwards within a room, even if the wall clock does.
                let event = StoredEvent(room: room, seq: seq, timeMillis: max(now, roomState.lastTimeMillis),
                                        actor: actor, kind: kind, fields: fields, text: text)
                staged.append(Staged(write: write, entry: .event(event), line: event.encodedLine()))
            case .joinRequest(let account, let refusal, _, let completion):
                // Judged against the cluster with this batch's earlier writes: two JOINs in one batch ask once.
                if workingState == nil { workingState = state }
                guard let entry = workingState!.joinRequest(account: account, timeMillis: now) else {
                    completion(.failure(workingState!.joinRefusal(account: account, moderates: false, invitedHere: false) ?? refusal))
                    continue
                }
                try? workingState!.apply(entry)
                staged.append(Staged(write: write, entry: entry, line: nil))
            case .join(let room, let subscriber, _):
                staged.append(Staged(write: write, entry: .memberJoined(room: room, account: subscriber.accountName,
                                                                        timeMillis: now)))
            case .part(let room, let account):
                staged.append(Staged(write: write, entry: .memberLeft(room: room, account: account, timeMillis: now)))
            }
        }
        // Waiting writes came before the ones left over; both go before anything queued later.
        queuedWrites = waitForNextBatch + writes[next...]
        // Every write of this batch refused (or answered) means nothing to store. A write only
        // waits for a write staged in the same batch, so nothing waits when nothing is staged.
        guard !staged.isEmpty else { return }
        let payloads = staged.map { JournalEntryCodec.encode($0.entry) }
        finishBatch(staged, journal.write(payloads))
    }

    private func partSettled(_ write: Write) {
        guard case .part(let room, let account) = write else { return }
        let key = "\(room.room) \(account)"
        pendingParts[key, default: 1] -= 1
        if pendingParts[key] == 0 { pendingParts[key] = nil }
    }

    private func finishBatch(_ staged: [Staged], _ result: Result<[RecordLocation], StorageError>) {
        switch result {
        case .success(let locations):
            // Lines go out per I/O queue once per batch; every reply waits until the lines before
            // it are handed over (see FanoutOutbox), so a poster still sees its EV before its OK.
            var outbox = FanoutOutbox()
            var replies: [() -> Void] = []
            for (item, location) in zip(staged, locations) {
                if case .event(let event) = item.entry { index.note(room: event.room.room, seq: event.seq, at: location) }
                applyDurable(item, outbox: &outbox, replies: &replies)
            }
            outbox.flush(subscribers: subscribers)
            replies.forEach { $0() }
            noteDurable(records: staged.count)
        case .failure(let error):
            let refusal = DomainError(.storage, "not stored: \(error.description)")
            for item in staged {
                switch item.write {
                case .event(_, _, _, _, _, let reply):
                    reply.send(.failure(refusal))
                case .join(_, _, let completion), .joinRequest(_, _, _, let completion):
                    completion(.failure(refusal))
                case .part:
                    partSettled(item.write)  // presence already ended; membership stays until a later PART is stored
                case .items(_, _, _, let completion) where item.isLast:
                    completion(.failure(refusal))
                case .sweep(_, let completion) where item.isLast:
                    completion(.failure(refusal))
                case .moderation(_, _, let completion) where item.isLast:
                    completion(.failure(refusal))
                case .mark(_, _, _, let completion):
                    completion(.failure(refusal))
                case .items, .sweep, .moderation:
                    break
                }
            }
        }
    }

    private func applyDurable(_ item: Staged, outbox: inout FanoutOutbox, replies: inout [() -> Void]) {
        switch (item.write, item.entry) {
        case (.event(let room, _, _, _, _, let reply), .event(let event)):
            let line = item.line!
            state.appendEncoded(room: room, seq: event.seq, timeMillis: event.timeMillis, line: line)
            // The poster is a subscriber too: its EV is handed to its queue before its OK.
            outbox.add(room: room.room, line: line)
            let seq = event.seq
            let completion = reply.completion
            outbox.add(reply: { completion(.success(seq)) }, on: reply.queue)
        case (.join(let room, let subscriber, let completion), let entry):
            // Lines before the join go to the old members only, and the joiner's OK JOIN goes
            // before any later line of this batch.
            outbox.flush(subscribers: subscribers)
            replies.forEach { $0() }
            replies.removeAll()
            try? state.apply(entry)
            accessView.publish(state)
            subscribers[room.room, default: [:]][subscriber.subscriberID] = subscriber
            attachOtherConnections(of: subscriber, to: room)
            completion(.success(state.room(room)?.lastSeq ?? 0))
        case (.joinRequest(_, let refusal, let requested, let completion), let entry):
            try? state.apply(entry)
            replies.append {
                requested()
                completion(.failure(refusal))
            }
        case (.part, let entry):
            try? state.apply(entry)
            partSettled(item.write)
        case (.items(_, _, _, let completion), .event(let event)):
            applyItemEvent(event, line: item.line!, outbox: &outbox)
            let events = item.events
            if item.isLast { replies.append { completion(.success(.stored(events))) } }
        case (.moderation(_, _, let completion), .event(let event)):
            // A room change is a room event: its members see it live, like any other.
            state.append(event, line: item.line!)
            if event.kind == RoomChange.created { accessView.publish(state) }
            outbox.add(room: event.room.room, line: item.line!)
            replies.append { completion(.success(())) }
        case (.moderation(_, _, let completion), let entry):
            try? state.apply(entry)
            accessView.publish(state)
            replies.append { completion(.success(())) }
        case (.mark(let room, let account, _, let completion), let entry):
            try? state.apply(entry)
            let read = state.room(room)?.readMarker(of: account) ?? 0
            replies.append { completion(.success((read: read, moved: true))) }
        case (.sweep(_, let completion), .event(let event)):
            applyItemEvent(event, line: item.line!, outbox: &outbox)
            let count = item.events.count
            if item.isLast { replies.append { completion(.success(count)) } }
        default:
            assertionFailure("staged write and entry disagree")
        }
    }

    /// Applies a durable item event and queues it for the room's subscribers in the batch's outbox
    /// (so a room's stream stays in seq order whatever else the batch holds); a MATCH also goes to
    /// the two organisations' other sessions, a new item to sessions watching one of its tags.
    private func applyItemEvent(_ event: StoredEvent, line: [UInt8], outbox: inout FanoutOutbox) {
        state.append(event, line: line)
        outbox.add(room: event.room.room, line: line)
        let roomSubscribers = subscribers[event.room.room] ?? [:]
        guard let online else { return }
        let already = Set(roomSubscribers.keys)
        if event.kind == "MATCH" {
            // A match stored in two rooms reaches the two organisations' sessions once: through either
            // room if they are in it, else directly with the first copy.
            let field = Dictionary(event.fields, uniquingKeysWith: { first, _ in first })
            let pair = "\(field["need"] ?? "") \(field["offer"] ?? "")"
            guard pair != lastDirectMatch else { return }
            lastDirectMatch = pair
            var inEitherRoom = already
            for key in ["need", "offer"] {
                if let id = field[key].flatMap(ItemID.init), let room = state.items[id]?.room {
                    inEitherRoom.formUnion((subscribers[room.room] ?? [:]).keys)
                }
            }
            let accounts = Set([field["need_by"], field["offer_by"]].compactMap { $0 })
            for session in online.sessions(of: accounts, excluding: inEitherRoom) {
                outbox.add(subscriber: session, line: line)
            }
        } else if ItemKind(creatingEvent: event.kind) != nil {
            let tags = event.fields.first { $0.0 == "tags" }.map { $0.1.split(separator: ",").map(String.init) } ?? []
            let terms = Matching.Terms(tags: tags, text: event.text ?? "")
            let members = state.clusterMembers
            let watchers = online.watchers(of: terms, excluding: already) { members.contains($0) }
            for session in watchers { outbox.add(subscriber: session, line: line) }
        }
    }

    private func roomSummary(_ room: RoomState, for account: String?) -> RoomSummary {
        let read = account.flatMap { room.members.contains($0) ? room.readMarker(of: $0) : nil }
        return RoomSummary(name: room.name, members: room.members.count, lastSeq: room.lastSeq, topic: room.topic, read: read)
    }

    /// A member whose membership is not being ended by a PART still queued or in flight.
    private func isMember(_ account: String, of room: RoomState) -> Bool {
        room.members.contains(account) && pendingParts["\(room.name.room) \(account)", default: 0] == 0
    }

    /// Every logged-in connection of a member receives the room's events: a JOIN on one connection
    /// attaches the account's others (each is told on its own queue before any line of the room).
    private func attachOtherConnections(of subscriber: any EventSubscriber, to room: RoomName) {
        guard let online else { return }
        let already = Set((subscribers[room.room] ?? [:]).keys)
        for other in online.sessions(of: [subscriber.accountName], excluding: already) {
            subscribers[room.room, default: [:]][other.subscriberID] = other
            other.attached(to: room, shard: self)
        }
    }

    private static func notJoined(_ room: RoomName) -> DomainError {
        DomainError(.notJoined, "JOIN \(room) first")
    }

    private static func muted(_ room: RoomName) -> DomainError {
        DomainError(.forbidden, "you are muted in \(room)")
    }

    private func noSuchRoom(_ room: RoomName) -> DomainError {
        DomainError(.noSuchRoom, "no room \(room.room) in cluster \(room.cluster)")
    }
}
