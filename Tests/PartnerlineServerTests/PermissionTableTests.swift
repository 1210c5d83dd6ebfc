import Foundation
import PartnerlineProtocol
@testable import PartnerlineServer
import Testing

/// The permission table seen from a client: every command of the grammar, sent by every role,
/// from a connection that has joined the room it names and one that has not, over real TLS.
/// A refusal must be exactly the expected AUTH_REQUIRED / FORBIDDEN / NOT_JOINED; an allowed
/// command must get the answer the command itself gives (OK, or a non-permission ERR such as
/// NO_SUCH_ITEM for the made-up ids used so that nothing here depends on order).
@Suite struct PermissionTableTests {
    enum Who: String, CaseIterable { case anonymous, member, bot, facilitatorHere, facilitatorElsewhere, admin }

    static let room = "rural-east-midlands/general"

    /// The expected refusal, written out by hand (the same rules as PermissionsTests in Core).
    static func refusal(_ verb: String, _ who: Who, joined: Bool) -> String? {
        let anyone: Set = ["HELP", "PING", "PONG", "QUIT", "REGISTER", "LOGIN"]
        let joinedRoom: Set = ["SAY", "HISTORY", "MARK", "NEED", "OFFER", "PROPOSE"]
        let moderation: Set = ["GRANT", "REVOKE", "NEWROOM", "TOPIC", "MUTE", "UNMUTE", "INVITE", "POLICY", "APPROVE"]
        if anyone.contains(verb) { return nil }
        if who == .anonymous { return "AUTH_REQUIRED" }
        if joinedRoom.contains(verb) { return joined ? nil : "NOT_JOINED" }
        if verb == "FUNDING" {
            guard [.bot, .facilitatorHere, .admin].contains(who) else { return "FORBIDDEN" }
            return joined ? nil : "NOT_JOINED"
        }
        if moderation.contains(verb) { return [.facilitatorHere, .admin].contains(who) ? nil : "FORBIDDEN" }
        return nil
    }

    /// A command line for each verb, and what it answers when allowed ("OK" or an ERR code).
    static func probe(_ verb: String, _ n: Int, loggedIn: Bool, joined: Bool) -> (String, String) {
        let room = Self.room
        switch verb {
        case "HELP": return ("HELP SAY", "OK")
        case "PING": return ("PING x", "OK")
        case "PONG": return ("PONG x", "OK")  // no reply of its own: a PING follows it
        case "QUIT": return ("QUIT", "BYE")
        case "REGISTER": return ("REGISTER probe-\(n) correct-horse-battery", "OK")
        case "LOGIN": return ("LOGIN nobody-here wrong-password", loggedIn ? "INVALID_STATE" : "AUTH_FAILED")
        case "CLUSTERS": return ("CLUSTERS", "OK")
        case "ROOMS": return ("ROOMS", "OK")
        case "JOIN": return ("JOIN \(room)", "OK")
        case "PART": return ("PART \(room)", joined ? "OK" : "NOT_JOINED")
        case "WHO": return ("WHO \(room)", "OK")
        // HEAD checks cluster membership itself, which this probe's JOIN/PART resets make history-dependent.
        case "HEAD": return ("HEAD rural-east-midlands", "OK|FORBIDDEN")
        case "SAY": return ("SAY \(room) hello \(n)", "OK")
        case "HISTORY": return ("HISTORY \(room) limit=1", "OK")
        case "MARK": return ("MARK \(room) 0", "OK")
        case "NEED": return ("NEED \(room) Chairs \(n)", "OK")
        case "OFFER": return ("OFFER \(room) Tables \(n)", "OK")
        case "PROPOSE": return ("PROPOSE \(room) Bid \(n)", "OK")
        case "BACK": return ("BACK P999 Drivers", "NO_SUCH_ITEM")
        case "VOTE": return ("VOTE P999 agree", "NO_SUCH_ITEM")
        case "REPLY": return ("REPLY N999 Hello", "NO_SUCH_ITEM")
        case "RESOLVE": return ("RESOLVE N999", "NO_SUCH_ITEM")
        case "STATUS": return ("STATUS P999 submitted", "NO_SUCH_ITEM")
        case "FUNDING": return ("FUNDING \(room) funder=Trust Fund \(n)", "OK")
        case "SHOW": return ("SHOW N999", "NO_SUCH_ITEM")
        case "LIST": return ("LIST \(room) needs", "OK")
        case "SEARCH": return ("SEARCH chairs", "OK")
        case "WATCH": return ("WATCH tags=chairs", "OK")
        case "UNWATCH": return ("UNWATCH tags=chairs", "OK")
        case "MATCHES": return ("MATCHES", "OK")
        case "GRANT": return ("GRANT ghost-org facilitator cluster=rural-east-midlands", "NO_SUCH_ACCOUNT")
        case "REVOKE": return ("REVOKE ghost-org facilitator cluster=rural-east-midlands", "NO_SUCH_ACCOUNT")
        case "NEWROOM": return ("NEWROOM rural-east-midlands/room-\(n) Made by the probe", "OK")
        case "TOPIC": return ("TOPIC \(room) Topic \(n)", "OK")
        case "MUTE": return ("MUTE \(room) ghost-org", "NO_SUCH_ACCOUNT")
        case "UNMUTE": return ("UNMUTE \(room) ghost-org", "NO_SUCH_ACCOUNT")
        case "INVITE": return ("INVITE rural-east-midlands", "OK")
        case "POLICY": return ("POLICY rural-east-midlands open", "INVALID_STATE")
        case "APPROVE": return ("APPROVE rural-east-midlands ghost-org", "NO_SUCH_ACCOUNT")
        default: return ("", "no probe for \(verb)")
        }
    }

