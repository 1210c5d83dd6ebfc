import Foundation
import PartnerlineTransport
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory removed when the test ends.
final class TempDir: @unchecked Sendable {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "partnerline-cli-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A built executable beside the test bundle.
func productPath(_ name: String) -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return ".build/debug/" + name
}

/// The real `partnerline-server` binary on a temp data dir (TLS on a free port; the plaintext
/// port too when asked). It makes its self-signed certificate at `<data>/tls/self-signed.crt`.
final class TestServer: @unchecked Sendable {
    let dir: String
    let dataDir: String
    private(set) var process = Process()
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
          flood: { burst: 100000, rate_per_second: 100000, bot_burst: 100000, bot_rate_per_second: 100000, max_delayed: 100000 }
          connections: { max_per_address: 10000, max_new_per_address: 100000 }
          logins: { max_failures_per_account: 100000, max_failures_per_address: 100000 }
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
        process = Process()
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: productPath("partnerline-server"))
        process.arguments = ["--config", dir + "/server.yaml", "--tls-port", String(port ?? 0)] + (plain ? ["--plain-port", "0"] : [])
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var line = [UInt8]()
        let handle = stdout.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first, first != 10 else { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        // listening tls=127.0.0.1:PORT [plain=127.0.0.1:PORT]
        for word in text.split(separator: " ") {
            if word.hasPrefix("tls="), let p = word.split(separator: ":").last.flatMap({ Int($0) }) { tlsPort = p }
            if word.hasPrefix("plain="), let p = word.split(separator: ":").last.flatMap({ Int($0) }) { plainPort = p }
        }
        guard text.hasPrefix("listening"), tlsPort > 0 else {
            process.terminate()
            throw TestFailure("server did not start: '\(text)'")
        }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
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
    process.arguments = [String(timeoutSeconds), productPath("partnerline")] + arguments
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
/// dropped) and returns its exit status. Two reasons not to use Foundation's Process here: it
/// sometimes never sees a quick child's exit (tmux's client), and the child would inherit the
/// test thread's blocked signals (Dispatch threads block them), which every process tmux starts
/// would inherit in turn. The child gets an empty signal mask and default handlers.
func spawnAndWait(_ arguments: [String], environment: [String: String], outputFile: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGWINCH, SIGCHLD] { sigaddset(&defaults, sig) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard rc == 0 else { throw TestFailure("posix_spawn \(arguments[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xFF
}
