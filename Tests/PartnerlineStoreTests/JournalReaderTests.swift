import Dispatch
import Foundation
import Testing

@testable import PartnerlineStore

/// Record locations from appends and from replay, and reading records back from a location.
@Suite struct JournalReaderTests {
    final class Box<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: T
        init(_ value: T) { self.value = value }
        func update(_ body: (inout T) -> Void) { lock.withLock { body(&value) } }
        var current: T { lock.withLock { value } }
    }

    static func payload(_ n: Int) -> [UInt8] {
        // Varying sizes, some larger than the reader's small test chunk.
        Array("{\"n\":\(n),\"pad\":\"\(String(repeating: "x", count: (n * 37) % 200))\"}".utf8)
    }

    /// Appends `count` records in groups of 1-4 and returns where each went, in order.
    static func fill(_ directory: String, count: Int, segmentMaxBytes: Int) throws -> [RecordLocation] {
        let (journal, _) = try Journal.open(directory: directory, options: JournalOptions(policy: .os, segmentMaxBytes: segmentMaxBytes)) { _ in }
        let locations = Box<[RecordLocation]>([])
        var n = 1
        while n <= count {
            let group = (n...min(count, n + (n % 4))).map(payload)
            let done = DispatchSemaphore(value: 0)
            journal.appendBatch(group, locatedCompletion: { result in
                if case .success(let places) = result { locations.update { $0 += places } }
                done.signal()
            })
            #expect(done.wait(timeout: .now() + 60) == .success)
            n += group.count
        }
        journal.close()
        return locations.current
    }

    @Test func appendLocationsMatchReplayAndReadBackAcrossSegments() throws {
        let directory = NSTemporaryDirectory() + "partnerline-reader-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let appended = try Self.fill(directory, count: 120, segmentMaxBytes: 2048)
        #expect(appended.count == 120)
        #expect(Set(appended.map(\.segment)).count > 3, "the journal rolled over several segments")

        var replayed: [RecordLocation] = []
        var payloads: [[UInt8]] = []
        let (journal, _) = try Journal.open(directory: directory, options: JournalOptions(), replayLocated: { payload, location in
            replayed.append(location)
            payloads.append(payload)
        })
        defer { journal.close() }
        #expect(replayed == appended)
        #expect(payloads == (1...120).map(Self.payload))

        // From any record on, with a chunk far smaller than most records, to the end.
        for chunk in [16, 100, 65536] {
            let reader = JournalReader(directory: directory, chunkBytes: chunk)
            for start in [0, 1, 37, 59, 118, 119] {
                var read: [[UInt8]] = []
                try reader.read(from: appended[start]) { read.append($0); return true }
                #expect(read == Array(payloads[start...]), "chunk \(chunk), from record \(start + 1)")
            }
            // Stopping early reads no further.
            var read: [[UInt8]] = []
            try reader.read(from: appended[10]) { read.append($0); return read.count < 5 }
            #expect(read == Array(payloads[10..<15]))
        }
    }

    @Test func aRecordStillBeingWrittenEndsTheRead() throws {
        let directory = NSTemporaryDirectory() + "partnerline-reader-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let appended = try Self.fill(directory, count: 10, segmentMaxBytes: 1 << 20)
        let segment = Segment.path(directory: directory, index: 1)
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data("212 3f9a0c half a rec".utf8))
        try handle.close()
        var read: [[UInt8]] = []
        try JournalReader(directory: directory, chunkBytes: 32).read(from: appended[7]) { read.append($0); return true }
        #expect(read == (8...10).map(Self.payload))
    }
}
