/// Splits a byte stream into lines without copying complete lines: each line is handed out as a
/// view into the bytes just received (valid only during the callback). Only a line that spans two
/// reads is copied, into a carry buffer. The terminator (LF, with an optional CR before it) is
/// stripped. Lines longer than `maxLineLength` are cut there (a client trusts its server's framing).
public struct LineSplitter: Sendable {
    public let maxLineLength: Int
    private var carry: [UInt8] = []

    public init(maxLineLength: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var start = 0
        var index = 0
        let count = bytes.count
        while index < count {
            // memchr is much faster than a Swift loop for long lines.
            guard let found = memchrLF(base + index, count - index) else { break }
            let end = found - base
            if carry.isEmpty {
                line(Self.trimmed(UnsafeRawBufferPointer(start: base + start, count: end - start)))
            } else {
                carry.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: end - start))
                carry.withUnsafeBytes { line(Self.trimmed($0)) }
                carry.removeAll(keepingCapacity: carry.count <= 4096)
            }
            index = end + 1
            start = index
        }
        if start < count {
            let room = max(0, maxLineLength - carry.count)
            carry.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: min(room, count - start)))
        }
    }

    private static func trimmed(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if line.count > 0, line[line.count - 1] == 13 {
            return UnsafeRawBufferPointer(rebasing: line[0..<(line.count - 1)])
        }
        return line
    }
}

#if canImport(Glibc)
import Glibc
#endif

@inline(__always)
private func memchrLF(_ pointer: UnsafeRawPointer, _ count: Int) -> UnsafeRawPointer? {
    UnsafeRawPointer(memchr(pointer, 10, count))
}
