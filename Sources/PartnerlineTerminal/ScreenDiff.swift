/// Turns "the terminal shows `old`, it should show `new`" into the fewest plain ANSI sequences
/// we can cheaply find: per row, the span from its first to its last changed cell is redrawn
/// (one cursor move, style changes only where the style changes). A first frame or a new size
/// clears and draws everything. The output is the whole frame's update, written at once, so the
/// terminal never shows half a frame.
public struct ScreenDiff: Sendable {
    /// Without colour (`NO_COLOR`), foreground colours are left out; bold, reverse and
    /// underline stay.
    public var colors: Bool

    public init(colors: Bool) {
        self.colors = colors
    }

    public func update(from old: ScreenBuffer?, to new: ScreenBuffer) -> String {
        var out = "\u{1B}[?25l"   // hide the cursor while drawing
        var current = CellStyle.plain
        out += "\u{1B}[0m"
        let full = old == nil || old!.rows != new.rows || old!.columns != new.columns
        if full { out += "\u{1B}[H\u{1B}[2J" }
        for row in 0..<new.rows {
            var first = 0
            var last = new.columns - 1
            if !full, let old {
                // The changed span of this row, widened to whole wide characters.
                first = -1
                for col in 0..<new.columns where old[row, col] != new[row, col] {
                    first = col
                    break
                }
                if first < 0 { continue }
                for col in stride(from: new.columns - 1, through: first, by: -1) where old[row, col] != new[row, col] {
                    last = col
                    break
                }
                if first > 0 && (new[row, first].width == 0 || old[row, first].width == 0) { first -= 1 }
                if last + 1 < new.columns && (new[row, last].width == 2 || old[row, last].width == 2) { last += 1 }
            } else if isBlank(new, row: row) {
                continue   // after a clear a blank row is already blank
            }
            out += "\u{1B}[\(row + 1);\(first + 1)H"
            var col = first
            while col <= last {
                let cell = new[row, col]
                if cell.width == 0 {
                    // A continuation whose lead is outside the span: draw a space in its place.
                    if col == first { out += " " }
                    col += 1
                    continue
                }
                if cell.style != current {
                    out += sgr(cell.style)
                    current = cell.style
                }
                out.append(cell.character)
                col += Int(cell.width)
            }
        }
        if current != .plain { out += "\u{1B}[0m" }
        out += "\u{1B}[\(new.cursor.row + 1);\(new.cursor.column + 1)H\u{1B}[?25h"
        return out
    }

    private func isBlank(_ buffer: ScreenBuffer, row: Int) -> Bool {
        for col in 0..<buffer.columns where buffer[row, col] != .blank { return false }
        return true
    }

    /// One SGR sequence that sets exactly this style (it starts from a reset).
    func sgr(_ style: CellStyle) -> String {
        var codes = ["0"]
        if style.bold { codes.append("1") }
        if style.dim { codes.append("2") }
        if style.underline { codes.append("4") }
        if style.reverse { codes.append("7") }
        if colors, let color = style.foreground {
            codes.append(color.rawValue < 8 ? String(30 + Int(color.rawValue)) : String(90 + Int(color.rawValue) - 8))
        }
        return "\u{1B}[" + codes.joined(separator: ";") + "m"
    }
}
