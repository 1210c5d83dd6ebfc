#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a record starts: its segment (named by the index of the segment's first record) and
/// the byte offset in that segment file.
public struct RecordLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var segment: Int
    public var offset: Int

    public init(segment: Int, offset: Int) {
        self.segment = segment
        self.offset = offset
    }

    public var description: String { "\(Segment.name(index: segment))@\(offset)" }
}

/// Reads records from a location onwards, in chunks (never a whole segment), across segment
/// boundaries. Safe beside the live writer: segments are append-only, and a record still being
/// written (incomplete at the end of the newest segment) ends the read. Checksums were verified
/// when the journal was opened; this reader trusts the files it reads (`verify` checks them).
public struct JournalReader: Sendable {
    public let directory: String
    /// First read size; a record larger than this makes the window grow to fit it.
    let chunkBytes: Int

    public init(directory: String) {
        self.init(directory: directory, chunkBytes: 64 << 10)
    }

    init(directory: String, chunkBytes: Int) {
        self.directory = directory
        self.chunkBytes = max(16, chunkBytes)
    }

    /// Calls `body` with each record's payload from `location` on, in journal order, until it
    /// returns false or the journal ends.
    public func read(from location: RecordLocation, _ body: ([UInt8]) throws -> Bool) throws {
        var segment = location.segment
        var offset = location.offset
        while true {
            let path = Segment.path(directory: directory, index: segment)
            switch try readSegment(path, from: offset, body) {
            case .stopped, .endedInsideARecord:
                return
            case .endOfSegment:
                // The next segment is the first one named after this one (named by record index).
                guard let next = try Segment.list(directory: directory).first(where: { $0.index > segment }) else { return }
                segment = next.index
                offset = 0
            }
        }
    }

    private enum SegmentEnd { case stopped, endOfSegment, endedInsideARecord }

    private func readSegment(_ path: String, from start: Int, _ body: ([UInt8]) throws -> Bool) throws -> SegmentEnd {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.io("cannot open for reading", file: path, errno: errno) }
        defer { Posix.close(fd) }
        var window: [UInt8] = []
        var windowStart = start  // file offset of window[0]
        var wanted = chunkBytes
        var atEnd = false
        while true {
            // (Re)fill the window from `windowStart`.
            window = [UInt8](repeating: 0, count: wanted)
            var got = 0
            while got < wanted {
                let result = window.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, wanted - got, off_t(windowStart + got)) }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.io("cannot read", file: path, errno: errno, offset: windowStart + got)
                }
                if result == 0 { break }
                got += result
            }
            window.removeSubrange(got...)
            atEnd = got < wanted
            if window.isEmpty { return .endOfSegment }

            var position = 0
            var needMore = false
            let stop: Bool = try window.withUnsafeBufferPointer { buffer in
                while position < buffer.count {
                    switch RecordCodec.parse(buffer, at: position) {
                    case .record(let payload, _, let end):
                        if try !body(Array(buffer[payload])) { return true }
                        position = end
                    case .bad:
                        needMore = true
                        return false
                    }
                }
                return false
            }
            if stop { return .stopped }
            if needMore {
                if atEnd { return .endedInsideARecord }
                // The record runs past the window: read again from its start, with room for it.
                windowStart += position
                wanted = position == 0 ? wanted * 2 : max(chunkBytes, wanted)
                continue
            }
            if atEnd { return .endOfSegment }
            windowStart += position
            wanted = chunkBytes
        }
    }
}
