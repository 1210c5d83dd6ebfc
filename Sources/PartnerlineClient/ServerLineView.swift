import Foundation

/// What a server line is, read from its first word (after an optional `@tag`), per the wire
/// contract: `OK`, `ERR`, `EV`, `*` (data), `PING`, `NOTICE`, `BYE`, `HELLO`.
public enum ServerLineKind: Sendable, Equatable {
    case hello, ok, err, event, data, ping, notice, bye, other
}

/// A parsed view of one server line: its tag, kind, space-separated words before the free text,
/// and the free text (after ` :`). Parsing copies into Swift strings, so the hot paths of the bench
/// use `ServerLineScan` on raw bytes instead; this is for bots and tools.
public struct ServerLineView: Sendable, Equatable {
    public var tag: String?
    public var kind: ServerLineKind
    /// Words after the tag, the first word included (e.g. ["OK", "JOIN", "room=a/b", "last=4"]).
    public var words: [String]
    public var text: String?

    public init(_ line: String) {
        var rest = Substring(line)
        if rest.hasPrefix("@"), let space = rest.firstIndex(of: " ") {
            tag = String(rest[rest.index(after: rest.startIndex)..<space])
            rest = rest[rest.index(after: space)...]
        } else {
            tag = nil
        }
        if let colon = rest.range(of: " :") {
            text = String(rest[colon.upperBound...])
            rest = rest[..<colon.lowerBound]
        } else {
            text = nil
        }
        words = rest.split(separator: " ").map(String.init)
        kind = Self.kind(words.first ?? "")
    }

    public init(bytes: UnsafeRawBufferPointer) {
        self.init(String(decoding: bytes, as: UTF8.self))
    }

    /// `key=value` options among the words (e.g. `seq` in `OK SAY room=a/b seq=7`).
    public func option(_ key: String) -> String? {
        let prefix = key + "="
        return words.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// The verb a final reply answers (`OK SAY ...` -> SAY; `ERR CODE SAY ...` -> SAY).
    public var verb: String? {
        switch kind {
        case .ok: return words.count > 1 ? words[1] : nil
        case .err: return words.count > 2 ? words[2] : nil
        default: return nil
        }
    }

    /// The stable error code of an `ERR` line.
    public var errorCode: String? { kind == .err && words.count > 1 ? words[1] : nil }

    static func kind(_ word: String) -> ServerLineKind {
        switch word {
        case "HELLO": return .hello
        case "OK": return .ok
        case "ERR": return .err
        case "EV": return .event
        case "*": return .data
        case "PING": return .ping
        case "NOTICE": return .notice
        case "BYE": return .bye
        default: return .other
        }
    }
}

/// Allocation-free checks on raw line bytes for high-rate readers (the bench reads millions of
/// lines per second on the same cores as the server).
public enum ServerLineScan {
    /// The kind from the first word, skipping an `@tag `.
    public static func kind(_ line: UnsafeRawBufferPointer) -> ServerLineKind {
        var start = 0
        if line.count > 0, line[0] == UInt8(ascii: "@") {
            guard let space = firstIndex(of: 32, in: line, from: 0) else { return .other }
            start = space + 1
        }
        func word(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard line.count >= start + n else { return false }
            let p = text.utf8Start
            for i in 0..<n where line[start + i] != p[i] { return false }
            return line.count == start + n || line[start + n] == 32
        }
        if word("EV") { return .event }
        if word("OK") { return .ok }
        if word("ERR") { return .err }
        if word("*") { return .data }
        if word("PING") { return .ping }
        if word("HELLO") { return .hello }
        if word("NOTICE") { return .notice }
        if word("BYE") { return .bye }
        return .other
    }

    public static func firstIndex(of byte: UInt8, in line: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        while i < line.count {
            if line[i] == byte { return i }
            i += 1
        }
        return nil
    }

    /// Index of the first occurrence of `needle` at or after `from`.
    public static func find(_ needle: StaticString, in line: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        let n = needle.utf8CodeUnitCount
        guard n > 0, line.count >= n else { return nil }
        let p = needle.utf8Start
        var i = from
        while i + n <= line.count {
            if line[i] == p[0] {
                var j = 1
                while j < n && line[i + j] == p[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// The decimal number that starts at `index` (nil if there is no digit there).
    public static func decimal(in line: UnsafeRawBufferPointer, at index: Int) -> UInt64? {
        var i = index
        var value: UInt64 = 0
        while i < line.count, line[i] >= 48, line[i] <= 57 {
            value = value &* 10 &+ UInt64(line[i] - 48)
            i += 1
        }
        return i > index ? value : nil
    }
}
