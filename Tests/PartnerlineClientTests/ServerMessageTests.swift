import Foundation
import PartnerlineClient
import Testing

@Suite struct ServerMessageTests {
    @Test func typesEveryLineKind() {
        #expect(ServerMessage("HELLO partnerline/1 demo :Type HELP.")
            == .hello(Hello(protocolVersion: "partnerline/1", serverName: "demo", text: "Type HELP.")))

        guard case .ok(let ok) = ServerMessage("@q7 OK HISTORY room=a/b count=2 more=yes") else { Issue.record(); return }
        #expect(ok.tag == "q7" && ok.verb == "HISTORY" && ok["count"] == "2" && ok.number("count") == 2 && ok["more"] == "yes")
        #expect(ok["nothing"] == nil && ok.text == nil)

        #expect(ServerMessage("ERR NOT_JOINED SAY :join the room first")
            == .error(ErrorReply(code: "NOT_JOINED", verb: "SAY", message: "join the room first")))
        if case .error(let err) = ServerMessage("@x ERR SOMETHING_NEW FROB :later") {
            #expect(err.errorCode == nil && err.tag == "x" && err.code == "SOMETHING_NEW")
        } else { Issue.record("ERR not typed") }

        let funding = ServerMessage(#"@h EV c1/funding 12 2026-11-25T09:14:03.117Z grant-bot FUNDING id=F3 funder="National Lottery Community Fund" ref="https://x.example/a b" :Awards for All: small grants"#)
        guard case .event(let ev) = funding else { Issue.record("EV not typed"); return }
        #expect(ev.tag == "h" && ev.room == "c1/funding" && ev.seq == 12 && ev.actor == "grant-bot" && ev.kind == "FUNDING")
        #expect(ev["funder"] == "National Lottery Community Fund" && ev["ref"] == "https://x.example/a b")
        #expect(ev.fields.map(\.key) == ["id", "funder", "ref"])
        #expect(ev.text == "Awards for All: small grants")
        #expect(ev.timeMillis == Timestamp.parse("2026-11-25T09:14:03.117Z"))

        guard case .data(let help) = ServerMessage(#"* HELP SAY usage="SAY <room> <text>" :post a message"#) else { Issue.record(); return }
        #expect(help.word == "HELP" && help.arguments == ["SAY"] && help["usage"] == "SAY <room> <text>")
        guard case .data(let joined) = ServerMessage("* JOINED c1/r1 last=41 read=7") else { Issue.record(); return }
        #expect(joined.word == "JOINED" && joined.arguments == ["c1/r1"] && joined.number("last") == 41 && joined.number("read") == 7)
        guard case .data(let item) = ServerMessage(#"* ITEM F3 c1/funding status=open funder="A B" :Title"#) else { Issue.record(); return }
        #expect(item.arguments == ["F3", "c1/funding"] && item["funder"] == "A B")
        guard case .data(let member) = ServerMessage(#"* MEMBER lincoln online=yes :Lincoln "Women's" Aid"#) else { Issue.record(); return }
        #expect(member.text == #"Lincoln "Women's" Aid"#)

        #expect(ServerMessage("PING k3x9") == .ping(token: "k3x9"))
        #expect(ServerMessage("READ c1/r1 17") == .read(ReadMarker(room: "c1/r1", seq: 17)))
        #expect(ServerMessage("NOTICE :lincoln asks to join c1") == .notice(text: "lincoln asks to join c1"))
        #expect(ServerMessage("@z BYE QUIT :thanks") == .bye(Bye(tag: "z", code: "QUIT", text: "thanks")))
        #expect(ServerMessage("@z BYE QUIT :thanks").tag == "z")
    }

    @Test func unknownAndBrokenLinesAreKeptNotFatal() {
        guard case .unknown(let future) = ServerMessage("WHISPER c1/r1 from=a :psst") else { Issue.record(); return }
        #expect(future.word == "WHISPER" && future["from"] == "a" && future.text == "psst")
        if case .unknown = ServerMessage("EV c1/r1 notanumber t a SAY") {} else { Issue.record("bad EV must not be typed") }
        if case .unknown = ServerMessage("EV c1/r1") {} else { Issue.record("short EV must not be typed") }
        if case .unknown = ServerMessage("READ c1/r1") {} else { Issue.record("short READ must not be typed") }
        // A final reply stays a final reply even when broken, so a waiting command is answered.
        #expect(ServerMessage("OK").isFinalReply && ServerMessage("ERR").isFinalReply)
        #expect(!ServerMessage("* X").isFinalReply && !ServerMessage("").isFinalReply)
        // Unknown keys are kept and ignored.
        guard case .ok(let ok) = ServerMessage("OK LOGIN account=a role=member shiny=new") else { Issue.record(); return }
        #expect(ok["role"] == "member" && ok["shiny"] == "new")
    }
}

@Suite struct CommandTests {
    private func line(_ command: ClientCommand, tag: String? = nil) throws -> String {
        String(decoding: try command.encoded(tag: tag), as: UTF8.self)
    }

    @Test func encodesCommands() throws {
        #expect(try line(.say("a/b", "hi there")) == "SAY a/b :hi there\r\n")
        #expect(try line(.say("a/b", "x=y looks like an option")) == "SAY a/b :x=y looks like an option\r\n")
        #expect(try line(.history("a/b", before: 9, limit: 5), tag: "h") == "@h HISTORY a/b before=9 limit=5\r\n")
        #expect(try line(.history("a/b", after: 3)) == "HISTORY a/b after=3\r\n")
        #expect(try line(.login("a1", password: "p=:x")) == "LOGIN a1 p=:x\r\n")
        #expect(try line(.register("a1", password: "pw", org: "Lincoln Women's Aid"))
            == #"REGISTER a1 pw org="Lincoln Women's Aid""# + "\r\n")
        #expect(try line(.funding("c1/funding", funder: "National Lottery \"Community\" Fund", title: "Awards", ref: "", amount: "10000",
                                  tags: ["a", "b"]))
            == #"FUNDING c1/funding funder="National Lottery \"Community\" Fund" amount=10000 tags=a,b ref="" :Awards"# + "\r\n")
        #expect(try line(.mark("a/b", 17)) == "MARK a/b 17\r\n")
        #expect(try line(.quit()) == "QUIT\r\n")
        #expect(try line(.clusters) == "CLUSTERS\r\n")
        #expect(try line(ClientCommand("X", options: [ServerLineField("k", "a\\b"), ServerLineField("n", "a\u{00A0}b"), ServerLineField("e", "a=b")]))
            == "X k=\"a\\\\b\" n=\"a\u{00A0}b\" e=\"a=b\"\r\n")
    }

    /// The server's own parser reads back exactly what was encoded.
    @Test(arguments: [UInt64(7), 8])
    func serverParserReadsWhatIsEncoded(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let pieces = ["a", "b", " ", "\t", "\"", "\\", "=", ":", "é", "\u{3000}", "x=y", "\u{00A0}", ""]
        func value() -> String { (0..<Int.random(in: 0...5, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
        let parser = CommandParser()
        for i in 0..<500 {
            let funder = value()
            let url = value()
            var title = value()
            if title.trimmingCharacters(in: .init(charactersIn: " \t")).isEmpty { title = "t" + title + "t" }
            let command = ClientCommand.funding("c1/funding", funder: funder, title: title, url: url)
            let parsed = try parser.parse(Array(command.encoded(tag: "t\(i)").dropLast(2))).get()
            #expect(parsed.tag == "t\(i)" && parsed.verb == "FUNDING" && parsed.arguments == ["c1/funding"])
            #expect(parsed.options["funder"] == funder && parsed.options["url"] == url, "seed \(seed) i \(i)")
            // The server trims trailing blanks of text and strips one leading ':'.
            var expected = Substring(title)
            while let last = expected.last, last == " " || last == "\t" { expected = expected.dropLast() }
            #expect(parsed.text == String(expected), "seed \(seed) i \(i)")
        }
    }

    @Test func refusesWhatWouldChangeTheLine() {
        func refused(_ command: ClientCommand, tag: String? = nil, part: String) {
            do {
                _ = try command.encoded(tag: tag)
                Issue.record("encoded \(command)")
            } catch {
                #expect(error.part == part, "\(error)")
            }
        }
        refused(.say("a/b", "one\r\nQUIT"), part: "text")
        refused(.say("a/b", "bell\u{07}"), part: "text")
        refused(.say("a/b", "c1\u{85}"), part: "text")
        refused(.say("a/b c/d", "x"), part: "argument")
        refused(.join(""), part: "argument")
        refused(.login("a\tb", password: "x"), part: "argument")
        refused(.login("a", password: "x\ny"), part: "argument")
        refused(.funding("r", funder: "a\nb", title: "t"), part: "option funder")
        refused(ClientCommand("X", options: [ServerLineField("Bad", "v")]), part: "option key")
        refused(ClientCommand("X", options: [ServerLineField("", "v")]), part: "option key")
        refused(ClientCommand("SAY NOW"), part: "verb")
        refused(ClientCommand(""), part: "verb")
        refused(.quit(), tag: "bad tag", part: "tag")
        refused(.quit(), tag: String(repeating: "t", count: 33), part: "tag")
    }
}

/// SplitMix64: seeded, so a failing case repeats.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
