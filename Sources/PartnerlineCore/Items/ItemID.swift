import PartnerlineProtocol

/// The four kinds of item, each with its id prefix and the event that creates it.
public enum ItemKind: String, Sendable, CaseIterable {
    case need, offer, proposal, funding

    /// The id prefix: `N`, `O`, `P` or `F`.
    public var prefix: Character {
        switch self {
        case .need: "N"
        case .offer: "O"
        case .proposal: "P"
        case .funding: "F"
        }
    }

    /// The kind of the event that creates an item of this kind.
    public var creatingEvent: String {
        switch self {
        case .need: "NEED"
        case .offer: "OFFER"
        case .proposal: "PROPOSAL"
        case .funding: "FUNDING"
        }
    }

    /// The word LIST takes: `needs`, `offers`, `proposals`, `funding`.
    public var listWord: String {
        switch self {
        case .need: "needs"
        case .offer: "offers"
        case .proposal: "proposals"
        case .funding: "funding"
        }
    }

    /// Whether the date option of this kind is `until=` (needs, offers) or `deadline=`.
    public var dateKey: String { self == .need || self == .offer ? "until" : "deadline" }

    public init?(listWord: String) {
        guard let kind = Self.allCases.first(where: { $0.listWord == listWord }) else { return nil }
        self = kind
    }

    public init?(creatingEvent: String) {
        guard let kind = Self.allCases.first(where: { $0.creatingEvent == creatingEvent }) else { return nil }
        self = kind
    }

    /// SEARCH's `kind=`: the singular (`need`) or the LIST word (`needs`).
    public init?(searchWord: String) {
        if let kind = ItemKind(rawValue: searchWord) { self = kind } else if let kind = ItemKind(listWord: searchWord) {
            self = kind
        } else {
            return nil
        }
    }
}

/// A server-wide item id, `N12`, `O3`, `P7`, `F1`: a kind prefix and a number from 1. Stable forever.
public struct ItemID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let kind: ItemKind
    public let number: UInt64

    public init(kind: ItemKind, number: UInt64) {
        precondition(number >= 1, "item numbers start at 1")
        self.kind = kind
        self.number = number
    }

    /// Strict form: the prefix, then a decimal number from 1 without leading zeros (at most 18 digits).
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 19,
              let kind = ItemKind.allCases.first(where: { UInt8(ascii: $0.prefix.unicodeScalars.first!) == bytes[0] }),
              bytes[1] != UInt8(ascii: "0"),
              bytes.dropFirst().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let number = UInt64(String(decoding: bytes.dropFirst(), as: UTF8.self))
        else { return nil }
        self.init(kind: kind, number: number)
    }

    public var description: String { "\(kind.prefix)\(number)" }

    public static func < (lhs: ItemID, rhs: ItemID) -> Bool {
        (lhs.kind.prefix, lhs.number) < (rhs.kind.prefix, rhs.number)
    }
}
