import Testing
@testable import PartnerlineTerminal

@Suite struct LineEditorTests {
    @Test func movesAndEdits() {
        var editor = LineEditor()
        editor.insert("hello world")
        editor.left()
        editor.left()
        editor.insert("X")
        #expect(editor.text == "hello worXld")
        editor.home()
        editor.deleteForward()
        #expect(editor.text == "ello worXld")
        editor.end()
        editor.backspace()
        #expect(editor.text == "ello worXl")
        #expect(editor.caret == 10)
    }

    @Test func wordDeleteAndKills() {
        var editor = LineEditor()
        editor.insert("need a  minibus")
        editor.deleteWordBackward()
        #expect(editor.text == "need a  ")
        editor.deleteWordBackward()
        #expect(editor.text == "need ")
        editor.home()
        editor.wordRight()
        #expect(editor.caret == 4)
        editor.deleteToEnd()
        #expect(editor.text == "need")
        editor.deleteToStart()
        #expect(editor.text.isEmpty)
    }

    @Test func historyKeepsTheDraft() {
        var editor = LineEditor()
        editor.insert("first")
        _ = editor.submit()
        editor.insert("second")
        _ = editor.submit()
        editor.insert("draft")
        editor.historyPrevious()
        #expect(editor.text == "second")
        editor.historyPrevious()
        #expect(editor.text == "first")
        editor.historyPrevious()
        #expect(editor.text == "first")
        editor.historyNext()
        editor.historyNext()
        #expect(editor.text == "draft")
    }

    @Test func wideCharactersCountTwoColumnsWhenScrolling() {
        var editor = LineEditor()
        editor.insert("日本語日本語")   // 12 columns
        let (text, caret) = editor.visible(width: 8)
        #expect(caret <= 7)
        #expect(CharacterWidth.of(text) <= 8)
        #expect(text.hasSuffix("語"))
    }
}

@Suite struct CompletionTests {
    let sources = CompletionSources(commands: ChatModel.commandNames,
                                    rooms: ["rural-east-midlands/general", "rural-east-midlands/purchasing"],
                                    accounts: ["boston-mind", "lincoln-womens-aid"], itemIDs: ["P1", "P10", "P2", "N1"])

    @Test func completesCommandsAtTheStartOfTheLine() {
        var editor = LineEditor()
        var completion = Completion()
        editor.insert("/jo")
        #expect(completion.step(&editor, sources: sources))
        #expect(editor.text == "/join ")
    }

    @Test func cyclesItemIDsInNumberOrder() {
        var editor = LineEditor()
        var completion = Completion()
        editor.insert("/show p")
        completion.step(&editor, sources: sources)
        #expect(editor.text == "/show P1 ")
        completion.step(&editor, sources: sources)
        #expect(editor.text == "/show P2 ")
        completion.step(&editor, sources: sources)
        #expect(editor.text == "/show P10 ")
        completion.step(&editor, sources: sources, forward: false)
        #expect(editor.text == "/show P2 ")
    }

    @Test func roomsByShortNameAndAccountsKeepTheTail() {
        var editor = LineEditor()
        var completion = Completion()
        editor.insert("/join purch")
        completion.step(&editor, sources: sources)
        #expect(editor.text == "/join rural-east-midlands/purchasing ")
        completion.reset()
        editor.set("thanks bos!", caret: 10)
        completion.step(&editor, sources: sources)
        #expect(editor.text == "thanks boston-mind !")
    }

    @Test func nothingToCompleteSaysSo() {
        var editor = LineEditor()
        var completion = Completion()
        editor.insert("zzz")
        #expect(!completion.step(&editor, sources: sources))
        #expect(editor.text == "zzz")
    }
}
