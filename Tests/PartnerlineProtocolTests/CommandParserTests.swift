import Testing
@testable import PartnerlineProtocol

private let parser = CommandParser()

private func parse(_ s: String, _ p: CommandParser = parser) -> Result<ParsedCommand, ParseFailure> {
    p.parse(bytes(s))
}

private func ok(_ s: String, _ p: CommandParser = parser, sourceLocation: SourceLocation = #_sourceLocation) -> ParsedCommand? {
    switch p.parse(bytes(s)) {
    case .success(let command): return command
    case .failure(let failure):
        Issue.record("expected \(s.debugDescription) to parse, got \(failure)", sourceLocation: sourceLocation)
        return nil
    }
}

private func fail(_ b: [UInt8], _ p: CommandParser = parser, sourceLocation: SourceLocation = #_sourceLocation) -> ParseFailure? {
    switch p.parse(b) {
    case .success(let command):
        Issue.record("expected \(text(b).debugDescription) to fail, got \(command)", sourceLocation: sourceLocation)
        return nil
    case .failure(let failure): return failure
    }
}

private func fail(_ s: String, _ p: CommandParser = parser, sourceLocation: SourceLocation = #_sourceLocation) -> ParseFailure? {
    fail(bytes(s), p, sourceLocation: sourceLocation)
}

/// A grammar with the shapes later issues add (options + text, optional positionals, required options).
private let extended = CommandParser(grammar: Grammar([
    CommandSyntax(verb: "NEED", required: ["room"], options: ["tags", "until"], text: .required,
                  usage: "NEED <room> [tags=..] [until=<date>] <text>", summary: "post a need"),
    CommandSyntax(verb: "LIST", required: ["room", "kind"], optional: ["all"], options: ["limit"]),
    CommandSyntax(verb: "VOTE", required: ["id"], optional: ["vote"], text: .optional),
    CommandSyntax(verb: "FUNDING", required: ["room"], options: ["funder", "amount", "url"],
                  requiredOptions: ["funder"], text: .required),
    CommandSyntax(verb: "SET", options: ["a", "b", "c", "key", "org"]),
]))

@Suite("CommandParser")
struct CommandParserTests {
    // MARK: Basics

    @Test func bareVerb() {
        #expect(ok("CLUSTERS") == ParsedCommand(verb: "CLUSTERS"))
        #expect(ok("PING") == ParsedCommand(verb: "PING"))
    }

    @Test func verbsAreCaseInsensitive() {
        #expect(ok("ping")?.verb == "PING")
        #expect(ok("sAy a/b hi")?.verb == "SAY")
        #expect(ok("History a/b limit=2")?.options == ["limit": "2"])
    }

