import Foundation
import PartnerlineTestSupport
import Testing

/// The real binary, killed with SIGKILL after items were OKed: every item comes back as it was.
@Suite struct ItemsDurabilityTests {
    @Test func itemsSurviveKill9OfTheRealBinary() throws {
        let dir = TempDir()
        let configPath = TestConfig.yamlFile(in: dir.path, dataDir: dir.path + "/data", fsync: "batch")
        let room = "rural-east-midlands/general"
        let questions = ["SHOW P1", "SHOW N1", "LIST \(room) needs all", "LIST \(room) proposals", "MATCHES", "HISTORY \(room)"]
        var before: [[String]] = []
        do {
            let server = try ServerProcess(config: configPath, logDir: dir.path)
            let lead = try TestClient(port: server.tlsPort, tls: true)
            try lead.login("lincoln-aid")
            let partner = try TestClient(port: server.tlsPort, tls: true)
            try partner.login("boston-mind")
            _ = try lead.send("JOIN \(room)")
            _ = try partner.send("JOIN \(room)")
            #expect(try lead.final("NEED \(room) tags=minibus Minibus on Tuesdays") == "OK NEED id=N1 seq=1")
            #expect(try partner.final("OFFER \(room) Our minibus, free on Tuesdays") == "OK OFFER id=O1 seq=2")
            #expect(try lead.final("PROPOSE \(room) deadline=2030-01-31 Shared transport bid") == "OK PROPOSE id=P1 seq=4")
            #expect(try partner.final("BACK P1 Two drivers").hasPrefix("OK BACK"))
            #expect(try partner.final("VOTE P1 block Insurance first").hasPrefix("OK VOTE"))
            #expect(try lead.final("STATUS P1 submitted").hasPrefix("OK STATUS"))
            _ = try lead.send("PING sync")
            before = try questions.map { try lead.send($0) }
            server.kill9()
        }
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        let lead = try TestClient(port: server.tlsPort, tls: true)
        try lead.login("lincoln-aid", register: false)
        _ = try lead.send("JOIN \(room)")
        for (question, answer) in zip(questions, before) {
            #expect(try lead.send(question) == answer, "\(question)")
        }
        #expect(try lead.final("OFFER \(room) Spare chairs") == "OK OFFER id=O2 seq=8")
        #expect(server.stop() == 0)
    }
}
