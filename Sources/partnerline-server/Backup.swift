import ArgumentParser
import Foundation
import PartnerlineServer

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a data directory consistently, even while the server is running.",
        discussion: """
            Each journal segment is copied up to the end of its last complete, chain-verified record, so the copy
            is a prefix of the live history that verifies on its own. Clusters are copied before accounts. The
            destination must be new or empty. To restore, start a server with --data-dir <the copy>.
            Prints one line per journal and a last `backup:` line; exits 1 on any error.
            """
    )

    @Option(name: .customLong("data-dir"), help: "The server's data directory.")
    var dataDir: String

    @Option(name: .customLong("to"), help: "Where to put the copy (a new or empty directory).")
    var destination: String

    func run() throws {
        do {
            let lines = try DataDirectoryBackup.run(dataDir: dataDir, to: destination)
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        } catch {
            FileHandle.standardError.write(Data("backup failed: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