    @Test func specExampleLines() {
        #expect(ok("LOGIN lincoln-womens-aid correct-horse")
            == ParsedCommand(verb: "LOGIN", arguments: ["lincoln-womens-aid", "correct-horse"]))
        #expect(ok("JOIN rural-east-midlands/purchasing")
            == ParsedCommand(verb: "JOIN", arguments: ["rural-east-midlands/purchasing"]))
        #expect(ok("@q7 HISTORY rural-east-midlands/purchasing limit=2")
            == ParsedCommand(tag: "q7", verb: "HISTORY", arguments: ["rural-east-midlands/purchasing"],
                             options: ["limit": "2"]))
        #expect(ok("NEED rural-east-midlands/purchasing tags=transport,minibus until=2026-12-31 Shared minibus for Tuesday outreach", extended)
            == ParsedCommand(verb: "NEED", arguments: ["rural-east-midlands/purchasing"],
                             options: ["tags": "transport,minibus", "until": "2026-12-31"],
                             text: "Shared minibus for Tuesday outreach"))
    }

    @Test func blanksSeparateTokensAndTextKeepsItsInnerSpacing() {
        #expect(ok("  SAY \t a/b   hello \t  there   ")
            == ParsedCommand(verb: "SAY", arguments: ["a/b"], text: "hello \t  there"))
        #expect(ok("\tHISTORY\ta/b\tafter=3  \t before=9")?.options == ["after": "3", "before": "9"])
    }

    @Test func emptyOrBlankLineIsBadSyntax() {
        #expect(fail("")?.code == .badSyntax)
        let blank = fail(" \t ")
        #expect(blank?.code == .badSyntax)
        #expect(blank?.verb == "*")
        #expect(blank?.tag == nil)
    }

    // MARK: Tags

    @Test func validTags() {
        #expect(ok("@q7 PING")?.tag == "q7")
        #expect(ok("@A.b_c-9 PING")?.tag == "A.b_c-9")
        let tag32 = String(repeating: "t", count: 32)
        #expect(ok("@\(tag32) PING")?.tag == tag32)
        #expect(ok("PING")?.tag == nil)
    }

    @Test func badTagsAreBadSyntaxWithoutTheTag() {
        for line in ["@ PING", "@bad!tag PING", "@\(String(repeating: "t", count: 33)) PING", "@q/7 PING", "@é PING"] {
            let failure = fail(line)
            #expect(failure?.code == .badSyntax, "\(line)")
            #expect(failure?.tag == nil, "\(line)")
            #expect(failure?.verb == "PING", "\(line)")
        }
        #expect(fail("@bad!")?.verb == "*")
    }

    @Test func tagWithoutCommand() {
        #expect(fail("@q7") == ParseFailure(code: .badSyntax, verb: "*", tag: "q7", message: "missing command after the tag"))
        #expect(fail("@q7   ")?.tag == "q7")
    }

    @Test func tagIsEchoedOnEveryFailureAfterIt() {
        #expect(fail("@t1 SAY")?.tag == "t1")
        #expect(fail("@t2 FROB")?.tag == "t2")
        #expect(fail("@t3 HISTORY a/b zz=1")?.tag == "t3")
        #expect(fail("@t4 SAY a/b \u{1}")?.tag == "t4")
    }

    // MARK: Verbs

    @Test func unknownVerbIsUpperCased() {
        #expect(fail("@x frobnicate now") == ParseFailure(
            code: .unknownCommand, verb: "FROBNICATE", tag: "x",
            message: "unknown command 'FROBNICATE'; type HELP for the list"))
    }

    @Test func unreadableUnknownVerbIsStar() {
        #expect(fail("fr=ob")?.verb == "*")
        #expect(fail("fr=ob")?.code == .unknownCommand)
        #expect(fail("sägen")?.verb == "*")
        #expect(fail(String(repeating: "X", count: 33))?.verb == "*")
        #expect(fail(":PING")?.verb == "*")
    }

    // MARK: Positionals

    @Test func missingRequiredPositionalsShowUsage() {
        #expect(fail("SAY") == ParseFailure(code: .badSyntax, verb: "SAY", tag: nil, message: "usage: SAY <room> <text>"))
        #expect(fail("LOGIN alice")?.message == "usage: LOGIN <account> <password>")
        #expect(fail("REGISTER")?.code == .badSyntax)
        #expect(fail("JOIN")?.message == "usage: JOIN <room>")
        #expect(fail("HISTORY")?.verb == "HISTORY")
    }

    @Test func positionalsAreTakenByCountWhateverTheyHold() {
        #expect(ok("LOGIN alice p=ss:w\"o\\rd")?.arguments == ["alice", "p=ss:w\"o\\rd"])
        #expect(ok("LOGIN alice :secret")?.arguments == ["alice", ":secret"])
        #expect(ok("LOGIN alice limit=3")?.arguments == ["alice", "limit=3"])
        #expect(ok("REGISTER bob key=val org=\"Bob Co\"")
            == ParsedCommand(verb: "REGISTER", arguments: ["bob", "key=val"], options: ["org": "Bob Co"]))
        #expect(ok("SAY :room :text")  == ParsedCommand(verb: "SAY", arguments: [":room"], text: "text"))
    }

    @Test func tooManyPositionalsIsUnexpectedText() {
        let failure = fail("LOGIN alice secret extra")
        #expect(failure?.code == .badSyntax)
        #expect(failure?.message == "unexpected text after the arguments; usage: LOGIN <account> <password>")
        #expect(fail("JOIN a/b c/d")?.code == .badSyntax)
        #expect(fail("HELP SAY JOIN")?.code == .badSyntax)
    }

    @Test func optionalPositionals() {
        #expect(ok("ROOMS")?.arguments == [])
        #expect(ok("ROOMS rural-east-midlands")?.arguments == ["rural-east-midlands"])
        #expect(ok("HELP")?.arguments == [])
        #expect(ok("help say")?.arguments == ["say"])
    }

    @Test func optionalPositionalIsNotTakenFromOptionsOrText() {
        #expect(ok("LIST a/b needs limit=3", extended)
            == ParsedCommand(verb: "LIST", arguments: ["a/b", "needs"], options: ["limit": "3"]))
        #expect(ok("LIST a/b needs all limit=3", extended)?.arguments == ["a/b", "needs", "all"])
        #expect(ok("VOTE P1 :agree is my reason", extended)
            == ParsedCommand(verb: "VOTE", arguments: ["P1"], text: "agree is my reason"))
        #expect(ok("VOTE P1 agree because", extended)
            == ParsedCommand(verb: "VOTE", arguments: ["P1", "agree"], text: "because"))
    }

    // MARK: Options

    @Test func quotedValuesWithEscapes() {
        #expect(ok(#"REGISTER alice pw org="Lincoln \"Women's\" Aid \\ Co" invite=abc"#)?.options
            == ["org": #"Lincoln "Women's" Aid \ Co"#, "invite": "abc"])
        #expect(ok(#"SET org="  spaced  out  ""#, extended)?.options == ["org": "  spaced  out  "])
        #expect(ok(#"SET org="""#, extended)?.options == ["org": ""])
        #expect(ok(#"SET org="key=value :x""#, extended)?.options == ["org": "key=value :x"])
        #expect(ok("SET org=\"tab\there\"", extended)?.options == ["org": "tab\there"])
        #expect(ok(#"SET org="ünïcødé ✓""#, extended)?.options == ["org": "ünïcødé ✓"])
    }

    @Test func unquotedValues() {
        #expect(ok("SET a= b=x=y c=a\"b", extended)?.options == ["a": "", "b": "x=y", "c": "a\"b"])
        #expect(ok("SET key=:colon", extended)?.options == ["key": ":colon"])
    }

    @Test func badQuotedValues() {
        #expect(fail(#"SET org="unterminated"#, extended)?.message == "unterminated quoted value for 'org'")
        #expect(fail(#"SET org="ends in backslash\"#, extended)?.message == "unterminated quoted value for 'org'")
        #expect(fail(#"SET org="escaped quote at end\""#, extended)?.message == "unterminated quoted value for 'org'")
        #expect(fail(#"SET org="bad \n escape""#, extended)?.message
            == #"bad escape in the value for 'org': only \" and \\ are allowed"#)
        #expect(fail(#"SET org="a"b"#, extended)?.message == "expected a space after the closing quote of 'org'")
        for line in [#"SET org="x"#, #"SET org="\x""#, #"SET org="a""b""#] {
            #expect(fail(line, extended)?.code == .badSyntax)
            #expect(fail(line, extended)?.verb == "SET")
        }
    }

    @Test func unknownOption() {
        #expect(fail("NEED a/b x=1 text", extended) == ParseFailure(
            code: .badSyntax, verb: "NEED", tag: nil,
            message: "unknown option 'x' for NEED; start the text with ':' if it is text"))
        #expect(fail("HISTORY a/b foo=1")?.message == "unknown option 'foo' for HISTORY")
        #expect(fail("NEED a/b tags=a x=1 text", extended)?.code == .badSyntax)
        #expect(fail("REGISTER a b invite=x nickname=y")?.message == "unknown option 'nickname' for REGISTER")
    }

    @Test func duplicateOption() {
        #expect(fail("HISTORY a/b limit=1 limit=2") == ParseFailure(
            code: .badSyntax, verb: "HISTORY", tag: nil, message: "duplicate option 'limit'"))
        #expect(fail(#"REGISTER a b org="x" org=y"#)?.message == "duplicate option 'org'")
    }

    @Test func optionShapedTokensAfterTheTextStartAreText() {
        #expect(ok("NEED a/b tags=x Meet at time=10am", extended)
            == ParsedCommand(verb: "NEED", arguments: ["a/b"], options: ["tags": "x"], text: "Meet at time=10am"))
        #expect(ok("NEED a/b :x=1 is text", extended)?.text == "x=1 is text")
        #expect(ok("NEED a/b Tags=x", extended)?.text == "Tags=x")
        #expect(ok("NEED a/b =x", extended)?.text == "=x")
    }

    @Test func verbWithoutOptionsTakesEverythingAsText() {
        #expect(ok("SAY a/b key=value and more") == ParsedCommand(verb: "SAY", arguments: ["a/b"], text: "key=value and more"))
        #expect(ok("PING a=b")?.text == "a=b")
        #expect(ok("QUIT limit=1 limit=1")?.text == "limit=1 limit=1")
    }

    @Test func requiredOptions() {
        #expect(ok(#"FUNDING a/b funder="Big Lottery" amount=5000 Community grants"#, extended)?.options
            == ["funder": "Big Lottery", "amount": "5000"])
        #expect(fail("FUNDING a/b amount=5000 Community grants", extended)?.message
            == "missing option 'funder'; usage: FUNDING <room> [amount=<amount>] funder=<funder> [url=<url>] <text>")
    }

    @Test func optionKeysAreLowerCaseLettersAndUnderscores() {
        let p = CommandParser(grammar: Grammar([CommandSyntax(verb: "X", options: ["snake_case"], text: .optional)]))
        #expect(ok("X snake_case=1", p)?.options == ["snake_case": "1"])
        #expect(ok("X snake-case=1", p)?.text == "snake-case=1")
        #expect(ok("X k9=1", p)?.text == "k9=1")
    }

    @Test func hugeOptionCounts() {
        let repeated = "HISTORY a/b " + Array(repeating: "limit=1", count: 10_000).joined(separator: " ")
        #expect(fail(repeated)?.message == "duplicate option 'limit'")
        let unknown = "HISTORY a/b " + (0..<10_000).map { _ in "zz=1" }.joined(separator: " ")
        #expect(fail(unknown)?.message == "unknown option 'zz' for HISTORY")
        let many = "SAY a/b " + Array(repeating: "k=v", count: 10_000).joined(separator: " ")
        #expect(ok(many)?.text?.utf8.count == 10_000 * 4 - 1)
        let allKnown = "SET a=1 b=2 c=3 key=4 org=5 a=6"
        #expect(fail(allKnown, extended)?.message == "duplicate option 'a'")
    }

    // MARK: Text

    @Test func leadingColonIsStrippedOnce() {
        #expect(ok("SAY a/b :hello")?.text == "hello")
        #expect(ok("SAY a/b ::hello")?.text == ":hello")
        #expect(ok("SAY a/b :  indented")?.text == "  indented")
        #expect(ok("SAY a/b hello: world")?.text == "hello: world")
        #expect(ok("PING :")?.text == nil)
        #expect(ok("PING :abc")?.text == "abc")
    }

    @Test func textRules() {
        // .none
        #expect(fail("CLUSTERS now")?.message == "unexpected text after the arguments; usage: CLUSTERS")
        #expect(ok("CLUSTERS :") == ParsedCommand(verb: "CLUSTERS"))
        #expect(ok("CLUSTERS   ") == ParsedCommand(verb: "CLUSTERS"))
        #expect(fail("HISTORY a/b limit=2 extra")?.code == .badSyntax)
        // .required
        #expect(fail("SAY a/b")?.message == "usage: SAY <room> <text>")
        #expect(fail("SAY a/b   ")?.message == "usage: SAY <room> <text>")
        #expect(fail("SAY a/b :")?.message == "usage: SAY <room> <text>")
        #expect(fail("NEED a/b tags=x", extended)?.code == .badSyntax)
        // .optional
        #expect(ok("QUIT")?.text == nil)
        #expect(ok("QUIT see you")?.text == "see you")
    }

    @Test func unicodeTextIsKept() {
        #expect(ok("SAY a/b Grüße aus Lincoln ✓ 🚐")?.text == "Grüße aus Lincoln ✓ 🚐")
    }

    // MARK: Encoding

    @Test func invalidUTF8IsBadEncoding() {
        let failure = fail(bytes("PING ") + [0xFF])
        #expect(failure == ParseFailure(code: .badEncoding, verb: "PING", tag: nil, message: "the line is not valid UTF-8"))
        let cases: [[UInt8]] = [
            [0xFF], [0x80], [0xC3], [0xC0, 0xAF], [0xC1, 0xBF],  // stray, truncated, overlong
            [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],                // overlong, surrogate
            [0xF0, 0x80, 0x80, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],  // overlong, > U+10FFFF
            [0xE2, 0x9C], [0xE2, 0x28, 0x93], [0xF0, 0x9F, 0x9A],
        ]
        for bad in cases {
            #expect(fail(bytes("SAY a/b x") + bad)?.code == .badEncoding, "\(bad)")
            #expect(fail(bytes("SAY a/b x") + bad + bytes("y"))?.code == .badEncoding, "\(bad)")
        }
    }

    @Test func validMultiByteEdgesPass() {
        let edges: [[UInt8]] = [
            [0xC2, 0xA0], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBD], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        for good in edges {
            guard case .success(let command) = parser.parse(bytes("SAY a/b ") + good) else {
                Issue.record("\(good) should pass")
                continue
            }
            #expect(Array(command.text!.utf8) == good)
        }
    }

    @Test func controlCharactersAreBadEncoding() {
        let message = "the line holds a control character; only TAB is allowed"
        #expect(fail([0x53, 0x41, 0x59, 0x20, 0x61, 0x2F, 0x62, 0x20, 0x61, 0x00, 0x62])
            == ParseFailure(code: .badEncoding, verb: "SAY", tag: nil, message: message))
        for control: UInt8 in [0x00, 0x01, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F] {
            #expect(fail(bytes("SAY a/b x") + [control])?.code == .badEncoding)
        }
        // C1 controls (U+0080...U+009F), e.g. NEL.
        #expect(fail(bytes("SAY a/b x") + [0xC2, 0x85])?.message == message)
        #expect(ok("SAY a/b a\tb")?.text == "a\tb")
    }

    @Test func badEncodingKeepsReadableTagAndVerb() {
        #expect(fail(bytes("@t1 say a/b ") + [0xC3]) == ParseFailure(
            code: .badEncoding, verb: "SAY", tag: "t1", message: "the line is not valid UTF-8"))
        #expect(fail(bytes("@t1 ") + [0x00])?.tag == "t1")
        #expect(fail(bytes("@t1 ") + [0x00])?.verb == "*")
        #expect(fail(bytes("@t1 SAY") + [0x00])?.verb == "*")  // the verb is not complete
        #expect(fail(bytes("@t1 SAY") + [0x00])?.tag == "t1")
        #expect(fail(bytes("@t1") + [0x00])?.tag == nil)        // nor is the tag
        #expect(fail(bytes("@b!d SAY ") + [0xFF])?.tag == nil)
        #expect(fail(bytes("@b!d SAY ") + [0xFF])?.verb == "*")
        #expect(fail([0xFF] + bytes(" SAY a/b hi"))?.verb == "*")
        #expect(fail(bytes("frob ") + [0x00])?.verb == "FROB")
        #expect(fail(bytes("fr=ob ") + [0x00])?.verb == "*")
    }

    @Test func badEncodingComesBeforeSyntax() {
        #expect(fail(bytes("@b!d ") + [0x01])?.code == .badEncoding)
        #expect(fail(bytes("FROB ") + [0x01])?.code == .badEncoding)
        #expect(fail(bytes("HISTORY a/b zz=1 ") + [0x01])?.code == .badEncoding)
    }

    // MARK: Grammar

    @Test func v1HasTheCoreAndItemCommands() {
        #expect(Grammar.v1.verbs == [
            "HELP", "PING", "PONG", "QUIT", "REGISTER", "LOGIN", "CLUSTERS", "ROOMS",
            "JOIN", "PART", "WHO", "SAY", "HISTORY", "MARK", "HEAD",
            "NEED", "OFFER", "PROPOSE", "BACK", "VOTE", "REPLY", "RESOLVE", "STATUS", "FUNDING",
            "SHOW", "LIST", "SEARCH", "WATCH", "UNWATCH", "MATCHES", "GRANT", "REVOKE",
            "NEWROOM", "TOPIC", "MUTE", "UNMUTE", "INVITE", "POLICY", "APPROVE", "REQUESTS", "DENY",
        ])
        for verb in Grammar.v1.verbs {
            let syntax = Grammar.v1.syntax(for: verb)!
            #expect(syntax.verb == verb)
            #expect(syntax.usage.hasPrefix(verb))
            #expect(!syntax.summary.isEmpty)
            #expect(syntax.requiredOptions.isSubset(of: ["funder", "tags"]))
        }
        #expect(Grammar.v1.syntax(for: "history")?.options == ["after", "before", "limit"])
        #expect(Grammar.v1.syntax(for: "Register")?.options == ["invite", "org"])
        #expect(Grammar.v1.syntax(for: "SAY")?.text == .required)
        #expect(Grammar.v1.syntax(for: "FUNDING")?.requiredOptions == ["funder"])
        #expect(Grammar.v1.syntax(for: "BACK")?.options.isEmpty == true)  // a contribution may hold key=value
        #expect(Grammar.v1.syntaxes.map(\.verb) == Grammar.v1.verbs)
    }

    @Test func derivedUsage() {
        let syntax = CommandSyntax(verb: "list", required: ["room", "kind"], optional: ["all"],
                                   options: ["limit", "after"], requiredOptions: ["limit"], text: .optional)
        #expect(syntax.verb == "LIST")
        #expect(syntax.usage == "LIST <room> <kind> [all] [after=<after>] limit=<limit> [text]")
        #expect(CommandSyntax(verb: "X", usage: "X custom").usage == "X custom")
    }

    @Test func everyV1VerbParsesItsUsageShape() {
        let lines = [
            "HELP", "HELP say", "PING", "PING tok", "PONG tok", "QUIT", "QUIT bye all",
            "REGISTER acct pw", #"REGISTER acct pw invite=XYZ org="Acme Aid""#, "LOGIN acct pw",
            "CLUSTERS", "ROOMS", "ROOMS east", "JOIN e/r", "PART e/r", "WHO e/r", "SAY e/r hi",
            "HISTORY e/r", "HISTORY e/r after=1 before=9 limit=5",
        ]
        for line in lines { #expect(ok(line) != nil, "\(line)") }
    }
}
