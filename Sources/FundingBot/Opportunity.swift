import Foundation

/// A funding opportunity as read from a feed, whatever the feed's format. Pure data: the adapters
/// make these, the routes and the composer read them.
public struct Opportunity: Sendable, Equatable {
    /// The item's id at its source: a feed's guid/id, a CommonGrants id, a CSV/JSON id column,
    /// else the item's URL. Together with the feed's name it is the alert's `ref=`.
    public var sourceID: String
    public var funder: String?
    public var title: String
    public var description: String?
    public var amount: Amount?
    /// The closing date (UTC calendar day), if the source gives one.
    public var closes: Day?
    public var url: String?
    /// Where the money is for, or who may apply: free text that area routes match against.
    public var area: String?
    public var eligibility: String?
    public var tags: [String]
    /// The source's status word, lower-cased (`open`, `forecasted`, `closed`...), if it has one.
    public var status: String?

    public init(sourceID: String, funder: String? = nil, title: String, description: String? = nil,
                amount: Amount? = nil, closes: Day? = nil, url: String? = nil, area: String? = nil,
                eligibility: String? = nil, tags: [String] = [], status: String? = nil) {
        self.sourceID = sourceID
        self.funder = funder
        self.title = title
        self.description = description
        self.amount = amount
        self.closes = closes
        self.url = url
        self.area = area
        self.eligibility = eligibility
        self.tags = tags
        self.status = status
    }

    /// Statuses that mean "no longer taking applications".
    static let closedStatuses: Set<String> = ["closed", "archived", "cancelled", "canceled", "withdrawn", "expired"]

    /// Why this opportunity must not be posted on `today`, or nil if it may be.
    public func closedReason(today: Day) -> String? {
        if let status, Self.closedStatuses.contains(status) { return "status is \(status)" }
        if let closes, closes < today { return "closed on \(closes)" }
        return nil
    }
}

/// A sum of money or a range of sums, as a funder states it.
public struct Amount: Sendable, Equatable {
    public var minimum: Decimal?
    public var maximum: Decimal?
    /// ISO 4217 code; nil when the source does not say (shown as pounds: the bot's users are UK charities).
    public var currency: String?
    /// What the source said, when it was words rather than a number ("Up to £10k").
    public var text: String?

    public init(minimum: Decimal? = nil, maximum: Decimal? = nil, currency: String? = nil, text: String? = nil) {
        self.minimum = minimum
        self.maximum = maximum
        self.currency = currency
        self.text = text
    }

    /// Reads "5000", "£5,000", "5000.00", "£5,000 - £50,000", "5000-50000" as numbers; anything
    /// else is kept as text. A blank string is no amount.
    public static func parse(_ raw: String?, currency: String? = nil) -> Amount? {
        guard let raw else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        let pieces = trimmed.split(whereSeparator: { $0 == "-" || $0 == "–" || $0 == "—" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = pieces.map(number)
        if numbers.count == 1, let value = numbers[0] {
            return Amount(maximum: value, currency: currency ?? currencyCode(in: trimmed))
        }
        if numbers.count == 2, let low = numbers[0], let high = numbers[1] {
            return Amount(minimum: low, maximum: high, currency: currency ?? currencyCode(in: trimmed))
        }
        return Amount(currency: currency, text: trimmed)
    }

    /// A plain money figure: optional currency sign, digits with optional thousands commas,
    /// optional decimals. "10k" and words are not figures.
    static func number(_ piece: String) -> Decimal? {
        var s = Substring(piece)
        if let first = s.first, "£$€".contains(first) { s = s.dropFirst() }
        for code in ["GBP", "USD", "EUR"] where s.uppercased().hasPrefix(code) { s = s.dropFirst(3) }
        let digits = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              digits.filter({ $0 == "." }).count <= 1 else { return nil }
        return Decimal(string: digits, locale: Locale(identifier: "en_US_POSIX"))
    }

    static func currencyCode(in text: String) -> String? {
        if text.contains("£") || text.uppercased().contains("GBP") { return "GBP" }
        if text.contains("$") || text.uppercased().contains("USD") { return "USD" }
        if text.contains("€") || text.uppercased().contains("EUR") { return "EUR" }
        return nil
    }

    /// How the alert shows it: "£5,000-£50,000", "up to £50,000", "£10,000", or the source's words.
    public var display: String {
        if let text { return text }
        let symbol: String
        let suffix: String
        switch currency?.uppercased() {
        case nil, "GBP": (symbol, suffix) = ("£", "")
        case "USD": (symbol, suffix) = ("$", "")
        case "EUR": (symbol, suffix) = ("€", "")
        case let code?: (symbol, suffix) = ("", " " + code)
        }
        func money(_ value: Decimal) -> String { symbol + Self.grouped(value) + suffix }
        switch (minimum, maximum) {
        case let (low?, high?) where low == high: return money(high)
        case let (low?, high?) where low == 0: return "up to " + money(high)
        case let (low?, high?): return symbol + Self.grouped(low) + "-" + money(high)
        case let (nil, high?): return money(high)
        case let (low?, nil): return "from " + money(low)
        case (nil, nil): return ""
        }
    }

    /// 50000 -> "50,000"; 1234.5 -> "1,234.50".
    static func grouped(_ value: Decimal) -> String {
        let formatter = NumberFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.numberStyle = .decimal
        formatter.usesGroupingSeparator = true
        let whole = value == Decimal(Int(truncating: value as NSNumber))
        formatter.minimumFractionDigits = whole ? 0 : 2
        formatter.maximumFractionDigits = whole ? 0 : 2
        return formatter.string(from: value as NSNumber) ?? "\(value)"
    }
}

/// A calendar day (UTC), the form the server's `deadline=` takes.
public struct Day: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        guard (1...9999).contains(year), Self.utcCalendar.date(from: components).map({
            Self.utcCalendar.dateComponents([.year, .month, .day], from: $0) == components
        }) == true else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public init(_ date: Date) {
        let parts = Self.utcCalendar.dateComponents([.year, .month, .day], from: date)
        year = parts.year!
        month = parts.month!
        day = parts.day!
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Reads the date forms feeds use: `2027-03-31`, an ISO 8601 time (`2027-03-31T17:00:00Z`),
    /// an RFC 822 date (`Wed, 31 Mar 2027 17:00:00 +0000`), or `31/03/2027` (UK order).
    public static func parse(_ raw: String?) -> Day? {
        guard let text = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        let head = text.prefix(10)
        let dashed = head.split(separator: "-")
        if dashed.count == 3, dashed[0].count == 4, let y = Int(dashed[0]), let m = Int(dashed[1]), let d = Int(dashed[2]) {
            return Day(year: y, month: m, day: d)
        }
        let slashed = text.split(separator: "/")
        if slashed.count == 3, let d = Int(slashed[0]), let m = Int(slashed[1]), let y = Int(slashed[2]), slashed[2].count == 4 {
            return Day(year: y, month: m, day: d)
        }
        for format in ["EEE, dd MMM yyyy HH:mm:ss Z", "EEE, d MMM yyyy HH:mm:ss Z", "dd MMM yyyy HH:mm:ss Z",
                       "EEE, dd MMM yyyy HH:mm Z", "EEE, dd MMM yyyy HH:mm:ss zzz", "d MMMM yyyy", "d MMM yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return Day(date) }
        }
        return nil
    }

    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    public static func < (a: Day, b: Day) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }
}
