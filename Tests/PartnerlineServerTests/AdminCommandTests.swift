import Foundation
import PartnerlineTestSupport
import Testing

/// `partnerline-server admin`: the first admin of a new server, made on its stopped data dir.
@Suite struct AdminCommandTests {
    /// Runs `partnerline-server admin ...` with `input` on standard input; returns the exit status and output.
    static func runAdmin(_ arguments: [String], input: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("partnerline-server"))
        process.arguments = ["admin"] + arguments
        let stdin = Pipe()
        let output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func createsTheFirstAdminOnAStoppedServerAndIsRefusedWhileItRuns() throws {
        let dir = TempDir()
        let config = TestConfig.yamlFile(in: dir.path, dataDir: dir.path + "/data")
        let (status, output) = try Self.runAdmin(["ops-team", "--config", config, "--org", "Cluster operations"],
                                                 input: "a-long-admin-password\n")
        #expect(status == 0, "\(output)")
        #expect(output.contains("created admin account ops-team"))

        let server = try ServerProcess(config: config, logDir: dir.path)
        let client = try TestClient(port: server.tlsPort, tls: true)
        #expect(try client.final("LOGIN ops-team a-long-admin-password") == "OK LOGIN account=ops-team role=admin rooms=0")
        let hall = try TestClient(port: server.tlsPort, tls: true)
        try hall.login("village-hall")
        hall.close()
        let (refused, message) = try Self.runAdmin(["village-hall", "--config", config], input: "")
        #expect(refused != 0)
        #expect(message.contains("stop the server first"))
        client.close()
        #expect(server.stop() == 0)

        // An existing member is promoted without a password.
        let (promoted, text) = try Self.runAdmin(["village-hall", "--config", config], input: "")
        #expect(promoted == 0, "\(text)")
        #expect(text.contains("granted admin to village-hall"))
        let again = try ServerProcess(config: config, logDir: dir.path)
        let member = try TestClient(port: again.tlsPort, tls: true)
        #expect(try member.final("LOGIN village-hall correct-horse-battery") == "OK LOGIN account=village-hall role=admin rooms=0")
        let (missing, why) = try Self.runAdmin(["brand-new", "--config", config, "--data-dir", dir.path + "/other"], input: "")
        #expect(missing != 0 && why.contains("password"))
        member.close()
        #expect(again.stop() == 0)
    }
}
