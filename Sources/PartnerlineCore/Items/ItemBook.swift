import PartnerlineProtocol

/// The items of one cluster, folded from its room events: needs, offers, proposals, funding alerts,
/// with their partners, votes, replies and status. `prepare` judges an action against this state and
/// says which events to store; `apply` folds a stored event. The live path and replay call the same
/// `apply`, so the state after a restart is the state before it. Pure; no I/O.
public struct ItemBook: Sendable {
    public internal(set) var items: [ItemID: Item] = [:]
    /// The highest item number seen per kind (for seeding the server-wide id allocator).
    public internal(set) var highestNumber: [ItemKind: UInt64] = [:]
    /// Funding alerts by their `ref=`: the cluster's index of opportunities already posted. Folded
    /// from the FUNDING events like everything else, so a replay rebuilds it.
    public internal(set) var fundingRefs: [String: ItemID] = [:]

    public init() {}

    public subscript(id: ItemID) -> Item? { items[id] }

    /// The funding alert already posted with `ref`, if any (FUNDING with a known ref stores nothing).
    public func fundingAlert(ref: String) -> Item? { fundingRefs[ref].flatMap { items[$0] } }

    /// Items in a room of one kind, oldest first; only live ones unless `all`.
    public func list(room: RoomName, kind: ItemKind, all: Bool) -> [Item] {
        items.values.filter { $0.room == room && $0.id.kind == kind && (all || $0.isLive) }.sorted { $0.id < $1.id }
    }

    // MARK: Fold

    /// Folds one stored event. Events that are not about items (SAY, MATCH ...) change nothing;
    /// an event about an unknown item is ignored rather than refused, so one odd record can never
    /// stop a cluster from starting.
    public mutating func apply(_ event: StoredEvent) {
        let fields = Dictionary(event.fields, uniquingKeysWith: { first, _ in first })
        guard let idText = fields["id"], let id = ItemID(idText) else { return }
        highestNumber[id.kind] = max(highestNumber[id.kind] ?? 0, id.number)
        if let kind = ItemKind(creatingEvent: event.kind) {
            guard kind == id.kind, items[id] == nil else { return }
            var item = Item(id: id, room: event.room, author: event.actor, createdMillis: event.timeMillis,
                            tags: fields["tags"].map { $0.split(separator: ",").map(String.init) } ?? [],
                            date: fields[kind.dateKey].flatMap { CalendarDate(parsing: $0) }, text: event.text ?? "")
            item.funder = fields["funder"]
            item.amount = fields["amount"]
            item.url = fields["url"]
            item.seq = event.seq
            if kind == .funding, let ref = fields["ref"] {
                item.ref = ref
                if fundingRefs[ref] == nil { fundingRefs[ref] = id }
            }
            if kind == .proposal, let answers = fields["funding"].flatMap(ItemID.init) {
                item.answers = answers
                items[answers]?.answeredBy.append(id)
            }
            items[id] = item
            return
        }
        guard items[id] != nil else { return }
        switch event.kind {
        case "BACK":
            let contribution = event.text ?? ""
            if let index = items[id]!.partners.firstIndex(where: { $0.account == event.actor }) {
                items[id]!.partners[index].contribution = contribution
            } else {
                items[id]!.partners.append(Item.Partner(account: event.actor, contribution: contribution))
            }
        case "VOTE":
            guard let choice = fields["vote"].flatMap(VoteChoice.init) else { return }
            let ballot = Item.Ballot(account: event.actor, choice: choice, reason: event.text)
            if let index = items[id]!.votes.firstIndex(where: { $0.account == event.actor }) {
                items[id]!.votes[index] = ballot
            } else {
                items[id]!.votes.append(ballot)
            }
        case "REPLY":
            items[id]!.replies.append(Item.Reply(account: event.actor, timeMillis: event.timeMillis, text: event.text ?? ""))
        case "STATUS":
            guard let status = fields["status"].flatMap(ItemStatus.init) else { return }
            items[id]!.status = status
        case "REMINDER":
            guard let days = fields["days"].flatMap(Int.init) else { return }
            items[id]!.remindersSent.insert(days)
        default:
            break
        }
    }

    // MARK: Judging actions

