import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
@testable import PartnerlineServer
@testable import PartnerlineStore
import PartnerlineTestSupport
import Testing

/// The shard is its journal's one batcher: `max_batch_records` bounds a cluster batch and the
/// `batch` window gathers posts into one write. Counted with the journal's write counter, never
/// with a clock (the window tests only need the test thread to post twice within one second).
@Suite struct ShardGroupCommitTests {
    private static let room = RoomName(cluster: "rural", room: "general")

    /// A shard over a real journal in a temp dir, with `a` a member of rural/general.
    private func makeShard(_ dir: TempDir, _ options: JournalOptions) throws -> (ClusterShard, Journal) {
        let (journal, _) = try Journal.open(directory: dir.path + "/rural", options: options) { _ in }
        var state = ClusterState(definition: ClusterDefinition(name: "rural", description: "", rooms: [.init(name: "general", topic: "")]))
        try state.apply(.memberJoined(room: Self.room, account: "a", timeMillis: 1))
        return (ClusterShard(state: state, journal: journal), journal)
    }

    /// Posts `count` SAYs while the shard's queue is held, so every one is queued before the first
    /// batch runs; returns the seqs in the order they were answered.
    private func postWhileHeld(_ shard: ClusterShard, count: Int) -> [UInt64] {
        let seqs = SeqBox()
        let answered = DispatchGroup()
        let replies = DispatchQueue(label: "replies")
        shard.queue.sync {
            for index in 0..<count {
                answered.enter()
                shard.post(room: Self.room, actor: "a", kind: "SAY", text: "m\(index)", replyQueue: replies) { result in
                    seqs.add(result)
                    answered.leave()
                }
            }
        }
        #expect(answered.wait(timeout: .now() + 60) == .success)
        return seqs.values
    }

    @Test(arguments: [(4, 5), (7, 3), (4096, 1)])
    func maxBatchRecordsBoundsAClusterBatch(maxBatch: Int, writes: Int) throws {
        let dir = TempDir()
        let (shard, journal) = try makeShard(dir, JournalOptions(policy: .batch, maxBatchRecords: maxBatch))
        let seqs = postWhileHeld(shard, count: 20)
        #expect(seqs == Array(1...20))
        #expect(journal.writeCount == writes, "20 posts, at most \(maxBatch) a batch")
        #expect(journal.fsyncCount == writes)
        #expect(journal.recordCount == 20)
        shard.drain()
        journal.close()
    }

    /// Posts A, lets the shard take it (two round trips through its queue: its batch run, if due
    /// at once, has run by then), then posts B. Returns the journal's writes.
    private func postTwoApart(policy: FsyncPolicy, windowMicros: Int) throws -> Int {
        let dir = TempDir()
        let (shard, journal) = try makeShard(dir, JournalOptions(policy: policy, batchWindowMicros: windowMicros))
        let answered = DispatchGroup()
        let replies = DispatchQueue(label: "replies")
        let seqs = SeqBox()
        for text in ["A", "B"] {
            answered.enter()
            shard.post(room: Self.room, actor: "a", kind: "SAY", text: text, replyQueue: replies) { result in
                seqs.add(result)
                answered.leave()
            }
            shard.queue.sync {}
            shard.queue.sync {}
        }
        #expect(answered.wait(timeout: .now() + 60) == .success)
        #expect(seqs.values == [1, 2])
        shard.drain()
        let writes = journal.writeCount
        journal.close()
        return writes
    }

    @Test func theBatchWindowGathersPostsIntoOneWrite() throws {
        #expect(try postTwoApart(policy: .batch, windowMicros: 1_000_000) == 1)
        // The same posts without a window, or under `always` (which never waits), go one a write.
        #expect(try postTwoApart(policy: .batch, windowMicros: 0) == 2)
        #expect(try postTwoApart(policy: .always, windowMicros: 1_000_000) == 2)
    }

    /// A batch that fills up does not wait out its window: 12 posts with max 4 and a 1 s window
    /// are three full writes.
    @Test func aFullClusterBatchDoesNotWaitItsWindow() throws {
        let dir = TempDir()
        let (shard, journal) = try makeShard(dir, JournalOptions(policy: .batch, batchWindowMicros: 1_000_000, maxBatchRecords: 4))
        let seqs = postWhileHeld(shard, count: 12)
        #expect(seqs == Array(1...12))
        #expect(journal.writeCount == 3)
        shard.drain()
        journal.close()
    }

    /// Reads do not wait behind a batch's window: the window is a timer on the shard's queue, not
    /// a sleep, so WHO is answered while the post it follows still waits for company.
    @Test func readsAreAnsweredWhileABatchWaitsItsWindow() throws {
        let dir = TempDir()
        let (shard, journal) = try makeShard(dir, JournalOptions(policy: .batch, batchWindowMicros: 1_000_000))
        let posted = DispatchSemaphore(value: 0)
        let whoAnswered = DispatchSemaphore(value: 0)
        let order = SeqBox()
        shard.post(room: Self.room, actor: "a", kind: "SAY", text: "waits", replyQueue: DispatchQueue(label: "replies")) { result in
            order.add(result)
            posted.signal()
        }
        shard.who(room: Self.room) { _ in
            order.add(.success(0))
            whoAnswered.signal()
        }
        #expect(whoAnswered.wait(timeout: .now() + 60) == .success)
        #expect(posted.wait(timeout: .now() + 60) == .success)
        #expect(order.values == [0, 1], "WHO (0) before the post's OK (seq 1)")
        shard.drain()
        journal.close()
    }
}

/// Seqs answered on other queues, in the order they arrived.
private final class SeqBox: @unchecked Sendable {
    private let lock = NSLock()
    private var seqs: [UInt64] = []

    func add(_ result: Result<UInt64, DomainError>) {
        lock.withLock { seqs.append((try? result.get()) ?? UInt64.max) }
    }

    var values: [UInt64] { lock.withLock { seqs } }
}
