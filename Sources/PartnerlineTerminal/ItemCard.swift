import Foundation

/// What the client knows of one item (need, offer, proposal, funding alert): a fold of the item's
/// events seen in windows and of `SHOW` replies (`* ITEM`, `* PARTNER`, `* TALLY`, `* VOTE`,
/// `* REPLY`). `/show P3` asks the server and prints the card.
public struct ItemCard: Sendable, Equatable {
    public struct Partner: Sendable, Equatable {
        public var account: String
        public var contribution: String
    }

    public struct Vote: Sendable, Equatable {
        public var account: String
        public var vote: String
        public var reason: String
    }

    public struct Reply: Sendable, Equatable {
        public var account: String
        public var time: Date?
        public var text: String
    }

    public let id: String
    public var room: String = ""
    public var author: String = ""
    public var title: String = ""
    public var status: String = "open"
    /// tags, until, deadline, funder, amount, url, funding, ref: as the server sent them.
    public var facts: [String: String] = [:]
    public var partners: [Partner] = []
    public var votes: [Vote] = []
    public var replies: [Reply] = []

    public init(id: String) {
        self.id = id
    }

    public var kind: LineKind {
        switch id.first {
        case "N": return .need
        case "O": return .offer
        case "P": return .proposal
        case "F": return .funding
        default: return .data
        }
    }

    /// Votes counted by kind, from the current votes (one per account).
    public var tally: [String: Int] {
        var counts = ["agree": 0, "abstain": 0, "disagree": 0, "block": 0]
        for vote in votes { counts[vote.vote, default: 0] += 1 }
        return counts
    }

    public mutating func setPartner(_ account: String, _ contribution: String) {
        if let index = partners.firstIndex(where: { $0.account == account }) {
            partners[index].contribution = contribution
        } else {
            partners.append(Partner(account: account, contribution: contribution))
        }
    }

    /// One current vote per account: a new one replaces the old.
    public mutating func setVote(_ account: String, _ vote: String, _ reason: String) {
        if let index = votes.firstIndex(where: { $0.account == account }) {
            votes[index] = Vote(account: account, vote: vote, reason: reason)
        } else {
            votes.append(Vote(account: account, vote: vote, reason: reason))
        }
    }

    /// Folds one room event about this item.
    public mutating func apply(kind: String, actor: String, time: Date?, options: [String: String], text: String,
                               room: String) {
        switch kind {
        case "NEED", "OFFER", "PROPOSAL", "FUNDING":
            self.room = room
            author = actor
            title = text
            status = options["status"] ?? "open"
            for (key, value) in options where key != "id" && key != "status" { facts[key] = value }
        case "BACK": setPartner(actor, text)
        case "VOTE": setVote(actor, options["vote"] ?? "?", text)
        case "REPLY": replies.append(Reply(account: actor, time: time, text: text))
        case "STATUS": status = options["status"] ?? status
        default: break
        }
    }

    /// The card as lines for a window.
    public func lines() -> [ChatLine] {
        var out: [ChatLine] = []
        let facts = self.facts.filter { $0.key != "partners" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        out.append(ChatLine(kind: kind, actor: author, itemID: id,
                            details: (["status=\(status)", room] + (facts.isEmpty ? [] : [facts])).joined(separator: " "),
                            text: title))
        if kind == .proposal {
            let t = tally
            out.append(ChatLine(kind: .data, itemID: id, details: "tally",
                                text: "agree \(t["agree"]!), abstain \(t["abstain"]!), disagree \(t["disagree"]!), block \(t["block"]!)"))
            if partners.isEmpty {
                out.append(ChatLine(kind: .data, itemID: id, details: "partners", text: "none yet"))
            }
            for partner in partners {
                out.append(ChatLine(kind: .back, actor: partner.account, itemID: id, details: "partner", text: partner.contribution))
            }
            for vote in votes {
                out.append(ChatLine(kind: .vote, actor: vote.account, itemID: id, details: "vote=\(vote.vote)", text: vote.reason))
            }
        }
        for reply in replies {
            out.append(ChatLine(time: reply.time, kind: .reply, actor: reply.account, itemID: id, details: "reply", text: reply.text))
        }
        return out
    }
}
