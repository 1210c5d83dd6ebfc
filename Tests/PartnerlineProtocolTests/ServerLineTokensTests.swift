import Testing
@testable import PartnerlineProtocol

/// Tokenizes what the writer wrote, without the CRLF.
private func tokens(_ line: [UInt8]) -> ServerLineTokens {
    #expect(line.suffix(2) == [13, 10])
    return line.dropLast(2).withUnsafeBytes { ServerLineTokens(bytes: $0) }
}

/// Characters the generator draws from: everything the quoting rule is about, and what it is not.
private let alphabet: [String] = [
    "a", "b", "z", "_", "0", "9", "-", "/", ".", ",", "*", "@", "<", ">",
    " ", "  ", "\t", "\"", "\\", "=", ":", " :", ":x", "\\\"", "\"\"",
    "é", "ß", "Grüße", "北", "🙂", "\u{00A0}", "\u{2003}", "\u{3000}", "\u{202F}", "\u{200B}", "\u{0301}",
    "key=value", "x=\"y\"",
]

private func randomString(_ rng: inout SplitMix64, maxParts: Int = 6) -> String {
    let parts = Int.random(in: 0...maxParts, using: &rng)
    var s = ""
    for _ in 0..<parts { s += alphabet.randomElement(using: &rng)! }
    return s
}

private func randomKey(_ rng: inout SplitMix64) -> String {
    let letters = Array("abcdefghijklmnopqrstuvwxyz_")
    return String((0..<Int.random(in: 1...8, using: &rng)).map { _ in letters.randomElement(using: &rng)! })
}

private func randomFields(_ rng: inout SplitMix64) -> [(String, String)] {
    (0..<Int.random(in: 0...4, using: &rng)).map { _ in (randomKey(&rng), randomString(&rng)) }
}

private func randomText(_ rng: inout SplitMix64) -> String? {
    Bool.random(using: &rng) ? nil : randomString(&rng, maxParts: 8)
}

private func pairs(_ fields: [ServerLineField]) -> [String] { fields.map { "\($0.key)=\($0.value)" } }
private func pairs(_ fields: [(String, String)]) -> [String] { fields.map { "\($0.0)=\($0.1)" } }

@Suite("ServerLineTokens")
struct ServerLineTokensTests {
    /// Property: whatever values the writer is given, the tokenizer gives them back.
    /// Seeded, so a failure names its seed and repeats.
    @Test(arguments: [UInt64(1), 2, 3, 20261207])
    func roundTripsEveryWriterLine(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<2_000 {
            let tag: String? = Bool.random(using: &rng) ? nil : "t\(iteration)"
            let fields = randomFields(&rng)
            let text = randomText(&rng)
            let arguments = (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomString(&rng) }
            let note = Comment(rawValue: "seed \(seed) iteration \(iteration)")

            let ok = tokens(ServerLine.ok(tag: tag, verb: "SHOW", fields: fields, text: text))
            #expect(ok.tag == tag && ok.word == "OK" && ok.arguments == ["SHOW"], note)
            #expect(pairs(ok.fields) == pairs(fields), note)
            #expect(ok.text == text, note)

            let data = tokens(ServerLine.data(tag: tag, word: "ITEM", arguments: arguments, fields: fields, text: text))
            #expect(data.word == "*" && data.arguments == ["ITEM"] + arguments, note)
            #expect(pairs(data.fields) == pairs(fields) && data.text == text, note)

            let room = randomString(&rng)
            let actor = randomString(&rng)
            let seq = UInt64.random(in: 0...UInt64.max, using: &rng)
            let millis = Int64.random(in: 0...4_102_444_800_000, using: &rng)
            let event = tokens(ServerLine.tagged(tag, ServerLine.event(
                room: room, seq: seq, timeMillis: millis, actor: actor, kind: "NEED", fields: fields, text: text)))
            #expect(event.tag == tag && event.word == "EV", note)
            #expect(event.arguments == [room, String(seq), Timestamp.format(millis: millis), actor, "NEED"], note)
            #expect(pairs(event.fields) == pairs(fields) && event.text == text, note)

            let message = randomString(&rng, maxParts: 8)
            let err = tokens(ServerLine.err(tag: tag, code: .badSyntax, verb: "SAY", message: message))
            #expect(err.word == "ERR" && err.arguments == ["BAD_SYNTAX", "SAY"] && err.text == message, note)

            let token = randomString(&rng)
            let ping = tokens(ServerLine.ping(token: token))
            #expect(ping.word == "PING" && ping.arguments == [token] && ping.text == nil, note)
        }
    }