    /// The events that carry out `action` by `actor`, or why it is refused (and nothing changes).
    /// `moderates` is whether the actor is a facilitator of this cluster or an admin.
    public func prepare(_ action: ItemAction, actor: String, moderates: Bool) -> Result<[EventDraft], DomainError> {
        if case .create(let draft) = action { return create(draft, actor: actor) }
        let id = action.itemID
        guard let item = items[id] else { return .failure(Self.noSuchItem(id)) }
        func event(_ kind: String, _ fields: [(String, String)], _ text: String?) -> Result<[EventDraft], DomainError> {
            .success([EventDraft(room: item.room, actor: actor, kind: kind, fields: [("id", id.description)] + fields, text: text)])
        }
        switch action {
        case .create:
            fatalError("handled above")
        case .back(_, let contribution):
            guard item.status == .open else { return .failure(Self.notOpen(item, "backed")) }
            return event("BACK", [], contribution)
        case .vote(_, let choice, let reason):
            guard item.status == .open else { return .failure(Self.notOpen(item, "voted on")) }
            if choice == .block, reason == nil {
                return .failure(DomainError(.badSyntax, "a block needs a reason: VOTE \(id) block <reason>"))
            }
            return event("VOTE", [("vote", choice.rawValue)], reason)
        case .reply(_, let text):
            return event("REPLY", [], text)
        case .resolve(_, let note):
            guard item.author == actor || moderates else {
                return .failure(DomainError(.forbidden, "only \(item.author) (its author) or a facilitator may resolve \(id)"))
            }
            guard item.status == .open else {
                return .failure(DomainError(.invalidState, "\(id) is \(item.status.rawValue), not open"))
            }
            return event("STATUS", [("status", ItemStatus.resolved.rawValue)], note)
        case .status(_, let target, let note):
            let moves = item.id.kind == .funding ? Self.fundingMoves : Self.proposalMoves
            let who = item.id.kind == .funding ? "the poster" : "the lead"
            guard item.author == actor || moderates else {
                return .failure(DomainError(.forbidden, "only \(item.author) (\(who)) or a facilitator may change the status of \(id)"))
            }
            guard moves[item.status, default: []].contains(target) else {
                let allowed = moves[item.status, default: []].map(\.rawValue)
                let hint = allowed.isEmpty ? "it is final" : "from \(item.status.rawValue) it can go to \(allowed.joined(separator: ", "))"
                return .failure(DomainError(.invalidState, "\(id) is \(item.status.rawValue) and cannot become \(target.rawValue): \(hint)"))
            }
            return event("STATUS", [("status", target.rawValue)], note)
        }
    }

    /// A funding alert's poster or a facilitator may close it early and open it again (an expired one stays expired).
    public static let fundingMoves: [ItemStatus: [ItemStatus]] = [
        .open: [.closed],
        .closed: [.open],
    ]

    /// The proposal lifecycle: open -> submitted -> won/lost, or withdrawn; a submitted bid may be reopened.
    public static let proposalMoves: [ItemStatus: [ItemStatus]] = [
        .open: [.submitted, .withdrawn],
        .submitted: [.won, .lost, .withdrawn, .open],
    ]

    private func create(_ draft: ItemDraft, actor: String) -> Result<[EventDraft], DomainError> {
        guard items[draft.id] == nil else {
            return .failure(DomainError(.internal, "item id \(draft.id) is taken"))
        }
        // The shard answers a known ref with the first alert (`duplicate=yes`) before it gets here;
        // this refusal only keeps a second alert with one ref from ever being stored.
        if let ref = draft.ref, let first = fundingAlert(ref: ref) {
            return .failure(DomainError(.invalidState, "ref \(ref) was posted already as \(first.id)"))
        }
        if let answers = draft.answers {
            guard let alert = items[answers], alert.id.kind == .funding else {
                return .failure(DomainError(.noSuchItem, "no funding alert \(answers) in cluster \(draft.room.cluster)"))
            }
            guard alert.status == .open else {
                return .failure(DomainError(.invalidState, "funding alert \(answers) is \(alert.status.rawValue)"))
            }
        }
        var events = [EventDraft(room: draft.room, actor: actor, kind: draft.id.kind.creatingEvent,
                                 fields: draft.eventFields, text: draft.text)]
        events += matches(for: draft, author: actor)
        return .success(events)
    }

