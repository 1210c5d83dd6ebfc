import Foundation
import PartnerlineTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Non-interactive mode against the real server binary: exit status 0 (every command OK),
/// 1 (some ERR), 2 (could not connect, verify or log in), and what is printed.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BatchModeTests {
    @Test func everyCommandOKExitsZeroAndPrintsRepliesWithoutTags() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let run = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", server.certificatePath,
                                 "--send", "JOIN rural-east-midlands/general",
                                 "--send", "SAY rural-east-midlands/general :hello from a script"], home: dir.path)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("OK JOIN room=rural-east-midlands/general") })
        #expect(lines.contains { $0.hasPrefix("OK SAY room=rural-east-midlands/general seq=1") })
        #expect(!run.stdout.contains("@b"))
        #expect(!run.stdout.contains("correct-horse") && !run.stderr.contains("correct-horse"))
    }

    @Test func linesFromStandardInputWhenItIsNotATerminal() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let run = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", server.certificatePath],
                                home: dir.path, input: "JOIN rural-east-midlands/general\n\nROOMS rural-east-midlands\n")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("* ROOM rural-east-midlands/purchasing"))
        #expect(run.stdout.contains("OK ROOMS count=2"))
    }

    @Test func anyErrExitsOneAndTheRestStillRuns() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let run = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", server.certificatePath,
                                 "--send", "JOIN rural-east-midlands/nowhere",
                                 "--send", "JOIN rural-east-midlands/general"], home: dir.path)
        #expect(run.status == 1)
        #expect(run.stdout.contains("ERR NO_SUCH_ROOM JOIN"))
        #expect(run.stdout.contains("OK JOIN room=rural-east-midlands/general"))
    }

    @Test func aRefusedLoginExitsTwoWithTheReason() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let run = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", server.certificatePath,
                                 "--send", "CLUSTERS"], home: dir.path, password: "wrong-password")
        #expect(run.status == 2)
        #expect(run.stderr.contains("login as lincoln-aid refused: AUTH_FAILED"))
        #expect(!run.stderr.contains("wrong-password"))
        #expect(run.stdout.isEmpty)
    }

    @Test func nothingListeningExitsTwo() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        let port = server.tlsPort
        server.stop()
        let run = try runClient(["--server", "127.0.0.1:\(port)", "--user", "lincoln-aid", "--send", "CLUSTERS"], home: dir.path)
        #expect(run.status == 2)
        #expect(run.stderr.contains("cannot connect to 127.0.0.1:\(port)"))
    }

    /// The same server with a new certificate (its data dir keeps the accounts): refused by
    /// the CA file and by the known-hosts file, exit 2, both fingerprints named.
    @Test func aChangedCertificateIsRefused() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let knownHosts = dir.path + "/known_hosts"
        let first = try runClient(["--server", server.address, "--user", "lincoln-aid", "--known-hosts", knownHosts,
                                   "--send", "CLUSTERS"], home: dir.path)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stderr.contains("trusting 127.0.0.1:\(server.tlsPort) on first use"))
        let again = try runClient(["--server", server.address, "--user", "lincoln-aid", "--known-hosts", knownHosts,
                                   "--send", "CLUSTERS"], home: dir.path)
        #expect(again.status == 0)
        #expect(!again.stderr.contains("first use"))
        let oldCA = dir.path + "/old-ca.crt"
        try FileManager.default.copyItem(atPath: server.certificatePath, toPath: oldCA)
        // `host:port sha256:<hex>`; refusals show it as openssl does, AB:CD:...
        let recorded = try String(contentsOfFile: knownHosts, encoding: .utf8).split(separator: " ")[1]
        let hex = recorded.dropFirst("sha256:".count).prefix(64).uppercased()
        let oldFingerprint = stride(from: 0, to: hex.count, by: 2).map { i -> String in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return String(hex[start..<hex.index(start, offsetBy: 2)])
        }.joined(separator: ":")

        let port = server.tlsPort
        server.stop()
        try FileManager.default.removeItem(atPath: server.dataDir + "/tls")
        try server.start(port: port)

        let tofu = try runClient(["--server", server.address, "--user", "lincoln-aid", "--known-hosts", knownHosts,
                                  "--send", "CLUSTERS"], home: dir.path)
        #expect(tofu.status == 2)
        #expect(tofu.stderr.contains("REFUSED"))
        #expect(tofu.stderr.contains(oldFingerprint))
        #expect(tofu.stdout.isEmpty)
        let ca = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", oldCA,
                                "--send", "CLUSTERS"], home: dir.path)
        #expect(ca.status == 2)
        #expect(ca.stderr.contains("could not be verified"))
        // The new certificate itself verifies: the refusals were about the change.
        let fresh = try runClient(["--server", server.address, "--user", "lincoln-aid", "--ca-file", server.certificatePath,
                                   "--send", "CLUSTERS"], home: dir.path)
        #expect(fresh.status == 0, "stderr: \(fresh.stderr)")
    }

    @Test func unsafeSettingsAreRefusedBeforeConnecting() throws {
        let dir = TempDir.cli()
        let plain = try runClient(["--server", "192.0.2.1:7080", "--user", "a-user", "--plain", "--send", "CLUSTERS"], home: dir.path)
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("only allowed to a loopback address"))
        let passwordFile = dir.path + "/password"
        try "secret-words\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o644)
        let open = try runClient(["--server", "127.0.0.1:1", "--user", "a-user", "--password-file", passwordFile,
                                  "--send", "CLUSTERS"], home: dir.path, password: nil)
        #expect(open.status == 2)
        #expect(open.stderr.contains("can be read by others"))
        #expect(!open.stderr.contains("secret-words"))
    }

    @Test func insecureWarnsAndPasswordFileAndConfigFileWork() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let passwordFile = dir.path + "/password"
        try "correct-horse-battery\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        try FileManager.default.createDirectory(atPath: dir.path + "/config/partnerline", withIntermediateDirectories: true)
        try "server: \(server.address)\nuser: lincoln-aid\npassword_file: \(passwordFile)\ninsecure: true\n"
            .write(toFile: dir.path + "/config/partnerline/config.yaml", atomically: true, encoding: .utf8)
        let run = try runClient(["--send", "CLUSTERS"], home: dir.path, password: nil)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("warning: --insecure"))
        #expect(run.stdout.contains("OK CLUSTERS count=1"))
        try "server: [\n".write(toFile: dir.path + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try runClient(["--config", dir.path + "/bad.yaml", "--send", "CLUSTERS"], home: dir.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("not valid YAML"))
    }

    @Test func helpListsTheFlags() throws {
        let dir = TempDir.cli()
        let run = try runClient(["--help"], home: dir.path)
        #expect(run.status == 0)
        for flag in ["--server", "--user", "--ca-file", "--known-hosts", "--insecure", "--plain", "--config", "--send",
                     "--password-file"] {
            #expect(run.stdout.contains(flag), "\(flag) missing from --help")
        }
    }
}
