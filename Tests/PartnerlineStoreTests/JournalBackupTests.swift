import Foundation
import Testing

@testable import PartnerlineStore

/// JournalBackup on its own: what it copies from a live-looking journal, and what it refuses.
@Suite struct JournalBackupTests {
    static func temp() -> String { NSTemporaryDirectory() + "partnerline-backup-" + UUID().uuidString }

    static func payloads(in directory: String) throws -> [[UInt8]] {
        var seen: [[UInt8]] = []
        let (journal, _) = try Journal.open(directory: directory, options: JournalOptions()) { seen.append($0) }
        journal.close()
        return seen
    }

    @Test func aRecordStillBeingWrittenIsLeftOutAndTheCopyVerifies() throws {
        let source = Self.temp()
        let copy = Self.temp()
        defer { [source, copy].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        _ = try JournalReaderTests.fill(source, count: 60, segmentMaxBytes: 2048)
        // The newest segment ends in half a record, as while the writer is in the middle of a write.
        let last = try #require(try Segment.list(directory: source).last)
        let handle = try #require(FileHandle(forWritingAtPath: last.path))
        handle.seekToEndOfFile()
        handle.write(Data("212 3f9a0c half a rec".utf8))
        try handle.close()

        let report = try JournalBackup.copy(from: source, to: copy)
        #expect(report.records == 60)
        #expect(report.segments == (try Segment.list(directory: source).count))
        let verified = JournalVerifier.verify(directory: copy)
        #expect(verified.faults.isEmpty)
        #expect(verified.headHashHex == report.headHashHex)
        #expect(try Self.payloads(in: copy) == (1...60).map(JournalReaderTests.payload))
    }

    @Test func aBadRecordInASealedSegmentFailsNamingFileAndOffset() throws {
        let source = Self.temp()
        let copy = Self.temp()
        defer { [source, copy].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let locations = try JournalReaderTests.fill(source, count: 60, segmentMaxBytes: 2048)
        let target = locations[3]  // in the first segment, which is sealed
        let path = Segment.path(directory: source, index: target.segment)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[target.offset + 80] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))

        do {
            _ = try JournalBackup.copy(from: source, to: copy)
            Issue.record("a corrupt sealed segment was copied")
        } catch {
            #expect(error.kind == .corrupt)
            #expect(error.file == path)
            #expect(error.offset == target.offset)
        }
    }

    @Test func aDestinationHoldingSegmentsIsRefused() throws {
        let source = Self.temp()
        let copy = Self.temp()
        defer { [source, copy].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        _ = try JournalReaderTests.fill(source, count: 3, segmentMaxBytes: 1 << 20)
        _ = try JournalBackup.copy(from: source, to: copy)
        #expect(throws: StorageError.self) { try JournalBackup.copy(from: source, to: copy) }
        #expect(try Self.payloads(in: copy).count == 3, "the first copy is untouched")
    }
}
