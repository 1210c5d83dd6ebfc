/// How needs and offers find each other, and what WATCH and SEARCH look at. Pure.
///
/// The rule: every item has **tags** (what its author chose) and **words** (from its text:
/// lower-cased runs of letters and digits, at least three long, common words dropped, a plural
/// `s` taken off). A need and an offer fit when a tag of one is among the tags or words of the
/// other - so an offer "Shared minibus on Tuesdays" meets a need tagged `transport,minibus`.
/// Two items without a shared tag fit only when they share at least two words, because one
/// common word ("support", "help") says little.
public enum Matching {
    public struct Terms: Sendable, Equatable {
        public var tags: Set<String>
        public var words: Set<String>
        public var all: Set<String> { tags.union(words) }

        public init(tags: [String], text: String) {
            self.tags = Set(tags.map(Matching.stem))
            words = Matching.words(in: text)
        }
    }

    /// Why two items fit (`tags: minibus` or `words: bulk, ppe`), or nil when they do not.
    public static func reason(_ a: Terms, _ b: Terms) -> String? {
        let viaTags = a.tags.intersection(b.all).union(b.tags.intersection(a.all))
        if !viaTags.isEmpty { return "shared tags: " + viaTags.sorted().joined(separator: ", ") }
        let sharedWords = a.words.intersection(b.words)
        if sharedWords.count >= 2 { return "shared words: " + sharedWords.sorted().joined(separator: ", ") }
        return nil
    }

    /// Whether an item with `terms` is one a WATCH on `watched` tags should see.
    public static func watches(_ watched: Set<String>, _ terms: Terms) -> Bool {
        !watched.isDisjoint(with: terms.all)
    }

    /// The significant words of a text.
    public static func words(in text: String) -> Set<String> {
        var result: Set<String> = []
        var current: [Character] = []
        func flush() {
            if current.count >= 3 {
                let word = stem(String(current))
                if !stopWords.contains(word) { result.insert(word) }
            }
            current.removeAll(keepingCapacity: true)
        }
        for character in text.lowercased() {
            if character.isLetter || character.isNumber { current.append(character) } else { flush() }
        }
        flush()
        return result
    }

    /// Lower case, with a plural ending taken off so `vans` meets `van` and `minibuses` meets `minibus`:
    /// `-es` after `sh`, `ch`, `x` and `bus`; otherwise `-s`, except in `-ss`, `-us`, `-is` (`glass`, `minibus`, `analysis`).
    public static func stem(_ word: String) -> String {
        let lower = word.lowercased()
        guard lower.count > 3, lower.hasSuffix("s") else { return lower }
        if lower.hasSuffix("es"), ["shes", "ches", "xes", "buses"].contains(where: lower.hasSuffix) {
            return String(lower.dropLast(2))
        }
        if ["ss", "us", "is"].contains(where: lower.hasSuffix) { return lower }
        return String(lower.dropLast())
    }

    static let stopWords: Set<String> = [
        "the", "and", "for", "with", "our", "your", "you", "are", "can", "any", "all", "from", "this", "that",
        "have", "has", "who", "will", "need", "offer", "some", "per", "into", "out", "about", "one", "two",
        "use", "was", "thi", "would", "could", "also", "more", "other", "they", "them", "their", "there",
    ]
}
