import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
@testable import PartnerlineServer
import Testing

/// The two-thread replay: entries are folded in journal order, and the fold's first error stops
/// the replay and is thrown, as a throwing replay closure's would be.
struct ReplayPipelineTests {
    struct Seen: Sendable { var accounts: [String] = [] }
    struct Refused: Error, Equatable { let account: String }

    let room = RoomName(cluster: "rural", room: "general")

    private func entry(_ n: Int) -> JournalEntry {
        .memberJoined(room: room, account: "a\(n)", timeMillis: Int64(n))
    }

    @Test func foldsEveryEntryInOrder() throws {
        let pipeline = ReplayPipeline(state: Seen()) { state, entry in
            if case .memberJoined(_, let account, _) = entry { state.accounts.append(account) }
        }
        for n in 0..<10_000 { try pipeline.add(entry(n)) }   // several chunks and a partial one
        #expect(try pipeline.finish().accounts == (0..<10_000).map { "a\($0)" })
    }

    @Test func theFoldsFirstErrorIsThrown() throws {
        let pipeline = ReplayPipeline(state: Seen()) { _, entry in
            if case .memberJoined(_, let account, _) = entry, account == "a5000" { throw Refused(account: account) }
        }
        var thrownByAdd = false
        do {
            for n in 0..<50_000 { try pipeline.add(entry(n)) }
        } catch let error as Refused {
            #expect(error == Refused(account: "a5000"))
            thrownByAdd = true   // reading stopped early
        }
        #expect(throws: Refused(account: "a5000")) { try pipeline.finish() }
        #expect(thrownByAdd)
    }

    @Test func anEmptyReplayGivesTheStartState() throws {
        let pipeline = ReplayPipeline(state: Seen(accounts: ["x"])) { _, _ in }
        #expect(try pipeline.finish().accounts == ["x"])
    }

    /// `cancel` (the journal read failed) drops what is not yet folded and returns only once the
    /// folding thread has ended: the fold is held inside its first entry, so a `cancel` that did not
    /// wait would return while it is held, and one that handed the fold the partial chunk it never
    /// sent would let entries past the first two chunks be folded.
    @Test func cancelDropsTheRestAndReturnsOnceTheFoldHasEnded() throws {
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let cancelReturned = Locked(false)
        let foldedAfterCancel = Locked(0)
        let pipeline = ReplayPipeline(state: Seen()) { state, entry in
            guard case .memberJoined(_, let account, _) = entry else { return }
            if state.accounts.isEmpty {
                started.signal()
                gate.wait()
            }
            if cancelReturned.withLock({ $0 }) { foldedAfterCancel.withLock { $0 += 1 } }
            state.accounts.append(account)
        }
        // Two full chunks (1024 entries each) go to the fold; the last 952 wait in the partial chunk.
        for n in 0..<3000 { try pipeline.add(entry(n)) }
        #expect(started.wait(timeout: .now() + 30) == .success, "the fold started")

        let cancelled = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            pipeline.cancel()
            cancelReturned.withLock { $0 = true }
            cancelled.signal()
        }
        // Not a timed assertion of speed: a correct cancel cannot return at all while the fold is
        // held, so this wait only ever sees a wrong one.
        #expect(cancelled.wait(timeout: .now() + 0.3) == .timedOut, "cancel returned while the fold was still running")
        gate.signal()
        #expect(cancelled.wait(timeout: .now() + 30) == .success, "cancel returned once the fold ended")

        #expect(foldedAfterCancel.withLock { $0 } == 0)
        // What was folded is a prefix of what was sent, and never the partial chunk cancel dropped.
        let folded = try pipeline.finish().accounts
        #expect(!folded.isEmpty && folded.count <= 2048, "folded \(folded.count) entries")
        #expect(folded == (0..<folded.count).map { "a\($0)" })
    }
}
