import Foundation
@testable import PartnerlineServer
import PartnerlineTransport
import PartnerlineTestSupport
import Testing

/// SIGHUP to the real binary: a new certificate for new connections while an old session keeps
/// working, an unreadable certificate keeps the old one, and clusters/rooms/topics change live.
@Suite struct ReloadTests {
    static func yaml(dataDir: String, certificate: String, key: String, generalTopic: String, extraRoom: Bool,
                     maxLineLength: Int = 4096) -> String {
        """
        server_name: test
        data_dir: \(dataDir)
        listen:
          host: 127.0.0.1
          tls_port: 0
        tls:
          certificate: \(certificate)
          private_key: \(key)
        registration:
          policy: open
        passwords:
          scrypt_log2_n: 4
        limits:
          max_line_length: \(maxLineLength)
        \(TestConfig.relaxedProtection)
        clusters:
          - name: rural-east-midlands
            description: Rural cluster
            rooms:
              - name: general
                topic: \(generalTopic)
        \(extraRoom ? Self.additions : "")
        """
    }

    static let additions = """
              - name: premises
                topic: Rooms to lend
          - name: coastal-east
            description: Coastal cluster
            rooms:
              - name: general
                topic: Sea air
        """

    /// Polls (a hang guard of about 10 s, no timing asserted) until `condition` holds.
    static func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<500 {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    @Test func sighupServesTheNewCertificateToNewConnectionsWhileOldOnesKeepWorking() throws {
        let dir = TempDir()
        let certificate = dir.path + "/server.crt", key = dir.path + "/server.key"
        let first = try TLSHardeningTests.makeCertificate(in: dir.path, name: "first")
        #expect(rename(first.certificate, certificate) == 0 && rename(first.key, key) == 0)
        let configPath = dir.path + "/partnerline.yaml"
        try Self.yaml(dataDir: dir.path + "/data", certificate: certificate, key: key, generalTopic: "Introductions", extraRoom: false)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        func connect() throws -> TestClient { try TestClient(port: server.tlsPort, tls: true) }

        let old = try connect()
        #expect(old.connection.peerCertificateSHA256Hex() == first.sha256)
        try old.login("boston-mind")
        #expect(try old.final("JOIN rural-east-midlands/general").hasPrefix("OK JOIN"))

        // A new pair in place, a new room, a new cluster, a new topic and a change that needs a restart.
        let second = try TLSHardeningTests.makeCertificate(in: dir.path, name: "second")
        #expect(rename(second.key, key) == 0 && rename(second.certificate, certificate) == 0)
        try Self.yaml(dataDir: dir.path + "/data", certificate: certificate, key: key, generalTopic: "Welcome, all", extraRoom: true,
                      maxLineLength: 2048).write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)

        var newcomer: TestClient?
        #expect(try Self.eventually {
            let client = try connect()
            newcomer = client
            return client.connection.peerCertificateSHA256Hex() == second.sha256
        })
        // The old session goes on, on its old certificate.
        #expect(old.connection.peerCertificateSHA256Hex() == first.sha256)
        #expect(try old.final("PING still here") == "OK PING :still here")
        let said = try old.send("SAY rural-east-midlands/general after the reload")
        #expect(said.last?.hasPrefix("OK SAY room=rural-east-midlands/general seq=") == true)
        // Rooms, clusters and topics changed live. The certificate is swapped first; wait for the
        // reload to report the rest (it logs when it is done).
        #expect(Self.eventually { server.log.contains("reload: new cluster coastal-east") })
        let client = try #require(newcomer)
        try client.login("lincoln-aid")
        let rooms = try client.send("ROOMS")
        #expect(rooms.contains("* ROOM rural-east-midlands/general members=1 last=1 :Welcome, all"))
        #expect(rooms.contains("* ROOM rural-east-midlands/premises members=0 last=0 :Rooms to lend"))
        #expect(rooms.contains("* ROOM coastal-east/general members=0 last=0 :Sea air"))
        #expect(try client.final("JOIN coastal-east/general") == "OK JOIN room=coastal-east/general last=0")
        #expect(server.log.contains("reload: limits changed in the file; it takes effect only after a restart"))

        // An unreadable certificate: the one in use stays, and the log says why.
        try "not a certificate".write(toFile: certificate, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(Self.eventually { server.log.contains("the new certificate could not be loaded, so the old one stays in use") })
        #expect(try connect().connection.peerCertificateSHA256Hex() == second.sha256)
        #expect(try old.final("PING") == "OK PING")
        #expect(server.stop() == 0)
    }
}
