import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Bad input over a real TLS socket, as a table: each row is bytes a client sends and the final
/// reply it must get; after every row the connection is still usable and nothing changed.
/// (RATE_LIMITED, TOO_MANY_CONNECTIONS and PLAINTEXT_REFUSED have their own tests; NO_SUCH_ITEM
/// and FORBIDDEN belong to commands not served yet; STORAGE is in StorageFaultTests.)
@Suite struct BadInputTableTests {
    struct Row: CustomStringConvertible {
        var description: String
        var bytes: [UInt8]
        /// The start of the expected final line.
        var reply: String

        init(_ description: String, _ text: String, _ reply: String) {
            self.init(description, Array(text.utf8) + [10], reply)
        }

        init(_ description: String, _ bytes: [UInt8], _ reply: String) {
            self.description = description
            self.bytes = bytes
            self.reply = reply
        }
    }

    static let longTag = String(repeating: "t", count: 33)
    static let manyOptions = (0..<300).map { "k\($0)=v" }.joined(separator: " ")
    static let manyTags = (0..<1500).map { _ in "a" }.joined(separator: ",")

    static let beforeLogin: [Row] = [
        Row("unknown verb", "FROBNICATE now", "ERR UNKNOWN_COMMAND FROBNICATE"),
        Row("a tag alone", "@t1", "@t1 ERR BAD_SYNTAX *"),
        Row("a bad tag", "@bad!tag PING", "ERR BAD_SYNTAX PING"),
        Row("a 33-character tag", "@\(longTag) PING", "ERR BAD_SYNTAX PING"),
        Row("auth needed", "JOIN rural-east-midlands/general", "ERR AUTH_REQUIRED JOIN"),
        Row("auth needed, tagged", "@x CLUSTERS", "@x ERR AUTH_REQUIRED CLUSTERS"),
        Row("REGISTER without arguments", "REGISTER", "ERR BAD_SYNTAX REGISTER"),
        Row("upper-case account", "REGISTER Boston-Mind correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("Cyrillic o in an account (confusable)", "REGISTER b\u{043E}ston-mind correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("fullwidth letters in an account", "REGISTER \u{FF42}oston-mind correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("dotless i in an account", "REGISTER l\u{0131}ncoln-aid correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("zero-width joiner in an account", "REGISTER boston\u{200D}-mind correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("combining accent in an account", "REGISTER bosto\u{0301}n-mind correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
        Row("a short password", "REGISTER good-name short", "ERR BAD_SYNTAX REGISTER"),
        Row("an unknown option", "REGISTER good-name correct-horse-battery colour=blue", "ERR BAD_SYNTAX REGISTER"),
        Row("300 options", "REGISTER good-name correct-horse-battery \(manyOptions)", "ERR BAD_SYNTAX REGISTER"),
        Row("an unterminated quote", "REGISTER good-name correct-horse-battery org=\"Open", "ERR BAD_SYNTAX REGISTER"),
        Row("unknown account", "LOGIN nobody-here correct-horse-battery", "ERR AUTH_FAILED LOGIN"),
        Row("confusable LOGIN", "LOGIN b\u{043E}ston-mind correct-horse-battery", "ERR AUTH_FAILED LOGIN"),
        Row("wrong password", "LOGIN boston-mind wrong-password-1", "ERR AUTH_FAILED LOGIN"),
        Row("existing account", "REGISTER boston-mind another-password", "ERR ACCOUNT_EXISTS REGISTER"),
        Row("HELP for no such verb", "HELP NOSUCHVERB", "ERR UNKNOWN_COMMAND HELP"),
        Row("invalid UTF-8", [0x50, 0x49, 0x4E, 0x47, 0x20, 0xFF, 0xFE, 10], "ERR BAD_ENCODING"),
        Row("a truncated UTF-8 sequence", [0x50, 0x49, 0x4E, 0x47, 0x20, 0xE2, 0x82, 10], "ERR BAD_ENCODING"),
        Row("an overlong UTF-8 encoding of '/'", [0x50, 0x49, 0x4E, 0x47, 0x20, 0xC0, 0xAF, 10], "ERR BAD_ENCODING"),
        Row("a UTF-16 surrogate in UTF-8", [0x50, 0x49, 0x4E, 0x47, 0x20, 0xED, 0xA0, 0x80, 10], "ERR BAD_ENCODING"),
        Row("a NUL byte", [0x50, 0x49, 0x4E, 0x47, 0x00, 0x41, 10], "ERR BAD_ENCODING"),
        Row("a NUL-only line", [0x00, 10], "ERR BAD_ENCODING"),
        Row("an escape sequence", "PING \u{1B}[2J", "ERR BAD_ENCODING"),
        Row("a bare CR inside a line", "PING a\rb", "ERR BAD_ENCODING"),
        Row("over-long line with its newline", Array(repeating: UInt8(ascii: "a"), count: 5000) + [10], "ERR LINE_TOO_LONG *"),
        Row("over-long line of multi-byte characters", Array(String(repeating: "é", count: 2100).utf8) + [13, 10], "ERR LINE_TOO_LONG *"),
    ]

    static let afterLogin: [Row] = [
        Row("no such cluster", "ROOMS no-such-cluster", "ERR NO_SUCH_CLUSTER ROOMS"),
        Row("no such room", "JOIN rural-east-midlands/nowhere", "ERR NO_SUCH_ROOM JOIN"),
        Row("not a room name", "JOIN not-a-room-name", "ERR BAD_SYNTAX JOIN"),
        Row("confusable room name", "JOIN rural-east-midlands/gener\u{0430}l", "ERR BAD_SYNTAX JOIN"),
        Row("not joined", "SAY rural-east-midlands/purchasing hello", "ERR NOT_JOINED SAY"),
        Row("no text", "SAY rural-east-midlands/general", "ERR BAD_SYNTAX SAY"),
        Row("already logged in", "LOGIN boston-mind correct-horse-battery", "ERR INVALID_STATE LOGIN"),
        Row("limit=0", "HISTORY rural-east-midlands/general limit=0", "ERR BAD_SYNTAX HISTORY"),
        Row("a negative seq", "HISTORY rural-east-midlands/general after=-1", "ERR BAD_SYNTAX HISTORY"),
        Row("a huge seq", "HISTORY rural-east-midlands/general after=99999999999999999999999", "ERR BAD_SYNTAX HISTORY"),
        Row("a duplicate option", "HISTORY rural-east-midlands/general limit=5 limit=6", "ERR BAD_SYNTAX HISTORY"),
        Row("300 options", "HISTORY rural-east-midlands/general \(manyOptions)", "ERR BAD_SYNTAX HISTORY"),
        Row("a 3000-entry list in a value", "HISTORY rural-east-midlands/general limit=\(manyTags)", "ERR BAD_SYNTAX HISTORY"),
    ]

    static func run(_ rows: [Row], on client: TestClient) throws {
        for row in rows {
            try client.connection.send(raw: row.bytes)
            let reply = try client.readReply().last ?? ""
            #expect(reply.hasPrefix(row.reply), "\(row): got \(reply)")
            #expect(try client.final("@alive PING") == "@alive OK PING", "after \(row)")
        }
    }

    @Test func everyBadInputGetsItsErrorAndChangesNothing() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let owner = try server.client()
        try owner.login("boston-mind")
        let client = try server.client()
        try Self.run(Self.beforeLogin, on: client)
        // None of the refused REGISTERs made an account; the real one still logs in.
        for name in ["good-name", "boston-mind-2"] {
            #expect(try client.final("LOGIN \(name) correct-horse-battery").hasPrefix("ERR AUTH_FAILED"))
        }
        #expect(try client.final("LOGIN boston-mind correct-horse-battery") == "OK LOGIN account=boston-mind role=member rooms=0")
        #expect(try client.final("JOIN rural-east-midlands/general").hasPrefix("OK JOIN"))
        try Self.run(Self.afterLogin, on: client)
        // Nothing was posted by any of it.
        #expect(try client.final("HISTORY rural-east-midlands/general") == "OK HISTORY room=rural-east-midlands/general count=0 more=no")
    }

    @Test func anOverLongLineWithoutANewlineIsAnsweredOnceAndTheNextLineWorks() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        // 20 KB with no newline: answered as soon as it passes the limit, the rest discarded.
        for _ in 0..<5 { try client.connection.send(raw: Array(repeating: UInt8(ascii: "z"), count: 4000)) }
        #expect(try client.readLine() == "ERR LINE_TOO_LONG * :lines are at most 4096 bytes; the line was discarded")
        for _ in 0..<5 { try client.connection.send(raw: Array(repeating: UInt8(ascii: "z"), count: 4000)) }
        try client.connection.send(raw: Array("\n@next PING\n".utf8))
        // No second error for the same line: the next reply is the PING's.
        #expect(try client.readLine() == "@next OK PING")
    }
}
