import Foundation
import PartnerlineTestSupport
import Testing

/// The real `partnerline-server` binary as a subprocess, for restarts, kill -9 and signals.
final class ServerProcess {
    private let server: RunningServer
    var process: Process { server.process }
    var tlsPort: Int { server.tlsPort }

    /// `config: nil` passes no `--config`; `workingDirectory` runs it elsewhere than the tests' directory.
    init(config: String?, arguments: [String] = [], logDir: String, workingDirectory: String? = nil,
         environment: [String: String]? = nil) throws {
        server = try RunningServer(arguments: (config.map { ["--config", $0] } ?? []) + ["--tls-port", "0"] + arguments,
                                   stderrPath: logDir + "/server-\(UUID().uuidString).log", workingDirectory: workingDirectory,
                                   environment: environment)
    }

    var log: String { server.log }

    func kill9() { server.stop(signal: SIGKILL) }

    /// Sends a signal and waits for the exit status.
    func stop(signal: Int32 = SIGTERM) -> Int32 { server.stop(signal: signal) }
}

extension ServerProcess {
    /// A TLS client logged in as `account` (registering it first if asked) and joined to `room`.
    func joinedClient(_ account: String, room: String, register: Bool) throws -> TestClient {
        let client = try TestClient(port: tlsPort, tls: true)
        try client.login(account, register: register)
        #expect(try client.final("JOIN \(room)").hasPrefix("OK JOIN"))
        return client
    }
}