    /// The writer quotes exactly what the contract says: empty, a space (ASCII, TAB or non-ASCII),
    /// `"`, `\`, `=`; and a positional word that starts with `:`. Nothing else.
    @Test func writerQuotesExactlyWhatTheContractSays() {
        let quoted = ["", "a b", "a\tb", "a\"b", "a\\b", "a=b", "a\u{00A0}b", "a\u{3000}b", "a\u{2009}b", "\u{2028}"]
        let bare = ["a", "Grüße", "北京", "🙂", "a,b", "a/b", ":x", "*server", "a\u{200B}b", "e\u{0301}", "@x", "<x>"]
        for value in quoted {
            let line = text(ServerLine.ok(tag: nil, verb: "X", fields: [("k", value)]))
            #expect(line.hasPrefix("OK X k=\""), "\(value.unicodeScalars.map { $0.value })")
        }
        for value in bare {
            let line = text(ServerLine.ok(tag: nil, verb: "X", fields: [("k", value)]))
            #expect(line == "OK X k=\(value)\r\n")
        }
        #expect(text(ServerLine.data(tag: nil, word: "X", arguments: [":x"])) == "* X \":x\"\r\n")
    }

    @Test func quotedOrganisationNameAndHelpLine() {
        let alert = ServerLineTokens(
            #"EV rural/funding 3 2026-11-25T09:14:03.117Z grant-bot FUNDING id=F2 funder="National Lottery Community Fund" amount=10000 :Awards for All"#)
        #expect(alert["funder"] == "National Lottery Community Fund")
        #expect(alert["amount"] == "10000")
        #expect(alert.text == "Awards for All")
        #expect(alert.arguments == ["rural/funding", "3", "2026-11-25T09:14:03.117Z", "grant-bot", "FUNDING"])

        let help = ServerLineTokens(#"@h * HELP SAY usage="SAY <room> <text>" :post a message: to everyone"#)
        #expect(help.tag == "h" && help.word == "*")
        #expect(help.arguments == ["HELP", "SAY"])
        #expect(help["usage"] == "SAY <room> <text>")
        #expect(help.text == "post a message: to everyone")

        let member = ServerLineTokens(#"* MEMBER boston-mind online=yes :Boston "Mind" \ Wellbeing :: x=y"#)
        #expect(member.text == #"Boston "Mind" \ Wellbeing :: x=y"#)
        let register = ServerLineTokens(#"OK REGISTER account=a1 org="Lincoln Women's Aid" note="say \"hi\" \\o/""#)
        #expect(register["org"] == "Lincoln Women's Aid")
        #expect(register["note"] == #"say "hi" \o/"#)
    }

    /// Every kind of line the server writes, through the writer where it has an encoder.
    @Test func everyLineKind() {
        let hello = tokens(ServerLine.hello(serverName: "demo", text: "Partnerline coordination server. Type HELP."))
        #expect(hello.word == "HELLO" && hello.arguments == ["partnerline/1", "demo"])
        #expect(hello.text == "Partnerline coordination server. Type HELP.")

        let login = tokens(ServerLine.ok(tag: nil, verb: "LOGIN", fields: [("account", "a1"), ("role", "member"), ("rooms", "2")]))
        #expect(login.word == "OK" && login.arguments == ["LOGIN"] && login["rooms"] == "2" && login.text == nil)

        let err = tokens(ServerLine.err(tag: "q", code: .notJoined, verb: "SAY", message: "join the room first"))
        #expect(err.tag == "q" && err.arguments == ["NOT_JOINED", "SAY"] && err.text == "join the room first")

        for kind in ["SAY", "NEED", "OFFER", "PROPOSAL", "BACK", "VOTE", "REPLY", "STATUS", "FUNDING", "MATCH",
                     "REMINDER", "ROOM", "TOPIC", "MUTE", "UNMUTE", "SOMETHING_NEW"] {
            let ev = tokens(ServerLine.event(room: "c1/r1", seq: 7, timeMillis: 0, actor: "*server", kind: kind,
                                             fields: [("id", "N1"), ("status", "open")], text: "t"))
            #expect(ev.word == "EV" && ev.arguments == ["c1/r1", "7", "1970-01-01T00:00:00.000Z", "*server", kind])
            #expect(ev["id"] == "N1" && ev["status"] == "open" && ev.text == "t")
        }

        let dataLines: [(String, [String], [(String, String)], String?)] = [
            ("HELP", ["SAY"], [("usage", "SAY <room> <text>")], "post"),
            ("ITEM", ["F3", "c1/funding"], [("status", "open"), ("funder", "A Fund"), ("ref", "guid:1 2")], "Title"),
            ("MEMBER", ["lincoln"], [("online", "yes")], "Lincoln Women's Aid"),
            ("JOINED", ["c1/r1"], [("last", "41"), ("read", "0")], nil),
            ("CLUSTER", ["c1"], [("rooms", "7")], "Rural"),
            ("ROOM", ["c1/r1"], [("members", "2"), ("last", "9"), ("read", "3")], "Topic with :colon"),
            ("MATCH", [], [("need", "N1"), ("offer", "O2")], "tags: a"),
        ]
        for (word, arguments, fields, text) in dataLines {
            let line = tokens(ServerLine.data(tag: "t1", word: word, arguments: arguments, fields: fields, text: text))
            #expect(line.tag == "t1" && line.word == "*" && line.arguments == [word] + arguments)
            #expect(pairs(line.fields) == pairs(fields) && line.text == text)
        }

        let ping = tokens(ServerLine.ping(token: "k3x9"))
        #expect(ping.word == "PING" && ping.arguments == ["k3x9"])
        let notice = tokens(ServerLine.notice("lincoln asks to join c1"))
        #expect(notice.word == "NOTICE" && notice.tokens.isEmpty && notice.text == "lincoln asks to join c1")
        let bye = tokens(ServerLine.tagged("z", ServerLine.bye(code: "QUIT", text: "goodbye")))
        #expect(bye.tag == "z" && bye.word == "BYE" && bye.arguments == ["QUIT"] && bye.text == "goodbye")
        let read = tokens(ServerLine.read(room: "c1/r1", seq: 17))
        #expect(read.word == "READ" && read.arguments == ["c1/r1", "17"] && read.text == nil)
        #expect(ServerLineTokens("READ c1/r1 17\r") == read)
    }

    /// Any bytes at all: the tokenizer never traps, and what it reads is stable (tokenizing the
    /// same bytes twice gives the same result).
    @Test func randomBytesNeverBreakTheTokenizer() {
        var rng = SplitMix64(seed: 99)
        let interesting: [UInt8] = [32, 34, 92, 61, 58, 64, 42, 13, 10, 0, 9, 0xC2, 0xA0, 0xE3, 0x80, 0x80, 0xFF, 97, 122, 95]
        for _ in 0..<5_000 {
            let count = Int.random(in: 0...40, using: &rng)
            let bytes = (0..<count).map { _ in Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            let first = bytes.withUnsafeBytes { ServerLineTokens(bytes: $0) }
            let second = bytes.withUnsafeBytes { ServerLineTokens(bytes: $0) }
            #expect(first == second)
        }
    }

    @Test func brokenLinesAreReadAsFarAsTheyGo() {
        #expect(ServerLineTokens("") == ServerLineTokens(word: ""))
        #expect(ServerLineTokens("@t") == ServerLineTokens(tag: "t", word: ""))
        let unterminated = ServerLineTokens(#"OK X k="never closed :x"#)
        #expect(unterminated["k"] == "never closed :x" && unterminated.text == nil)
        let escape = ServerLineTokens(#"OK X k="a\nb""#)
        #expect(escape["k"] == #"a\nb"#)
        let spaces = ServerLineTokens("OK  X   k=v  :  text ")
        #expect(spaces.arguments == ["X"] && spaces["k"] == "v" && spaces.text == "  text ")
        let notAnOption = ServerLineTokens("* X A=b 1=2 =x k=")
        #expect(notAnOption.arguments == ["X", "A=b", "1=2", "=x"] && notAnOption["k"] == "")
        let invalid: [UInt8] = Array("OK X k=".utf8) + [0xFF, 0xFE]
        let decoded = invalid.withUnsafeBytes { ServerLineTokens(bytes: $0) }
        #expect(decoded["k"] == "\u{FFFD}\u{FFFD}")
    }
}
