import Dispatch
import Foundation
import Testing

@testable import PartnerlineStore

// MARK: Helpers

/// A fresh temp directory; the journal lives in a subdirectory that open() creates.
private func makeTempDirectory() throws -> String {
    let base = FileManager.default.temporaryDirectory
        .appendingPathComponent("partnerline-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    return base.path
}

private func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func writeBytes(_ path: String, _ content: [UInt8]) throws {
    try Data(content).write(to: URL(fileURLWithPath: path))
}

private func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
}

private func segmentNames(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".journal") }.sorted()
}

/// Thread-safe accumulator for values produced in completions.
private final class Collector<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func add(_ item: T) { lock.withLock { items.append(item) } }
    var values: [T] { lock.withLock { items } }
}

/// Appends one record and waits for its completion (with a hang guard).
private func appendAndWait(_ journal: Journal, _ payload: [UInt8]) -> Result<Void, StorageError>? {
    let done = DispatchSemaphore(value: 0)
    let result = Collector<Result<Void, StorageError>>()
    journal.append(payload) { outcome in
        result.add(outcome)
        done.signal()
    }
    guard done.wait(timeout: .now() + 60) == .success else { return nil }
    return result.values.first
}

private func isSuccess(_ result: Result<Void, StorageError>?) -> Bool {
    if case .success = result { return true }
    return false
}

private func failureKind(_ result: Result<Void, StorageError>?) -> StorageError.Kind? {
    if case .failure(let error) = result { return error.kind }
    return nil
}

/// Opens a journal, collecting the replayed payloads.
private func openJournal(
    _ directory: String, _ options: JournalOptions = JournalOptions()
) throws -> (Journal, RecoveryReport, [[UInt8]]) {
    var replayed: [[UInt8]] = []
    let (journal, report) = try Journal.open(directory: directory, options: options) { replayed.append($0) }
    return (journal, report, replayed)
}

/// Writes `payloads` into a new journal and closes it; returns the journal directory.
private func makeJournal(in base: String, _ payloads: [[UInt8]], options: JournalOptions = JournalOptions()) throws -> String {
    let directory = base + "/journal"
    let (journal, _, _) = try openJournal(directory, options)
    for payload in payloads {
        #expect(isSuccess(appendAndWait(journal, payload)))
    }
    journal.close()
    return directory
}

private func samplePayloads(_ count: Int) -> [[UInt8]] {
    (1...count).map { bytes("{\"n\":\($0),\"text\":\"record number \($0)\"}") }
}

private func firstSegment(_ directory: String) -> String {
    directory + "/0000000000000001.journal"
}

/// Switchable faults and a gate for the first sync, injected through FileIO.
private final class FaultSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var writeFailures = 0
    private var syncFailures = 0
    private var partialWrite = false
    private var gated = false
    let gate = DispatchSemaphore(value: 0)

    func failWrites(_ count: Int, partial: Bool) { lock.withLock { writeFailures = count; partialWrite = partial } }
    func failSyncs(_ count: Int) { lock.withLock { syncFailures = count } }
    /// The next data sync blocks until `gate` is signalled (at most 60 s, a hang guard).
    func gateNextSync() { lock.withLock { gated = true } }

    var fileIO: FileIO {
        FileIO(
            write: { fd, pointer, count in
                let (fail, partial): (Bool, Bool) = self.lock.withLock {
                    guard self.writeFailures > 0 else { return (false, false) }
                    self.writeFailures -= 1
                    return (true, self.partialWrite)
                }
                if fail {
                    if partial { _ = FileIO.posix.write(fd, pointer, count / 2) }
                    return -Int(EIO)
                }
                return FileIO.posix.write(fd, pointer, count)
            },
            sync: { fd in
                let (fail, wait): (Bool, Bool) = self.lock.withLock {
                    let wait = self.gated
                    self.gated = false
                    guard self.syncFailures > 0 else { return (false, wait) }
                    self.syncFailures -= 1
                    return (true, wait)
                }
                if wait { _ = self.gate.wait(timeout: .now() + 60) }
                return fail ? EIO : FileIO.posix.sync(fd)
            },
            syncDirectory: FileIO.posix.syncDirectory,
            truncate: FileIO.posix.truncate
        )
    }
}

// MARK: Codec

