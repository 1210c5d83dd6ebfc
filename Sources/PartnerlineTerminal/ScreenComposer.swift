import Foundation

/// Everything the screen shows that is not in the model: the input line and the terminal size.
public struct ViewState: Sendable {
    public var rows: Int
    public var columns: Int
    public var editor: LineEditor
    public var colors: Bool

    public init(rows: Int, columns: Int, editor: LineEditor, colors: Bool) {
        self.rows = rows
        self.columns = columns
        self.editor = editor
        self.colors = colors
    }
}

/// Model -> frame. The layout is irssi's: a title line (window, room and topic), the message
/// pane, the activity line (time, account, connection, every window by number with its unread
/// count; highlighted windows marked `!`), and the input line. Only the lines that fit are
/// wrapped (from the bottom up), so a window with thousands of lines costs no more than a short one.
public struct ScreenComposer: Sendable {
    public var formatter: LineFormatter
    /// The clock on the activity line (a parameter so tests are stable).
    public var now: @Sendable () -> Date

    public init(formatter: LineFormatter, now: @escaping @Sendable () -> Date = { Date() }) {
        self.formatter = formatter
        self.now = now
    }

    static let bar = CellStyle(reverse: true)

    /// The frame, and the shown window's scroll position after clamping (the caller stores it
    /// back with `settleScroll`).
    public func compose(_ model: ChatModel, _ view: ViewState) -> (ScreenBuffer, scrollRows: Int) {
        var screen = ScreenBuffer(rows: view.rows, columns: view.columns)
        let window = model.currentWindow
        let number = model.current + 1

        // Title.
        var title: StyledLine = [Span(" \(number):\(window.name)", CellStyle(bold: true, reverse: true))]
        if !window.topic.isEmpty { title.append(Span(" - " + window.topic, Self.bar)) }
        if window.isServer { title.append(Span(" - partnerline, logged in as \(model.account)", Self.bar)) }
        screen.draw(title, row: 0)
        screen.fill(row: 0, from: min(view.columns, CharacterWidth.of(title.plainText)), style: Self.bar)

        // Message pane.
        let paneTop = 1
        let paneHeight = max(0, view.rows - 3)
        var scrollRows = window.scrollRows
        if paneHeight > 0 {
            func wrapped(_ index: Int) -> [StyledLine] {
                let (line, indent) = formatter.format(window.lines[index])
                return LineWrapper.wrap(line, width: view.columns, indent: indent)
            }
            if let target = window.scrollToLine, target < window.lines.count {
                // A /find hit: as many rows up as there are below the hit's line.
                scrollRows = 0
                for index in (target + 1)..<window.lines.count { scrollRows += wrapped(index).count }
            }
            var rows: [StyledLine] = []
            var index = window.lines.count - 1
            while index >= 0 && rows.count < paneHeight + scrollRows {
                rows.insert(contentsOf: wrapped(index), at: 0)
                index -= 1
            }
            scrollRows = min(scrollRows, max(0, rows.count - paneHeight))
            let end = rows.count - scrollRows
            let start = max(0, end - paneHeight)
            let shown = rows[start..<end]
            // New lines sit at the bottom of the pane, as in a chat.
            for (offset, row) in shown.enumerated() { screen.draw(row, row: paneTop + paneHeight - shown.count + offset) }
        }

        // Activity line.
        if view.rows >= 2 {
            let activityRow = view.rows - 2
            var activity: StyledLine = [Span(" [\(formatter.clock(now()))] [\(model.account)]", Self.bar)]
            switch model.status {
            case .online: break
            case .connecting: activity.append(Span(" [connecting]", CellStyle(bold: true, reverse: true)))
            case .away(let reason, let retry):
                activity.append(Span(" [away: \(reason); retry in \(retry)s]", CellStyle(foreground: .red, bold: true, reverse: true)))
            }
            if scrollRows > 0 { activity.append(Span(" [more below: PgDn]", CellStyle(bold: true, reverse: true))) }
            activity.append(Span(" [Win:", Self.bar))
            for (i, w) in model.windows.enumerated() {
                let short = w.isServer ? "server" : String(w.name.split(separator: "/").last ?? Substring(w.name))
                var text = " \(i + 1):\(short)"
                if w.unread > 0 && i != model.current { text += "(\(w.unread))" }
                if w.highlighted { text += "!" }
                let style: CellStyle
                if i == model.current {
                    style = CellStyle(bold: true, underline: true, reverse: true)
                } else if w.highlighted {
                    style = CellStyle(foreground: .red, bold: true, reverse: true)
                } else if w.unread > 0 {
                    style = CellStyle(bold: true, reverse: true)
                } else {
                    style = Self.bar
                }
                activity.append(Span(text, style))
            }
            activity.append(Span("]", Self.bar))
            let end = screen.draw(activity, row: activityRow)
            screen.fill(row: activityRow, from: end, style: Self.bar)
        }

        // Input line.
        let inputRow = view.rows - 1
        let prompt: String
        if model.heldPaste != nil {
            prompt = "[send \(model.heldPaste!.count) pasted lines? y/n] "
        } else {
            prompt = "[\(window.isServer ? "server" : String(window.name.split(separator: "/").last ?? ""))] "
        }
        let promptWidth = screen.draw([Span(prompt, CellStyle(bold: true))], row: inputRow)
        let (text, caret) = view.editor.visible(width: max(2, view.columns - promptWidth))
        screen.draw([Span(text)], row: inputRow, column: promptWidth)
        screen.cursor = (inputRow, min(view.columns - 1, promptWidth + caret))
        return (screen, scrollRows)
    }
}
