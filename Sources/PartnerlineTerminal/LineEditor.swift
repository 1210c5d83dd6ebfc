/// The input line: text as grapheme clusters with a caret, emacs-style editing (the keys readline
/// users expect), and an input history walked with Up/Down that keeps the line being typed.
public struct LineEditor: Sendable, Equatable {
    public private(set) var characters: [Character] = []
    /// 0...characters.count
    public private(set) var caret = 0

    private var history: [String] = []
    private var historyLimit: Int
    /// Index into `history` while walking it; nil when editing the draft.
    private var historyIndex: Int?
    private var draft: [Character] = []

    public init(historyLimit: Int = 500) {
        self.historyLimit = historyLimit
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    public mutating func insert(_ text: String) {
        let new = Array(text)
        characters.insert(contentsOf: new, at: caret)
        caret += new.count
    }

    /// Replaces the whole line (completion, history) and puts the caret at its end.
    public mutating func set(_ text: String, caret: Int? = nil) {
        characters = Array(text)
        self.caret = min(caret ?? characters.count, characters.count)
    }

    public mutating func left() { caret = max(0, caret - 1) }
    public mutating func right() { caret = min(characters.count, caret + 1) }
    public mutating func home() { caret = 0 }
    public mutating func end() { caret = characters.count }

    public mutating func backspace() {
        guard caret > 0 else { return }
        characters.remove(at: caret - 1)
        caret -= 1
    }

    public mutating func deleteForward() {
        guard caret < characters.count else { return }
        characters.remove(at: caret)
    }

    /// Start of the word before the caret: skip spaces, then non-spaces.
    private func wordStartBefore(_ index: Int) -> Int {
        var i = index
        while i > 0, characters[i - 1] == " " { i -= 1 }
        while i > 0, characters[i - 1] != " " { i -= 1 }
        return i
    }

    private func wordEndAfter(_ index: Int) -> Int {
        var i = index
        while i < characters.count, characters[i] == " " { i += 1 }
        while i < characters.count, characters[i] != " " { i += 1 }
        return i
    }

    public mutating func wordLeft() { caret = wordStartBefore(caret) }
    public mutating func wordRight() { caret = wordEndAfter(caret) }

    /// Ctrl-W: deletes the word before the caret (and the spaces after it).
    public mutating func deleteWordBackward() {
        let start = wordStartBefore(caret)
        characters.removeSubrange(start..<caret)
        caret = start
    }

    /// Alt-D: deletes to the end of the next word.
    public mutating func deleteWordForward() {
        let end = wordEndAfter(caret)
        characters.removeSubrange(caret..<end)
    }

    /// Ctrl-U: deletes from the start of the line to the caret.
    public mutating func deleteToStart() {
        characters.removeSubrange(0..<caret)
        caret = 0
    }

    /// Ctrl-K: deletes from the caret to the end.
    public mutating func deleteToEnd() {
        characters.removeSubrange(caret..<characters.count)
    }

    /// Up: the previous history entry (the line being typed is kept as the draft).
    public mutating func historyPrevious() {
        guard !history.isEmpty else { return }
        if let index = historyIndex {
            guard index > 0 else { return }
            historyIndex = index - 1
        } else {
            draft = characters
            historyIndex = history.count - 1
        }
        set(history[historyIndex!])
    }

    /// Down: the next history entry, and after the newest the draft again.
    public mutating func historyNext() {
        guard let index = historyIndex else { return }
        if index + 1 < history.count {
            historyIndex = index + 1
            set(history[index + 1])
        } else {
            historyIndex = nil
            set(String(draft))
        }
    }

    /// Enter: returns the line, clears it and remembers it (not twice in a row, not blank ones).
    public mutating func submit() -> String {
        let line = text
        if !line.trimmingCharacters(in: .whitespaces).isEmpty, history.last != line {
            history.append(line)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        characters = []
        caret = 0
        historyIndex = nil
        draft = []
        return line
    }

    /// What to show in `width` columns: the line scrolled horizontally so the caret is visible,
    /// and the caret's column. Scrolls by whole characters and by display width.
    public func visible(width: Int) -> (text: String, caretColumn: Int) {
        guard width > 1 else { return ("", 0) }
        let widths = characters.map { CharacterWidth.of($0) }
        var caretColumn = widths[0..<caret].reduce(0, +)
        var start = 0
        // Keep one column free after the caret.
        while caretColumn > width - 1 {
            caretColumn -= widths[start]
            start += 1
        }
        var used = 0
        var end = start
        while end < characters.count, used + widths[end] <= width {
            used += widths[end]
            end += 1
        }
        return (String(characters[start..<end]), caretColumn)
    }
}

import Foundation