@Suite struct RecordCodecTests {
    @Test func encodesTheDocumentedLineFormat() {
        let hasher = ChainHasher()
        var out: [UInt8] = []
        let hash = RecordCodec.encode(bytes("hello"), previous: .zero, hasher: hasher, into: &out)
        // sha256(32 zero bytes || "hello"), computed with sha256sum.
        let expected = "a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62"
        #expect(String(decoding: out, as: UTF8.self) == "5 \(expected) hello\n")
        #expect(hash.hex == expected)
        #expect(out.count == RecordCodec.encodedSize(payloadCount: 5))
    }

    @Test func roundTripsAndChains() {
        let hasher = ChainHasher()
        let binary = (0...255).map { UInt8($0) }.filter { $0 != 0x0A }
        let payloads: [[UInt8]] = [[], bytes("a"), binary, [UInt8](repeating: 0x41, count: 12345), bytes("{\"k\":\"v\"}")]
        var out: [UInt8] = []
        var hashes: [Digest] = []
        var previous = Digest.zero
        for payload in payloads {
            previous = RecordCodec.encode(payload, previous: previous, hasher: hasher, into: &out)
            hashes.append(previous)
        }
        #expect(out.count == payloads.reduce(0) { $0 + RecordCodec.encodedSize(payloadCount: $1.count) })
        out.withUnsafeBufferPointer { buffer in
            var offset = 0
            var chain = Digest.zero
            for (index, payload) in payloads.enumerated() {
                guard case .record(let range, let hash, let end) = RecordCodec.parse(buffer, at: offset) else {
                    Issue.record("record \(index) did not parse")
                    return
                }
                #expect(Array(buffer[range]) == payload)
                #expect(hash == hashes[index])
                #expect(hasher.chain(chain, payload) == hash)
                chain = hash
                offset = end
            }
            #expect(offset == buffer.count)
        }
    }

    @Test func rejectsMalformedLines() {
        let valid = "5 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n"
        let cases = [
            "05 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n",  // leading zero
            "x a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n",
            "5 A41DE667C15557CBD8ACDD71EF0FEF5DC73561374BAED8330F8ADB0E1424CD62 hello\n",  // uppercase hex
            "6 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n",  // length too long
            "4 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n",  // length too short
            "5 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd6 hello\n",  // 63 hex digits
            "5 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello",  // no newline
        ]
        for text in [valid] + cases {
            let line = bytes(text)
            let parsed = line.withUnsafeBufferPointer { RecordCodec.parse($0, at: 0) }
            switch parsed {
            case .record: #expect(text == valid, "parsed: \(text)")
            case .bad: #expect(text != valid, "rejected: \(text)")
            }
        }
    }
}

// MARK: Journal

@Suite struct JournalTests {
    @Test func replaysInOrderAndKeepsTheHeadAcrossReopen() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/rural-east-midlands"
        let payloads = samplePayloads(20)

        let (journal, report, replayed) = try openJournal(directory)
        #expect(replayed.isEmpty)
        #expect(report.records == 0)
        #expect(report.truncatedFile == nil)
        #expect(report.headHashHex == String(repeating: "0", count: 64))
        #expect(try segmentNames(directory) == ["0000000000000001.journal"])
        for payload in payloads { #expect(isSuccess(appendAndWait(journal, payload))) }
        #expect(journal.recordCount == 20)
        let head = journal.headHashHex
        journal.close()

        // The head is the hash on the last line of the file.
        let lines = String(decoding: try readBytes(firstSegment(directory)), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 20)
        #expect(lines.last?.split(separator: " ")[1] == Substring(head))

        for _ in 0..<2 {
            let (again, report, replayed) = try openJournal(directory)
            #expect(replayed == payloads)
            #expect(report.records == 20)
            #expect(report.headHashHex == head)
            #expect(report.truncatedFile == nil && report.truncatedBytes == 0 && report.reason == nil)
            #expect(again.headHashHex == head)
            #expect(again.recordCount == 20)
            again.close()
        }
    }

