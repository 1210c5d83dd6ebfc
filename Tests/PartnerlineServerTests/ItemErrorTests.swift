import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Every refusal of an item or role command gives its code and changes nothing: the journal files
/// are byte for byte the same before and after, and so are the answers to SHOW and LIST.
@Suite struct ItemErrorTests {
    /// Every journal file under the data dir, by path, with its bytes.
    static func journalBytes(_ dataDir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: dataDir)!
        while let path = enumerator.nextObject() as? String {
            guard !path.hasPrefix("tls") else { continue }
            var isDirectory: ObjCBool = false
            let full = dataDir + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = try Data(contentsOf: URL(fileURLWithPath: full))
            }
        }
        return files
    }

    @Test func badInputGetsItsCodeAndChangesNothing() throws {
        let dir = TempDir()
        let config = try ItemsSessionTests.setUp(dir)
        let server = try InProcessServer(config)
        let (purchasing, funding) = (ItemsSessionTests.purchasing, ItemsSessionTests.funding)

        let anonymous = try server.client()
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        let lead = try server.client()
        try lead.login("lincoln-aid")
        let other = try server.client()
        try other.login("boston-mind")
        for client in [lead, other, admin] {
            _ = try client.send("JOIN \(purchasing)")
            _ = try client.send("JOIN \(funding)")
        }
        // State to refuse against: N1 open (lead's), N2 resolved, P1 open, P2 submitted, F1 open.
        #expect(try lead.final("NEED \(purchasing) tags=ppe Gloves").hasPrefix("OK NEED id=N1"))
        #expect(try lead.final("NEED \(purchasing) Paper").hasPrefix("OK NEED id=N2"))
        #expect(try lead.final("RESOLVE N2").hasPrefix("OK RESOLVE"))
        #expect(try lead.final("PROPOSE \(funding) Open bid").hasPrefix("OK PROPOSE id=P1"))
        #expect(try lead.final("PROPOSE \(funding) Sent bid").hasPrefix("OK PROPOSE id=P2"))
        #expect(try lead.final("STATUS P2 submitted").hasPrefix("OK STATUS"))
        #expect(try admin.final("FUNDING \(funding) funder=Council Small grants").hasPrefix("OK FUNDING id=F1"))

        let questions = ["SHOW N1", "SHOW N2", "SHOW P1", "SHOW P2", "SHOW F1", "LIST \(purchasing) needs all",
                         "LIST \(funding) proposals all", "HISTORY \(purchasing)", "HISTORY \(funding)"]
        _ = try lead.send("PING sync")  // takes in the EV of the alert first, so the answers below are only answers
        let answersBefore = try questions.map { try lead.send($0) }
        let bytesBefore = try Self.journalBytes(config.dataDir)

        let cases: [(TestClient, String, String)] = [
            (anonymous, "NEED \(purchasing) Gloves", "AUTH_REQUIRED"),
            (anonymous, "BACK P1 Drivers", "AUTH_REQUIRED"),
            (lead, "NEED rural-east-midlands/general Gloves", "NOT_JOINED"),
            (lead, "NEED \(purchasing)", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) tags=ppe", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) tags=a,,b Gloves", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) tags=PP@E Gloves", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) colour=red Gloves", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) until=2030-02-30 Gloves", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) until=31/12/2030 Gloves", "BAD_SYNTAX"),
            (lead, "NEED \(purchasing) until=2020-01-01 Gloves", "BAD_SYNTAX"),
            (lead, "OFFER \(purchasing) deadline=2030-01-01 Gloves", "BAD_SYNTAX"),
            (lead, "NEED no-such-cluster/general Gloves", "NO_SUCH_CLUSTER"),
            (lead, "PROPOSE \(funding) funding=F99 Bid", "NO_SUCH_ITEM"),
            (lead, "PROPOSE \(funding) funding=N1 Bid", "BAD_SYNTAX"),
            (lead, "PROPOSE \(funding) deadline=2030-13-01 Bid", "BAD_SYNTAX"),
            (lead, "FUNDING \(funding) funder=Me Money", "FORBIDDEN"),
            (admin, "FUNDING \(funding) amount=5 Money", "BAD_SYNTAX"),
            (admin, "FUNDING \(funding) funder=Me deadline=soon Money", "BAD_SYNTAX"),
            (other, "BACK P99 Drivers", "FORBIDDEN"),
            (other, "BACK N1 Drivers", "BAD_SYNTAX"),
            (other, "BACK Pfoo Drivers", "BAD_SYNTAX"),
            (other, "BACK P1", "BAD_SYNTAX"),
            (other, "BACK P2 Drivers", "INVALID_STATE"),
            (other, "VOTE P1 maybe", "BAD_SYNTAX"),
            (other, "VOTE P1 block", "BAD_SYNTAX"),
            (other, "VOTE P2 agree", "INVALID_STATE"),
            (other, "VOTE P7 agree", "FORBIDDEN"),
            (other, "STATUS P2 won", "FORBIDDEN"),
            (lead, "STATUS P1 won", "INVALID_STATE"),
            (lead, "STATUS P1 finished", "BAD_SYNTAX"),
            (lead, "STATUS N1 submitted", "BAD_SYNTAX"),
            (other, "RESOLVE N1", "FORBIDDEN"),
            (lead, "RESOLVE P1", "BAD_SYNTAX"),
            (lead, "RESOLVE N2", "INVALID_STATE"),
            (lead, "REPLY X1 Hello", "BAD_SYNTAX"),
            (lead, "REPLY O77 Hello", "FORBIDDEN"),
            (lead, "SHOW N404", "FORBIDDEN"),   // absent and out of sight answer alike (no probing ids)
            (admin, "SHOW N404", "NO_SUCH_ITEM"),  // admins see every cluster: nothing to hide
            (lead, "SHOW 12", "BAD_SYNTAX"),
            (lead, "LIST \(purchasing) widgets", "BAD_SYNTAX"),
            (lead, "LIST \(purchasing) needs everything", "BAD_SYNTAX"),
            (lead, "LIST rural-east-midlands/nowhere needs", "NO_SUCH_ROOM"),
            (lead, "SEARCH kind=widget gloves", "BAD_SYNTAX"),
            (lead, "SEARCH a an", "BAD_SYNTAX"),
            (lead, "WATCH tags=,,", "BAD_SYNTAX"),
            (lead, "WATCH", "BAD_SYNTAX"),
            (other, "GRANT lincoln-aid bot", "FORBIDDEN"),
            (other, "GRANT lincoln-aid facilitator cluster=rural-east-midlands", "FORBIDDEN"),
            (admin, "GRANT ghost-org bot", "NO_SUCH_ACCOUNT"),
            (admin, "GRANT lincoln-aid wizard", "BAD_SYNTAX"),
            (admin, "GRANT lincoln-aid facilitator", "BAD_SYNTAX"),
            (admin, "GRANT lincoln-aid facilitator cluster=moon-base", "NO_SUCH_CLUSTER"),
            (admin, "REVOKE lincoln-aid bot", "INVALID_STATE"),
            (admin, "REVOKE root-admin admin", "INVALID_STATE"),
            // Moderation refusals change nothing either.
            (other, "NEWROOM rural-east-midlands/new-room Mine", "FORBIDDEN"),
            (other, "TOPIC \(purchasing) Mine now", "FORBIDDEN"),
            (other, "INVITE rural-east-midlands", "FORBIDDEN"),
            (other, "POLICY rural-east-midlands closed", "FORBIDDEN"),
            (admin, "NEWROOM \(purchasing) Again", "INVALID_STATE"),
            (admin, "NEWROOM rural-east-midlands/Bad_Name Topic", "BAD_SYNTAX"),
            (admin, "NEWROOM no-such-cluster/room Topic", "NO_SUCH_CLUSTER"),
            (admin, "TOPIC rural-east-midlands/nowhere Topic", "NO_SUCH_ROOM"),
            (admin, "TOPIC \(purchasing)", "BAD_SYNTAX"),
            (admin, "MUTE \(purchasing) ghost-org", "NO_SUCH_ACCOUNT"),
            (admin, "UNMUTE \(purchasing) boston-mind", "INVALID_STATE"),
            (admin, "POLICY rural-east-midlands open", "INVALID_STATE"),
            (admin, "POLICY rural-east-midlands sometimes", "BAD_SYNTAX"),
            (admin, "POLICY moon-base closed", "NO_SUCH_CLUSTER"),
            (admin, "APPROVE rural-east-midlands lincoln-aid", "INVALID_STATE"),
            (admin, "INVITE moon-base", "NO_SUCH_CLUSTER"),
        ]
        for (client, line, code) in cases {
            let reply = try client.final(line)
            #expect(errorCode(reply) == code, "\(line) -> \(reply)")
        }
        #expect(try Self.journalBytes(config.dataDir) == bytesBefore, "a refused command wrote to a journal")
        let answersAfter = try questions.map { try lead.send($0) }
        for (before, after) in zip(answersBefore, answersAfter) { #expect(after == before) }
        // Ids burnt by refusals after allocation are never handed out twice; the next need is N3 or later.
        let next = try lead.final("NEED \(purchasing) Toner")
        #expect(next.hasPrefix("OK NEED id=N") && !next.hasPrefix("OK NEED id=N1 ") && !next.hasPrefix("OK NEED id=N2 "))
    }

    @Test func twoConflictingStatusMovesInOneBatchCannotBothPass() throws {
        let dir = TempDir()
        let server = try InProcessServer(try ItemsSessionTests.setUp(dir))
        let lead = try server.client()
        try lead.login("lincoln-aid")
        _ = try lead.send("JOIN \(ItemsSessionTests.funding)")
        _ = try lead.send("PROPOSE \(ItemsSessionTests.funding) Bid")
        _ = try lead.send("STATUS P1 submitted")
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        // Both sent before either is answered: one wins, the other finds the proposal already final.
        try lead.connection.send(line: "STATUS P1 won")
        try admin.connection.send(line: "STATUS P1 lost")
        var finals: [String] = []
        for client in [lead, admin] {
            while true {
                let line = try client.readLine()
                if line.hasPrefix("OK ") || line.hasPrefix("ERR ") { finals.append(line); break }
            }
        }
        #expect(finals.filter { $0.hasPrefix("OK STATUS") }.count == 1)
        #expect(finals.filter { errorCode($0) == "INVALID_STATE" }.count == 1)
    }
}
