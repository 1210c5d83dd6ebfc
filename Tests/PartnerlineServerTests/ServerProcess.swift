import Foundation
import Testing

/// The real `partnerline-server` binary as a subprocess, for restarts, kill -9 and signals.
final class ServerProcess {
    let process = Process()
    private let stdout = Pipe()
    private let stderrFile: String
    let tlsPort: Int

    static var binaryPath: String {
        // The test bundle sits in the build products directory, beside the executables.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("partnerline-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug/partnerline-server"
    }

    /// `config: nil` passes no `--config`; `workingDirectory` runs it elsewhere than the tests' directory.
    init(config: String?, arguments: [String] = [], logDir: String, workingDirectory: String? = nil) throws {
        stderrFile = logDir + "/server-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments = (config.map { ["--config", $0] } ?? []) + ["--tls-port", "0"] + arguments
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        try process.run()
        // The first stdout line says where it listens, once it accepts connections.
        var line = [UInt8]()
        let handle = stdout.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { break }
            if first == 10 { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening tls="), let port = text.split(separator: " ")[1].split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            let log = (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? ""
            throw TestFailure("server did not start: '\(text)'; log: \(log)")
        }
        tlsPort = port
    }

    var log: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends a signal and waits for the exit status.
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill9() }
    }
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

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