    @Test func aSecondOpenOfTheSameDirectoryIsLocked() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let (journal, _, _) = try openJournal(base + "/j")
        do {
            _ = try openJournal(base + "/j")
            Issue.record("second open succeeded")
        } catch let error as StorageError {
            #expect(error.kind == .locked)
        }
        journal.close()
        let (again, _, _) = try openJournal(base + "/j")
        again.close()
    }

    @Test func aPayloadWithANewlineIsRejectedInOrder() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory)
        let order = Collector<(Int, Bool, StorageError.Kind?)>()
        for (index, payload) in [bytes("one"), bytes("two\nlines"), bytes("three")].enumerated() {
            journal.append(payload) { result in
                switch result {
                case .success: order.add((index, true, nil))
                case .failure(let error): order.add((index, false, error.kind))
                }
            }
        }
        journal.flush()
        let outcomes = order.values
        #expect(outcomes.map(\.0) == [0, 1, 2])
        #expect(outcomes.map(\.1) == [true, false, true])
        #expect(outcomes[1].2 == .invalidPayload)
        #expect(journal.recordCount == 2)
        journal.close()
        let (_, report, replayed) = try openJournal(directory)
        #expect(replayed == [bytes("one"), bytes("three")])
        #expect(report.truncatedFile == nil)
    }

    @Test func appendAfterCloseFails() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let (journal, _, _) = try openJournal(base + "/j")
        journal.close()
        #expect(failureKind(appendAndWait(journal, bytes("late"))) == .io)
    }

    // MARK: Recovery

    @Test func aTornTailIsCutAtEveryOffsetOfTheLastRecord() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(5)
        let source = try makeJournal(in: base, payloads, options: JournalOptions(policy: .os))
        let full = try readBytes(firstSegment(source))
        let lastStart = full.count - RecordCodec.encodedSize(payloadCount: payloads[4].count)
        #expect(full[lastStart - 1] == 0x0A)

        for cut in lastStart...(full.count - 1) {
            let directory = base + "/cut-\(cut)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let segment = firstSegment(directory)
            try writeBytes(segment, Array(full[0..<cut]))

            let (journal, report, replayed) = try openJournal(directory, JournalOptions(policy: .always))
            #expect(replayed == Array(payloads[0..<4]), "cut at \(cut)")
            #expect(report.records == 4)
            if cut == lastStart {
                // The cut fell on a record boundary: nothing torn.
                #expect(report.truncatedFile == nil && report.truncatedBytes == 0)
            } else {
                #expect(report.truncatedFile == segment, "cut at \(cut)")
                #expect(report.truncatedAtOffset == lastStart, "cut at \(cut)")
                #expect(report.truncatedBytes == cut - lastStart)
                #expect(report.reason != nil)
            }
            #expect(try fileSize(segment) == lastStart)

            #expect(isSuccess(appendAndWait(journal, bytes("after"))))
            journal.close()
            let (again, report2, replayed2) = try openJournal(directory)
            #expect(replayed2 == Array(payloads[0..<4]) + [bytes("after")])
            #expect(report2.truncatedFile == nil)
            let verified = JournalVerifier.verify(directory: directory)
            #expect(verified.faults.isEmpty, "cut at \(cut): \(verified.faults.map(\.reason))")
            #expect(verified.records == 5)
            #expect(verified.headHashHex == again.headHashHex)
            again.close()
            removeDirectory(directory)
        }
    }

    @Test(arguments: [
        "garbage without newline",
        "12",
        "5 abc",
        "5 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hel",
        // A complete line whose hash does not chain: a torn rewrite of the last record.
        "5 a41de667c15557cbd8acdd71ef0fef5dc73561374baed8330f8adb0e1424cd62 hello\n",
    ])
    func garbageAfterTheLastRecordIsTruncated(garbage: String) throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(3)
        let directory = try makeJournal(in: base, payloads)
        let segment = firstSegment(directory)
        let good = try readBytes(segment)
        try writeBytes(segment, good + bytes(garbage))

        let before = JournalVerifier.verify(directory: directory)
        #expect(before.faults.map(\.offset) == [good.count])

        let (journal, report, replayed) = try openJournal(directory)
        #expect(replayed == payloads)
        #expect(report.truncatedFile == segment)
        #expect(report.truncatedAtOffset == good.count)
        #expect(report.truncatedBytes == garbage.utf8.count)
        #expect(try readBytes(segment) == good)
        journal.close()
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    @Test func aFlippedByteInAMiddleRecordIsCorruptionAndChangesNothing() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(5)
        let directory = try makeJournal(in: base, payloads)
        let segment = firstSegment(directory)
        let good = try readBytes(segment)
        let start = payloads[0..<2].reduce(0) { $0 + RecordCodec.encodedSize(payloadCount: $1.count) }
        let end = start + RecordCodec.encodedSize(payloadCount: payloads[2].count)

        // Every byte of the third record, its length digits, hash and newline included.
        for position in start..<end {
            var damaged = good
            damaged[position] ^= 0x01
            try writeBytes(segment, damaged)
            do {
                _ = try openJournal(directory)
                Issue.record("open succeeded with byte \(position) flipped")
            } catch let error as StorageError {
                #expect(error.kind == .corrupt, "byte \(position)")
                #expect(error.file == segment)
                #expect(error.offset == start, "byte \(position): \(error.description)")
            }
            #expect(try readBytes(segment) == damaged, "open modified the file (byte \(position))")
            let report = JournalVerifier.verify(directory: directory)
            #expect(report.faults.first?.file == segment)
            #expect(report.faults.first?.offset == start, "byte \(position)")
            #expect(try readBytes(segment) == damaged)
        }
        // A damaged newline before the last record merges the last two lines; the last
        // record is still there, so this is corruption too, not a torn tail.
        let lastStart = good.count - RecordCodec.encodedSize(payloadCount: payloads[4].count)
        var merged = good
        merged[lastStart - 1] = UInt8(ascii: "x")
        try writeBytes(segment, merged)
        do {
            _ = try openJournal(directory)
            Issue.record("open succeeded with the newline before the last record damaged")
        } catch let error as StorageError {
            #expect(error.kind == .corrupt)
            #expect(error.offset == end)  // the fourth record starts where the third ends
        }
        #expect(try readBytes(segment) == merged)

        // A payload flip is exactly one fault: the next record chains from the stored hash.
        var damaged = good
        damaged[end - 2] ^= 0x01
        try writeBytes(segment, damaged)
        let report = JournalVerifier.verify(directory: directory)
        #expect(report.faults.count == 1)
        #expect(report.records == 4)
    }

    // MARK: Verify

    @Test func verifyReportsAGoodJournal() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(7)
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory)
        for payload in payloads { #expect(isSuccess(appendAndWait(journal, payload))) }
        let head = journal.headHashHex

        // Verify runs beside an open journal (it takes no lock) and never writes.
        let before = try readBytes(firstSegment(directory))
        let report = JournalVerifier.verify(directory: directory)
        #expect(report.directory == directory)
        #expect(report.faults.isEmpty)
        #expect(report.records == 7)
        #expect(report.firstPayload == payloads.first)
        #expect(report.lastPayload == payloads.last)
        #expect(report.headHashHex == head)
        #expect(try readBytes(firstSegment(directory)) == before)
        journal.close()
    }

    @Test func verifyOfAMissingDirectoryIsAFault() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let report = JournalVerifier.verify(directory: base + "/nothing-here")
        #expect(report.faults.count == 1)
        #expect(report.records == 0)
    }

    // MARK: Segments

    @Test func rollsSegmentsAndReplaysThemInOrder() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(40)
        let options = JournalOptions(policy: .always, segmentMaxBytes: 300)
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, options)
        for payload in payloads { #expect(isSuccess(appendAndWait(journal, payload))) }
        let head = journal.headHashHex
        journal.close()

        let names = try segmentNames(directory)
        #expect(names.count > 5)
        #expect(names.first == "0000000000000001.journal")
        // Each segment is named by the index of its first record and stays within the limit.
        var index = 1
        for name in names {
            #expect(name == String(format: "%016d.journal", index))
            let content = try readBytes(directory + "/" + name)
            #expect(content.count <= 300)
            index += content.filter { $0 == 0x0A }.count
        }
        #expect(index == 41)

        let (again, report, replayed) = try openJournal(directory, options)
        #expect(replayed == payloads)
        #expect(report.headHashHex == head)
        #expect(isSuccess(appendAndWait(again, bytes("one more"))))
        again.close()
        let verified = JournalVerifier.verify(directory: directory)
        #expect(verified.faults.isEmpty)
        #expect(verified.records == 41)
        #expect(verified.lastPayload == bytes("one more"))

        // A damaged record at the end of the first segment is corruption: later segments hold data.
        let first = directory + "/" + names[0]
        var damaged = try readBytes(first)
        damaged[damaged.count - 2] ^= 0x01
        try writeBytes(first, damaged)
        do {
            _ = try openJournal(directory, options)
            Issue.record("open succeeded")
        } catch let error as StorageError {
            #expect(error.kind == .corrupt)
            #expect(error.file == first)
        }
        #expect(JournalVerifier.verify(directory: directory).faults.first?.file == first)
    }

    @Test func anEmptyLastSegmentIsCurrentAndATornTailBeforeItIsCut() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let payloads = samplePayloads(6)
        let options = JournalOptions(policy: .always, segmentMaxBytes: 250)  // two records a segment
        let directory = try makeJournal(in: base, payloads, options: options)
        #expect(try segmentNames(directory) == [
            "0000000000000001.journal", "0000000000000003.journal", "0000000000000005.journal",
        ])
        // A crash right after rolling: the new segment exists but is empty.
        let last = directory + "/0000000000000005.journal"
        try writeBytes(last, [])
        var (journal, report, replayed) = try openJournal(directory, options)
        #expect(replayed == Array(payloads[0..<4]))
        #expect(report.truncatedFile == nil)
        #expect(isSuccess(appendAndWait(journal, bytes("fifth"))))
        journal.close()
        #expect(try fileSize(last) > 0)

        // Now a torn record at the end of the middle segment with only an empty segment after it.
        try writeBytes(last, [])
        let middle = directory + "/0000000000000003.journal"
        let content = try readBytes(middle)
        let cutAt = RecordCodec.encodedSize(payloadCount: payloads[2].count)
        try writeBytes(middle, Array(content[0..<(cutAt + 10)]))
        (journal, report, replayed) = try openJournal(directory, options)
        #expect(replayed == Array(payloads[0..<3]))
        #expect(report.truncatedFile == middle)
        #expect(report.truncatedAtOffset == cutAt)
        #expect(try segmentNames(directory) == ["0000000000000001.journal", "0000000000000003.journal"])
        #expect(isSuccess(appendAndWait(journal, bytes("fourth"))))
        journal.close()
        let verified = JournalVerifier.verify(directory: directory)
        #expect(verified.faults.isEmpty)
        #expect(verified.records == 4)
        #expect(verified.lastPayload == bytes("fourth"))
    }

    @Test func aMissingSegmentIsCorruption() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = try makeJournal(in: base, samplePayloads(30), options: JournalOptions(segmentMaxBytes: 200))
        let names = try segmentNames(directory)
        #expect(names.count >= 3)
        try FileManager.default.removeItem(atPath: directory + "/" + names[1])
        do {
            _ = try openJournal(directory)
            Issue.record("open succeeded")
        } catch let error as StorageError {
            #expect(error.kind == .corrupt)
            #expect(error.file == directory + "/" + names[2])
        }
        #expect(!JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    // MARK: Faults

    @Test(arguments: [false, true])
    func aFailedWriteFailsTheBatchAndALaterAppendSucceeds(partial: Bool) throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let faults = FaultSwitch()
        var options = JournalOptions(policy: .always)
        options.fileIO = faults.fileIO
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, options)
        #expect(isSuccess(appendAndWait(journal, bytes("first"))))
        let head = journal.headHashHex
        let length = try fileSize(firstSegment(directory))

        faults.failWrites(1, partial: partial)
        #expect(failureKind(appendAndWait(journal, bytes("lost"))) == .io)
        #expect(journal.headHashHex == head)
        #expect(journal.recordCount == 1)
        #expect(try fileSize(firstSegment(directory)) == length)

        #expect(isSuccess(appendAndWait(journal, bytes("second"))))
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == [bytes("first"), bytes("second")])
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    @Test(arguments: [1, 2])
    func aFailedFsyncFailsTheBatchAndALaterAppendSucceeds(failures: Int) throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let faults = FaultSwitch()
        var options = JournalOptions(policy: .batch)
        options.fileIO = faults.fileIO
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, options)
        #expect(isSuccess(appendAndWait(journal, bytes("first"))))
        let length = try fileSize(firstSegment(directory))

        // With 2 failures the sync after the repairing truncate fails too; the next batch repairs first.
        faults.failSyncs(failures)
        #expect(failureKind(appendAndWait(journal, bytes("lost"))) == .io)
        #expect(journal.recordCount == 1)
        #expect(try fileSize(firstSegment(directory)) == length)

        #expect(isSuccess(appendAndWait(journal, bytes("second"))))
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == [bytes("first"), bytes("second")])
    }

    // MARK: Concurrency

    /// `threads` x `perThread` appends; the first sync is held until every append is queued,
    /// so batching is deterministic. Returns the journal's sync and write counts.
    private func runConcurrent(
        policy: FsyncPolicy, threads: Int, perThread: Int, maxBatch: Int = 4096
    ) throws -> (syncs: Int, writes: Int) {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let faults = FaultSwitch()
        var options = JournalOptions(policy: policy, maxBatchRecords: maxBatch)
        options.fileIO = faults.fileIO
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, options)
        if policy != .os { faults.gateNextSync() }

        let completed = Collector<(Int, Int)>()
        let failures = Collector<StorageError>()
        let group = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                group.enter()
                journal.append(bytes("{\"t\":\(thread),\"i\":\(index)}")) { result in
                    if case .failure(let error) = result { failures.add(error) }
                    completed.add((thread, index))
                    group.leave()
                }
            }
        }
        faults.gate.signal()
        #expect(group.wait(timeout: .now() + 120) == .success, "appends did not complete")
        #expect(failures.values.isEmpty)
        let total = threads * perThread
        let outcomes = completed.values
        #expect(outcomes.count == total)
        for thread in 0..<threads {
            #expect(outcomes.filter { $0.0 == thread }.map(\.1) == Array(0..<perThread), "thread \(thread) out of order")
        }
        #expect(journal.recordCount == total)
        let counts = (journal.fsyncCount, journal.writeCount)
        let head = journal.headHashHex
        journal.close()

        let (again, report, replayed) = try openJournal(directory)
        #expect(report.records == total)
        #expect(report.headHashHex == head)
        // The file order is the completion order.
        #expect(replayed == outcomes.map { bytes("{\"t\":\($0.0),\"i\":\($0.1)}") })
        again.close()
        let verified = JournalVerifier.verify(directory: directory)
        #expect(verified.faults.isEmpty)
        #expect(verified.records == total)
        return counts
    }

    @Test func batchPolicyGroupsConcurrentAppends() throws {
        let (syncs, writes) = try runConcurrent(policy: .batch, threads: 8, perThread: 500)
        // One batch was held at its sync while the other appends queued up behind it.
        #expect(syncs >= 1 && syncs <= 3, "syncs: \(syncs)")
        #expect(writes == syncs)
    }

    @Test func batchesRespectMaxBatchRecords() throws {
        let (syncs, writes) = try runConcurrent(policy: .batch, threads: 8, perThread: 500, maxBatch: 1000)
        #expect(syncs >= 4 && syncs <= 5, "syncs: \(syncs)")
        #expect(writes == syncs)
    }

    @Test func alwaysPolicySyncsEveryBatch() throws {
        let (syncs, writes) = try runConcurrent(policy: .always, threads: 4, perThread: 100)
        #expect(syncs == writes)
        #expect(syncs < 400)
    }

    @Test func osPolicyNeverSyncs() throws {
        let (syncs, writes) = try runConcurrent(policy: .os, threads: 4, perThread: 100)
        #expect(syncs == 0)
        #expect(writes >= 1 && writes <= 400)
    }

    /// The appender's `batch` window: 50 records appended back to back (microseconds apart) while
    /// the first one's 1 s window runs all share one write. (That `always` never waits is the
    /// rule's (`GroupCommitTests`) and shown on a shard in `ShardGroupCommitTests`.)
    @Test func batchWindowCollectsRecords() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, JournalOptions(policy: .batch, batchWindowMicros: 1_000_000))
        let group = DispatchGroup()
        for index in 0..<50 {
            group.enter()
            journal.append(bytes("r\(index)")) { _ in group.leave() }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(journal.recordCount == 50)
        #expect(journal.writeCount == 1, "writes: \(journal.writeCount)")
        #expect(journal.fsyncCount == 1)
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == (0..<50).map { bytes("r\($0)") })
    }

    /// The window of a batch that fills up is cut short: with max 10 records and a 1 s window, 30
    /// records appended back to back go out as three full writes.
    @Test func aFullBatchDoesNotWaitItsWindow() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/j"
        let faults = FaultSwitch()
        var options = JournalOptions(policy: .batch, batchWindowMicros: 1_000_000, maxBatchRecords: 10)
        options.fileIO = faults.fileIO
        let (journal, _, _) = try openJournal(directory, options)
        let group = DispatchGroup()
        for index in 0..<30 {
            group.enter()
            journal.append(bytes("r\(index)")) { _ in group.leave() }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(journal.writeCount == 3, "writes: \(journal.writeCount)")
        journal.close()
    }
}

