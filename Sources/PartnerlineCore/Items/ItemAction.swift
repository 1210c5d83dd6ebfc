import PartnerlineProtocol

/// A checked request to change items, made by the session from a parsed command and judged by
/// `ItemBook.prepare` against the current state. Pure data.
public enum ItemAction: Sendable {
    /// NEED, OFFER, PROPOSE or FUNDING, with the id the server gave it.
    case create(ItemDraft)
    case back(ItemID, contribution: String)
    case vote(ItemID, VoteChoice, reason: String?)
    case reply(ItemID, text: String)
    case resolve(ItemID, note: String?)
    case status(ItemID, ItemStatus, note: String?)

    /// The item the action is about.
    public var itemID: ItemID {
        switch self {
        case .create(let draft): draft.id
        case .back(let id, _), .vote(let id, _, _), .reply(let id, _), .resolve(let id, _), .status(let id, _, _): id
        }
    }
}

/// A new item as its command gave it, before it is stored.
public struct ItemDraft: Sendable {
    public var id: ItemID
    public var room: RoomName
    public var tags: [String]
    public var date: CalendarDate?
    public var text: String
    public var funder: String?
    public var amount: String?
    public var url: String?
    /// PROPOSE's `funding=`.
    public var answers: ItemID?
    /// FUNDING's `ref=`: the opportunity's key at its source; a second alert with it is not stored.
    public var ref: String?

    public init(id: ItemID, room: RoomName, tags: [String] = [], date: CalendarDate? = nil, text: String,
                funder: String? = nil, amount: String? = nil, url: String? = nil, answers: ItemID? = nil,
                ref: String? = nil) {
        self.ref = ref
        self.id = id
        self.room = room
        self.tags = tags
        self.date = date
        self.text = text
        self.funder = funder
        self.amount = amount
        self.url = url
        self.answers = answers
    }

    /// The event fields, in the order the spec's example shows them (`id`, then `tags`, then the date).
    var eventFields: [(String, String)] {
        var fields: [(String, String)] = [("id", id.description)]
        if id.kind == .proposal { fields.append(("status", ItemStatus.open.rawValue)) }
        if let funder { fields.append(("funder", funder)) }
        if let amount { fields.append(("amount", amount)) }
        if !tags.isEmpty { fields.append(("tags", tags.joined(separator: ","))) }
        if let date { fields.append((id.kind.dateKey, date.string)) }
        if let answers { fields.append(("funding", answers.description)) }
        if let url { fields.append(("url", url)) }
        if let ref { fields.append(("ref", ref)) }
        return fields
    }
}

/// An event the domain wants stored; the shard gives it its seq and time.
public struct EventDraft: Sendable {
    public var room: RoomName
    public var actor: String
    public var kind: String
    public var fields: [(String, String)]
    public var text: String?

    public init(room: RoomName, actor: String, kind: String, fields: [(String, String)], text: String?) {
        self.room = room
        self.actor = actor
        self.kind = kind
        self.fields = fields
        self.text = text
    }

    public func stored(seq: UInt64, timeMillis: Int64) -> StoredEvent {
        StoredEvent(room: room, seq: seq, timeMillis: timeMillis, actor: actor, kind: kind, fields: fields, text: text)
    }
}

/// The actor the server writes events of its own under (expiry, reminders, matches).
public let serverActor = "*server"
