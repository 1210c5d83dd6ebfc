import Foundation
@testable import PartnerlineServer
import PartnerlineTransport
import PartnerlineTestSupport
import Testing

/// TLS 1.1 and a non-AEAD suite are refused, seen with the real `openssl s_client`. Each refusal
/// is shown to be the server's: the very same s_client command succeeds against an
/// `openssl s_server` that allows it (design.md trap 10: at OpenSSL 3's default security level
/// the client would refuse TLS 1.1 itself, hence `-cipher 'DEFAULT@SECLEVEL=0'`).
@Suite struct TLSHardeningTests {
    /// Runs `s_client -brief` against a port with stdin closed; returns the negotiated
    /// "<protocol> <cipher>" (e.g. "TLSv1.2 ECDHE-ECDSA-AES128-SHA"), or nil when the handshake
    /// was refused (an alert). -brief reports on stderr, which is unbuffered: without it the
    /// session block, on buffered stdout, was sometimes lost when s_client ended.
    static func negotiate(port: Int, _ arguments: [String]) throws -> String? {
        let text = try ChildProcess.output(of: ["/usr/bin/openssl", "s_client", "-brief", "-connect", "127.0.0.1:\(port)"] + arguments)
        func field(_ name: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { $0.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) }
        }
        if text.contains("CONNECTION ESTABLISHED"), let version = field("Protocol version"), let cipher = field("Ciphersuite") {
            return "\(version) \(cipher)"
        }
        guard text.contains("alert") else {
            throw TestFailure("s_client \(arguments) to port \(port): neither a session nor an alert: \(text)")
        }
        return nil
    }

    /// `openssl s_server` with the same EC certificate, allowing everything down to SECLEVEL 0.
    final class PermissiveServer {
        let pid: pid_t
        let port: Int
        /// The write end of s_server's stdin, kept open: at the end of its stdin s_server drops
        /// the connection it is serving.
        private let stdinWriter: Int32

        init(certificate: String, key: String, logDir: String) throws {
            let log = logDir + "/s_server.out"
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw TestFailure("pipe failed") }
            stdinWriter = ends[1]
            defer { close(ends[0]) }
            pid = try ChildProcess.spawn(["/usr/bin/openssl", "s_server", "-accept", "0", "-cert", certificate, "-key", key,
                                          "-cipher", "ALL@SECLEVEL=0"], outputFile: log, stdin: .descriptor(ends[0]))
            var port: Int?
            for _ in 0..<500 where port == nil {   // a hang guard of about 10 s
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                // "ACCEPT [::]:38799"
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT") }) {
                    port = line.split(separator: ":").last.flatMap { Int($0) }
                } else {
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
            guard let port else {
                kill(pid, SIGKILL)
                ChildProcess.wait(pid)
                close(stdinWriter)
                throw TestFailure("s_server did not start")
            }
            self.port = port
        }

        deinit {
            kill(pid, SIGKILL)
            ChildProcess.wait(pid)
            close(stdinWriter)
        }
    }

    static let tls11 = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
    static let nonAEAD = ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA@SECLEVEL=0"]

    @Test func tls11AndANonAEADSuiteAreRefusedByTheServer() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        // The server's own certificate (EC P-256, self-signed at start), for the control server.
        let certificate = dir.path + "/tls/self-signed.crt", key = dir.path + "/tls/self-signed.key"
        let permissive = try PermissiveServer(certificate: certificate, key: key, logDir: dir.path)

        // The commands work when the server allows them...
        #expect(try Self.negotiate(port: permissive.port, Self.tls11)?.hasPrefix("TLSv1.1 ECDHE-ECDSA-") == true)
        #expect(try Self.negotiate(port: permissive.port, Self.nonAEAD) == "TLSv1.2 ECDHE-ECDSA-AES128-SHA")
        // ...and fail against Partnerline.
        #expect(try Self.negotiate(port: server.tlsPort, Self.tls11) == nil)
        #expect(try Self.negotiate(port: server.tlsPort, Self.nonAEAD) == nil)
        // What it does accept: TLS 1.3, and TLS 1.2 with an AEAD suite.
        #expect(try Self.negotiate(port: server.tlsPort, ["-tls1_3"])?.hasPrefix("TLSv1.3 TLS_") == true)
        let tls12 = try Self.negotiate(port: server.tlsPort, ["-tls1_2"]) ?? "refused"
        #expect(tls12.hasPrefix("TLSv1.2 ECDHE-ECDSA-") && (tls12.contains("GCM") || tls12.contains("CHACHA20")), "\(tls12)")
        // The server keeps serving after refusals.
        #expect(try server.client().final("PING") == "OK PING")
    }

    /// OpenSSL's client lists AES-256-GCM first; the server's order picks AES-128-GCM (smaller
    /// per-connection state), unless the client puts ChaCha20-Poly1305 first.
    @Test func tls13PrefersAES128GCMUnlessTheClientPrefersChaCha() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        #expect(try Self.negotiate(port: server.tlsPort, ["-tls1_3"]) == "TLSv1.3 TLS_AES_128_GCM_SHA256")
        #expect(try Self.negotiate(port: server.tlsPort, ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"])
            == "TLSv1.3 TLS_AES_256_GCM_SHA384")
        #expect(try Self.negotiate(port: server.tlsPort, ["-tls1_3", "-ciphersuites",
                                                          "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"])
            == "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256")
        #expect(try Self.negotiate(port: server.tlsPort, ["-tls1_2"]) == "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256")
    }

    static func makeCertificate(in dir: String, name: String) throws -> (certificate: String, key: String, sha256: String) {
        let certificate = "\(dir)/\(name).crt", key = "\(dir)/\(name).key"
        try CertificateFactory.makeSelfSigned(commonName: name, subjectAltNames: ["localhost"], days: 2,
                                              certificatePath: certificate, privateKeyPath: key)
        return (certificate, key, try #require(TLSFingerprint.sha256Hex(pemFile: certificate)))
    }

    @Test func aBotLogsInWithItsClientCertificateAndGetsTheBotRate() throws {
        let dir = TempDir()
        let bot = try Self.makeCertificate(in: dir.path, name: "funding-bot")
        let stranger = try Self.makeCertificate(in: dir.path, name: "stranger")
        let colons = stride(from: 0, to: 64, by: 2).map { index -> String in
            let start = bot.sha256.index(bot.sha256.startIndex, offsetBy: index)
            return bot.sha256[start..<bot.sha256.index(start, offsetBy: 2)].uppercased()
        }.joined(separator: ":")
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path, protection: """
            protection:
              flood: { burst: 3, rate_per_second: 1, max_delayed: 2, bot_burst: 100, bot_rate_per_second: 100 }
            """, extra: """
            tls:
              client_certificates:
                - { sha256: "\(colons)", account: funding-bot }
            """))
        // The account exists (registered with a password as usual).
        let setup = try server.client()
        #expect(try setup.final("REGISTER funding-bot correct-horse-battery") == "OK REGISTER account=funding-bot")
        #expect(try setup.final("REGISTER boston-mind correct-horse-battery") == "OK REGISTER account=boston-mind")

        let botClient = try TestClient(port: server.tlsPort, tls: true, certificatePath: bot.certificate, privateKeyPath: bot.key)
        #expect(try botClient.final("LOGIN boston-mind *") == "ERR AUTH_FAILED LOGIN :this client certificate is not mapped to boston-mind")
        #expect(try botClient.final("LOGIN funding-bot *") == "OK LOGIN account=funding-bot role=member rooms=0")
        // The bot's own rate: 30 commands at once pass where a member gets 3 + 2 delayed.
        try botClient.connection.send(raw: Array((1...30).map { "PING \($0)\n" }.joined().utf8))
        for index in 1...30 { #expect(try botClient.readLine() == "OK PING :\(index)") }

        // No certificate, or one not in the config: no certificate login.
        let plainClient = try server.client()
        #expect(try plainClient.final("LOGIN funding-bot *")
            == "ERR AUTH_FAILED LOGIN :LOGIN <account> * needs a client certificate, and this connection presented none")
        let strangerClient = try TestClient(port: server.tlsPort, tls: true, certificatePath: stranger.certificate, privateKeyPath: stranger.key)
        #expect(try strangerClient.final("LOGIN funding-bot *") == "ERR AUTH_FAILED LOGIN :this client certificate is not mapped to funding-bot")
        // A client certificate does not get in the way of a password LOGIN.
        #expect(try strangerClient.final("LOGIN boston-mind correct-horse-battery") == "OK LOGIN account=boston-mind role=member rooms=0")
    }
}
