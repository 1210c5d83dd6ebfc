import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct BenchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where the load goes: a Partnerline server the bench started (the real binary as a subprocess,
/// on a temp data dir) or a server already running on loopback (a Partnerline or IRC server
/// started by hand; `pid` lets the bench read its RSS and CPU).
public final class ServerUnderTest: @unchecked Sendable {
    public let host: String
    public let port: Int
    public let probe: ProcessProbe?
    /// Seconds from spawning the process to its `listening` line (journal replay included).
    public let startSeconds: Double?
    private let process: Process?
    /// Removed after the server stops (a temp dir the bench made for this run).
    private let dataDir: String?
    private let stderrPath: String?

    /// A server started by hand. Only loopback targets are allowed: the bench never loads a
    /// machine it does not own.
    public static func running(host: String, port: Int, pid: Int32?) throws -> ServerUnderTest {
        guard isLoopback(host) else { throw BenchError("only loopback targets are allowed (got \(host))") }
        return ServerUnderTest(host: host, port: port, probe: pid.map(ProcessProbe.init), startSeconds: nil,
                               process: nil, dataDir: nil, stderrPath: nil)
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Starts `partnerline-server` with a config made for the bench: one cluster `bench` with
    /// rooms r1...rN, open registration, cheap password hashing (logins are not what is measured),
    /// the given fsync policy. `dataDir` may hold journals made beforehand (the restart scenario).
    public static func launch(binary: String, dataDir: String, rooms: Int, fsync: String = "batch",
                              batchWindowMicros: Int = 0, timeoutSeconds: Double = 120,
                              removeDataDirOnStop: Bool = false) throws -> ServerUnderTest {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let configPath = dataDir + "/bench.yaml"
        let roomList = (1...max(1, rooms)).map { "      - name: r\($0)" }.joined(separator: "\n")
        let yaml = """
            server_name: bench
            data_dir: \(dataDir)
            listen:
              host: 127.0.0.1
              tls_port: 0
            registration:
              policy: open
            passwords:
              scrypt_log2_n: 4
            journal:
              fsync: \(fsync)
              batch_window_micros: \(batchWindowMicros)
            limits:
              max_outbound_bytes: 16777216
              max_queued_commands: 4096
            # The bench measures throughput from one address, not the abuse limits: lift them
            # (a 10,000-connection burst also needs a longer handshake deadline).
            protection:
              flood: { burst: 1000000, rate_per_second: 1000000, bot_burst: 1000000, bot_rate_per_second: 1000000, max_delayed: 1000000 }
              connections: { max_per_address: 1000000, max_new_per_address: 1000000, max_total: 1000000 }
              timeouts: { handshake_seconds: 300, registration_seconds: 86400, idle_seconds: 86400, ping_timeout_seconds: 600 }
              hashing: { max_queued: 1000000 }
            clusters:
              - name: bench
                description: Benchmark cluster
                rooms:
            \(roomList)
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let stderrPath = dataDir + "/server.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--config", configPath, "--tls-port", "0", "--log-level", "warning"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        let started = nowNanos()
        try process.run()
        guard let line = readLine(stdout.fileHandleForReading, timeoutSeconds: timeoutSeconds) else {
            process.terminate()
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw BenchError("server did not say it was listening within \(Int(timeoutSeconds)) s; log: \(log.suffix(2000))")
        }
        let seconds = Double(nowNanos() - started) / 1e9
        guard line.hasPrefix("listening tls="),
              let port = line.split(separator: " ")[1].split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw BenchError("unexpected first line from the server: \(line)")
        }
        return ServerUnderTest(host: "127.0.0.1", port: port, probe: ProcessProbe(pid: process.processIdentifier),
                               startSeconds: seconds, process: process, dataDir: removeDataDirOnStop ? dataDir : nil,
                               stderrPath: stderrPath)
    }

    private init(host: String, port: Int, probe: ProcessProbe?, startSeconds: Double?, process: Process?,
                 dataDir: String?, stderrPath: String?) {
        self.host = host
        self.port = port
        self.probe = probe
        self.startSeconds = startSeconds
        self.process = process
        self.dataDir = dataDir
        self.stderrPath = stderrPath
    }

    /// Stops a server the bench started (SIGTERM, then SIGKILL after 5 s). Leaves others alone.
    public func stop() {
        guard let process else { return }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        if let dataDir { try? FileManager.default.removeItem(atPath: dataDir) }
    }

    /// Stops a server the bench started with SIGTERM and waits up to `timeoutSeconds` for it to
    /// exit by itself (a clean shutdown, which may write a snapshot); SIGKILL after that. Returns
    /// whether it exited by itself.
    @discardableResult
    public func stopCleanly(timeoutSeconds: Double) -> Bool {
        guard let process, process.isRunning else { return true }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard process.isRunning else { return true }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }

    deinit { stop() }

    /// The first stdout line, or nil after the timeout. Reads on a helper thread so a silent
    /// server cannot hang the bench.
    private static func readLine(_ handle: FileHandle, timeoutSeconds: Double) -> String? {
        final class Box: @unchecked Sendable { var line: String? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var bytes: [UInt8] = []
            while true {
                let data = handle.readData(ofLength: 1)
                guard let byte = data.first else { break }
                if byte == 10 { break }
                bytes.append(byte)
            }
            box.line = bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
            done.signal()
        }
        guard done.wait(timeout: .now() + timeoutSeconds) == .success else { return nil }
        return box.line
    }

    /// Finds `partnerline-server` beside this executable (or the test bundle), as `swift build` lays them out.
    public static func defaultBinary() -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("partnerline-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/release/partnerline-server"
    }
}
