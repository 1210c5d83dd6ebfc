import Foundation

/// What an adapter made of a feed document: the opportunities, and the items it had to leave out
/// (with why), so a feed with one bad item still yields the rest.
public struct FeedReading: Sendable, Equatable {
    public var opportunities: [Opportunity]
    public var skipped: [String]

    public init(opportunities: [Opportunity] = [], skipped: [String] = []) {
        self.opportunities = opportunities
        self.skipped = skipped
    }
}

/// A document that is not what its feed's format says (broken XML, not JSON, no items array).
public struct FeedFormatError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Feed bytes -> opportunities, by the feed's format. Pure (no I/O): the fetcher hands the bytes.
public enum FeedAdapter {
    public static func read(_ data: Data, feed: BotConfig.Feed) throws -> FeedReading {
        switch feed.format {
        case .rss, .atom: return try SyndicationAdapter.read(data, format: feed.format, fields: feed.fields)
        case .commongrants: return try CommonGrantsAdapter.read(data)
        case .json: return try FieldMapAdapter.readJSON(data, fields: feed.fields, itemsKey: feed.itemsKey)
        case .csv: return try FieldMapAdapter.readCSV(data, fields: feed.fields)
        }
    }
}

/// One record of a source, read through the feed's `fields` map: an opportunity field name ->
/// the source's value for it. Shared by the json and csv adapters and the RSS/Atom extras.
struct MappedRecord {
    let fields: [String: String]
    let value: (String) -> String?

    /// The source's value for an opportunity field (blank is none).
    func get(_ field: String) -> String? {
        guard let name = fields[field], let raw = value(name) else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// An amount from `amount`, or from `amount_min`/`amount_max`.
    var amount: Amount? {
        let currency = get("currency")
        let low = get("amount_min").flatMap(Amount.number)
        let high = get("amount_max").flatMap(Amount.number)
        if low != nil || high != nil { return Amount(minimum: low, maximum: high, currency: currency ?? "GBP") }
        return Amount.parse(get("amount"), currency: currency)
    }

    /// Tags from a comma-separated value (or several, when `tags` names columns "a,b").
    var tags: [String] {
        guard let names = fields["tags"] else { return [] }
        var out: [String] = []
        for name in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let raw = value(name) else { continue }
            out += raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return out
    }

    /// The opportunity, or why this record cannot be one (no title; neither id nor URL).
    func opportunity(position: Int) -> Result<Opportunity, FeedFormatError> {
        guard let title = get("title") else { return .failure(FeedFormatError("record \(position): no title")) }
        let url = get("url")
        guard let id = get("id") ?? url else {
            return .failure(FeedFormatError("record \(position) '\(title)': neither an id nor a url"))
        }
        return .success(Opportunity(sourceID: id, funder: get("funder"), title: title, description: get("description"),
                                    amount: amount, closes: Day.parse(get("closes")), url: url, area: get("area"),
                                    eligibility: get("eligibility"), tags: tags, status: get("status")?.lowercased()))
    }
}
