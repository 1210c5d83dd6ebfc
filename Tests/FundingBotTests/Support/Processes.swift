import Foundation
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// The real binaries (`partnerline-server`, `partnerline-fundingbot`) beside the test bundle.
enum Binaries {
    static func path(_ name: String) -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/" + name
    }
}

/// Runs a command to its end with posix_spawn (stdin from a file or /dev/null, stdout and stderr
/// to a file, other descriptors closed in the child so it holds none of the test's sockets or
/// journal locks), under coreutils `timeout` as a hang guard.
enum Run {
    struct Result {
        let status: Int32
        let output: String
    }

    static func command(_ arguments: [String], stdin: String? = nil, timeoutSeconds: Int = 120) throws -> Result {
        let outputFile = NSTemporaryDirectory() + "fundingbot-run-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        var inputFile: String?
        if let stdin {
            let file = NSTemporaryDirectory() + "fundingbot-run-\(UUID().uuidString).in"
            try stdin.write(toFile: file, atomically: true, encoding: .utf8)
            inputFile = file
        }
        defer { if let inputFile { try? FileManager.default.removeItem(atPath: inputFile) } }
        let pid = try spawn(["/usr/bin/timeout", String(timeoutSeconds)] + arguments, outputFile: outputFile, inputFile: inputFile)
        let status = wait(pid)
        return Result(status: status, output: (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }

    /// Starts a long-running command (the bot without --once); stop it with `kill` and `wait`.
    static func start(_ arguments: [String], outputFile: String) throws -> pid_t {
        try spawn(arguments, outputFile: outputFile, inputFile: nil)
    }

    /// Waits for the child and returns its exit status (128 + signal if a signal ended it).
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static func spawn(_ arguments: [String], outputFile: String, inputFile: String?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = addCloseFrom(&actions, 3)
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, &cArguments, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(arguments[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc 2.34 or later is needed (posix_spawn_file_actions_addclosefrom_np)")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}

/// The real `partnerline-server` binary on a temporary data dir, TLS on a free port.
final class ServerUnderTest {
    let process = Process()
    private let stdout = Pipe()
    let logFile: String
    let tlsPort: Int

    init(config: String, logDir: String, tlsPort: Int = 0) throws {
        logFile = logDir + "/server-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.path("partnerline-server"))
        process.arguments = ["--config", config, "--tls-port", String(tlsPort)]
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: logFile)
        try process.run()
        var line = [UInt8]()
        let handle = stdout.fileHandleForReading
        while let byte = handle.readData(ofLength: 1).first, byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening tls="), let port = text.split(separator: " ")[1].split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw TestFailure("server did not start: '\(text)'; log: \((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")")
        }
        self.tlsPort = port
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A line client that reads a command's reply up to its final line.
final class LineClient {
    let connection: BlockingLineClient

    init(port: Int) throws {
        connection = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true, timeoutSeconds: 20)
        _ = try connection.readLine()
    }

    @discardableResult
    func send(_ line: String) throws -> [String] {
        try connection.send(line: line)
        var lines: [String] = []
        while true {
            let received = try connection.readLine()
            lines.append(received)
            if received.hasPrefix("OK ") || received.hasPrefix("ERR ") || received.hasPrefix("BYE ") { return lines }
        }
    }

    func final(_ line: String) throws -> String { try send(line).last! }

    /// Sends `@tag line` and returns the lines carrying that tag, up to its final OK/ERR (live
    /// lines in between are passed over).
    func tagged(_ tag: String, _ line: String) throws -> [String] {
        try connection.send(line: "@\(tag) \(line)")
        var lines: [String] = []
        while true {
            let received = try connection.readLine()
            guard received.hasPrefix("@\(tag) ") else { continue }
            lines.append(received)
            if received.hasPrefix("@\(tag) OK ") || received.hasPrefix("@\(tag) ERR ") { return lines }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds (a generous deadline only guards against a hang; the test
/// asserts the outcome, not how fast it came).
func eventually(seconds: Double = 90, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.2)
    }
    return try condition()
}

/// A TCP port that was free a moment ago (for a server that must come back on the same port).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
