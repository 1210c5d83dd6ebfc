import Foundation
import PartnerlineTestSupport

/// Runs the real `partnerline-server` binary for a one-shot subcommand (verify, backup) and
/// collects what it printed and how it exited.
enum ServerTool {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs to the end; a run still going after `timeoutSeconds` is killed (a hang guard, not a timing check).
    static func run(_ arguments: [String], timeoutSeconds: Int = 120, workingDirectory: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("partnerline-server"))
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeoutSeconds), execute: watchdog)
        defer { watchdog.cancel() }
        // Read both pipes to the end before waiting, so a chatty tool cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errorData = Data()
        group.enter()
        DispatchQueue.global().async {
            errorData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
                   stderr: String(decoding: errorData, as: UTF8.self))
    }

    static func verify(_ dataDir: String) throws -> Run {
        try run(["verify", "--data-dir", dataDir])
    }
}

/// The segment files of a journal directory, oldest first, with the byte offset of each record.
struct SegmentFiles {
    let paths: [String]

    init(_ journalDir: String) throws {
        paths = try FileManager.default.contentsOfDirectory(atPath: journalDir)
            .filter { $0.hasSuffix(".journal") }.sorted().map { journalDir + "/" + $0 }
    }

    /// Start offsets of the records (lines) of one segment.
    static func recordOffsets(_ path: String) throws -> [Int] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var offsets: [Int] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 10 {
            offsets.append(start)
            start = index + 1
        }
        return offsets
    }
}
