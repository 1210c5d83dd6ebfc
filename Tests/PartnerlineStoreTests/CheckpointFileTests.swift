import Foundation
import Testing

@testable import PartnerlineStore

/// Checkpoint files and opening a journal from a checkpoint's position, over real files in temp
/// directories: round trip, damage (cut short, flipped byte), temporaries, pruning, and a journal
/// that does or does not hold what the checkpoint says.
@Suite struct CheckpointFileTests {
    static func temp() throws -> String {
        let path = NSTemporaryDirectory() + "partnerline-checkpoint-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A journal of `count` records `r1`...`rN` written through `Journal`, with small segments so
    /// it rolls; returns its durable position.
    static func journal(_ directory: String, records range: ClosedRange<Int>, segmentMaxBytes: Int = 600) throws -> JournalPosition? {
        let (journal, _) = try Journal.open(directory: directory, options: JournalOptions(policy: .os, segmentMaxBytes: segmentMaxBytes)) { _ in }
        defer { journal.close() }
        for n in range {
            let done = DispatchSemaphore(value: 0)
            journal.append(Array("r\(n)".utf8)) { _ in done.signal() }
            done.wait()
        }
        journal.flush()
        return journal.durablePosition
    }

    static func replayed(_ directory: String, from position: JournalPosition?) throws -> (payloads: [String], records: Int) {
        var payloads: [String] = []
        let (journal, report) = try Journal.open(directory: directory, options: JournalOptions(policy: .os, segmentMaxBytes: 600),
                                                 from: position) { payload, _ in
            payloads.append(String(decoding: payload, as: UTF8.self))
        }
        journal.close()
        return (payloads, report.records)
    }

    @Test func writesAndLoadsAndKeepsTheNewestTwo() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...50))
        for records in [10, 20, 30] {
            var at = position
            at.records = records
            try CheckpointFiles.write(Array("body \(records)".utf8), position: at, directory: directory)
        }
        let listed = CheckpointFiles.list(directory: directory)
        #expect(listed.map(\.records) == [30, 20])
        let loaded = try CheckpointFiles.load(path: listed[0].path)
        #expect(loaded.body == Array("body 30".utf8))
        #expect(loaded.position.headHashHex == position.headHashHex)
        #expect(loaded.position.last == position.last && loaded.position.tailOffset == position.tailOffset)
    }

    @Test func aCutOrDamagedFileIsRefused() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...5))
        let path = try CheckpointFiles.write(Array(repeating: 7, count: 1000), position: position, directory: directory)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [0, 4, 40, good.count / 2, good.count - 1] {
            try good.prefix(length).write(to: URL(fileURLWithPath: path))
            #expect(throws: CheckpointFileError.self) { try CheckpointFiles.load(path: path) }
        }
        for offset in [9, 60, 500, good.count - 3] {
            var damaged = good
            damaged[offset] ^= 0x20
            try damaged.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CheckpointFileError.self) { try CheckpointFiles.load(path: path) }
            #expect(error?.reason.contains("checksum") == true || error?.reason.contains("cut short") == true, "offset \(offset)")
        }
    }

    @Test func temporariesAreRemovedAndNeverListed() throws {
        let directory = try Self.temp()
        let temporary = directory + "/" + CheckpointFiles.name(records: 7) + ".tmp"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: temporary))
        #expect(CheckpointFiles.list(directory: directory).isEmpty)
        #expect(CheckpointFiles.removeTemporaries(directory: directory) == [temporary])
        #expect(!FileManager.default.fileExists(atPath: temporary))
    }

    /// The pause seam runs half-way: the temporary file then holds part of the checkpoint only.
    @Test func midWriteRunsWithHalfTheFileWritten() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...3))
        nonisolated(unsafe) var seen: (String, Int)?
        let path = try CheckpointFiles.write(Array(repeating: 1, count: 4000), position: position, directory: directory) { temporary in
            seen = (temporary, (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) ?? -1)
        }
        let full = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(seen?.0 == path + ".tmp")
        #expect(seen?.1 == full / 2)
    }

    /// Opening from a position replays only the records after it, and the journal goes on from there.
    @Test func openFromAPositionReplaysOnlyTheTail() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...40))
        _ = try Self.journal(directory, records: 41...100)
        let tail = try Self.replayed(directory, from: position)
        #expect(tail.payloads == (41...100).map { "r\($0)" })
        #expect(tail.records == 100)
        // Appending after such an open chains on: a full replay and verify agree.
        _ = try Self.journal(directory, records: 101...110)
        let full = try Self.replayed(directory, from: nil)
        #expect(full.payloads == (1...110).map { "r\($0)" })
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    /// A torn tail after the checkpoint is cut as in a full open.
    @Test func aTornTailAfterThePositionIsCut() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...20))
        _ = try Self.journal(directory, records: 21...30)
        let last = try #require(try Segment.list(directory: directory).last)
        let handle = try #require(FileHandle(forWritingAtPath: last.path))
        handle.seekToEndOfFile()
        handle.write(Data("17 abc".utf8))
        handle.closeFile()
        let tail = try Self.replayed(directory, from: position)
        #expect(tail.payloads == (21...30).map { "r\($0)" })
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    /// A journal that does not hold the checkpoint's head at its position: refused before anything
    /// is replayed (an older backup restored, another history, a position past the end).
    @Test func aJournalThatDisagreesIsAMismatch() throws {
        let directory = try Self.temp()
        let position = try #require(try Self.journal(directory, records: 1...30))
        // Another history of the same length: same offsets, other hashes.
        let other = try Self.temp()
        _ = try Self.journal(other, records: 1...29)
        _ = try Self.journal(other, records: 99...99)
        #expect(throws: JournalPositionMismatch.self) { try Self.replayed(other, from: position) }
        // An older copy: shorter than the position.
        let older = try Self.temp()
        _ = try Self.journal(older, records: 1...12)
        #expect(throws: JournalPositionMismatch.self) { try Self.replayed(older, from: position) }
        // Nonsense positions.
        var wrong = position
        wrong.tailOffset = wrong.last.offset + 2
        #expect(throws: JournalPositionMismatch.self) { try Self.replayed(directory, from: wrong) }
        wrong = position
        wrong.last.segment = 99_999
        #expect(throws: JournalPositionMismatch.self) { try Self.replayed(directory, from: wrong) }
        // Nothing was changed and the lock was released: the real position still opens.
        #expect(try Self.replayed(directory, from: position).payloads.isEmpty)
        #expect(try Self.replayed(directory, from: nil).payloads.count == 30)
    }
}
