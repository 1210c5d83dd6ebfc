import Foundation

/// Feed tags in the server's form: 1-32 of `a-z`, `0-9` and `-`, not starting with `-`, at most 10.
public enum TagCleaner {
    public static let maxTags = 10
    public static let maxTagBytes = 32

    /// "Mental Health" -> "mental-health", "Café & Arts!" -> "cafe-arts", "---" -> nil.
    public static func clean(_ raw: String) -> String? {
        let folded = raw.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_GB"))
        var out = ""
        var pendingDash = false
        for scalar in folded.unicodeScalars {
            let ascii = scalar.isASCII && (("a"..."z").contains(scalar) || ("0"..."9").contains(scalar))
            if ascii {
                if pendingDash && !out.isEmpty { out.append("-") }
                pendingDash = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingDash = true
            }
        }
        if out.utf8.count > maxTagBytes {
            out = String(out.prefix(maxTagBytes))
            while out.hasSuffix("-") { out.removeLast() }
        }
        return out.isEmpty ? nil : out
    }

    /// Cleaned, without repeats, the first ten.
    public static func clean(_ tags: [String]) -> [String] {
        var seen: [String] = []
        for tag in tags {
            guard let cleaned = clean(tag), !seen.contains(cleaned) else { continue }
            seen.append(cleaned)
            if seen.count == maxTags { break }
        }
        return seen
    }
}

/// One FUNDING command to send: where, its options and text. `line` is the command as the
/// server's tokenizer reads it (without CRLF), for dry runs and for the length budget.
public struct FundingAlert: Sendable, Equatable {
    public var room: String
    public var ref: String
    public var funder: String
    public var amount: String?
    public var deadline: String?
    public var url: String?
    public var tags: [String]
    public var text: String

    /// The options in the order they are sent.
    public var options: [(key: String, value: String)] {
        var out: [(String, String)] = [("funder", funder)]
        if let amount { out.append(("amount", amount)) }
        if let deadline { out.append(("deadline", deadline)) }
        if let url { out.append(("url", url)) }
        if !tags.isEmpty { out.append(("tags", tags.joined(separator: ","))) }
        out.append(("ref", ref))
        return out
    }

    public var line: String { Self.head(room: room, options: options) + text }

    static func head(room: String, options: [(key: String, value: String)]) -> String {
        "FUNDING \(room)" + options.map { " \($0.key)=\(AlertComposer.quoted($0.value))" }.joined() + " :"
    }

    public static func == (a: FundingAlert, b: FundingAlert) -> Bool { a.line == b.line }
}

/// Builds FUNDING lines from opportunities. Pure: values are quoted the way the server's tokenizer
/// reads them, control characters (newlines in descriptions) become spaces, option values keep to the
/// server's 1-200 characters, and the text is shortened at a word boundary so the whole line fits.
public struct AlertComposer: Sendable {
    public var posting: BotConfig.Posting
    public static let maxValueCharacters = 200
    /// Bytes kept free in every line for a command tag (`@` + up to 32 characters + a space).
    public static let tagAllowance = 34

    public init(posting: BotConfig.Posting = BotConfig.Posting()) {
        self.posting = posting
    }

    /// `<feed>:<source id>`, at most 200 characters; a longer id keeps its start and gains a hash of
    /// the whole, so the ref stays the same from poll to poll and different ids stay different.
    public static func ref(feed: String, sourceID: String) -> String {
        let id = Text.singleLine(sourceID)
        let full = "\(feed):\(id)"
        guard full.unicodeScalars.count > maxValueCharacters else { return full }
        let hash = String(Text.fnv1a64(full), radix: 16)
        let keep = maxValueCharacters - hash.count - 1
        return String(String.UnicodeScalarView(full.unicodeScalars.prefix(keep))) + "~" + hash
    }

