import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// A whole session over real TLS against a server in this process.
@Suite struct SessionTests {
    @Test func registerLoginJoinSayHistory() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        #expect(client.greeting == "HELLO partnerline/1 test :Partnerline coordination server. Type HELP.")
        try client.login("lincoln-womens-aid")

        let clusters = try client.send("CLUSTERS")
        #expect(clusters == [
            "* CLUSTER rural-east-midlands rooms=2 :Rural cluster",
            "* CLUSTER inner-city-north rooms=1 :Inner-city cluster",
            "OK CLUSTERS count=2",
        ])
        let rooms = try client.send("ROOMS rural-east-midlands")
        #expect(rooms == [
            "* ROOM rural-east-midlands/general members=0 last=0 :Introductions",
            "* ROOM rural-east-midlands/purchasing members=0 last=0 :Buy together",
            "OK ROOMS count=2",
        ])
        #expect(try client.final("JOIN rural-east-midlands/purchasing") == "OK JOIN room=rural-east-midlands/purchasing last=0")

        let said = try client.send("SAY rural-east-midlands/purchasing Anyone buying PPE in bulk this quarter?")
        #expect(said.count == 2)
        #expect(said[0].hasPrefix("EV rural-east-midlands/purchasing 1 "))
        #expect(said[0].hasSuffix(" lincoln-womens-aid SAY :Anyone buying PPE in bulk this quarter?"))
        #expect(said[1] == "OK SAY room=rural-east-midlands/purchasing seq=1")
        try client.send("SAY rural-east-midlands/purchasing :key=value looks like an option but is text")

        let history = try client.send("@q7 HISTORY rural-east-midlands/purchasing limit=2")
        #expect(history.count == 3)
        #expect(history[0] == "@q7 " + said[0])
        #expect(history[1].hasSuffix("SAY :key=value looks like an option but is text"))
        #expect(history[2] == "@q7 OK HISTORY room=rural-east-midlands/purchasing count=2 more=no")

        let who = try client.send("WHO rural-east-midlands/purchasing")
        #expect(who == ["* MEMBER lincoln-womens-aid online=yes :Org lincoln-womens-aid",
                        "OK WHO room=rural-east-midlands/purchasing count=1"])
        #expect(try client.final("ROOMS rural-east-midlands").contains("count=2"))
        #expect(try client.send("ROOMS rural-east-midlands")[1] ==
                "* ROOM rural-east-midlands/purchasing members=1 last=2 read=0 :Buy together")
        #expect(try client.final("PART rural-east-midlands/purchasing") == "OK PART room=rural-east-midlands/purchasing")
        #expect(try client.final("@x PING hello there") == "@x OK PING :hello there")
        #expect(try client.final("QUIT see you") == "BYE QUIT :see you")
    }

    @Test func membersReceiveEachOthersEventsInOneOrder() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let alice = try server.client()
        let bob = try server.client(tls: false)
        try alice.login("boston-mind")
        try bob.login("lincoln-aid")
        let room = "rural-east-midlands/general"
        try alice.send("JOIN \(room)")
        try bob.send("JOIN \(room)")
        for n in 1...20 {
            try (n % 2 == 0 ? alice : bob).send("SAY \(room) message \(n)")
        }
        // Bob saw his own events in his replies; read the rest of the live stream up to PING's OK.
        // Alice's last event reaches Bob's connection on its own (the shard hands each connection
        // its block separately), possibly after a PING sent the moment Alice got her OK: ask again
        // until 20 events have come (a bound against hanging, not a time).
        for _ in 0..<200 {
            try bob.send("PING")
            if bob.events.count >= 20 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let seen = bob.events.map { $0.split(separator: " ")[2] }
        #expect(seen.map { Int($0)! } == Array(1...20))
        let who = try alice.send("WHO \(room)")
        #expect(who.filter { $0.hasPrefix("* MEMBER") }.count == 2)
    }

    @Test func whoShowsOfflineMembers() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let alice = try server.client()
        try alice.login("boston-mind")
        try alice.send("JOIN rural-east-midlands/general")
        alice.close()
        let bob = try server.client()
        try bob.login("lincoln-aid")
        try bob.send("JOIN rural-east-midlands/purchasing")   // WHO is for members of the cluster
        var who: [String] = []
        // Alice's close reaches the server asynchronously: ask until she shows offline.
        for _ in 0..<200 {
            who = try bob.send("WHO rural-east-midlands/general")
            if who.first?.contains("online=no") == true { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(who == ["* MEMBER boston-mind online=no :Org boston-mind", "OK WHO room=rural-east-midlands/general count=1"])
    }

    @Test func helpListsEveryCommand() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        let help = try client.send("HELP")
        #expect(help.last == "OK HELP")
        for verb in ["REGISTER", "LOGIN", "CLUSTERS", "ROOMS", "JOIN", "PART", "WHO", "SAY", "HISTORY", "QUIT", "PING"] {
            #expect(help.contains { $0.hasPrefix("* HELP \(verb) ") }, "HELP lists \(verb)")
        }
        let one = try client.send("help say")
        #expect(one.count == 2 && one[0].hasPrefix("* HELP SAY usage="))
    }

    @Test func historyPagesWithAfterAndBefore() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        try client.login("boston-mind")
        let room = "inner-city-north/general"
        try client.send("JOIN \(room)")
        for n in 1...12 { try client.send("SAY \(room) n\(n)") }
        func seqs(_ command: String) throws -> [Int] {
            try client.send(command).dropLast().map { Int($0.split(separator: " ")[2])! }
        }
        #expect(try seqs("HISTORY \(room)") == Array(1...12))
        #expect(try seqs("HISTORY \(room) limit=3") == [10, 11, 12])
        #expect(try seqs("HISTORY \(room) before=5 limit=2") == [3, 4])
        #expect(try seqs("HISTORY \(room) after=9") == [10, 11, 12])
        #expect(try seqs("HISTORY \(room) after=2 before=6") == [3, 4, 5])
        #expect(try client.final("HISTORY \(room) limit=9999") == "OK HISTORY room=\(room) count=12 more=no")
    }

    /// Skipped only when a plain socket cannot bind [::1] (decided without the server's code);
    /// where it can, a server that fails to listen on ::1 fails this test.
    @Test(.enabled(if: IPv6Loopback.isAvailable, Comment(rawValue: IPv6Loopback.absentReason)))
    func ipv6Listener() throws {
        let dir = TempDir()
        var config = TestConfig.make(dataDir: dir.path, plain: false)
        config.listen.host = "::1"
        let server = try InProcessServer(config)
        #expect(server.endpoints.listeningLine.hasPrefix("listening tls=[::1]:"))
        let client = try TestClient(host: "::1", port: server.tlsPort, tls: true)
        #expect(try client.final("PING v6") == "OK PING :v6")
    }
}
