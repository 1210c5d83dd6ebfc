import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct StateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One line of the posted log: an alert the server has (or already had) in a room.
public struct PostedRecord: Codable, Sendable, Equatable {
    public var ref: String
    public var room: String
    /// The server's item id (`F<n>`) and seq: of this post, or of the first one when `duplicate`.
    public var id: String?
    public var seq: UInt64?
    public var duplicate: Bool
    public var time: String

    public init(ref: String, room: String, id: String?, seq: UInt64?, duplicate: Bool, time: String) {
        self.ref = ref
        self.room = room
        self.id = id
        self.seq = seq
        self.duplicate = duplicate
        self.time = time
    }
}

/// What was posted where: `posted.log` in the state directory, one JSON object per line, only ever
/// appended, each line written with one `write` and fsync'd before the bot goes on. A torn last
/// line (a crash mid-write) is ignored on reading; the server's `ref=` covers that alert.
public final class PostedLedger {
    public let path: String
    private var fd: Int32
    private var posted: Set<String> = []
    /// Lines that could not be read (torn or edited by hand), for the log.
    public private(set) var unreadable = 0

    /// `readOnly`: only read what was posted (dry runs), never write.
    public init(stateDir: String, readOnly: Bool = false) throws {
        path = stateDir + "/posted.log"
        if let data = FileManager.default.contents(atPath: path) {
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                if let record = try? JSONDecoder().decode(PostedRecord.self, from: Data(line)) {
                    posted.insert(Self.key(record.ref, record.room))
                } else {
                    unreadable += 1
                }
            }
        }
        guard !readOnly else {
            fd = -1
            return
        }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError("cannot open \(path): \(String(cString: strerror(errno)))") }
        // A torn last line must not glue itself to the next record.
        if let data = FileManager.default.contents(atPath: path), let last = data.last, last != UInt8(ascii: "\n") {
            try write(Array("\n".utf8))
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func contains(ref: String, room: String) -> Bool { posted.contains(Self.key(ref, room)) }

    public var count: Int { posted.count }

    public func append(_ record: PostedRecord) throws {
        guard fd >= 0 else { throw StateError("\(path) was opened read-only") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(record))
        bytes.append(UInt8(ascii: "\n"))
        try write(bytes)
        guard fsync(fd) == 0 else { throw StateError("fsync \(path): \(String(cString: strerror(errno)))") }
        posted.insert(Self.key(record.ref, record.room))
    }

    private func write(_ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw StateError("writing \(path): \(written < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }

    private static func key(_ ref: String, _ room: String) -> String { room + " " + ref }
}

/// HTTP validators per feed (ETag, Last-Modified), kept in `validators.json` so the next poll -
/// also the next `--once` from cron - is a conditional GET. Replaced whole (write, fsync, rename).
public final class ValidatorStore {
    public struct Validators: Codable, Sendable, Equatable {
        public var url: String
        public var etag: String?
        public var lastModified: String?

        public init(url: String, etag: String?, lastModified: String?) {
            self.url = url
            self.etag = etag
            self.lastModified = lastModified
        }
    }

    public let path: String
    private var byFeed: [String: Validators]

    public init(stateDir: String) {
        path = stateDir + "/validators.json"
        byFeed = FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode([String: Validators].self, from: $0) } ?? [:]
    }

    /// The validators for a feed, if they were kept for the same URL.
    public func validators(feed: String, url: String) -> Validators? {
        guard let kept = byFeed[feed], kept.url == url else { return nil }
        return kept
    }

    public func set(_ validators: Validators?, feed: String) throws {
        byFeed[feed] = validators
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try Durable.replace(path, with: try encoder.encode(byFeed))
    }
}

/// The state directory: made if missing (0700), and locked so two bots never share it.
public final class StateDirectory {
    public let path: String
    private let lockFD: Int32

    public init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateError("cannot make state_dir \(path): \(error.localizedDescription)")
        }
        lockFD = open(path + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw StateError("cannot open \(path)/lock: \(String(cString: strerror(errno)))") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw StateError("another partnerline-fundingbot is using state_dir \(path)")
        }
    }

    deinit { close(lockFD) }
}

enum Durable {
    /// Writes `data` to a temporary file, fsyncs it, renames it over `path` and fsyncs the directory.
    static func replace(_ path: String, with data: Data) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            throw StateError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