/// `Journal.write`: the caller is the batcher; one group, written and synced on the caller's thread.
@Suite struct SynchronousWriteTests {
    @Test func aWriteReturnsTheLocationsReplaySees() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/j"
        let (journal, _) = try Journal.open(directory: directory, options: JournalOptions(policy: .always, segmentMaxBytes: 300)) { _ in }
        var written: [RecordLocation] = []
        for group in 0..<6 {
            let payloads = (0..<3).map { bytes("{\"g\":\(group),\"i\":\($0)}") }
            guard case .success(let locations) = journal.write(payloads) else {
                Issue.record("write \(group) failed")
                return
            }
            #expect(locations.count == 3)
            written += locations
        }
        #expect(journal.writeCount == 6)
        #expect(journal.fsyncCount == 6)
        #expect(journal.recordCount == 18)
        journal.close()
        var seen: [RecordLocation] = []
        let (again, _) = try Journal.open(directory: directory, options: JournalOptions(), replayLocated: { _, location in seen.append(location) })
        again.close()
        #expect(seen == written)
        #expect(Set(seen.map(\.segment)).count > 1, "segments should have rolled")
    }

    @Test func osWritesAreNeverSynced() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let (journal, _) = try Journal.open(directory: base + "/j", options: JournalOptions(policy: .os)) { _ in }
        for index in 0..<5 { _ = journal.write([bytes("r\(index)")]) }
        #expect(journal.writeCount == 5)
        #expect(journal.fsyncCount == 0)
        journal.close()
    }

    /// A failed write or fsync fails the whole group, moves nothing, and the next group succeeds
    /// with the records right after the last durable one (a caller reusing its seqs leaves no gap).
    @Test(arguments: ["write", "partial write", "fsync"])
    func aFailedGroupLeavesNothingAndTheNextOneSucceeds(fault: String) throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let faults = FaultSwitch()
        var options = JournalOptions(policy: .batch)
        options.fileIO = faults.fileIO
        let directory = base + "/j"
        let (journal, _) = try Journal.open(directory: directory, options: options) { _ in }
        #expect((try? journal.write([bytes("1")]).get()) != nil)
        let head = journal.durableHead
        let length = try fileSize(firstSegment(directory))
        switch fault {
        case "fsync": faults.failSyncs(1)
        default: faults.failWrites(1, partial: fault == "partial write")
        }
        guard case .failure(let error) = journal.write([bytes("2"), bytes("3")]) else {
            Issue.record("a failed \(fault) must fail the group")
            return
        }
        #expect(error.kind == .io)
        #expect(journal.durableHead == head)
        #expect(try fileSize(firstSegment(directory)) == length)
        #expect((try? journal.write([bytes("2"), bytes("3")]).get())?.count == 2)
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == [bytes("1"), bytes("2"), bytes("3")])
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    @Test func aPayloadWithANewlineAndAClosedJournalAreRefused() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let (journal, _) = try Journal.open(directory: base + "/j", options: JournalOptions()) { _ in }
        guard case .failure(let newline) = journal.write([bytes("ok"), bytes("a\nb")]) else {
            Issue.record("a newline must be refused")
            return
        }
        #expect(newline.kind == .invalidPayload)
        #expect(journal.recordCount == 0)
        journal.close()
        guard case .failure(let closed) = journal.write([bytes("late")]) else {
            Issue.record("a closed journal must refuse")
            return
        }
        #expect(closed.kind == .io)
    }
}