    /// MATCH events for a new need or offer: one per open item of the other kind, by another
    /// organisation, that fits it; stored in the new item's room and, if different, the other's room.
    private func matches(for draft: ItemDraft, author: String) -> [EventDraft] {
        guard draft.id.kind == .need || draft.id.kind == .offer else { return [] }
        let other: ItemKind = draft.id.kind == .need ? .offer : .need
        let newTerms = Matching.Terms(tags: draft.tags, text: draft.text)
        var events: [EventDraft] = []
        for candidate in items.values.sorted(by: { $0.id < $1.id })
        where candidate.id.kind == other && candidate.status == .open && candidate.author != author {
            let theirs = Matching.Terms(tags: candidate.tags, text: candidate.text)
            guard let why = Matching.reason(newTerms, theirs) else { continue }
            let (need, offer) = draft.id.kind == .need ? (draft.id, candidate.id) : (candidate.id, draft.id)
            let (needBy, offerBy) = draft.id.kind == .need ? (author, candidate.author) : (candidate.author, author)
            let fields = [("need", need.description), ("offer", offer.description),
                          ("need_by", needBy), ("offer_by", offerBy)]
            events.append(EventDraft(room: draft.room, actor: serverActor, kind: "MATCH", fields: fields, text: why))
            if candidate.room != draft.room {
                events.append(EventDraft(room: candidate.room, actor: serverActor, kind: "MATCH", fields: fields, text: why))
            }
        }
        return events
    }

    // MARK: Needs and offers that fit each other

    public struct Match: Sendable, Equatable {
        public var need: Item
        public var offer: Item
        public var reason: String
    }

    /// Open needs and offers by different organisations that fit each other, at least one of them by `account`.
    public func matches(involving account: String) -> [Match] {
        let open = items.values.filter { $0.status == .open }
        let needs = open.filter { $0.id.kind == .need }.sorted { $0.id < $1.id }
        let offers = open.filter { $0.id.kind == .offer }.sorted { $0.id < $1.id }
        var found: [Match] = []
        for need in needs {
            for offer in offers where need.author != offer.author && (need.author == account || offer.author == account) {
                if let why = Matching.reason(Matching.Terms(tags: need.tags, text: need.text),
                                             Matching.Terms(tags: offer.tags, text: offer.text)) {
                    found.append(Match(need: need, offer: offer, reason: why))
                }
            }
        }
        return found
    }

    /// Items whose tags or words hold every one of `words`, optionally of one kind, oldest first.
    public func search(_ words: [String], kind: ItemKind?) -> [Item] {
        let wanted = Set(words.flatMap { Matching.words(in: $0) })
        guard !wanted.isEmpty else { return [] }
        return items.values.filter { item in
            (kind == nil || item.id.kind == kind) && wanted.isSubset(of: Matching.Terms(tags: item.tags, text: item.text).all)
        }.sorted { $0.id < $1.id }
    }

    // MARK: Time

    /// What the server must post at `nowMillis`: `STATUS status=expired` for open items whose
    /// until/deadline day has passed, and a `REMINDER` for open proposals and funding alerts whose
    /// deadline is within one of `reminderDays` (only the nearest due one, once each).
    public func due(nowMillis: Int64, reminderDays: [Int]) -> [EventDraft] {
        var events: [EventDraft] = []
        for item in items.values.sorted(by: { $0.id < $1.id }) where item.status == .open {
            guard let date = item.date else { continue }
            let idField = ("id", item.id.description)
            if nowMillis >= date.endMillis {
                events.append(EventDraft(room: item.room, actor: serverActor, kind: "STATUS",
                                         fields: [idField, ("status", ItemStatus.expired.rawValue)],
                                         text: "\(item.id.kind.dateKey) \(date) has passed"))
                continue
            }
            guard item.id.kind == .proposal || item.id.kind == .funding else { continue }
            let dueDays = reminderDays.filter { nowMillis >= date.startMillis - Int64($0) * Timestamp.millisPerDay }
            guard let nearest = dueDays.min(),
                  !item.remindersSent.contains(where: { $0 <= nearest })
            else { continue }
            let daysLeft = (date.startMillis - nowMillis + Timestamp.millisPerDay - 1) / Timestamp.millisPerDay
            events.append(EventDraft(room: item.room, actor: serverActor, kind: "REMINDER",
                                     fields: [idField, ("days", String(nearest)), ("deadline", date.string)],
                                     text: "deadline \(date) for \(item.id) is \(daysLeft == 1 ? "tomorrow" : "in \(daysLeft) days"): \(item.text)"))
        }
        return events
    }

    // MARK: Refusals

    static func noSuchItem(_ id: ItemID) -> DomainError {
        DomainError(.noSuchItem, "no item \(id)")
    }

    static func notOpen(_ item: Item, _ what: String) -> DomainError {
        DomainError(.invalidState, "\(item.id) is \(item.status.rawValue); only an open proposal can be \(what)")
    }
}
