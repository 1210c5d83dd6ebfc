/// Wraps a styled line into rows of at most `width` columns, by display width (a CJK character
/// or an emoji counts 2 and is never split across the edge). Breaks after a space when the row
/// has one, else inside the word; continuation rows start with `indent` spaces, so a message's
/// text lines up under its first row (as irssi's indent does).
public enum LineWrapper {
    public static func wrap(_ line: StyledLine, width: Int, indent: Int = 0) -> [StyledLine] {
        guard width > 0 else { return [] }
        // A deep indent on a narrow screen would leave too little room: fall back to the time's width.
        let indent = indent < width / 2 ? indent : min(6, width / 4)
        // A flat list of (character, width, style): wrapping decides per character.
        var cells: [(Character, Int, CellStyle)] = []
        for span in line {
            for character in CharacterWidth.printable(span.text) {
                let w = CharacterWidth.of(character)
                if w > 0 { cells.append((character, w, span.style)) }
            }
        }
        var rows: [StyledLine] = []
        var start = 0
        var first = true
        while start < cells.count || (first && cells.isEmpty) {
            let room = first ? width : width - indent
            var used = 0
            var end = start
            var lastBreak: Int?
            while end < cells.count, used + cells[end].1 <= room {
                used += cells[end].1
                if cells[end].0 == " " { lastBreak = end + 1 }
                end += 1
            }
            if end < cells.count, cells[end].0 != " ", let lastBreak, lastBreak > start {
                end = lastBreak   // break after the last space that fits
            }
            // The row does not show the spaces it breaks at.
            var rowEnd = end
            while end < cells.count, rowEnd > start + 1, cells[rowEnd - 1].0 == " " { rowEnd -= 1 }
            if end == start && start < cells.count {
                end = start + 1   // a wide character wider than the room: show it alone
            }
            var row: StyledLine = first || indent == 0 ? [] : [Span(String(repeating: " ", count: indent))]
            var text = ""
            var style: CellStyle?
            for index in start..<rowEnd {
                let (character, _, cellStyle) = cells[index]
                if cellStyle != style, let current = style {
                    row.append(Span(text, current))
                    text = ""
                }
                style = cellStyle
                text.append(character)
            }
            if let style { row.append(Span(text, style)) }
            rows.append(row)
            start = end
            // A continuation row does not start with the space the row broke at.
            if start < cells.count, cells[start].0 == " " { start += 1 }
            first = false
            if cells.isEmpty { break }
        }
        return rows
    }
}