/// The group-commit rules: one branch per fsync policy.
@Suite struct GroupCommitTests {
    @Test func onlyBatchWaitsAndOnlyWhileNotFull() {
        let batch = GroupCommit(policy: .batch, windowMicros: 500, maxRecords: 10)
        #expect(batch.waitMicros(holding: 1) == 500)
        #expect(batch.waitMicros(holding: 9) == 500)
        #expect(batch.waitMicros(holding: 10) == 0)
        #expect(GroupCommit(policy: .always, windowMicros: 500, maxRecords: 10).waitMicros(holding: 1) == 0)
        #expect(GroupCommit(policy: .os, windowMicros: 500, maxRecords: 10).waitMicros(holding: 1) == 0)
        #expect(GroupCommit(policy: .batch, windowMicros: 0, maxRecords: 10).waitMicros(holding: 1) == 0)
    }

    @Test func alwaysAndBatchSyncOsDoesNot() {
        #expect(GroupCommit(policy: .always, windowMicros: 0, maxRecords: 1).syncsEachWrite)
        #expect(GroupCommit(policy: .batch, windowMicros: 0, maxRecords: 1).syncsEachWrite)
        #expect(!GroupCommit(policy: .os, windowMicros: 0, maxRecords: 1).syncsEachWrite)
    }

