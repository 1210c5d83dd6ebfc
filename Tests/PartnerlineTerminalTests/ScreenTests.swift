import Foundation
import Testing
@testable import PartnerlineTerminal

@Suite struct ScreenDiffTests {
    func frame(_ rows: [String], columns: Int = 10) -> ScreenBuffer {
        var buffer = ScreenBuffer(rows: rows.count, columns: columns)
        for (index, text) in rows.enumerated() { buffer.draw([Span(text)], row: index) }
        return buffer
    }

    @Test func anUnchangedFrameSendsOnlyTheCursor() {
        let diff = ScreenDiff(colors: true)
        let a = frame(["hello", "world"])
        let update = diff.update(from: a, to: a)
        #expect(!update.contains("hello") && !update.contains("world"))
        #expect(update.hasSuffix("\u{1B}[1;1H\u{1B}[?25h"))
    }

    @Test func oneChangedCellIsOneMoveAndOneCharacter() {
        let diff = ScreenDiff(colors: true)
        let update = diff.update(from: frame(["hello", "world"]), to: frame(["hello", "wordd"]))
        #expect(update.contains("\u{1B}[2;4Hd"))
        #expect(!update.contains("hello"))
        #expect(!update.contains("\u{1B}[2J"))
    }

    @Test func aNewSizeRedrawsEverything() {
        let diff = ScreenDiff(colors: true)
        let update = diff.update(from: frame(["hello"], columns: 10), to: frame(["hello"], columns: 12))
        #expect(update.contains("\u{1B}[2J"))
        #expect(update.contains("hello"))
    }

    @Test func wideCharactersAreRedrawnWhole() {
        let diff = ScreenDiff(colors: true)
        // Replacing the second half of a wide character must redraw from its first column.
        let update = diff.update(from: frame(["a界b"]), to: frame(["a界c"]))
        #expect(update.contains("\u{1B}[1;4Hc"))
        let changed = diff.update(from: frame(["a界b"]), to: frame(["axyb"]))
        #expect(changed.contains("\u{1B}[1;2Hxy"))
    }

    @Test func noColorKeepsAttributesButNoColours() {
        var styled = ScreenBuffer(rows: 1, columns: 10)
        styled.draw([Span("NEED", CellStyle(foreground: .yellow, bold: true))], row: 0)
        #expect(ScreenDiff(colors: true).update(from: nil, to: styled).contains("\u{1B}[0;1;33m"))
        let plain = ScreenDiff(colors: false).update(from: nil, to: styled)
        #expect(plain.contains("\u{1B}[0;1m"))
        #expect(!plain.contains(";33"))
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var buffer = frame(["界x"])
        buffer.draw([Span("a")], row: 0, column: 1)
        #expect(buffer.text(row: 0) == " ax       ")
    }
}

@Suite struct ScreenComposerTests {
    static let noon = Date(timeIntervalSince1970: 1_764_072_000)   // 2025-11-25 12:00 UTC

    func composer() -> ScreenComposer {
        ScreenComposer(formatter: LineFormatter(timeZone: TimeZone(identifier: "UTC")!, account: "me"), now: { Self.noon })
    }

    @Test func layoutHasTitlePaneActivityAndInput() {
        var model = ChatModel(account: "me")
        model.connectionEstablished(reconnect: false)
        _ = model.receive(IncomingLine("@t0 * JOINED c/general last=0 read=0")!)
        _ = model.receive(IncomingLine("@t0 * JOINED c/purchasing last=0 read=0")!)
        model.select(1)
        _ = model.receive(IncomingLine("EV c/general 1 2025-11-25T11:59:00.000Z bob SAY :hello 界")!)
        _ = model.receive(IncomingLine("EV c/purchasing 1 2025-11-25T11:59:00.000Z bob SAY :elsewhere")!)
        _ = model.receive(IncomingLine("EV c/purchasing 2 2025-11-25T11:59:30.000Z bob SAY :again")!)
        var editor = LineEditor()
        editor.insert("typing")
        let (screen, _) = composer().compose(model, ViewState(rows: 6, columns: 60, editor: editor, colors: true))
        #expect(screen.text(row: 0).hasPrefix(" 2:c/general"))
        #expect(screen.text(row: 3).hasPrefix("11:59 <bob> hello 界"))
        #expect(screen.text(row: 4).contains("[12:00] [me]"))
        #expect(screen.text(row: 4).contains("3:purchasing(2)"))
        #expect(screen.text(row: 5).hasPrefix("[general] typing"))
        #expect(screen.cursor.row == 5 && screen.cursor.column == 16)
    }

    @Test func scrollingBackShowsOlderLinesAndIsClamped() {
        var model = ChatModel(account: "me")
        model.connectionEstablished(reconnect: false)
        _ = model.receive(IncomingLine("* JOINED c/general last=0 read=0")!)
        model.select(1)
        for seq in 1...20 {
            _ = model.receive(IncomingLine("EV c/general \(seq) 2025-11-25T11:59:00.000Z bob SAY :line \(seq)")!)
        }
        model.scroll(by: 1000)
        let (screen, rows) = composer().compose(model, ViewState(rows: 6, columns: 60, editor: LineEditor(), colors: true))
        #expect(rows == 17)
        #expect(screen.text(row: 1).contains("line 1"))
        #expect(screen.text(row: 4).contains("more below"))
    }

    @Test func findScrollsToTheHit() {
        var model = ChatModel(account: "me")
        model.connectionEstablished(reconnect: false)
        _ = model.receive(IncomingLine("* JOINED c/general last=0 read=0")!)
        model.select(1)
        for seq in 1...20 {
            _ = model.receive(IncomingLine("EV c/general \(seq) 2025-11-25T11:59:00.000Z bob SAY :line \(seq == 5 ? "minibus" : String(seq))")!)
        }
        model.find("minibus")
        let (screen, rows) = composer().compose(model, ViewState(rows: 6, columns: 60, editor: LineEditor(), colors: true))
        #expect(rows == 15)
        #expect(screen.text(row: 3).contains("minibus"))
    }
}
