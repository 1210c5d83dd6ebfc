import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Every error code the core commands can produce, each seen on the wire, and the connection
/// stays usable after each.
@Suite struct ErrorPathTests {
    @Test func errorsBeforeLogin() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        let cases: [(String, String)] = [
            ("FROBNICATE", "ERR UNKNOWN_COMMAND FROBNICATE"),
            ("@bad!tag PING", "ERR BAD_SYNTAX"),
            ("JOIN rural-east-midlands/general", "ERR AUTH_REQUIRED JOIN"),
            ("CLUSTERS", "ERR AUTH_REQUIRED CLUSTERS"),
            ("SAY rural-east-midlands/general hi", "ERR AUTH_REQUIRED SAY"),
            ("LOGIN nobody-here correct-horse-battery", "ERR AUTH_FAILED LOGIN"),
            ("REGISTER", "ERR BAD_SYNTAX REGISTER"),
            ("REGISTER Bad_Name correct-horse-battery", "ERR BAD_SYNTAX REGISTER"),
            ("REGISTER good-name short", "ERR BAD_SYNTAX REGISTER"),
            ("REGISTER good-name correct-horse-battery colour=blue", "ERR BAD_SYNTAX REGISTER"),
            ("HELP NOSUCHVERB", "ERR UNKNOWN_COMMAND HELP"),
        ]
        for (line, expected) in cases {
            let reply = try client.final(line)
            #expect(reply.hasPrefix(expected), "\(line) -> \(reply)")
        }
        try client.login("boston-mind")
        #expect(try client.final("REGISTER boston-mind another-password").hasPrefix("ERR ACCOUNT_EXISTS REGISTER"))
        #expect(try client.final("LOGIN boston-mind correct-horse-battery").hasPrefix("ERR INVALID_STATE LOGIN"))

