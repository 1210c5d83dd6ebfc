import Foundation
import PartnerlineTestSupport
import PartnerlineTransport
import Testing

/// A certificate and key made for one test.
struct TestCertificate {
    let certificate: String
    let key: String
    var fingerprint: String { TLSFingerprint.sha256Hex(pemFile: certificate)! }

    init(in dir: String, name: String, altNames: [String] = ["localhost", "127.0.0.1", "::1"]) throws {
        certificate = dir + "/\(name).crt"
        key = dir + "/\(name).key"
        try CertificateFactory.makeSelfSigned(commonName: altNames.first ?? name, subjectAltNames: altNames, days: 2,
                                              certificatePath: certificate, privateKeyPath: key)
    }
}

/// The real `partnerline-server` binary, started and stopped (SIGTERM, SIGKILL) on one data dir;
/// a restart keeps its TLS port so clients can come back to the same address.
final class RealServer: @unchecked Sendable {
    let dir = TempDir(prefix: "partnerline-client-test-")
    private(set) var certificate: TestCertificate
    private(set) var port = 0
    private var server: RunningServer?

    static var binaryPath: String {
        // PARTNERLINE_TEST_SERVER runs these tests against another build of the server.
        ProcessInfo.processInfo.environment["PARTNERLINE_TEST_SERVER"] ?? Binaries.path("partnerline-server")
    }

    /// More `protection.timeouts` keys, e.g. `idle_seconds: 0.3`.
    private let timeouts: String

    /// `tls.client_certificates`: certificate SHA-256 -> account.
    var clientCertificates: [(fingerprint: String, account: String)] = []

    init(certificateNames: [String] = ["localhost", "127.0.0.1", "::1"], timeouts: String = "") throws {
        self.timeouts = timeouts
        certificate = try TestCertificate(in: dir.path, name: "server", altNames: certificateNames)
        try start()
    }

    /// Rooms: c1/general, c1/funding. Open registration, cheap hashing, no flood limits.
    private func writeConfig() -> String {
        let path = dir.path + "/server.yaml"
        let yaml = """
            server_name: client-test
            data_dir: \(dir.path)/data
            listen:
              host: 127.0.0.1
              tls_port: 0
            tls:
              certificate: \(certificate.certificate)
              private_key: \(certificate.key)
            \(clientCertificates.isEmpty ? "" : "  client_certificates:\n" + clientCertificates.map { "    - { sha256: \"\($0.fingerprint)\", account: \($0.account) }" }.joined(separator: "\n"))
            registration:
              policy: open
            passwords:
              scrypt_log2_n: 4
            journal:
              fsync: batch
            protection:
              flood: { burst: 100000, rate_per_second: 100000, bot_burst: 100000, bot_rate_per_second: 100000, max_delayed: 100000 }
              connections: { max_per_address: 10000, max_new_per_address: 100000 }
              logins: { max_failures_per_account: 100000, max_failures_per_address: 100000 }
              # The whole test suite runs at once on few cores: handshakes can be slow.
              timeouts: { handshake_seconds: 120\(timeouts.isEmpty ? "" : ", " + timeouts) }
            clusters:
              - name: c1
                description: Test cluster
                rooms:
                  - name: general
                    topic: General
                  - name: funding
                    topic: Funding
            """
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts the binary (on the previous port after the first start) and waits until it listens.
    func start() throws {
        let started = try RunningServer(binary: Self.binaryPath, arguments: ["--config", writeConfig(), "--tls-port", String(port)],
                                        stderrPath: dir.path + "/server-\(UUID().uuidString).log")
        server = started
        port = started.tlsPort
    }

    var log: String { server?.log ?? "" }

    /// Sends `signal` and waits for the exit.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let server, server.isRunning else { return -1 }
        return server.stop(signal: signal)
    }

    /// The next start serves this certificate instead.
    func replaceCertificate(_ new: TestCertificate) { certificate = new }

    func options(_ trust: ServerTrust, host: String = "127.0.0.1") -> ConnectionOptions {
        ConnectionOptions(host: host, port: port, security: .tls(trust), timeoutSeconds: 20)
    }

    var caOptions: ConnectionOptions { options(.certificateAuthority(file: certificate.certificate)) }
}

import PartnerlineClient

extension PartnerlineConnection {
    /// Registers (ignoring ACCOUNT_EXISTS) and logs in.
    func registerAndLogin(_ account: String, password: String = "correct-horse-battery") async throws {
        let register = try await send(.register(account, password: password, org: "Org \(account)"))
        if let error = register.error, error.code != "ACCOUNT_EXISTS" { throw error }
        try await send(.login(account, password: password)).checked()
    }
}
