/// What a server line is, read from its first word (after an optional `@tag`), per the wire
/// contract: `OK`, `ERR`, `EV`, `*` (data), `PING`, `NOTICE`, `BYE`, `HELLO`, `READ` (1.1).
/// For hot paths that do not tokenize; `ServerMessage` is the typed reading of a whole line.
public enum ServerLineKind: Sendable, Equatable {
    case hello, ok, err, event, data, ping, notice, bye, read, other
}

/// Allocation-free checks on raw line bytes for high-rate readers (the bench reads millions of
/// lines per second on the same cores as the server). They agree with `ServerLineTokens` on the
/// first word (a test checks every kind); anything beyond the kind and the bench's own ` :T`
/// marker is read with `ServerMessage`.
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
        if word("READ") { return .read }
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
