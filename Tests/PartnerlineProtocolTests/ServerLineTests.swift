import Testing
@testable import PartnerlineProtocol

private func line(_ b: [UInt8]) -> String { text(b) }

@Suite("ServerLine")
struct ServerLineTests {
    @Test func hello() {
        #expect(line(ServerLine.hello(serverName: "demo", text: "Partnerline coordination server. Type HELP."))
            == "HELLO partnerline/1 demo :Partnerline coordination server. Type HELP.\r\n")
    }

    @Test func ok() {
        #expect(line(ServerLine.ok(tag: nil, verb: "LOGIN", fields: [("account", "lincoln-womens-aid"), ("role", "member")]))
            == "OK LOGIN account=lincoln-womens-aid role=member\r\n")
        #expect(line(ServerLine.ok(tag: "q7", verb: "HISTORY", fields: [("room", "rural-east-midlands/purchasing"), ("count", "2")]))
            == "@q7 OK HISTORY room=rural-east-midlands/purchasing count=2\r\n")
        #expect(line(ServerLine.ok(tag: nil, verb: "PING", fields: [], text: "tok")) == "OK PING :tok\r\n")
        #expect(line(ServerLine.ok(tag: nil, verb: "HELP", fields: [])) == "OK HELP\r\n")
        #expect(line(ServerLine.ok(tag: "a", verb: "QUIT", fields: [], text: "")) == "@a OK QUIT :\r\n")
    }

    @Test func valuesAreQuotedWhenNeeded() {
        let fields: [(String, String)] = [
            ("plain", "transport,minibus"), ("empty", ""), ("space", "Lincoln Women's Aid"),
            ("quote", #"say "hi""#), ("backslash", #"a\b"#), ("equals", "a=b"), ("tab", "a\tb"),
            ("colon", ":x"), ("unicode", "Grüße"),
        ]
        #expect(line(ServerLine.ok(tag: nil, verb: "SHOW", fields: fields))
            == #"OK SHOW plain=transport,minibus empty="" space="Lincoln Women's Aid" quote="say \"hi\"" backslash="a\\b" equals="a=b" tab="a"# + "\t" + #"b" colon=:x unicode=Grüße"# + "\r\n")
    }

    @Test func err() {
        #expect(line(ServerLine.err(tag: "q7", code: .badSyntax, verb: "SAY", message: "usage: SAY <room> <text>"))
            == "@q7 ERR BAD_SYNTAX SAY :usage: SAY <room> <text>\r\n")
        #expect(line(ServerLine.err(tag: nil, code: .lineTooLong, verb: "*", message: "line longer than 4096 bytes"))
            == "ERR LINE_TOO_LONG * :line longer than 4096 bytes\r\n")
        let failure = ParseFailure(code: .unknownCommand, verb: "FROB", tag: "x1", message: "unknown command 'FROB'")
        #expect(line(ServerLine.err(failure)) == "@x1 ERR UNKNOWN_COMMAND FROB :unknown command 'FROB'\r\n")
    }

    @Test func data() {
        #expect(line(ServerLine.data(tag: nil, word: "ROOM", arguments: ["rural-east-midlands/purchasing"],
                                     fields: [("members", "3"), ("last", "41")], text: "Bulk buying"))
            == "* ROOM rural-east-midlands/purchasing members=3 last=41 :Bulk buying\r\n")
        #expect(line(ServerLine.data(tag: "h", word: "HELP", text: "SAY <room> <text> - post a message"))
            == "@h * HELP :SAY <room> <text> - post a message\r\n")
        #expect(line(ServerLine.data(tag: nil, word: "MEMBER", arguments: ["boston-mind"], fields: [("online", "yes")], text: "Boston Mind"))
            == "* MEMBER boston-mind online=yes :Boston Mind\r\n")
        #expect(line(ServerLine.data(tag: nil, word: "X", arguments: ["", ":lead", "two words", "a=b"]))
            == #"* X "" ":lead" "two words" "a=b""# + "\r\n")
    }

    @Test func eventMatchesTheSpecExample() {
        let millis = Timestamp.parse("2026-11-25T09:14:03.117Z")!
        let ev = ServerLine.event(
            room: "rural-east-midlands/purchasing", seq: 42, timeMillis: millis, actor: "lincoln-womens-aid",
            kind: "NEED", fields: [("id", "N12"), ("tags", "transport,minibus"), ("until", "2026-12-31")],
            text: "Shared minibus for Tuesday outreach")
        let expected = "EV rural-east-midlands/purchasing 42 2026-11-25T09:14:03.117Z lincoln-womens-aid NEED id=N12 tags=transport,minibus until=2026-12-31 :Shared minibus for Tuesday outreach\r\n"
        #expect(line(ev) == expected)
        #expect(line(ServerLine.tagged("q7", ev)) == "@q7 " + expected)
        #expect(ServerLine.tagged(nil, ev) == ev)
    }

    @Test func eventWithoutFieldsOrText() {
        #expect(line(ServerLine.event(room: "a-b/c-d", seq: 1, timeMillis: 0, actor: "*server", kind: "TOPIC", fields: [], text: nil))
            == "EV a-b/c-d 1 1970-01-01T00:00:00.000Z *server TOPIC\r\n")
        #expect(line(ServerLine.event(room: "a-b/c-d", seq: 0, timeMillis: 1, actor: "x1", kind: "SAY", fields: [], text: "hi"))
            == "EV a-b/c-d 0 1970-01-01T00:00:00.001Z x1 SAY :hi\r\n")
        #expect(line(ServerLine.event(room: "r", seq: UInt64.max, timeMillis: 0, actor: "a", kind: "K", fields: [], text: nil))
            == "EV r 18446744073709551615 1970-01-01T00:00:00.000Z a K\r\n")
        for seq: UInt64 in [9, 10, 99, 100, 1_000_000, 12_345_678_901] {
            #expect(line(ServerLine.event(room: "r", seq: seq, timeMillis: 0, actor: "a", kind: "K", fields: [], text: nil))
                == "EV r \(seq) 1970-01-01T00:00:00.000Z a K\r\n")
        }
    }

    @Test func pingNoticeBye() {
        #expect(line(ServerLine.ping(token: "k3x9")) == "PING k3x9\r\n")
        #expect(line(ServerLine.notice("server restarting in 5 minutes")) == "NOTICE :server restarting in 5 minutes\r\n")
        #expect(line(ServerLine.bye(code: "QUIT", text: "goodbye")) == "BYE QUIT :goodbye\r\n")
    }

    @Test func controlCharactersCannotBreakTheFraming() {
        let encoded = ServerLine.ok(tag: nil, verb: "SAY", fields: [("k", "a\r\nb")], text: "x\ny\rz\u{0}\u{7F}\tw")
        #expect(line(encoded) == "OK SAY k=a\u{FFFD}\u{FFFD}b :x\u{FFFD}y\u{FFFD}z\u{FFFD}\u{FFFD}\tw\r\n")
        #expect(line(ServerLine.notice("evil\r\nBYE X :y")) == "NOTICE :evil\u{FFFD}\u{FFFD}BYE X :y\r\n")
        #expect(line(ServerLine.data(tag: nil, word: "X", arguments: ["a\nb"])) == "* X a\u{FFFD}b\r\n")
        #expect(line(ServerLine.bye(code: "A B", text: "")) == "BYE A\u{FFFD}B :\r\n")
        for encoded in [
            ServerLine.notice("a\nb\r\nc"), ServerLine.data(tag: "t", word: "W", arguments: ["\r"], fields: [("k", "\n")], text: "\r\n"),
        ] {
            #expect(encoded.filter { $0 == 0x0A }.count == 1)
            #expect(encoded.filter { $0 == 0x0D }.count == 1)
            #expect(Array(encoded.suffix(2)) == [0x0D, 0x0A])
        }
    }

    /// What the encoder quotes, the parser reads back unchanged.
    @Test func quotedValuesRoundTripThroughTheParser() {
        let parser = CommandParser(grammar: Grammar([CommandSyntax(verb: "OK", required: ["verb"], options: ["v"], text: .optional)]))
        let values = ["", "plain", "two words", #"q"uote"#, #"back\slash"#, #"\""#, "a=b", "tab\tin", "  ", #"end\"#, "ünï ✓", ":x"]
        for value in values {
            var encoded = ServerLine.ok(tag: nil, verb: "X", fields: [("v", value)], text: "t")
            encoded.removeLast(2)
            guard case .success(let command) = parser.parse(encoded) else {
                Issue.record("cannot parse \(line(encoded))")
                continue
            }
            #expect(command.options["v"] == value, "\(value)")
            #expect(command.text == "t")
        }
    }
}
