import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Needs, offers, proposals and funding alerts over real TLS, through a restart.
@Suite struct ItemsSessionTests {
    static let purchasing = "rural-east-midlands/purchasing"
    static let funding = "rural-east-midlands/funding"

    /// A test config with a funding room, and an admin made with the admin tool before the server starts.
    static func setUp(_ dir: TempDir) throws -> ServerConfig {
        var config = TestConfig.make(dataDir: dir.path)
        config.clusters[0].rooms.append(.init(name: "funding", topic: "Grants and bids"))
        config.clusters[0].rooms.append(.init(name: "premises", topic: "Rooms to share"))
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: "Ops")
        return config
    }

    @Test func theScriptedCoordinationSessionSurvivesARestart() throws {
        let dir = TempDir()
        let config = try Self.setUp(dir)
        let (purchasing, funding) = (Self.purchasing, Self.funding)
        var before: [String: [String]] = [:]
        let questions = [
            "SHOW N1", "SHOW O1", "SHOW P1", "SHOW F1",
            "LIST \(purchasing) needs all", "LIST \(purchasing) offers", "LIST \(funding) proposals all",
            "LIST \(funding) funding", "HISTORY \(purchasing)", "HISTORY \(funding)", "SEARCH minibus",
        ]
        do {
            let server = try InProcessServer(config)
            let admin = try server.client()
            #expect(try admin.final("LOGIN root-admin admin-password-1") == "OK LOGIN account=root-admin role=admin rooms=0")

            let lincoln = try server.client()
            try lincoln.login("lincoln-aid")
            let boston = try server.client()
            try boston.login("boston-mind")
            let spalding = try server.client()
            try spalding.login("spalding-hall")
            let bot = try server.client()
            try bot.login("grants-bot")
            #expect(try admin.final("GRANT grants-bot bot") == "OK GRANT account=grants-bot role=bot")

            // A need and a matching offer: both organisations get the MATCH.
            for client in [lincoln, boston] { _ = try client.send("JOIN \(purchasing)") }
            let need = try lincoln.send("NEED \(purchasing) tags=transport,minibus until=2030-12-31 Shared minibus for Tuesday outreach")
            #expect(need.count == 2)
            #expect(need[0].hasSuffix("lincoln-aid NEED id=N1 tags=transport,minibus until=2030-12-31 :Shared minibus for Tuesday outreach"))
            #expect(need[1] == "OK NEED id=N1 seq=1")
            #expect(try boston.readLine() == need[0])
            let offer = try boston.send("OFFER \(purchasing) tags=vehicles Minibus with driver, free on Tuesdays")
            #expect(offer.count == 3)
            #expect(offer[0].contains(" boston-mind OFFER id=O1 tags=vehicles :Minibus with driver"))
            #expect(offer[1].contains(" *server MATCH need=N1 offer=O1 need_by=lincoln-aid offer_by=boston-mind :shared tags: minibus"))
            #expect(offer[2] == "OK OFFER id=O1 seq=2")
            #expect(try lincoln.readLine() == offer[0])
            #expect(try lincoln.readLine() == offer[1])
            let matches = try lincoln.send("MATCHES")
            #expect(matches == ["* MATCH need=N1 offer=O1 need_by=lincoln-aid offer_by=boston-mind :shared tags: minibus",
                                "OK MATCHES count=1"])

            // A bot posts a funding alert; a member may not.
            #expect(try bot.final("JOIN \(funding)").hasPrefix("OK JOIN"))
            let alert = try bot.send("FUNDING \(funding) funder=\"Lottery Community Fund\" amount=50000 deadline=2030-06-30 tags=transport Rural transport grants")
            #expect(alert.last == "OK FUNDING id=F1 seq=1")
            #expect(alert[0].hasSuffix("grants-bot FUNDING id=F1 funder=\"Lottery Community Fund\" amount=50000 tags=transport deadline=2030-06-30 :Rural transport grants"))
            for client in [lincoln, boston, spalding] { _ = try client.send("JOIN \(funding)") }
            #expect(errorCode(try lincoln.final("FUNDING \(funding) funder=Me A fund")) == "FORBIDDEN")

            // A proposal that names the alert, two partners with contributions, votes with a block, submitted, won.
            let propose = try lincoln.send("PROPOSE \(funding) deadline=2030-06-01 funding=F1 tags=transport Shared minibus consortium")
            #expect(propose.last == "OK PROPOSE id=P1 seq=2")
            #expect(propose[0].hasSuffix("lincoln-aid PROPOSAL id=P1 status=open tags=transport deadline=2030-06-01 funding=F1 :Shared minibus consortium"))
            #expect(try boston.final("BACK P1 Two volunteer drivers on Tuesdays") == "OK BACK id=P1 room=\(funding) seq=3")
            #expect(try spalding.final("BACK P1 Garage space and the insurance") == "OK BACK id=P1 room=\(funding) seq=4")
            #expect(try boston.final("VOTE P1 agree").hasPrefix("OK VOTE id=P1"))
            #expect(try spalding.final("VOTE P1 block Insurance terms are not agreed yet").hasPrefix("OK VOTE id=P1"))
            #expect(try lincoln.final("VOTE P1 agree").hasPrefix("OK VOTE id=P1"))
            #expect(try spalding.final("REPLY P1 Our broker will send terms on Friday").hasPrefix("OK REPLY id=P1"))
            #expect(try lincoln.final("STATUS P1 submitted Sent to the Lottery today").hasPrefix("OK STATUS id=P1"))
            #expect(errorCode(try boston.final("BACK P1 More fuel")) == "INVALID_STATE")
            #expect(try lincoln.final("STATUS P1 won") == "OK STATUS id=P1 room=\(funding) seq=10")

            let show = try lincoln.send("SHOW P1")
            #expect(show == [
                "* ITEM P1 \(funding) status=won by=lincoln-aid tags=transport deadline=2030-06-01 funding=F1 partners=2 :Shared minibus consortium",
                "* PARTNER P1 boston-mind :Two volunteer drivers on Tuesdays",
                "* PARTNER P1 spalding-hall :Garage space and the insurance",
                "* TALLY P1 agree=2 abstain=0 disagree=0 block=1",
                "* VOTE P1 boston-mind vote=agree",
                "* VOTE P1 spalding-hall vote=block :Insurance terms are not agreed yet",
                "* VOTE P1 lincoln-aid vote=agree",
                show[7],
                "OK SHOW id=P1",
            ])
            #expect(show[7].hasPrefix("* REPLY P1 spalding-hall time=") && show[7].hasSuffix(":Our broker will send terms on Friday"))
            let showAlert = try bot.send("SHOW F1")
            #expect(showAlert.contains("* ANSWER F1 P1 status=won by=lincoln-aid :Shared minibus consortium"))

            for question in questions { before[question] = try lincoln.send(question) }
            server.stop()
        }
        let server = try InProcessServer(config)
        let lincoln = try server.client()
        try lincoln.login("lincoln-aid", register: false)
        for room in [purchasing, funding] { _ = try lincoln.send("JOIN \(room)") }
        for question in questions {
            #expect(try lincoln.send(question) == before[question], "\(question) after the restart")
        }
        #expect(try lincoln.send("MATCHES").count == 2)
        // Ids go on from where they were: never reused.
        #expect(try lincoln.final("NEED \(purchasing) Printer toner") == "OK NEED id=N2 seq=4")
    }

    @Test func anOrganisationThatWasOfflineSeesTheMatchInHistory() throws {
        let dir = TempDir()
        let server = try InProcessServer(try Self.setUp(dir))
        let premises = "rural-east-midlands/premises"
        do {
            let boston = try server.client()
            try boston.login("boston-mind")
            _ = try boston.send("JOIN \(premises)")
            #expect(try boston.final("OFFER \(premises) Meeting room with projector, weekday evenings") == "OK OFFER id=O1 seq=1")
            boston.close()
        }
        let lincoln = try server.client()
        try lincoln.login("lincoln-aid")
        _ = try lincoln.send("JOIN \(Self.purchasing)")
        let need = try lincoln.send("NEED \(Self.purchasing) tags=projector Projector for a training evening")
        #expect(need.count == 3, "the MATCH in the other room is not sent again to someone who has it from this one")
        #expect(need[1].contains("MATCH need=N1 offer=O1 need_by=lincoln-aid offer_by=boston-mind"))
        // An online organisation outside both rooms gets the MATCH once, directly.
        let online = try server.client()
        try online.login("boston-mind", register: false)
        _ = try lincoln.send("NEED \(Self.purchasing) tags=projector,evening A second projector")
        let direct = try online.readLine()
        #expect(direct.contains(" *server MATCH need=N2 offer=O1 "))
        #expect(try online.send("PING once") == ["OK PING :once"])
        online.close()

        let boston = try server.client()
        try boston.login("boston-mind", register: false)
        _ = try boston.send("JOIN \(premises)")
        let history = try boston.send("HISTORY \(premises)")
        #expect(history.count == 4)
        #expect(history[1].hasPrefix("EV \(premises) 2 ") && history[1].contains(" *server MATCH need=N1 offer=O1 "))
        #expect(history[2].hasPrefix("EV \(premises) 3 ") && history[2].contains(" *server MATCH need=N2 offer=O1 "))
    }

    @Test func watchersGetNewItemsWithTheirTagsFromRoomsTheyHaveNotJoined() throws {
        let dir = TempDir()
        let server = try InProcessServer(try Self.setUp(dir))
        let watcher = try server.client()
        try watcher.login("boston-mind")
        _ = try watcher.send("JOIN rural-east-midlands/general")  // a member of the cluster, not of the room
        #expect(try watcher.final("WATCH tags=minibus,ppe") == "OK WATCH tags=minibus,ppe")
        #expect(try watcher.final("UNWATCH tags=ppe") == "OK WATCH tags=minibus".replacingOccurrences(of: "WATCH", with: "UNWATCH"))
        let poster = try server.client()
        try poster.login("lincoln-aid")
        _ = try poster.send("JOIN \(Self.purchasing)")
        _ = try poster.send("NEED \(Self.purchasing) tags=ppe Gloves")
        let need = try poster.send("NEED \(Self.purchasing) Minibus for a day trip")
        #expect(try watcher.readLine() == need[0])
        // An outsider to the cluster watching the same tag gets nothing: PING answers before any EV would.
        let outsider = try server.client()
        try outsider.login("city-food-bank")
        _ = try outsider.send("WATCH tags=minibus")
        _ = try poster.send("NEED \(Self.purchasing) Another minibus")
        #expect(try outsider.send("PING x") == ["OK PING :x"])
    }
}

