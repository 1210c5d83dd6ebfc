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

@Suite struct ServerLineTests {
    @Test func parsesTaggedFinalReplies() {
        let ok = ServerLineView("@q7 OK HISTORY room=a/b count=2")
        #expect(ok.tag == "q7")
        #expect(ok.kind == .ok)
        #expect(ok.verb == "HISTORY")
        #expect(ok.option("count") == "2")
        let err = ServerLineView("ERR NOT_JOINED SAY :join the room first")
        #expect(err.kind == .err)
        #expect(err.errorCode == "NOT_JOINED")
        #expect(err.verb == "SAY")
        #expect(err.text == "join the room first")
    }

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
    }

    @Test func findsTheTimestampMarker() {
        let line = Array("EV bench/r1 3 2026-11-25T10:00:00.000Z a1 SAY :T123456 xxxx".utf8)
        line.withUnsafeBytes { bytes in
            let marker = ServerLineScan.find(" :T", in: bytes)
            #expect(marker != nil)
            #expect(ServerLineScan.decimal(in: bytes, at: marker! + 3) == 123456)
        }
    }

    @Test func encodesClientCommands() {
        #expect(String(decoding: ClientCommand.say("a/b", "hi there"), as: UTF8.self) == "SAY a/b :hi there\r\n")
        #expect(String(decoding: ClientCommand.history("a/b", before: 9, limit: 5, tag: "h"), as: UTF8.self)
                    == "@h HISTORY a/b before=9 limit=5\r\n")
    }
}
