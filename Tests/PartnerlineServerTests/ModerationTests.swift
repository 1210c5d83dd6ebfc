import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Facilitators' commands over real TLS: rooms, topics, mutes, invites, membership policy; all
/// kept across a restart.
@Suite struct ModerationTests {
    static let cluster = "rural-east-midlands"

    /// An invite-only server with an admin and a facilitator of the rural cluster.
    static func start(_ dir: TempDir) throws -> (ServerConfig, InProcessServer, TestClient) {
        var config = TestConfig.make(dataDir: dir.path, policy: "invite", invites: ["first-code"])
        config.clusters[0].rooms.append(.init(name: "funding", topic: "Grants"))
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: "Ops")
        let server = try InProcessServer(config)
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        #expect(try admin.final("REGISTER rural-hub correct-horse-battery invite=first-code") == "OK REGISTER account=rural-hub")
        #expect(try admin.final("GRANT rural-hub facilitator cluster=\(cluster)").hasPrefix("OK GRANT"))
        let facilitator = try server.client()
        try facilitator.login("rural-hub", register: false, role: "facilitator")
        return (config, server, facilitator)
    }

    @Test func roomsTopicsAndMutesSurviveARestart() throws {
        let dir = TempDir()
        let (config, server, facilitator) = try Self.start(dir)
        let room = "\(Self.cluster)/minibus-pool"
        #expect(try facilitator.final("NEWROOM \(room) Sharing minibuses across the cluster") == "OK NEWROOM room=\(room)")
        #expect(errorCode(try facilitator.final("NEWROOM \(room) again")) == "INVALID_STATE")
        #expect(errorCode(try facilitator.final("NEWROOM inner-city-north/x-room Not mine")) == "FORBIDDEN")
        #expect(try facilitator.final("TOPIC \(Self.cluster)/general Introductions and news") == "OK TOPIC room=\(Self.cluster)/general")

        #expect(try facilitator.final("INVITE \(Self.cluster)").hasPrefix("OK INVITE code="))
        let code = try facilitator.final("INVITE \(Self.cluster)").split(separator: " ")[2].dropFirst(5)
        let member = try server.client()
        #expect(try member.final("REGISTER village-hall correct-horse-battery invite=\(code)") == "OK REGISTER account=village-hall")
        #expect(errorCode(try member.final("REGISTER other-hall correct-horse-battery invite=\(code)")) == "REGISTRATION_CLOSED")
        try member.login("village-hall", register: false)
        _ = try member.send("JOIN \(room)")
        #expect(try member.final("SAY \(room) We have a 12-seater").hasPrefix("OK SAY"))
        #expect(try facilitator.final("MUTE \(room) village-hall Advertising") == "OK MUTE room=\(room) account=village-hall")
        #expect(errorCode(try member.final("SAY \(room) Buy our raffle tickets")) == "FORBIDDEN")
        #expect(errorCode(try member.final("NEED \(room) Raffle prizes")) == "FORBIDDEN")
        #expect(errorCode(try member.final("MUTE \(room) rural-hub")) == "FORBIDDEN")
        #expect(errorCode(try facilitator.final("MUTE \(room) ghost-org")) == "NO_SUCH_ACCOUNT")
        let roomsBefore = try member.send("ROOMS \(Self.cluster)")
        server.stop()

        let again = try InProcessServer(config)
        let client = try again.client()
        try client.login("village-hall", register: false)
        #expect(try client.send("ROOMS \(Self.cluster)") == roomsBefore)
        _ = try client.send("JOIN \(room)")
        #expect(errorCode(try client.final("SAY \(room) Still muted?")) == "FORBIDDEN")
        let facilitatorAgain = try again.client()
        try facilitatorAgain.login("rural-hub", register: false, role: "facilitator")
        #expect(try facilitatorAgain.final("UNMUTE \(room) village-hall").hasPrefix("OK UNMUTE"))
        #expect(try client.final("SAY \(room) Thank you").hasPrefix("OK SAY"))
    }

    @Test func membershipByApprovalAndClosingTheCluster() throws {
        let dir = TempDir()
        let (config, server, facilitator) = try Self.start(dir)
        let general = "\(Self.cluster)/general"
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        #expect(errorCode(try facilitator.final("INVITE inner-city-north")) == "FORBIDDEN")  // not their cluster
        let adminCodes = try (0..<3).map { _ in String(try admin.final("INVITE inner-city-north").split(separator: " ")[2].dropFirst(5)) }
        let names = ["early-bird", "late-comer", "too-late"]
        var clients: [TestClient] = []
        for (name, code) in zip(names, adminCodes) {
            let client = try server.client()
            #expect(try client.final("REGISTER \(name) correct-horse-battery invite=\(code)") == "OK REGISTER account=\(name)")
            try client.login(name, register: false)
            clients.append(client)
        }
        #expect(try clients[0].final("JOIN \(general)").hasPrefix("OK JOIN"))  // open by default
        #expect(try facilitator.final("POLICY \(Self.cluster) approval") == "OK POLICY cluster=\(Self.cluster) policy=approval")
        #expect(errorCode(try facilitator.final("POLICY \(Self.cluster) approval")) == "INVALID_STATE")
        #expect(errorCode(try facilitator.final("POLICY \(Self.cluster) sometimes")) == "BAD_SYNTAX")
        #expect(errorCode(try clients[1].final("JOIN \(general)")) == "FORBIDDEN")
        #expect(try facilitator.final("APPROVE \(Self.cluster) late-comer") == "OK APPROVE cluster=\(Self.cluster) account=late-comer")
        #expect(errorCode(try facilitator.final("APPROVE \(Self.cluster) late-comer")) == "INVALID_STATE")
        #expect(try clients[1].final("JOIN \(general)").hasPrefix("OK JOIN"))
        // An organisation invited to this cluster by its facilitator needs no further approval.
        let code = try facilitator.final("INVITE \(Self.cluster)").split(separator: " ")[2].dropFirst(5)
        let invited = try server.client()
        #expect(try invited.final("REGISTER invited-org correct-horse-battery invite=\(code)").hasPrefix("OK REGISTER"))
        try invited.login("invited-org", register: false)
        #expect(try invited.final("JOIN \(general)").hasPrefix("OK JOIN"))
        #expect(try facilitator.final("POLICY \(Self.cluster) closed").hasPrefix("OK POLICY"))
        #expect(errorCode(try clients[2].final("JOIN \(general)")) == "FORBIDDEN")
        // Members stay members: the early bird joins another room of the closed cluster.
        #expect(try clients[0].final("JOIN \(Self.cluster)/purchasing").hasPrefix("OK JOIN"))
        #expect(errorCode(try clients[2].final("POLICY \(Self.cluster) open")) == "FORBIDDEN")
        server.stop()
        let again = try InProcessServer(config)
        let late = try again.client()
        try late.login("too-late", register: false)
        #expect(errorCode(try late.final("JOIN \(general)")) == "FORBIDDEN")
    }
}