    @Test func aWriteTakesWholeGroupsUpToTheLimit() {
        let rule = GroupCommit(policy: .batch, windowMicros: 0, maxRecords: 4)
        #expect(rule.groupsInNextWrite([1, 1, 1, 1, 1]) == 4)
        #expect(rule.groupsInNextWrite([2, 2, 1]) == 2)
        #expect(rule.groupsInNextWrite([3, 2]) == 1)
        #expect(rule.groupsInNextWrite([9, 1]) == 1)   // larger than the limit: alone, whole
        #expect(rule.groupsInNextWrite([Int]()) == 0)
        #expect(GroupCommit(policy: .batch, windowMicros: -5, maxRecords: 0) == GroupCommit(policy: .batch, windowMicros: 0, maxRecords: 1))
    }
}

/// `appendBatch`: a group of records is written whole or not at all, so a caller that numbers
/// its records (a room's seq) never sees a failed record followed by a stored later one.
@Suite struct AppendBatchTests {
    private func appendGroupAndWait(_ journal: Journal, _ payloads: [[UInt8]]) -> Result<Void, StorageError>? {
        let done = DispatchSemaphore(value: 0)
        let result = Collector<Result<Void, StorageError>>()
        journal.appendBatch(payloads) { outcome in
            result.add(outcome)
            done.signal()
        }
        guard done.wait(timeout: .now() + 60) == .success else { return nil }
        return result.values.first
    }

