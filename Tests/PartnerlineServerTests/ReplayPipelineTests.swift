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

    @Test func cancelEndsTheFold() throws {
        let pipeline = ReplayPipeline(state: Seen()) { _, _ in }
        for n in 0..<3000 { try pipeline.add(entry(n)) }
        pipeline.cancel()   // returns once the folding thread has ended
    }
}
