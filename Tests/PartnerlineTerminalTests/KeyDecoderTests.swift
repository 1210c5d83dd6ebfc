import Testing
@testable import PartnerlineTerminal

@Suite struct KeyDecoderTests {
    func keys(_ text: String) -> [Key] {
        var decoder = KeyDecoder()
        return decoder.feed(Array(text.utf8))
    }

    @Test func arrowsHomeEndPagesInTheirCommonForms() {
        #expect(keys("\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D") == [.up, .down, .right, .left])
        #expect(keys("\u{1B}OH\u{1B}OF\u{1B}[1~\u{1B}[4~\u{1B}[H\u{1B}[F") == [.home, .end, .home, .end, .home, .end])
        #expect(keys("\u{1B}[5~\u{1B}[6~\u{1B}[3~") == [.pageUp, .pageDown, .delete])
        #expect(keys("\u{1B}[1;5C\u{1B}[1;5D") == [.controlRight, .controlLeft])
    }

    @Test func controlAndAltKeys() {
        #expect(keys("\u{0E}\u{10}\u{17}\u{03}") == [.control("n"), .control("p"), .control("w"), .control("c")])
        #expect(keys("\u{1B}1\u{1B}9") == [.alt("1"), .alt("9")])
        #expect(keys("\r\t\u{7F}") == [.enter, .tab, .backspace])
    }

    @Test func sequencesSplitAcrossReadsWait() {
        var decoder = KeyDecoder()
        #expect(decoder.feed([0x1B, 0x5B]) == [])
        #expect(decoder.hasPending)
        #expect(decoder.feed([0x35]) == [])
        #expect(decoder.feed([0x7E]) == [.pageUp])
        // UTF-8 split in the middle of a character.
        let bytes = Array("界".utf8)
        #expect(decoder.feed([bytes[0]]) == [])
        #expect(decoder.feed(Array(bytes[1...])) == [.character("界")])
    }

    @Test func aLoneEscapeIsEscapeAfterTheQuietTime() {
        var decoder = KeyDecoder()
        #expect(decoder.feed([0x1B]) == [])
        #expect(decoder.flushPending() == [.escape])
        #expect(!decoder.hasPending)
    }

    @Test func bracketedPasteIsOneEventEvenAcrossReads() {
        var decoder = KeyDecoder()
        var got = decoder.feed(Array("\u{1B}[200~line one\r\nline".utf8))
        #expect(got.isEmpty)
        got = decoder.feed(Array(" two\u{1B}[20".utf8))
        #expect(got.isEmpty)
        got = decoder.feed(Array("1~x".utf8))
        #expect(got == [.paste("line one\nline two"), .character("x")])
    }
}
