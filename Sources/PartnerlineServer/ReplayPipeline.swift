import Dispatch
import Foundation
import PartnerlineCore

/// Replays a journal on two cores: the thread that reads the journal (checksums, hash chain) also
/// decodes each record, and a second thread folds the decoded entries into the state, in order.
/// Decoding and folding each take about half of a replay, so a restart of a large data dir takes
/// about half the time on two cores (1,000,000 events: see the Performance article).
///
/// Entries travel in chunks through a bounded hand-off (a few chunks, so memory stays small). The
/// first error the fold throws stops it, is thrown by the next `add` (so reading stops early too)
/// or by `finish`, exactly as a throwing replay closure would.
final class ReplayPipeline<State: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queued: [[JournalEntry]] = []
    private var closed = false
    private var failure: (any Error)?
    private var folded: State?
    private var done = false
    private var chunk: [JournalEntry] = []

    private static var chunkSize: Int { 1024 }
    private static var maxQueuedChunks: Int { 4 }

    /// Starts the folding thread.
    init(state: State, fold: @escaping @Sendable (inout State, JournalEntry) throws -> Void) {
        chunk.reserveCapacity(Self.chunkSize)
        let thread = Thread { [self] in
            var state = state
            var failed = false
            while let entries = self.take() {
                guard !failed else { continue }   // drain so the reader never blocks on a dead fold
                do {
                    for entry in entries { try fold(&state, entry) }
                } catch {
                    failed = true
                    self.fail(error)
                }
            }
            self.condition.lock()
            self.folded = state
            self.done = true
            self.condition.broadcast()
            self.condition.unlock()
        }
        thread.name = "partnerline.replay"
        thread.start()
    }

    /// Called on the reading thread for each decoded entry, in journal order.
    func add(_ entry: JournalEntry) throws {
        chunk.append(entry)
        if chunk.count >= Self.chunkSize { try flushChunk() }
    }

    /// Waits for the fold to finish and returns the state, or throws its first error.
    func finish() throws -> State {
        try? flushChunk()
        condition.lock()
        closed = true
        condition.broadcast()
        while !done { condition.wait() }
        let result = (folded, failure)
        condition.unlock()
        if let error = result.1 { throw error }
        return result.0!
    }

    /// Stops the fold without a result (the read itself failed); waits for the thread to end.
    func cancel() {
        chunk.removeAll()
        condition.lock()
        queued.removeAll()
        closed = true
        condition.broadcast()
        while !done { condition.wait() }
        condition.unlock()
    }

    private func flushChunk() throws {
        guard !chunk.isEmpty else { return }
        let entries = chunk
        chunk.removeAll(keepingCapacity: true)
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        while queued.count >= Self.maxQueuedChunks && failure == nil { condition.wait() }
        if let failure { throw failure }
        queued.append(entries)
        condition.broadcast()
    }

    private func take() -> [JournalEntry]? {
        condition.lock()
        defer { condition.unlock() }
        while queued.isEmpty && !closed { condition.wait() }
        if queued.isEmpty { return nil }
        let entries = queued.removeFirst()
        condition.broadcast()
        return entries
    }

    private func fail(_ error: any Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }
}
