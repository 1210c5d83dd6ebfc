import PartnerlineClient
import Testing

@Suite struct LineSplitterTests {
    private func split(_ chunks: [String]) -> [String] {
        var splitter = LineSplitter()
        var lines: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                splitter.feed(bytes) { lines.append(String(decoding: $0, as: UTF8.self)) }
            }
        }
        return lines
    }

    @Test func splitsAtLFAndStripsCR() {
        #expect(split(["a\r\nbb\ncc", "c\r", "\n\r\n"]) == ["a", "bb", "ccc", ""])
    }

    @Test func everySplitPointGivesTheSameLines() {
        let text = "OK LOGIN account=a\r\nEV r/x 1 t a SAY :T12 x\r\n* HELP x\n"
        let expected = split([text])
        for cut in 0...text.utf8.count {
            let bytes = Array(text.utf8)
            let first = String(decoding: bytes[..<cut], as: UTF8.self)
            let second = String(decoding: bytes[cut...], as: UTF8.self)
            #expect(split([first, second]) == expected)
        }
    }
}

@Suite struct ServerLineScanTests {
    @Test func scansKindsWithoutAllocating() {
        func kind(_ text: String) -> ServerLineKind {
            Array(text.utf8).withUnsafeBytes { ServerLineScan.kind($0) }
        }
        #expect(kind("EV a/b 1 t x SAY :hi") == .event)
        #expect(kind("@h EV a/b 1 t x SAY :hi") == .event)
        #expect(kind("OK SAY room=a/b seq=1") == .ok)
        #expect(kind("OKAY") == .other)
        #expect(kind("HELLO partnerline/1 x :y") == .hello)
        #expect(kind("PING 42") == .ping)
        #expect(kind("* MEMBER a") == .data)
        #expect(kind("READ a/b 3") == .read)
        #expect(kind("@t BYE QUIT :bye") == .bye)
        #expect(kind("NOTICE :x") == .notice)
        #expect(kind("ERR X Y :z") == .err)
        #expect(kind("@t") == .other)
        #expect(kind("EVENT a") == .other)
    }

    /// The scan and the tokenizer agree on the first word of every kind.
    @Test func scanAgreesWithTheTokenizer() {
        let lines = ["HELLO partnerline/1 d :t", "OK SAY", "ERR A B :c", "EV a/b 1 t x SAY", "* ROOM a/b",
                     "PING x", "NOTICE :n", "BYE QUIT :q", "READ a/b 1", "FUTURE x", "@t OK X", "@t EV a/b 2 t x K"]
        let words: [ServerLineKind: String] = [.hello: "HELLO", .ok: "OK", .err: "ERR", .event: "EV", .data: "*",
                                               .ping: "PING", .notice: "NOTICE", .bye: "BYE", .read: "READ"]
        for line in lines {
            let scanned = Array(line.utf8).withUnsafeBytes { ServerLineScan.kind($0) }
            #expect(words[scanned] ?? "FUTURE" == ServerLineTokens(line).word, "\(line)")
        }
    }

    @Test func findsTheTimestampMarker() {
        let line = Array("EV bench/r1 3 2026-11-25T10:00:00.000Z a1 SAY :T123456 xxxx".utf8)
        line.withUnsafeBytes { bytes in
            let marker = ServerLineScan.find(" :T", in: bytes)
            #expect(marker != nil)
            #expect(ServerLineScan.decimal(in: bytes, at: marker! + 3) == 123456)
        }
    }
}
