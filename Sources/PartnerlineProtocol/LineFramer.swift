/// One framed input line, or the report that a line was too long.
public enum FramedLine: Equatable, Sendable {
    /// The bytes of one non-empty line, without its LF or CRLF terminator.
    case line([UInt8])
    /// A line longer than the limit was (or is being) discarded up to its newline.
    case tooLong
}

/// Splits a byte stream into lines (spec "Transport").
///
/// - Lines end with LF or CRLF; the terminator is not part of the line (a CR
///   elsewhere is kept, and the parser rejects it as a control character).
/// - Empty lines are skipped.
/// - A line longer than `maxLineLength` bytes (before its terminator) is
///   discarded up to its newline and reported once as `.tooLong`. The report is
///   made as soon as the line is known to be too long, which may be before its
///   newline has arrived; the following line is framed normally.
/// - Memory held never exceeds `maxLineLength + 1` bytes whatever arrives (the
///   `+ 1` is a CR that may turn out to be part of a CRLF).
/// - Input may be split at any byte; the lines reported do not depend on how.
public struct LineFramer: Sendable {
    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    /// True while the rest of a too-long line (already reported) is being dropped.
    private var discarding = false

    public init(maxLineLength: Int = 4096) {
        precondition(maxLineLength >= 1, "maxLineLength must be at least 1")
        self.maxLineLength = maxLineLength
    }

    /// Bytes of an unfinished line held until its newline arrives.
    public var bufferedByteCount: Int { buffer.count }

    /// True while the framer is dropping the rest of a line it already reported as too long.
    public var isDiscarding: Bool { discarding }

    public mutating func feed(_ bytes: [UInt8], _ onLine: (FramedLine) -> Void) {
        bytes.withUnsafeBytes { raw in
            self.feed(raw, onLine)
        }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onLine: (FramedLine) -> Void) {
        let count = bytes.count
        var start = 0
        while start < count {
            var end = start
            while end < count, bytes[end] != 0x0A { end += 1 }
            let segment = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if end == count {
                absorbPartial(segment, onLine)
                return
            }
            finishLine(segment, onLine)
            start = end + 1
        }
    }

    /// Bytes of a line whose newline has not arrived yet.
    private mutating func absorbPartial(_ segment: UnsafeRawBufferPointer, _ onLine: (FramedLine) -> Void) {
        guard !discarding, !segment.isEmpty else { return }
        let total = buffer.count + segment.count
        // With max+1 bytes the line fits only if the last one is a CR (of a CRLF).
        if total > maxLineLength + 1 || (total == maxLineLength + 1 && segment[segment.count - 1] != 0x0D) {
            discarding = true
            clearBuffer()
            onLine(.tooLong)
            return
        }
        buffer.append(contentsOf: segment)
    }

    /// The bytes before a newline; together with any buffered bytes they make one line.
    private mutating func finishLine(_ segment: UnsafeRawBufferPointer, _ onLine: (FramedLine) -> Void) {
        if discarding {
            discarding = false
            return
        }
        var total = buffer.count + segment.count
        let lastByte: UInt8? = segment.last ?? buffer.last
        if lastByte == 0x0D { total -= 1 }
        if total > maxLineLength {
            clearBuffer()
            onLine(.tooLong)
            return
        }
        if total == 0 {
            clearBuffer()
            return
        }
        let line: [UInt8]
        if buffer.isEmpty {
            line = Array(segment[0..<total])
        } else {
            var joined: [UInt8] = []
            joined.reserveCapacity(total)
            let fromBuffer = min(buffer.count, total)
            joined.append(contentsOf: buffer[0..<fromBuffer])
            joined.append(contentsOf: segment[0..<(total - fromBuffer)])
            line = joined
            clearBuffer()
        }
        onLine(.line(line))
    }

    private mutating func clearBuffer() {
        // Keep a small allocation for the next partial line; give big ones back,
        // so that idle connections stay small.
        buffer.removeAll(keepingCapacity: buffer.capacity <= 512)
    }
}
