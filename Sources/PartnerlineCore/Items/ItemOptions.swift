import PartnerlineProtocol

/// Validation of the values item commands take: tags, dates, ids. Pure.
public enum ItemOptions {
    public static let maxTags = 10

    /// `tags=transport,minibus`: 1-10 comma-separated tags, each `[a-z0-9][a-z0-9-]{0,31}`.
    /// Upper-case letters are folded to lower case so `Transport` and `transport` are one tag.
    public static func tags(_ raw: String?) -> Result<[String], DomainError> {
        guard let raw else { return .success([]) }
        let parts = raw.split(separator: ",", omittingEmptySubsequences: false).map { String($0).lowercased() }
        let problem = DomainError(.badSyntax,
                                  "tags are a comma list of 1-\(maxTags) words of a-z, 0-9 and '-', e.g. tags=transport,minibus")
        guard !parts.isEmpty, parts.count <= maxTags else { return .failure(problem) }
        var seen: [String] = []
        for part in parts {
            guard isValidTag(part) else { return .failure(problem) }
            if !seen.contains(part) { seen.append(part) }
        }
        return .success(seen)
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { index, c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || (c == UInt8(ascii: "-") && index > 0)
        }
    }

    /// A `YYYY-MM-DD` date option that is today or later (UTC), or nil when absent.
    public static func date(_ key: String, _ raw: String?, todayMillis: Int64) -> Result<CalendarDate?, DomainError> {
        guard let raw else { return .success(nil) }
        guard let date = CalendarDate(parsing: raw) else {
            return .failure(DomainError(.badSyntax, "\(key) must be a date YYYY-MM-DD, e.g. \(key)=2026-12-31"))
        }
        let today = CalendarDate(containingMillis: todayMillis)
        guard date >= today else {
            return .failure(DomainError(.badSyntax, "\(key)=\(raw) is in the past (today is \(today))"))
        }
        return .success(date)
    }

    /// An item id of one of the `kinds`, e.g. BACK takes only `P<n>`.
    public static func id(_ raw: String, of kinds: Set<ItemKind>, for verb: String) -> Result<ItemID, DomainError> {
        let wanted = ItemKind.allCases.filter(kinds.contains).map { "\($0.prefix)<n>" }.joined(separator: " or ")
        guard let id = ItemID(raw) else {
            return .failure(DomainError(.badSyntax, "\(raw) is not an item id; \(verb) takes \(wanted)"))
        }
        guard kinds.contains(id.kind) else {
            return .failure(DomainError(.badSyntax, "\(verb) takes \(wanted), not \(raw)"))
        }
        return .success(id)
    }

    /// A short free value (funder, amount, url): 1-200 characters.
    public static func shortValue(_ key: String, _ raw: String?) -> Result<String?, DomainError> {
        guard let raw else { return .success(nil) }
        guard (1...200).contains(raw.unicodeScalars.count) else {
            return .failure(DomainError(.badSyntax, "\(key) must be 1-200 characters"))
        }
        return .success(raw)
    }
}
