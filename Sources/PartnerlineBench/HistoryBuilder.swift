import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// Writes a data dir whose cluster `bench` holds `events` SAY events in room r1, through the
/// server's own journal code (same records, same hash chain), so restart and HISTORY runs start
/// from a realistic long room without posting a million messages over the wire first.
public enum HistoryBuilder {
    /// Returns the seconds it took.
    @discardableResult
    public static func build(dataDir: String, events: Int, messageBytes: Int = 100) throws -> Double {
        let started = nowNanos()
        let directory = dataDir + "/clusters/bench"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (journal, report) = try Journal.open(directory: directory, options: JournalOptions(policy: .os)) { _ in }
        guard report.records == 0 else {
            journal.close()
            throw BenchError("\(directory) already holds \(report.records) records")
        }
        let room = RoomName(cluster: "bench", room: "r1")
        let padding = String(repeating: "x", count: max(0, messageBytes - 12))
        let baseMillis = Timestamp.nowMillis() - Int64(events)
        let chunk = 4096
        let inFlight = DispatchSemaphore(value: 0)
        for _ in 0..<4 { inFlight.signal() }
        let failure = LockedError()
        var seq = 0
        while seq < events {
            let count = min(chunk, events - seq)
            let payloads = (0..<count).map { offset -> [UInt8] in
                let n = seq + offset + 1
                let event = StoredEvent(room: room, seq: UInt64(n), timeMillis: baseMillis + Int64(n),
                                        actor: "seed-\(n % 50)", kind: "SAY", text: "m\(n) \(padding)")
                return JournalEntryCodec.encode(.event(event))
            }
            inFlight.wait()
            journal.appendBatch(payloads, completion: { result in
                if case .failure(let error) = result { failure.set(error.description) }
                inFlight.signal()
            })
            seq += count
        }
        for _ in 0..<4 { inFlight.wait() }
        journal.flush()
        journal.close()
        if let message = failure.get() { throw BenchError("writing the history failed: \(message)") }
        return Double(nowNanos() - started) / 1e9
    }
}

private final class LockedError: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    func set(_ text: String) { lock.lock(); if message == nil { message = text }; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return message }
}
