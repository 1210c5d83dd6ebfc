/// One cell of the screen. A wide character fills its first cell (`width` 2) and leaves the
/// next as a continuation (`width` 0, no character of its own).
public struct Cell: Sendable, Equatable {
    public var character: Character
    public var width: UInt8
    public var style: CellStyle

    public static let blank = Cell(character: " ", width: 1, style: .plain)
}

/// A frame: what the terminal should show, row by row. The screen composer draws into it; the
/// renderer compares it with the last frame and sends only the difference.
public struct ScreenBuffer: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public private(set) var cells: [Cell]
    /// Where the terminal's cursor should be left (the input line's caret).
    public var cursor: (row: Int, column: Int) = (0, 0)

    public init(rows: Int, columns: Int) {
        self.rows = max(1, rows)
        self.columns = max(1, columns)
        cells = Array(repeating: .blank, count: self.rows * self.columns)
    }

    public static func == (a: ScreenBuffer, b: ScreenBuffer) -> Bool {
        a.rows == b.rows && a.columns == b.columns && a.cells == b.cells && a.cursor == b.cursor
    }

    public subscript(row: Int, column: Int) -> Cell {
        cells[row * columns + column]
    }

    /// Draws spans from `column` on `row`, clipped at the right edge (a wide character that
    /// would straddle it is left out). Returns the column after the last cell drawn.
    @discardableResult
    public mutating func draw(_ spans: StyledLine, row: Int, column: Int = 0) -> Int {
        guard row >= 0, row < rows else { return column }
        var col = column
        for span in spans {
            for character in CharacterWidth.printable(span.text) {
                let width = CharacterWidth.of(character)
                if width == 0 { continue }
                if col + width > columns { return col }
                put(Cell(character: character, width: UInt8(width), style: span.style), row: row, column: col)
                if width == 2 {
                    put(Cell(character: " ", width: 0, style: span.style), row: row, column: col + 1)
                }
                col += width
            }
        }
        return col
    }

    /// Paints the rest of a row (from `column`) with spaces in `style` (for bars).
    public mutating func fill(row: Int, from column: Int, style: CellStyle) {
        guard row >= 0, row < rows, column < columns else { return }
        for col in max(0, column)..<columns {
            put(Cell(character: " ", width: 1, style: style), row: row, column: col)
        }
    }

    private mutating func put(_ cell: Cell, row: Int, column: Int) {
        let index = row * columns + column
        // Overwriting half of a wide character blanks its other half, so no orphan remains.
        let old = cells[index]
        if old.width == 2, column + 1 < columns, cell.width != 2 {
            cells[index + 1] = .blank
        } else if old.width == 0, column > 0, cells[index - 1].width == 2 {
            cells[index - 1] = .blank
        }
        cells[index] = cell
    }

    /// Row `row` as plain text (continuation cells left out): for tests.
    public func text(row: Int) -> String {
        var out = ""
        for col in 0..<columns where self[row, col].width > 0 {
            out.append(self[row, col].character)
        }
        return out
    }
}
