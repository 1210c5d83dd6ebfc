import Foundation
import PartnerlineTestSupport
import PartnerlineTransport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TempDir {
    /// The terminal client suites' temp dir: `partnerline-cli-` and 8 unique characters, as
    /// before the suites shared TempDir (use this rather than `TempDir()` here).
    static func cli() -> TempDir { TempDir(prefix: "partnerline-cli-", uniqueCharacters: 8) }
}

/// The real `partnerline-server` binary on a temp data dir (TLS on a free port; the plaintext
/// port too when asked). It makes its self-signed certificate at `<data>/tls/self-signed.crt`.
final class TestServer: @unchecked Sendable {
    let dir: String
    let dataDir: String
    private var server: RunningServer?
    private(set) var tlsPort = 0
    private(set) var plainPort: Int?
    private let plain: Bool

    var certificatePath: String { dataDir + "/tls/self-signed.crt" }
    var address: String { "127.0.0.1:\(tlsPort)" }

    init(in dir: String, plain: Bool = false) throws {
        self.dir = dir
        self.plain = plain
        dataDir = dir + "/data"
        try """
        server_name: test
        data_dir: \(dataDir)
        listen:
          host: 127.0.0.1
          tls_port: 0
        \(plain ? "  plain_port: 0" : "")
        registration:
          policy: open
        passwords:
          scrypt_log2_n: 4
        protection:
        \(TestServerConfig.relaxedLimits)
        clusters:
          - name: rural-east-midlands
            description: Rural cluster
            rooms:
              - name: general
                topic: Introductions and news
              - name: purchasing
                topic: Buy together
        """.write(toFile: dir + "/server.yaml", atomically: true, encoding: .utf8)
        try start()
    }

    /// (Re)starts the binary and waits for its `listening` line.
    func start(port: Int? = nil) throws {
        let started = try RunningServer(arguments: ["--config", dir + "/server.yaml", "--tls-port", String(port ?? 0)]
                                            + (plain ? ["--plain-port", "0"] : []),
                                        stderrPath: nil)
        server = started
        tlsPort = started.tlsPort
        if let port = started.plainPort { plainPort = port }
    }

    func stop() {
        guard let server, server.isRunning else { return }
        server.stop()
    }

    /// A blocking TLS client, logged in (registered first when asked).
    func client(_ account: String, register: Bool = false) throws -> LineClient {
        let client = try LineClient(port: tlsPort)
        if register { _ = try client.command("REGISTER \(account) correct-horse-battery") }
        let reply = try client.command("LOGIN \(account) correct-horse-battery")
        guard reply.last?.hasPrefix("OK") == true else { throw TestFailure("login \(account): \(reply)") }
        return client
    }

    deinit { stop() }
}

/// A second client for tests: sends a tagged command and reads to its final line.
final class LineClient {
    let connection: BlockingLineClient
    private var next = 1

    init(port: Int) throws {
        connection = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        _ = try connection.readLine()   // HELLO
    }

    @discardableResult
    func command(_ line: String) throws -> [String] {
        let tag = "x\(next)"
        next += 1
        try connection.send(line: "@\(tag) \(line)")
        var out: [String] = []
        while true {
            let reply = try connection.readLine()
            guard reply.hasPrefix("@\(tag) ") else { continue }
            let text = String(reply.dropFirst(tag.count + 2))
            out.append(text)
            if text.hasPrefix("OK") || text.hasPrefix("ERR") || text.hasPrefix("BYE") { return out }
        }
    }
}

/// What a run of the client printed.
struct ClientRun {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `partnerline` with standard input from `input` (a file, so not a terminal: batch mode),
/// a private config directory and the password in the environment.
func runClient(_ arguments: [String], home: String, password: String? = "correct-horse-battery",
               input: String = "", timeoutSeconds: Int = 60) throws -> ClientRun {
    let inputFile = home + "/stdin-\(UUID().uuidString.prefix(6))"
    try input.write(toFile: inputFile, atomically: true, encoding: .utf8)
    let outFile = inputFile + ".out", errFile = inputFile + ".err"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = [String(timeoutSeconds), Binaries.path("partnerline")] + arguments
    var environment = ["HOME": home, "XDG_CONFIG_HOME": home + "/config", "PATH": "/usr/bin:/bin", "TZ": "UTC"]
    if let password { environment["PARTNERLINE_PASSWORD"] = password }
    process.environment = environment
    process.standardInput = FileHandle(forReadingAtPath: inputFile)
    _ = FileManager.default.createFile(atPath: outFile, contents: nil)
    _ = FileManager.default.createFile(atPath: errFile, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: outFile)
    process.standardError = FileHandle(forWritingAtPath: errFile)
    try process.run()
    process.waitUntilExit()
    return ClientRun(status: process.terminationStatus,
                     stdout: (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "",
                     stderr: (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "")
}

/// Runs a program to its end with posix_spawn (stdin /dev/null, stdout to `outputFile`, stderr
/// dropped) and returns its exit status. Not Foundation's Process: it sometimes never sees a quick
/// child's exit (tmux's client), and the child would inherit the test thread's blocked signals
/// (Dispatch threads block them), which every process tmux starts would inherit in turn. The child
/// gets an empty signal mask and default handlers.
func spawnAndWait(_ arguments: [String], environment: [String: String], outputFile: String) throws -> Int32 {
    ChildProcess.wait(try ChildProcess.spawn(arguments, outputFile: outputFile, discardStderr: true, environment: environment,
                                             closeOtherDescriptors: false, resetSignals: true))
}
