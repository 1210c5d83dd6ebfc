import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Under the `approval` policy a refused JOIN is a request: stored once, told to the facilitators
/// online, listed by REQUESTS, ended by APPROVE, DENY or the account becoming a member, and kept
/// across a restart.
@Suite struct JoinRequestTests {
    static let cluster = "rural-east-midlands"
    static let room = "rural-east-midlands/general"

    @Test(.timeLimit(.minutes(2))) func requestsAreStoredToldListedDeniedApprovedAndSurviveRestart() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: nil)
        do {
            let server = try InProcessServer(config)
            let admin = try server.client()
            #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
            let facilitator = try server.client()
            try facilitator.login("fac-rural")
            #expect(try admin.final("GRANT fac-rural facilitator cluster=\(Self.cluster)").hasPrefix("OK GRANT"))
            #expect(try facilitator.final("POLICY \(Self.cluster) approval") == "OK POLICY cluster=\(Self.cluster) policy=approval")

            let newcomer = try server.client()
            try newcomer.login("new-org")
            let journal = try ItemErrorTests.journalBytes(config.dataDir)
            #expect(try newcomer.final("JOIN \(Self.room)").hasPrefix("ERR FORBIDDEN JOIN :new members of \(Self.cluster) need a facilitator's approval"))
            #expect(try ItemErrorTests.journalBytes(config.dataDir) != journal, "the request was not stored")
            // The facilitator online is told (the NOTICE arrives before the reply to its next command).
            let told = try facilitator.send("PING told")
            #expect(told.contains("NOTICE :new-org asks to join \(Self.cluster)"), "\(told)")
            // Asking again stores nothing more and tells no one again.
            let afterFirst = try ItemErrorTests.journalBytes(config.dataDir)
            #expect(try newcomer.final("JOIN \(Self.room)").hasPrefix("ERR FORBIDDEN JOIN :your request to join \(Self.cluster) is waiting"))
            #expect(try ItemErrorTests.journalBytes(config.dataDir) == afterFirst)
            #expect(try facilitator.send("PING quiet") == ["OK PING :quiet"])

            let listed = try facilitator.send("REQUESTS \(Self.cluster)")
            #expect(listed.count == 2 && listed[0].hasPrefix("* REQUEST new-org time=20") && listed[0].hasSuffix(" :Org new-org"), "\(listed)")
            #expect(listed.last == "OK REQUESTS cluster=\(Self.cluster) count=1")
            // REQUESTS and DENY are the facilitators' (and admins'): a member or the asker gets FORBIDDEN and no line.
            #expect(try newcomer.send("REQUESTS \(Self.cluster)") == ["ERR FORBIDDEN REQUESTS :REQUESTS is for facilitators of the cluster and admins"])
            #expect(try newcomer.final("DENY \(Self.cluster) new-org").hasPrefix("ERR FORBIDDEN DENY"))
            #expect(try admin.final("REQUESTS moon-base").hasPrefix("ERR NO_SUCH_CLUSTER REQUESTS"))
            #expect(try admin.final("DENY \(Self.cluster) Not_An_Account").hasPrefix("ERR BAD_SYNTAX DENY"))
            #expect(try admin.final("DENY \(Self.cluster) ghost-org").hasPrefix("ERR NO_SUCH_ACCOUNT DENY"))
            #expect(try admin.final("DENY \(Self.cluster) fac-rural").hasPrefix("ERR INVALID_STATE DENY"))
            server.stop()
        }
        // The request is journalled: a restart still lists it.
        let server = try InProcessServer(config)
        let facilitator = try server.client()
        try facilitator.login("fac-rural", register: false, role: "facilitator")
        let listed = try facilitator.send("REQUESTS \(Self.cluster)")
        #expect(listed.first?.hasPrefix("* REQUEST new-org time=") == true && listed.last == "OK REQUESTS cluster=\(Self.cluster) count=1")
        #expect(try facilitator.final("DENY \(Self.cluster) new-org") == "OK DENY cluster=\(Self.cluster) account=new-org")
        #expect(try facilitator.send("REQUESTS \(Self.cluster)") == ["OK REQUESTS cluster=\(Self.cluster) count=0"])
        #expect(try facilitator.final("DENY \(Self.cluster) new-org").hasPrefix("ERR INVALID_STATE DENY"))

        // Denied, the account may ask again; APPROVE admits it and ends the request.
        let newcomer = try server.client()
        try newcomer.login("new-org", register: false)
        #expect(try newcomer.final("JOIN \(Self.room)").hasPrefix("ERR FORBIDDEN JOIN"))
        #expect(try newcomer.final("LIST \(Self.room) needs").hasPrefix("ERR FORBIDDEN LIST"))
        #expect(try facilitator.final("APPROVE \(Self.cluster) new-org") == "OK APPROVE cluster=\(Self.cluster) account=new-org")
        #expect(try facilitator.send("REQUESTS \(Self.cluster)").last == "OK REQUESTS cluster=\(Self.cluster) count=0")
        // Approved is a member: the cluster's content is open to it before it joins a room.
        #expect(try newcomer.final("LIST \(Self.room) needs") == "OK LIST room=\(Self.room) count=0")
        #expect(try newcomer.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))
    }
}