    @Test func aGroupLargerThanMaxBatchRecordsIsOneWrite() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, JournalOptions(policy: .batch, maxBatchRecords: 2))
        let group = samplePayloads(5)
        #expect(isSuccess(appendGroupAndWait(journal, group)))
        #expect(journal.writeCount == 1)
        #expect(journal.recordCount == 5)
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == group)
    }

    @Test func aFailedWriteFailsTheWholeGroup() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let faults = FaultSwitch()
        var options = JournalOptions(policy: .always)
        options.fileIO = faults.fileIO
        let directory = base + "/j"
        let (journal, _, _) = try openJournal(directory, options)
        faults.failWrites(1, partial: true)
        #expect(failureKind(appendGroupAndWait(journal, [bytes("a1"), bytes("a2"), bytes("a3")])) == .io)
        #expect(journal.recordCount == 0)
        #expect(isSuccess(appendGroupAndWait(journal, [bytes("b1"), bytes("b2")])))
        journal.close()
        let (_, _, replayed) = try openJournal(directory)
        #expect(replayed == [bytes("b1"), bytes("b2")])
        #expect(JournalVerifier.verify(directory: directory).faults.isEmpty)
    }

    @Test func aGroupWithANewlineIsRejectedWhole() throws {
        let base = try makeTempDirectory()
        defer { removeDirectory(base) }
        let (journal, _, _) = try openJournal(base + "/j")
        #expect(failureKind(appendGroupAndWait(journal, [bytes("fine"), bytes("bad\nline")])) == .invalidPayload)
        #expect(journal.recordCount == 0)
        journal.close()
    }
}
