import PartnerlineProtocol

/// Where an item stands. Needs and offers: open, resolved, expired. Proposals: open, submitted,
/// won, lost, withdrawn, expired. Funding alerts: open, closed, expired.
public enum ItemStatus: String, Sendable, CaseIterable {
    case open, resolved, submitted, won, lost, withdrawn, expired, closed

    /// Statuses a proposal's lead (or a facilitator) may set with STATUS.
    public static let proposalTargets: [ItemStatus] = [.open, .submitted, .won, .lost, .withdrawn]
    /// Statuses a funding alert's poster (or a facilitator) may set with STATUS: closed early, or open again.
    public static let fundingTargets: [ItemStatus] = [.open, .closed]
}

/// A vote on a proposal; one current vote per account, a new one replaces it.
public enum VoteChoice: String, Sendable, CaseIterable {
    case agree, abstain, disagree, block
}

/// A need, offer, proposal or funding alert, as folded from its room's events. Pure data.
public struct Item: Sendable, Equatable {
    public struct Partner: Sendable, Equatable {
        public var account: String
        public var contribution: String

        public init(account: String, contribution: String) {
            self.account = account
            self.contribution = contribution
        }
    }

    public struct Ballot: Sendable, Equatable {
        public var account: String
        public var choice: VoteChoice
        public var reason: String?
    }

    public struct Reply: Sendable, Equatable {
        public var account: String
        public var timeMillis: Int64
        public var text: String
    }

    public let id: ItemID
    public let room: RoomName
    /// The author; for a proposal, its lead.
    public let author: String
    public let createdMillis: Int64
    public var status: ItemStatus
    public var tags: [String]
    /// `until=` of a need or offer, `deadline=` of a proposal or funding alert.
    public var date: CalendarDate?
    /// The text of a need or offer, the title of a proposal or funding alert.
    public var text: String
    public var funder: String?
    public var amount: String?
    public var url: String?
    /// For a funding alert: the key naming the opportunity at its source (`ref=`), unique in the cluster.
    public var ref: String?
    /// The seq of the event that made the item, in its room (a repeated FUNDING ref answers with it).
    public var seq: UInt64 = 0
    /// For a proposal: the funding alert it answers.
    public var answers: ItemID?
    /// For a funding alert: the proposals that answer it, in order of creation.
    public var answeredBy: [ItemID] = []
    /// Partners of a proposal, in order of their first BACK; a later BACK replaces the contribution.
    public var partners: [Partner] = []
    /// Current votes in order of each account's first vote.
    public var votes: [Ballot] = []
    public var replies: [Reply] = []
    /// Days-before-deadline reminders already posted (so a restart never posts one twice).
    public var remindersSent: Set<Int> = []

    public init(id: ItemID, room: RoomName, author: String, createdMillis: Int64, status: ItemStatus = .open,
                tags: [String] = [], date: CalendarDate? = nil, text: String) {
        self.id = id
        self.room = room
        self.author = author
        self.createdMillis = createdMillis
        self.status = status
        self.tags = tags
        self.date = date
        self.text = text
    }

    /// Whether LIST without `all` shows it: open items, and proposals still in play (submitted).
    public var isLive: Bool { status == .open || (id.kind == .proposal && status == .submitted) }

    /// Counts of the current votes, in the order agree, abstain, disagree, block.
    public var tally: [(VoteChoice, Int)] {
        VoteChoice.allCases.map { choice in (choice, votes.filter { $0.choice == choice }.count) }
    }

    /// The fields of an `* ITEM` line (LIST, SHOW, SEARCH), after `<id> <room>`.
    public var summaryFields: [(String, String)] {
        var fields: [(String, String)] = [("status", status.rawValue), ("by", author)]
        if !tags.isEmpty { fields.append(("tags", tags.joined(separator: ","))) }
        if let date { fields.append((id.kind.dateKey, date.string)) }
        if let funder { fields.append(("funder", funder)) }
        if let amount { fields.append(("amount", amount)) }
        if let url { fields.append(("url", url)) }
        if let ref { fields.append(("ref", ref)) }
        if let answers { fields.append(("funding", answers.description)) }
        if id.kind == .proposal { fields.append(("partners", String(partners.count))) }
        return fields
    }
}
