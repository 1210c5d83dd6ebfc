/// The byte-level pieces of the snapshot codec: a little-endian writer and a bounds-checked reader
/// for unsigned varints, zigzag signed varints, length-prefixed bytes and strings. Compact and
/// decoded in one pass without Foundation (a snapshot of a large state must load in milliseconds).
public struct SnapshotWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func int(_ value: Int) { varint(UInt64(UInt(bitPattern: value))) }

    /// Zigzag, so small negative numbers stay short.
    public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func data(_ value: [UInt8]) {
        int(value.count)
        bytes.append(contentsOf: value)
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            int(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    /// Strings in sorted order (sets are unordered: sorting keeps one state one encoding).
    public mutating func strings<S: Sequence<String>>(sorted values: S) {
        let sorted = values.sorted()
        int(sorted.count)
        for value in sorted { string(value) }
    }

    /// A length-prefixed block written by `body` (so a reader can skip or compare it whole).
    public mutating func block(_ body: (inout SnapshotWriter) -> Void) {
        var inner = SnapshotWriter(capacity: 256)
        body(&inner)
        data(inner.bytes)
    }
}

/// A snapshot that cannot be decoded: truncated, or a value out of range. The file's checksum makes
/// this rare (a bug or a version mismatch, not disk damage); the caller falls back to the journal.
public struct SnapshotDecodingError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

public struct SnapshotReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    private let end: Int

    public init(_ bytes: [UInt8]) {
        self.init(bytes, range: 0..<bytes.count)
    }

    public init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    public var isAtEnd: Bool { offset >= end }

    public mutating func u8() throws(SnapshotDecodingError) -> UInt8 {
        guard offset < end else { throw SnapshotDecodingError("snapshot ends early (at byte \(offset))") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func bool() throws(SnapshotDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw SnapshotDecodingError("bad flag \(other) at byte \(offset - 1)")
        }
    }

    public mutating func varint() throws(SnapshotDecodingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            guard shift < 64 else { throw SnapshotDecodingError("varint too long at byte \(offset)") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    public mutating func int() throws(SnapshotDecodingError) -> Int {
        Int(bitPattern: UInt(try varint()))
    }

    /// A count or length: never negative, never more than the bytes left could hold.
    public mutating func count() throws(SnapshotDecodingError) -> Int {
        let value = try varint()
        guard value <= UInt64(end - offset) else { throw SnapshotDecodingError("count \(value) beyond the snapshot's end at byte \(offset)") }
        return Int(value)
    }

    public mutating func signed() throws(SnapshotDecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func data() throws(SnapshotDecodingError) -> [UInt8] {
        let length = try count()
        defer { offset += length }
        return Array(bytes[offset..<(offset + length)])
    }

    public mutating func string() throws(SnapshotDecodingError) -> String {
        let length = try count()
        defer { offset += length }
        return bytes.withUnsafeBufferPointer { String(decoding: $0[offset..<(offset + length)], as: UTF8.self) }
    }

    public mutating func optionalString() throws(SnapshotDecodingError) -> String? {
        try bool() ? try string() : nil
    }

    public mutating func strings() throws(SnapshotDecodingError) -> [String] {
        let n = try count()
        var values: [String] = []
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(try string()) }
        return values
    }

    /// The range of a block written by `SnapshotWriter.block`, skipped over.
    public mutating func block() throws(SnapshotDecodingError) -> Range<Int> {
        let length = try count()
        defer { offset += length }
        return offset..<(offset + length)
    }

    /// A reader over a block's bytes only.
    public func reader(for range: Range<Int>) -> SnapshotReader {
        SnapshotReader(bytes, range: range)
    }

    public func bytes(in range: Range<Int>) -> ArraySlice<UInt8> { bytes[range] }
}