    /// The first word of a reply that says how it went: OK, BYE, or the ERR code.
    static func outcome(_ line: String) -> String {
        let words = TestClient.untagged(line).split(separator: " ")
        return words.first == "ERR" ? String(words[1]) : String(words.first ?? "")
    }

    @Test func everyCommandEveryRoleJoinedOrNot() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: nil)
        let server = try InProcessServer(config)
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        for name in ["a-member", "a-bot", "fac-here", "fac-elsewhere"] {
            #expect(try admin.final("REGISTER \(name) correct-horse-battery").hasPrefix("OK REGISTER"))
        }
        #expect(try admin.final("GRANT a-bot bot").hasPrefix("OK GRANT"))
        #expect(try admin.final("GRANT fac-here facilitator cluster=rural-east-midlands").hasPrefix("OK GRANT"))
        #expect(try admin.final("GRANT fac-elsewhere facilitator cluster=inner-city-north").hasPrefix("OK GRANT"))
        admin.close()
        let accounts: [Who: (String, String)] = [
            .member: ("a-member", "correct-horse-battery"), .bot: ("a-bot", "correct-horse-battery"),
            .facilitatorHere: ("fac-here", "correct-horse-battery"),
            .facilitatorElsewhere: ("fac-elsewhere", "correct-horse-battery"), .admin: ("root-admin", "admin-password-1"),
        ]
        func session(_ who: Who, joined: Bool) throws -> TestClient {
            let client = try server.client()
            if let (name, password) = accounts[who] {
                #expect(try client.final("LOGIN \(name) \(password)").hasPrefix("OK LOGIN"))
                if joined { #expect(try client.final("JOIN \(Self.room)").hasPrefix("OK JOIN")) }
            }
            return client
        }

        var checked = 0
        for who in Who.allCases {
            for joined in [false, true] where !(who == .anonymous && joined) {
                var client = try session(who, joined: joined)
                for verb in Grammar.v1.verbs {
                    checked += 1
                    let (line, allowed) = Self.probe(verb, checked, loggedIn: who != .anonymous, joined: joined)
                    let reply: String
                    if verb == "PONG" {
                        try client.connection.send(line: line)
                        reply = try client.send("PING after-pong").last!
                    } else {
                        reply = try client.send(line).last!
                    }
                    let expected = Self.refusal(verb, who, joined: joined) ?? allowed
                    #expect(expected.split(separator: "|").contains(Substring(Self.outcome(reply))),
                            "\(who) joined=\(joined): \(line) -> \(reply)")
                    // Put the session back as it was: QUIT closed it, PART and JOIN changed what it has joined.
                    if verb == "QUIT" {
                        client.close()
                        client = try session(who, joined: joined)
                    } else if verb == "JOIN" && !joined && who != .anonymous {
                        _ = try client.send("PART \(Self.room)")
                    } else if verb == "PART" && joined {
                        _ = try client.send("JOIN \(Self.room)")
                    }
                }
                client.close()
            }
        }
        #expect(checked == Grammar.v1.verbs.count * 11)
    }
}
