import Foundation
import Testing

@testable import PartnerlineStore

/// The one segment walk, over real segment files in temp directories: what it reports for a good
/// journal and for each kind of damage, and that recovery, verify and backup name a fault alike.
@Suite struct JournalScannerTests {
    /// What a walk saw, in order, as plain values.
    enum Seen: Equatable {
        case record(RecordLocation, payload: String, chainChecked: Bool)
        case fault(JournalFault.Kind, file: String, offset: Int, dataFollows: Bool?)
        case segmentEnd(index: Int, bytes: Int)
    }

    static func temp() throws -> String {
        let path = NSTemporaryDirectory() + "partnerline-scan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes segments as the journal would: `layout` is the payloads of each segment in order, the
    /// chain running across them; segments are named by their first record's index. Returns each
    /// record's location.
    @discardableResult
    static func writeJournal(_ directory: String, _ layout: [[String]]) throws -> [RecordLocation] {
        let hasher = ChainHasher()
        var head = Digest.zero
        var index = 1
        var locations: [RecordLocation] = []
        for payloads in layout {
            var bytes: [UInt8] = []
            let name = index
            for payload in payloads {
                locations.append(RecordLocation(segment: name, offset: bytes.count))
                head = RecordCodec.encode(Array(payload.utf8), previous: head, hasher: hasher, into: &bytes)
                index += 1
            }
            try Data(bytes).write(to: URL(fileURLWithPath: Segment.path(directory: directory, index: name)))
        }
        return locations
    }

    static func walk(_ directory: String, stopAtFirstFault: Bool = false) throws -> [Seen] {
        var seen: [Seen] = []
        try JournalScanner(directory: directory).walk { event in
            switch event {
            case .record(let record):
                seen.append(.record(record.location, payload: String(decoding: record.payload, as: UTF8.self),
                                    chainChecked: record.chainChecked))
            case .fault(let fault, let segment):
                seen.append(.fault(fault.kind, file: fault.file, offset: fault.offset,
                                   dataFollows: segment?.dataFollows(fault.offset)))
                if stopAtFirstFault { return .stop }
            case .segmentEnd(let segment):
                seen.append(.segmentEnd(index: segment.segment.index, bytes: segment.bytes.count))
            }
            return .proceed
        }
        return seen
    }

    static func records(_ seen: [Seen]) -> [String] {
        seen.compactMap { if case .record(_, let payload, _) = $0 { payload } else { nil } }
    }

    static func faults(_ seen: [Seen]) -> [Seen] {
        seen.filter { if case .fault = $0 { true } else { false } }
    }

    static func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test func aGoodJournalIsEveryRecordInOrderWithItsPlace() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["one", "two"], ["three"], ["four", "five"]])
        let seen = try Self.walk(dir)
        #expect(Self.faults(seen).isEmpty, "\(seen)")
        let names = ["one", "two", "three", "four", "five"]
        let expected: [Seen] = [
            .record(locations[0], payload: names[0], chainChecked: true),
            .record(locations[1], payload: names[1], chainChecked: true),
            .segmentEnd(index: 1, bytes: try Self.size(Segment.path(directory: dir, index: 1))),
            .record(locations[2], payload: names[2], chainChecked: true),
            .segmentEnd(index: 3, bytes: try Self.size(Segment.path(directory: dir, index: 3))),
            .record(locations[3], payload: names[3], chainChecked: true),
            .record(locations[4], payload: names[4], chainChecked: true),
            .segmentEnd(index: 4, bytes: try Self.size(Segment.path(directory: dir, index: 4))),
        ]
        #expect(seen == expected)
        // The walk agrees with the journal that wrote nothing of it: recovery replays the same.
        var replayed: [String] = []
        let (journal, report) = try Journal.open(directory: dir, options: JournalOptions()) {
            replayed.append(String(decoding: $0, as: UTF8.self))
        }
        journal.close()
        #expect(replayed == names && report.truncatedFile == nil)
    }

    @Test func aTornTailIsOneFaultWithNothingAfterIt() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["one", "two"], ["three", "four"]])
        let last = Segment.path(directory: dir, index: 3)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: last)))
        try Data(bytes[0..<(bytes.count - 3)]).write(to: URL(fileURLWithPath: last))
        let seen = try Self.walk(dir)
        #expect(Self.records(seen) == ["one", "two", "three"])
        #expect(Self.faults(seen) == [.fault(.malformedRecord, file: last, offset: locations[3].offset, dataFollows: false)])
    }

    @Test func aFlippedPayloadByteIsOneHashMismatchAndTheChainGoesOn() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["alpha", "bravo", "charlie"]])
        let path = Segment.path(directory: dir, index: 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[locations[2].offset - 2] ^= 0x01  // the last payload byte of "bravo"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let seen = try Self.walk(dir)
        #expect(Self.faults(seen) == [.fault(.hashMismatch, file: path, offset: locations[1].offset, dataFollows: true)])
        // "charlie" chains from bravo's stored hash, so it is checked and good.
        #expect(seen.contains(.record(locations[2], payload: "charlie", chainChecked: true)))
        #expect(Self.records(seen) == ["alpha", "charlie"])
    }

    @Test func aGarbageLineIsMalformedAndTheNextRecordCannotBeChainChecked() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["alpha", "bravo", "charlie"]])
        let path = Segment.path(directory: dir, index: 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[locations[1].offset] = UInt8(ascii: "x")  // bravo's length field
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let seen = try Self.walk(dir)
        #expect(Self.faults(seen) == [.fault(.malformedRecord, file: path, offset: locations[1].offset, dataFollows: true)])
        #expect(seen.contains(.record(locations[2], payload: "charlie", chainChecked: false)))
    }

    @Test func aBrokenChainAcrossSegmentsIsAMismatchAtTheSegmentStart() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeJournal(dir, [["one", "two"]])
        // A second segment that chains from zero: spliced in from another journal.
        let other = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: other) }
        try Self.writeJournal(other, [["three", "four"]])
        let spliced = Segment.path(directory: dir, index: 3)
        try FileManager.default.copyItem(atPath: Segment.path(directory: other, index: 1), toPath: spliced)
        let seen = try Self.walk(dir)
        #expect(Self.faults(seen) == [.fault(.hashMismatch, file: spliced, offset: 0, dataFollows: true)])
        // Recovery refuses it (valid data follows) and changes nothing; verify names the same place.
        let before = try Self.size(spliced)
        #expect(throws: StorageError.self) { _ = try Journal.open(directory: dir, options: JournalOptions()) { _ in } }
        #expect(try Self.size(spliced) == before)
    }

    @Test func anEmptySegmentIsWalkedAndATornTailBeforeItHasNothingAfterIt() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["one", "two"], []])
        #expect(try Self.walk(dir) == [
            .record(locations[0], payload: "one", chainChecked: true),
            .record(locations[1], payload: "two", chainChecked: true),
            .segmentEnd(index: 1, bytes: try Self.size(Segment.path(directory: dir, index: 1))),
            .segmentEnd(index: 3, bytes: 0),
        ])
        // Tear the record before the empty segment: still a tail, since nothing follows.
        let first = Segment.path(directory: dir, index: 1)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: first)))
        try Data(bytes[0..<(bytes.count - 1)]).write(to: URL(fileURLWithPath: first))
        #expect(Self.faults(try Self.walk(dir, stopAtFirstFault: true))
            == [.fault(.malformedRecord, file: first, offset: locations[1].offset, dataFollows: false)])
        // A later segment with data in it makes the same bad record corruption.
        try Data("x".utf8).write(to: URL(fileURLWithPath: Segment.path(directory: dir, index: 3)))
        #expect(Self.faults(try Self.walk(dir, stopAtFirstFault: true))
            == [.fault(.malformedRecord, file: first, offset: locations[1].offset, dataFollows: true)])
    }

    @Test func aMissingSegmentMakesTheNextOneMisnamed() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeJournal(dir, [["one", "two"], ["three"], ["four"]])
        try FileManager.default.removeItem(atPath: Segment.path(directory: dir, index: 3))
        let next = Segment.path(directory: dir, index: 4)
        var reason = ""
        var kinds: [JournalFault.Kind] = []
        try JournalScanner(directory: dir).walk { event in
            if case .fault(let fault, _) = event {
                kinds.append(fault.kind)
                if fault.kind == .misnamedSegment { reason = "\(fault)" }
            }
            return .proceed
        }
        // The name is checked once; "four" then fails the chain too (three is missing from it).
        #expect(kinds == [.misnamedSegment, .hashMismatch])
        #expect(reason == "\(next) offset 0: segment is named for record #4 but follows 2 records "
            + "(a segment is missing, misnamed or out of place)")
    }

    @Test func anUnreadableSegmentIsAFaultWithoutBytesAndTheWalkGoesOn() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeJournal(dir, [["one"]])
        // A directory with a segment's name: listed as a segment, but read() fails (EISDIR).
        let bad = Segment.path(directory: dir, index: 2)
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: false)
        let seen = try Self.walk(dir)
        #expect(Self.faults(seen) == [.fault(.unreadable, file: bad, offset: 0, dataFollows: nil)])
        #expect(Self.records(seen) == ["one"])
        #expect(throws: StorageError.self) { _ = try Journal.open(directory: dir, options: JournalOptions()) { _ in } }
    }

    @Test func theVisitorStopsTheWalk() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeJournal(dir, [["one", "two"], ["three"]])
        var events = 0
        try JournalScanner(directory: dir).walk { _ in
            events += 1
            return .stop
        }
        #expect(events == 1)
    }

    /// Recovery, verify and backup report one damage in the same words, from the same place.
    @Test func recoveryVerifyAndBackupNameAFaultAlike() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let locations = try Self.writeJournal(dir, [["alpha", "bravo"], ["charlie"]])
        let path = Segment.path(directory: dir, index: 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[locations[1].offset - 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let verified = JournalVerifier.verify(directory: dir)
        #expect(verified.faults.count == 1)
        let fault = try #require(verified.faults.first)
        #expect(fault.kind == .hashMismatch && fault.file == path && fault.offset == 0)
        do {
            _ = try Journal.open(directory: dir, options: JournalOptions()) { _ in }
            Issue.record("recovery accepted a flipped byte in a sealed segment")
        } catch let error as StorageError {
            #expect(error.kind == .corrupt && error.file == path && error.offset == 0)
            #expect(error.description.hasPrefix("corrupt journal: \(fault);"), "\(error)")
        }
        do {
            _ = try JournalBackup.copy(from: dir, to: dir + "-copy")
            Issue.record("backup copied a flipped byte in a sealed segment")
        } catch {
            #expect(error.kind == .corrupt && error.file == path && error.offset == 0)
            #expect(error.description.hasPrefix("corrupt journal: \(fault);"), "\(error)")
        }
        try? FileManager.default.removeItem(atPath: dir + "-copy")
    }
}
