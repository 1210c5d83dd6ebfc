import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// The session a person would type, through the real `openssl s_client` binary. `-nocommands`
/// matters: without it s_client treats a line starting with R (REGISTER) as "renegotiate".
@Suite struct OpenSSLClientTests {
    @Test func sessionThroughSClient() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(server.tlsPort)", "-quiet", "-nocommands", "-no_ign_eof"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let lines = [
            "REGISTER lincoln-womens-aid correct-horse-battery org=\"Lincoln Women's Aid\"",
            "LOGIN lincoln-womens-aid correct-horse-battery",
            "JOIN rural-east-midlands/purchasing",
            "SAY rural-east-midlands/purchasing Shared minibus for Tuesday outreach?",
            "@q7 HISTORY rural-east-midlands/purchasing limit=5",
            "QUIT bye",
        ]
        // Send each command after the previous reply, as a person would.
        let reader = output.fileHandleForReading
        var transcript = ""
        func readUntil(_ marker: String) {
            while !transcript.contains(marker) {
                let data = reader.availableData
                if data.isEmpty { return }
                transcript += String(decoding: data, as: UTF8.self)
            }
        }
        readUntil("HELLO partnerline/1")
        let finals = ["OK REGISTER", "OK LOGIN", "OK JOIN", "OK SAY", "@q7 OK HISTORY", "BYE QUIT"]
        for (line, final) in zip(lines, finals) {
            input.fileHandleForWriting.write(Data((line + "\n").utf8))
            readUntil(final)
        }
        process.waitUntilExit()
        let got = transcript.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").map(String.init)
        #expect(got.contains("OK REGISTER account=lincoln-womens-aid"))
        #expect(got.contains("OK LOGIN account=lincoln-womens-aid role=member rooms=0"))
        #expect(got.contains("OK JOIN room=rural-east-midlands/purchasing last=0"))
        #expect(got.contains("OK SAY room=rural-east-midlands/purchasing seq=1"))
        #expect(got.contains { $0.hasPrefix("@q7 EV rural-east-midlands/purchasing 1 ") && $0.hasSuffix("SAY :Shared minibus for Tuesday outreach?") })
        #expect(got.contains("@q7 OK HISTORY room=rural-east-midlands/purchasing count=1 more=no"))
        #expect(got.last == "BYE QUIT :bye")
    }
}
