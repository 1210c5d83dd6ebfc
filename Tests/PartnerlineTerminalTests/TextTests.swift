import Testing
@testable import PartnerlineTerminal

@Suite struct CharacterWidthTests {
    @Test func asciiCJKAndEmojiTakeTheirRealWidth() {
        #expect(CharacterWidth.of("a") == 1)
        #expect(CharacterWidth.of("界") == 2)
        #expect(CharacterWidth.of("🎉") == 2)
        #expect(CharacterWidth.of("e\u{301}") == 1)    // e + combining acute: one cluster, one column
        #expect(CharacterWidth.of("日本語 ok") == 9)
    }

    @Test func controlCharactersAreNeverDrawn() {
        #expect(CharacterWidth.printable("a\u{1B}[2Jb\tc") == "a\u{FFFD}[2Jb c")
    }

    @Test func prefixLeavesOutAWideCharacterThatWouldStraddle() {
        let (text, width) = CharacterWidth.prefix("ab界c", fitting: 3)
        #expect(text == "ab")
        #expect(width == 2)
    }
}

@Suite struct LineWrapperTests {
    @Test func breaksAfterSpacesAndIndentsContinuations() {
        let rows = LineWrapper.wrap([Span("12:00 "), Span("hello wide world again")], width: 16, indent: 6)
        #expect(rows.map(\.plainText) == ["12:00 hello wide", "      world", "      again"])
        for row in rows { #expect(CharacterWidth.of(row.plainText) <= 16) }
    }

    @Test func wideCharactersAreNeverSplitAcrossTheEdge() {
        // 7 columns: three CJK characters take 6, the fourth goes to the next row.
        let rows = LineWrapper.wrap([Span("日本語の文字")], width: 7)
        #expect(rows.map(\.plainText) == ["日本語", "の文字"])
        for row in rows { #expect(CharacterWidth.of(row.plainText) <= 7) }
        let emoji = LineWrapper.wrap([Span("a🎉🎉🎉")], width: 4)
        #expect(emoji.map(\.plainText) == ["a🎉", "🎉🎉"])
    }

    @Test func aLongWordIsCutAndStylesAreKept() {
        let bold = CellStyle(bold: true)
        let rows = LineWrapper.wrap([Span("ab", bold), Span("cdefgh")], width: 4)
        #expect(rows.map(\.plainText) == ["abcd", "efgh"])
        #expect(rows[0] == [Span("ab", bold), Span("cd")])
    }

    @Test func emptyLineIsOneEmptyRow() {
        #expect(LineWrapper.wrap([], width: 10).count == 1)
    }
}