/// Item events share group-committed batches with SAYs from other connections; every member must
/// still see one stream per room in seq order.
@Suite struct ItemsOrderingTests {
    @Test func itemEventsAndSaysFromConcurrentPostersArriveInSeqOrder() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let room = "rural-east-midlands/purchasing"
        let observer = try server.client()
        try observer.login("observer-org")
        _ = try observer.send("JOIN \(room)")
        var posters: [TestClient] = []
        for name in ["sayer-org", "needer-org", "offerer-org"] {
            let client = try server.client()
            try client.login(name)
            _ = try client.send("JOIN \(room)")
            posters.append(client)
        }
        let count = 40
        // Each poster sends all its lines at once, so the shard sees them interleaved.
        try posters[0].connection.send(raw: Array((1...count).map { "SAY \(room) note \($0)\n" }.joined().utf8))
        try posters[1].connection.send(raw: Array((1...count).map { "NEED \(room) tags=van Van \($0)\n" }.joined().utf8))
        try posters[2].connection.send(raw: Array((1...count).map { "OFFER \(room) tags=van Van \($0)\n" }.joined().utf8))
        for poster in posters {
            var oks = 0
            while oks < count {
                let line = try poster.readLine()
                if line.hasPrefix("OK ") { oks += 1 } else if line.hasPrefix("ERR ") { Issue.record("\(line)"); oks += 1 }
            }
        }
        // Live EVs that arrived meanwhile come first and untagged; the tagged reply says the last seq.
        let reply = try observer.send("@h HISTORY \(room) limit=1")
        let newest = try #require(reply.first { $0.hasPrefix("@h EV ") })
        let last = try #require(Int(newest.split(separator: " ")[3]))
        var seqs = reply.filter { $0.hasPrefix("EV ") }.map { Int($0.split(separator: " ")[2])! }
        while seqs.count < last {
            let line = try observer.readLine()
            guard line.hasPrefix("EV ") else { continue }
            seqs.append(Int(line.split(separator: " ")[2])!)
        }
        #expect(seqs == Array(1...last), "the observer's stream is in seq order without gaps")
        #expect(last > 3 * count, "MATCH events were stored too")
    }
}

/// Membership is what the journal says after JOIN, PART, JOIN sent back to back.
@Suite struct MembershipRaceTests {
    @Test func aJoinRightAfterAPartKeepsTheMembership() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        let room = "rural-east-midlands/general"
        do {
            let server = try InProcessServer(config)
            let client = try server.client()
            try client.login("boston-mind")
            for _ in 1...20 {
                try client.connection.send(raw: Array("JOIN \(room)\nPART \(room)\nJOIN \(room)\n".utf8))
                for _ in 1...3 { _ = try client.readReply() }
                #expect(try client.send("WHO \(room)") == ["* MEMBER boston-mind online=yes :Org boston-mind", "OK WHO room=\(room) count=1"])
            }
            server.stop()
        }
        let server = try InProcessServer(config)
        let client = try server.client()
        try client.login("lincoln-aid")
        try client.send("JOIN rural-east-midlands/purchasing")   // WHO is for members of the cluster
        #expect(try client.send("WHO \(room)").first == "* MEMBER boston-mind online=no :Org boston-mind")
    }
}
