import Foundation

/// What a line in a window is; decides its label and colour.
public enum LineKind: String, Sendable, Equatable {
    case message, need, offer, proposal, funding, match, reminder
    case back, vote, reply, status, roomChange
    /// A data line of a reply (`* ITEM`, `* MATCH`, `* MEMBER`, an item card's rows).
    case data
    case notice, error, info
}

/// One line of a window: a room event, a reply's data line, or something the client says.
public struct ChatLine: Sendable, Equatable {
    /// The room event's seq (nil for lines that are not stored events).
    public var seq: UInt64?
    public var time: Date?
    public var kind: LineKind
    public var actor: String?
    /// The item this line is about (`N12`, `P3`), shown so it can be typed.
    public var itemID: String?
    /// Short facts shown before the text (`tags=transport until=2026-12-31`, `vote=agree`).
    public var details: String
    public var text: String
    /// Names the user's account, or is a match for the user's item.
    public var highlight: Bool

    public init(seq: UInt64? = nil, time: Date? = nil, kind: LineKind, actor: String? = nil, itemID: String? = nil,
                details: String = "", text: String, highlight: Bool = false) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.actor = actor
        self.itemID = itemID
        self.details = details
        self.text = text
        self.highlight = highlight
    }

    /// Everything the line shows, for scrollback search.
    public var searchableText: String {
        [actor ?? "", itemID ?? "", details, text].joined(separator: " ")
    }
}