        let other = try server.client()
        #expect(try other.final("LOGIN boston-mind wrong-password-here").hasPrefix("ERR AUTH_FAILED LOGIN"))
        #expect(try other.final("PING still here") == "OK PING :still here")
    }

    @Test func errorsAfterLogin() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        try client.login("boston-mind")
        let cases: [(String, String)] = [
            ("ROOMS no-such-cluster", "ERR NO_SUCH_CLUSTER ROOMS"),
            ("JOIN no-such-cluster/general", "ERR NO_SUCH_CLUSTER JOIN"),
            ("JOIN rural-east-midlands/nowhere", "ERR NO_SUCH_ROOM JOIN"),
            ("JOIN not-a-room-name", "ERR BAD_SYNTAX JOIN"),
            ("WHO rural-east-midlands/nowhere", "ERR NO_SUCH_ROOM WHO"),
            // Not yet a member of the cluster: its rooms are closed to this account ...
            ("SAY rural-east-midlands/general hello", "ERR FORBIDDEN SAY"),
            ("HISTORY rural-east-midlands/general", "ERR FORBIDDEN HISTORY"),
            ("PART rural-east-midlands/general", "ERR FORBIDDEN PART"),
            // ... but a room that does not exist says so first.
            ("SAY rural-east-midlands/nowhere hello", "ERR NO_SUCH_ROOM SAY"),
            ("SAY rural-east-midlands/general", "ERR BAD_SYNTAX SAY"),
            ("JOIN", "ERR BAD_SYNTAX JOIN"),
        ]
        for (line, expected) in cases {
            let reply = try client.final(line)
            #expect(reply.hasPrefix(expected), "\(line) -> \(reply)")
        }
        // A member of the cluster who has not joined this room: NOT_JOINED for posting and leaving.
        try client.send("JOIN rural-east-midlands/purchasing")
        for (line, expected) in [("SAY rural-east-midlands/general hello", "ERR NOT_JOINED SAY"),
                                 ("PART rural-east-midlands/general", "ERR NOT_JOINED PART"),
                                 ("HISTORY rural-east-midlands/general", "OK HISTORY")] {
            let reply = try client.final(line)
            #expect(reply.hasPrefix(expected), "\(line) -> \(reply)")
        }
        try client.send("JOIN rural-east-midlands/general")
        for bad in ["limit=0", "limit=abc", "after=-1", "before=1.5", "limit=5 limit=6", "since=3", "limit=\"\""] {
            let reply = try client.final("HISTORY rural-east-midlands/general \(bad)")
            #expect(reply.hasPrefix("ERR BAD_SYNTAX HISTORY"), "\(bad) -> \(reply)")
        }
        #expect(try client.final("HISTORY rural-east-midlands/general") == "OK HISTORY room=rural-east-midlands/general count=0 more=no")
    }

    @Test func transportLevelBadInput() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        // Over-long line with its newline: discarded, answered, connection usable.
        try client.connection.send(raw: Array(repeating: UInt8(ascii: "a"), count: 5000) + [10])
        #expect(try client.readReply().last!.hasPrefix("ERR LINE_TOO_LONG"))
        // Over-long line sent in pieces before its newline.
        for _ in 0..<3 { try client.connection.send(raw: Array(repeating: UInt8(ascii: "b"), count: 3000)) }
        try client.connection.send(raw: [13, 10])
        #expect(try client.readReply().last!.hasPrefix("ERR LINE_TOO_LONG"))
        // Invalid UTF-8, a NUL byte, another control character.
        for bad: [UInt8] in [[0x50, 0x49, 0x4E, 0x47, 0x20, 0xFF, 10], [0x50, 0x49, 0x4E, 0x47, 0x00, 10], Array("PING \u{1B}[2J\n".utf8)] {
            try client.connection.send(raw: bad)
            #expect(try client.readReply().last!.hasPrefix("ERR BAD_ENCODING"))
        }
        // Empty lines are ignored; CRLF and LF both work.
        try client.connection.send(raw: Array("\n\r\n@t1 PING a\r\n@t2 PING b\n".utf8))
        #expect(try client.readLine() == "@t1 OK PING :a")
        #expect(try client.readLine() == "@t2 OK PING :b")
    }

    @Test func registrationPolicies() throws {
        let closedDir = TempDir()
        let closed = try InProcessServer(TestConfig.make(dataDir: closedDir.path, policy: "closed"))
        #expect(try closed.client().final("REGISTER boston-mind correct-horse-battery").hasPrefix("ERR REGISTRATION_CLOSED"))

        let inviteDir = TempDir()
        let invite = try InProcessServer(TestConfig.make(dataDir: inviteDir.path, policy: "invite", invites: ["k7q2-rural"]))
        let client = try invite.client()
        #expect(try client.final("REGISTER boston-mind correct-horse-battery").hasPrefix("ERR REGISTRATION_CLOSED"))
        #expect(try client.final("REGISTER boston-mind correct-horse-battery invite=wrong").hasPrefix("ERR REGISTRATION_CLOSED"))
        #expect(try client.final("REGISTER boston-mind correct-horse-battery invite=k7q2-rural") == "OK REGISTER account=boston-mind")
        #expect(try client.final("REGISTER lincoln-aid correct-horse-battery invite=k7q2-rural").hasPrefix("ERR REGISTRATION_CLOSED"))
        invite.stop()
        // The used code stays used after a restart.
        let again = try InProcessServer(TestConfig.make(dataDir: inviteDir.path, policy: "invite", invites: ["k7q2-rural"]))
        #expect(try again.client().final("REGISTER lincoln-aid correct-horse-battery invite=k7q2-rural").hasPrefix("ERR REGISTRATION_CLOSED"))
    }

    @Test func plaintextCredentialsRefusedFromRemotePeers() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path), treatPeersAsRemote: true)
        let plain = try server.client(tls: false)
        #expect(try plain.final("REGISTER boston-mind correct-horse-battery").hasPrefix("ERR PLAINTEXT_REFUSED REGISTER"))
        #expect(try plain.final("LOGIN boston-mind correct-horse-battery").hasPrefix("ERR PLAINTEXT_REFUSED LOGIN"))
        #expect(try plain.final("PING") == "OK PING")
        // The same peer over TLS may.
        let tls = try server.client()
        try tls.login("boston-mind")
    }

    @Test func tooManyQueuedCommandsIsRefused() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path, extraLimits: "  max_queued_commands: 4")
        let server = try InProcessServer(config)
        let client = try server.client()
        try client.login("boston-mind")
        try client.send("JOIN rural-east-midlands/general")
        let burst = (1...50).map { "SAY rural-east-midlands/general flood \($0)\n" }.joined()
        try client.connection.send(raw: Array(burst.utf8))
        var last = ""
        while let line = try? client.readLine() {
            last = line
            if line.hasPrefix("BYE") { break }
        }
        #expect(last.hasPrefix("BYE RATE_LIMITED"))
    }

    /// OpenSSL refusing to hash (here: scrypt with r=0, which the config check would normally
    /// stop) is an ERR INTERNAL that creates nothing and leaves the connection usable.
    @Test func aHashingFailureIsInternalAndCreatesNothing() throws {
        let dir = TempDir()
        var config = TestConfig.make(dataDir: dir.path)
        config.passwords.scryptR = 0
        #expect(throws: ConfigError.self) { try config.validate() }
        let server = try InProcessServer(config)
        let client = try server.client()
        #expect(try client.final("REGISTER boston-mind correct-horse-battery").hasPrefix("ERR INTERNAL REGISTER"))
        #expect(try client.final("LOGIN boston-mind correct-horse-battery").hasPrefix("ERR AUTH_FAILED LOGIN"))
        #expect(try client.final("PING") == "OK PING")
    }
}
