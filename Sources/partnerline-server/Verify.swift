import ArgumentParser
import Foundation
import PartnerlineServer

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every journal of a data directory: each record's checksum and the hash chain.",
        discussion: """
            Read-only and lock-free, so it can run beside a live server. Prints one line per journal
            (`<journal>: records=<n> first=<time> last=<time> head=<hash>`), one `FAULT <file> offset=<n>: <why>`
            line per bad record, and a last `verify:` line. Exits 0 when everything verifies, 1 on any fault.
            """
    )

    @Option(name: .customLong("data-dir"), help: "The server's data directory (holds accounts/ and clusters/).")
    var dataDir: String

    @Option(name: .customLong("receipt"), help: ArgumentHelp(
        "A line from HEAD to check: the cluster's chain must still have that hash after that many records (repeatable).",
        valueName: "OK HEAD cluster=<c> records=<n> hash=<hex>"))
    var receipts: [String] = []

    func run() throws {
        var parsed: [HeadReceipt] = []
        for text in receipts {
            guard let receipt = HeadReceipt(text) else {
                throw ValidationError("--receipt takes a HEAD reply such as 'OK HEAD cluster=<c> records=<n> hash=<64 hex>', not '\(text)'")
            }
            parsed.append(receipt)
        }
        let outcome = DataDirectoryVerifier.verify(dataDir: dataDir, receipts: parsed)
        FileHandle.standardOutput.write(Data((outcome.lines.joined(separator: "\n") + "\n").utf8))
        if !outcome.passed { throw ExitCode.failure }
    }
}
