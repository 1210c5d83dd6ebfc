import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `partnerline-server` binary as a subprocess: started with the caller's arguments
/// (its `--config`, `--tls-port`, ...), ready once its first stdout line says where it listens.
/// Each test suite keeps its own config and wraps this in its own small type.
public final class RunningServer: @unchecked Sendable {
    public let process = Process()
    public let tlsPort: Int
    /// The plaintext port, when the server was asked to listen on one.
    public let plainPort: Int?
    private let stdout = Pipe()
    private let stderrPath: String?

    /// Starts `binary` and waits for `listening tls=HOST:PORT [plain=HOST:PORT]`. stderr goes to
    /// `stderrPath` (created empty) or, when nil, to /dev/null. `environment` adds to this process's.
    public init(binary: String = Binaries.path("partnerline-server"), arguments: [String],
                stderrPath: String?, workingDirectory: String? = nil, environment: [String: String]? = nil) throws {
        self.stderrPath = stderrPath
        if let stderrPath { _ = FileManager.default.createFile(atPath: stderrPath, contents: nil) }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath ?? "/dev/null")
        try process.run()
        var line = [UInt8]()
        let handle = stdout.fileHandleForReading
        while let byte = handle.readData(ofLength: 1).first, byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        var tls: Int?
        var plain: Int?
        for word in text.split(separator: " ") {
            if word.hasPrefix("tls=") { tls = word.split(separator: ":").last.flatMap { Int($0) } }
            if word.hasPrefix("plain=") { plain = word.split(separator: ":").last.flatMap { Int($0) } }
        }
        guard text.hasPrefix("listening tls="), let tls, tls > 0 else {
            process.terminate()
            let log = stderrPath.map { "; log: " + ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "") } ?? ""
            throw TestFailure("server did not start: '\(text)'\(log)")
        }
        tlsPort = tls
        plainPort = plain
    }

    /// What the server wrote to stderr so far ("" when it went to /dev/null).
    public var log: String { stderrPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }

    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (if it still runs) and returns its exit status once it has ended.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
