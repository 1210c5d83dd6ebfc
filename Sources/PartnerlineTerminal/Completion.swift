/// What Tab can complete to, gathered by the model: its commands, the rooms it knows, the
/// accounts it has seen and the item ids in its windows.
public struct CompletionSources: Sendable, Equatable {
    public var commands: [String]
    public var rooms: [String]
    public var accounts: [String]
    public var itemIDs: [String]

    public init(commands: [String] = [], rooms: [String] = [], accounts: [String] = [], itemIDs: [String] = []) {
        self.commands = commands
        self.rooms = rooms
        self.accounts = accounts
        self.itemIDs = itemIDs
    }
}

/// Tab completion of the word before the caret, cycling through the candidates on each further
/// Tab (Shift-Tab goes back), as irssi and catgirl do. A command word (`/jo`) completes from the
/// commands; an item id (`P1`, case as typed) from the ids; anything else from rooms (by full
/// name or by the part after the slash) and accounts. Any other key ends the cycle (`reset`).
public struct Completion: Sendable {
    private var candidates: [String] = []
    private var index = 0
    /// Where the completed word starts, and the line's text after the caret.
    private var wordStart = 0
    private var tail: [Character] = []

    public init() {}

    public var isActive: Bool { !candidates.isEmpty }

    public mutating func reset() { candidates = [] }

    /// The candidates for `word`, in the order Tab offers them.
    public static func candidates(for word: String, atLineStart: Bool, sources: CompletionSources) -> [String] {
        guard !word.isEmpty else { return [] }
        let lower = word.lowercased()
        if word.hasPrefix("/") && atLineStart {
            return sources.commands.filter { $0.hasPrefix(lower) }.sorted()
        }
        var out: [String] = []
        if let first = word.first, "NOPFnopf".contains(first) {
            out += sources.itemIDs.filter { $0.lowercased().hasPrefix(lower) }.sorted(by: Self.idOrder)
        }
        let rooms = sources.rooms.filter { room in
            room.hasPrefix(lower) || (room.split(separator: "/").last.map { $0.hasPrefix(lower) } ?? false)
        }
        out += rooms.sorted()
        out += sources.accounts.filter { $0.hasPrefix(lower) }.sorted()
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// Ids by kind letter, then by number (P2 before P10).
    private static func idOrder(_ a: String, _ b: String) -> Bool {
        if a.first != b.first { return a < b }
        return (Int(a.dropFirst()) ?? 0) < (Int(b.dropFirst()) ?? 0)
    }

    /// Tab (forward) or Shift-Tab: completes or moves to the next/previous candidate.
    /// Returns false when there was nothing to complete (the caller may ring the bell).
    @discardableResult
    public mutating func step(_ editor: inout LineEditor, sources: CompletionSources, forward: Bool = true) -> Bool {
        if candidates.isEmpty {
            let chars = editor.characters
            var start = editor.caret
            while start > 0, chars[start - 1] != " " { start -= 1 }
            let word = String(chars[start..<editor.caret])
            let found = Self.candidates(for: word, atLineStart: start == 0, sources: sources)
            guard !found.isEmpty else { return false }
            candidates = found
            index = forward ? 0 : found.count - 1
            wordStart = start
            tail = Array(chars[editor.caret...])
        } else {
            index = (index + (forward ? 1 : candidates.count - 1)) % candidates.count
        }
        let head = String(editor.characters[0..<wordStart])
        let word = candidates[index] + " "
        let trailing = String(tail)
        editor.set(head + word + trailing, caret: wordStart + word.count)
        return true
    }
}
