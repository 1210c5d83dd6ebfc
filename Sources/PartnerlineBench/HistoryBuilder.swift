import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore
#if canImport(Glibc)
import Glibc
#endif

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

/// A data dir holding a built history (`HistoryBuilder`), either kept for reuse under a
/// directory the user named or temporary for one row.
///
/// A kept history lives in `<parent>/events-<E>-<bytes>b/` and is complete once its marker file
/// (`built.json`, written last) is there; a directory without it (an interrupted build) is
/// removed and built again. Servers never run in it: `linkedCopy()` gives each start its own
/// directory of hard links to the same files.
public struct BuiltHistory: Sendable {
    public let path: String
    /// Seconds the build took, nil when an earlier build was reused.
    public let buildSeconds: Double?
    public let note: String
    private let temporary: Bool

    static let marker = "built.json"

    private struct Marker: Codable {
        var events: Int
        var messageBytes: Int
        var buildSeconds: Double
    }

    /// Reuses `<parent>/events-<E>-<bytes>b` if complete, else builds it there.
    public static func prepare(in parent: String, events: Int, messageBytes: Int) throws -> BuiltHistory {
        let path = parent + "/events-\(events)-\(messageBytes)b"
        let fileManager = FileManager.default
        if let data = fileManager.contents(atPath: path + "/" + marker),
           let found = try? JSONDecoder().decode(Marker.self, from: data),
           found.events == events, found.messageBytes == messageBytes {
            return BuiltHistory(path: path, buildSeconds: nil, temporary: false,
                                note: "data dir \(path) reused (built earlier in \(String(format: "%.1f", found.buildSeconds)) s)")
        }
        var prefix = ""
        if fileManager.fileExists(atPath: path) {
            try fileManager.removeItem(atPath: path)
            prefix = "an unfinished build was removed; "
        }
        FileHandle.standardError.write(Data("partnerline-bench: building \(events) events into \(path) (once; later runs reuse it)\n".utf8))
        let seconds = try HistoryBuilder.build(dataDir: path, events: events, messageBytes: messageBytes)
        let marker = try JSONEncoder().encode(Marker(events: events, messageBytes: messageBytes, buildSeconds: seconds))
        guard fileManager.createFile(atPath: path + "/" + Self.marker, contents: marker) else {
            throw BenchError("could not write \(path)/\(Self.marker)")
        }
        return BuiltHistory(path: path, buildSeconds: seconds, temporary: false,
                            note: "data dir \(path): \(prefix)built in \(String(format: "%.1f", seconds)) s, reused by later runs with the same --data-dir")
    }

    /// A history built for one row in a fresh temporary directory.
    public static func temporary(in workDir: String, events: Int, messageBytes: Int) throws -> BuiltHistory {
        let path = workDir + "/partnerline-bench-\(UUID().uuidString)"
        let seconds = try HistoryBuilder.build(dataDir: path, events: events, messageBytes: messageBytes)
        return BuiltHistory(path: path, buildSeconds: seconds, temporary: true, note: "data dir built for this row and removed after it")
    }

    private init(path: String, buildSeconds: Double?, temporary: Bool, note: String) {
        self.path = path
        self.buildSeconds = buildSeconds
        self.temporary = temporary
        self.note = note
    }

    /// A new sibling directory mirroring this one with hard links (files) and fresh directories:
    /// a server may write there freely; removing it leaves the built history as it was, apart from
    /// bytes a server appended in place to a linked file (the journal stays a valid journal).
    public func linkedCopy() throws -> String {
        let target = (path as NSString).deletingLastPathComponent + "/run-\(UUID().uuidString)"
        try Self.link(from: path, to: target)
        try? FileManager.default.removeItem(atPath: target + "/" + Self.marker)
        return target
    }

    private static func link(from source: String, to target: String) throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in try fileManager.contentsOfDirectory(atPath: source) {
            let from = source + "/" + name, to = target + "/" + name
            var isDirectory: ObjCBool = false
            _ = fileManager.fileExists(atPath: from, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try link(from: from, to: to)
            } else if Glibc.link(from, to) != 0 {
                throw BenchError("could not hard-link \(from) to \(to): \(String(cString: strerror(errno)))")
            }
        }
    }

    public func removeIfTemporary() {
        if temporary { try? FileManager.default.removeItem(atPath: path) }
    }
}