    public func alert(for opportunity: Opportunity, feed: BotConfig.Feed, room: String) -> FundingAlert {
        let funder = Text.singleLine(opportunity.funder ?? feed.funder ?? feed.name)
        let amount = opportunity.amount.map(\.display).map(Text.singleLine).flatMap { $0.isEmpty ? nil : $0 }
        // A cut URL would lead nowhere: a longer one is left out (the title still names the fund).
        let url = opportunity.url.map(Text.singleLine).flatMap {
            $0.isEmpty || $0.unicodeScalars.count > Self.maxValueCharacters ? nil : $0
        }
        var alert = FundingAlert(room: room, ref: Self.ref(feed: feed.name, sourceID: opportunity.sourceID),
                                 funder: Text.cut(funder.isEmpty ? feed.name : funder, characters: Self.maxValueCharacters),
                                 amount: amount.map { Text.cut($0, characters: Self.maxValueCharacters) },
                                 deadline: opportunity.closes?.description, url: url,
                                 tags: TagCleaner.clean(opportunity.tags), text: "")
        // The client library puts its own `@tag ` in front of the line: leave it room.
        let headBytes = FundingAlert.head(room: room, options: alert.options).utf8.count + Self.tagAllowance
        let budget = max(16, min(posting.maxTextBytes, posting.maxLineBytes - headBytes))
        alert.text = text(for: opportunity, budget: budget)
        return alert
    }

    /// The title, and if room is left the start of the description after " - ".
    func text(for opportunity: Opportunity, budget: Int) -> String {
        let title = Text.singleLine(opportunity.title)
        if title.utf8.count >= budget { return Text.shorten(title, bytes: budget) }
        guard posting.includeSummary, let description = opportunity.description.map(Text.plain), !description.isEmpty,
              description != title else { return title }
        let room = budget - title.utf8.count - 3
        guard room >= 24 else { return title }
        return title + " - " + Text.shorten(description, bytes: room)
    }

    /// A value as the server's tokenizer reads it: bare when it has no blank, quote, backslash or
    /// `=` and does not start with a quote; else in double quotes with `\"` and `\\`.
    public static func quoted(_ value: String) -> String {
        let needs = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "\\" || $0 == "=" })
        guard needs else { return value }
        var out = "\""
        for character in value {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}

/// Small text helpers for what feeds hand us.
enum Text {
    /// Control characters (the server refuses them) and runs of white space become one space.
    static func singleLine(_ s: String) -> String {
        var out = ""
        var space = false
        for scalar in s.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
                || (0x80...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                space = true
                continue
            }
            if space && !out.isEmpty { out.append(" ") }
            space = false
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// A description as plain text: HTML tags dropped (RSS descriptions are often HTML), the common
    /// entities decoded, then one line.
    static func plain(_ s: String) -> String {
        // Block-level tags part words; inline ones (<strong>) sit inside a sentence.
        var text = s.replacingOccurrences(of: "<(/?(p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote)\\b)[^>]*>", with: " ",
                                          options: [.regularExpression, .caseInsensitive])
        text = text.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
        for (entity, character) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"),
                                    ("&apos;", "'"), ("&pound;", "£"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: character)
        }
        return singleLine(text)
    }

    /// At most `characters` Unicode scalars (the server counts values in scalars).
    static func cut(_ s: String, characters: Int) -> String {
        guard s.unicodeScalars.count > characters else { return s }
        return shorten(s, scalars: characters)
    }

    /// At most `bytes` UTF-8 bytes, cut after a whole word where one ends in the last third, with an
    /// ellipsis; never inside a character.
    static func shorten(_ s: String, bytes: Int) -> String {
        guard s.utf8.count > bytes else { return s }
        let ellipsis = "…"
        let limit = bytes - ellipsis.utf8.count
        guard limit > 0 else { return "" }
        var kept = ""
        var used = 0
        for character in s {
            let size = String(character).utf8.count
            if used + size > limit { break }
            kept.append(character)
            used += size
        }
        return atWordEnd(kept, original: s) + ellipsis
    }

    static func shorten(_ s: String, scalars: Int) -> String {
        let limit = scalars - 1
        var kept = ""
        var count = 0
        for character in s {
            let size = character.unicodeScalars.count
            if count + size > limit { break }
            kept.append(character)
            count += size
        }
        return atWordEnd(kept, original: s) + "…"
    }

    /// `kept` (a prefix of `original`) back to its last word end, unless that loses over a third.
    private static func atWordEnd(_ kept: String, original: String) -> String {
        // Already at a word end when the next character of the original is a space.
        let next = original.dropFirst(kept.count).first
        if next == " " { return kept.trimmingCharacters(in: CharacterSet(charactersIn: " ,;:-–")) }
        guard let space = kept.lastIndex(of: " ") else { return kept }
        let shorter = String(kept[..<space])
        guard shorter.count * 3 >= kept.count * 2 else { return kept }
        return shorter.trimmingCharacters(in: CharacterSet(charactersIn: " ,;:-–"))
    }

    static func fnv1a64(_ s: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in s.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
