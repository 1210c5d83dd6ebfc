/// A small, fast JSON codec for flat `Codable` records: an object whose values are strings,
/// integers, booleans, null, arrays of strings or arrays of arrays of strings. That is the shape
/// of every journal entry (`JournalEntryCodec.Wire`), and it is the hot path of replay: Foundation's
/// JSONEncoder/JSONDecoder build a tree of boxed values per record and cost several microseconds
/// each, which a million-event start-up cannot afford.
///
/// Encoding writes keys sorted and nil fields left out, byte for byte what Foundation's
/// `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]`, so journals read the same
/// whichever codec wrote them. Decoding accepts any JSON object of that shape (any key order,
/// whitespace, escapes, unknown keys ignored). A new field in a `Codable` record needs no change
/// here. Pure; no I/O, no Foundation.
public enum FlatJSON {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    enum Value {
        case string(String)
        case int(Int64)
        case uint(UInt64)
        case bool(Bool)
        case null
        case strings([String])
        case stringLists([[String]])
    }

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = FlatEncoder()
        try value.encode(to: encoder)
        if let failure = encoder.failure { throw failure }
        // Keys are ASCII field names: byte order is the order JSONEncoder sorts them in.
        let fields = encoder.fields.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(128 + fields.count * 16)
        out.append(UInt8(ascii: "{"))
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(field.key, to: &out)
            out.append(UInt8(ascii: ":"))
            writeValue(field.value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try T(from: FlatDecoder(fields: try parseObject(bytes)))
    }

    /// The object's fields in file order (for the generic decoder; hot readers walk the object with
    /// `Parser.forEachField` instead).
    static func parseObject(_ bytes: [UInt8]) throws -> [(key: String, value: Value)] {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            return try parser.object()
        }
    }

    // MARK: writing

    static func writeValue(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .string(let s): writeString(s, to: &out)
        case .int(let n): writeDecimal(n < 0 ? UInt64(n.magnitude) : UInt64(n), negative: n < 0, to: &out)
        case .uint(let n): writeDecimal(n, negative: false, to: &out)
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .null: out.append(contentsOf: "null".utf8)
        case .strings(let list): writeList(list, to: &out)
        case .stringLists(let lists):
            out.append(UInt8(ascii: "["))
            for (index, list) in lists.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeList(list, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    static func writeList(_ list: [String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, s) in list.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(s, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func writeDecimal(_ magnitude: UInt64, negative: Bool, to out: inout [UInt8]) {
        if negative { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of scratch, enough for 20 digits
        var n = magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            repeat {
                scratch[23 - count] = UInt8(48 + n % 10)
                n /= 10
                count += 1
            } while n > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(24 - count)...]))
        }
    }

    /// JSON string with the escapes JSONEncoder uses: \" \\ \b \f \n \r \t, \u00xx for other
    /// control characters; '/' and non-ASCII as they are.
    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
            }
            if runStart < utf8.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: parsing

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func object() throws -> [(key: String, value: Value)] {
            var fields: [(key: String, value: Value)] = []
            fields.reserveCapacity(12)
            try forEachField { key, parser in
                fields.append((try parser.validated(key), try parser.value()))
            }
            return fields
        }

        /// Walks a whole object: for each field, calls `body` with the key's UTF-8 bytes (valid only
        /// during the call) and the parser positioned at the value, which `body` must read (e.g.
        /// with `value()`). Then requires the end of the input. Keys are usually plain ASCII names,
        /// so a hand-written reader can match them without making a String for each.
        mutating func forEachField(_ body: (UnsafeBufferPointer<UInt8>, inout Parser) throws -> Void) throws {
            skipSpace()
            try expect(UInt8(ascii: "{"))
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    skipSpace()
                    let plain = plainKey()
                    let escaped = plain == nil ? Array(try string().utf8) : []
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    if let plain {
                        try body(plain, &self)
                    } else {
                        try escaped.withUnsafeBufferPointer { try body($0, &self) }
                    }
                    skipSpace()
                    if peek() == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    break
                }
            }
            skipSpace()
            guard index == bytes.count else { throw Failure("unexpected bytes after the object at offset \(index)") }
        }

        /// A quoted key without escapes or control characters, as the bytes between its quotes
        /// (consumed); nil, with nothing consumed, for anything else (`string()` then reads it).
        mutating func plainKey() -> UnsafeBufferPointer<UInt8>? {
            guard peek() == UInt8(ascii: "\"") else { return nil }
            var end = index + 1
            while end < bytes.count {
                let byte = bytes[end]
                if byte == UInt8(ascii: "\"") {
                    let key = UnsafeBufferPointer(rebasing: bytes[(index + 1)..<end])
                    index = end + 1
                    return key
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                end += 1
            }
            return nil
        }

        mutating func value() throws -> Value {
            guard let next = peek() else { throw Failure("unexpected end at offset \(index)") }
            switch next {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw Failure("unexpected \(describe(next)) at offset \(index)")
            }
        }

        /// An array of strings, or of arrays of strings (empty arrays are read as lists of strings).
        mutating func array() throws -> Value {
            try expect(UInt8(ascii: "["))
            skipSpace()
            if peek() == UInt8(ascii: "]") { index += 1; return .strings([]) }
            if peek() == UInt8(ascii: "[") {
                var lists: [[String]] = []
                while true {
                    skipSpace()
                    guard case .strings(let list) = try array() else { throw Failure("arrays nest at most two deep (offset \(index))") }
                    lists.append(list)
                    skipSpace()
                    if peek() == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return .stringLists(lists)
                }
            }
            var list: [String] = []
            while true {
                skipSpace()
                list.append(try string())
                skipSpace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .strings(list)
            }
        }

        mutating func number() throws -> Value {
            let negative = peek() == UInt8(ascii: "-")
            if negative { index += 1 }
            let start = index
            var magnitude: UInt64 = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[index] - 48))
                guard !o1, !o2 else { throw Failure("number too large at offset \(start)") }
                magnitude = sum
                index += 1
            }
            guard index > start else { throw Failure("bad number at offset \(start)") }
            if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                throw Failure("only integers are expected (offset \(start))")
            }
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { throw Failure("number too small at offset \(start)") }
                return .int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
            }
            return .uint(magnitude)
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let s = try validated(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    index += 1
                    return s
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw Failure("control character in a string at offset \(index)") }
                index += 1
            }
            var out = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return try out.withUnsafeBufferPointer { try validated($0) }
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { break }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): appendScalar(try unicodeEscape(), to: &out)
                    default: throw Failure("bad escape at offset \(index - 1)")
                    }
                case 0..<0x20:
                    throw Failure("control character in a string at offset \(index - 1)")
                default:
                    out.append(byte)
                }
            }
            throw Failure("unterminated string starting at offset \(start)")
        }

        /// \uXXXX, with a following \uXXXX for a surrogate pair.
        mutating func unicodeEscape() throws -> Unicode.Scalar {
            let high = try hex4()
            if (0xD800..<0xDC00).contains(high) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Failure("lone surrogate at offset \(index)")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low),
                      let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
                    throw Failure("bad surrogate pair at offset \(index)")
                }
                return scalar
            }
            guard let scalar = Unicode.Scalar(high) else { throw Failure("lone surrogate at offset \(index)") }
            return scalar
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw Failure("short \\u escape at offset \(index)") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 48...57: digit = UInt32(byte - 48)
                case 97...102: digit = UInt32(byte - 87)
                case 65...70: digit = UInt32(byte - 55)
                default: throw Failure("bad \\u escape at offset \(index)")
                }
                value = value * 16 + digit
                index += 1
            }
            return value
        }

        func appendScalar(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
            out.append(contentsOf: UTF8.encode(scalar)!)
        }

        func validated(_ utf8: UnsafeBufferPointer<UInt8>) throws -> String {
            // Most journal text is ASCII: check that with a plain loop and take String's fast ASCII
            // path; the generic validating initialiser costs several times more.
            var ascii = true
            for byte in utf8 where byte >= 0x80 {
                ascii = false
                break
            }
            if ascii { return String(decoding: utf8, as: UTF8.self) }
            guard let s = String(validating: utf8, as: UTF8.self) else { throw Failure("invalid UTF-8 in a string") }
            return s
        }

        mutating func literal(_ word: StaticString) throws {
            let n = word.utf8CodeUnitCount
            guard index + n <= bytes.count else { throw Failure("unexpected end at offset \(index)") }
            for i in 0..<n where bytes[index + i] != word.utf8Start[i] { throw Failure("bad literal at offset \(index)") }
            index += n
        }

        mutating func expect(_ byte: UInt8) throws {
            guard index < bytes.count, bytes[index] == byte else {
                throw Failure("expected '\(Character(Unicode.Scalar(byte)))' at offset \(index), found \(describe(peek()))")
            }
            index += 1
        }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        func describe(_ byte: UInt8?) -> String {
            guard let byte else { return "the end" }
            return byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
        }
    }
}

// MARK: - Encoder

private final class FlatEncoder: Encoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    var fields: [(key: String, value: FlatJSON.Value)] = []
    var failure: FlatJSON.Failure?

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FlatKeyedEncoding<Key>(encoder: self))
    }

    // A flat record is one keyed container; anything else is a programming error in the record
    // type, reported as a thrown failure from encode(_:) rather than a crash.
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        failure = FlatJSON.Failure("flat JSON records are keyed objects")
        return DiscardingUnkeyed(codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        failure = FlatJSON.Failure("flat JSON records are keyed objects")
        return DiscardingSingle(codingPath: codingPath)
    }
}

private struct FlatKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: FlatEncoder
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { encoder.fields.append((key.stringValue, .null)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { encoder.fields.append((key.stringValue, .bool(value))) }
    mutating func encode(_ value: String, forKey key: Key) throws { encoder.fields.append((key.stringValue, .string(value))) }
    mutating func encode(_ value: Int, forKey key: Key) throws { encoder.fields.append((key.stringValue, .int(Int64(value)))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { encoder.fields.append((key.stringValue, .int(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { encoder.fields.append((key.stringValue, .int(Int64(value)))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { encoder.fields.append((key.stringValue, .uint(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { encoder.fields.append((key.stringValue, .uint(UInt64(value)))) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { encoder.fields.append((key.stringValue, .uint(UInt64(value)))) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        switch value {
        case let list as [String]: encoder.fields.append((key.stringValue, .strings(list)))
        case let lists as [[String]]: encoder.fields.append((key.stringValue, .stringLists(lists)))
        case let s as String: encoder.fields.append((key.stringValue, .string(s)))
        case let n as Int64: encoder.fields.append((key.stringValue, .int(n)))
        case let n as UInt64: encoder.fields.append((key.stringValue, .uint(n)))
        case let n as Int: encoder.fields.append((key.stringValue, .int(Int64(n))))
        case let b as Bool: encoder.fields.append((key.stringValue, .bool(b)))
        default:
            throw EncodingError.invalidValue(value, .init(codingPath: [key],
                debugDescription: "flat JSON holds strings, integers, booleans and arrays of strings"))
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder.failure = FlatJSON.Failure("flat JSON has no nested objects (key \(key.stringValue))")
        return KeyedEncodingContainer(FlatKeyedEncoding<NestedKey>(encoder: FlatEncoder()))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder.failure = FlatJSON.Failure("flat JSON arrays are encoded whole (key \(key.stringValue))")
        return DiscardingUnkeyed(codingPath: [key])
    }

    mutating func superEncoder() -> any Encoder {
        encoder.failure = FlatJSON.Failure("flat JSON records have no superclass")
        return FlatEncoder()
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder() }
}

private struct DiscardingUnkeyed: UnkeyedEncodingContainer {
    var codingPath: [any CodingKey]
    var count = 0
    mutating func encodeNil() throws {}
    mutating func encode<T: Encodable>(_ value: T) throws {}
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(FlatKeyedEncoding<NestedKey>(encoder: FlatEncoder()))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
    mutating func superEncoder() -> any Encoder { FlatEncoder() }
}

private struct DiscardingSingle: SingleValueEncodingContainer {
    var codingPath: [any CodingKey]
    mutating func encodeNil() throws {}
    mutating func encode<T: Encodable>(_ value: T) throws {}
}

// MARK: - Decoder

private struct FlatDecoder: Decoder {
    let fields: [(key: String, value: FlatJSON.Value)]
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(FlatKeyedDecoding<Key>(fields: fields))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: [], debugDescription: "a flat JSON record is an object"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: [], debugDescription: "a flat JSON record is an object"))
    }
}

private struct FlatKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [(key: String, value: FlatJSON.Value)]
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { fields.compactMap { Key(stringValue: $0.key) } }

    /// Last occurrence wins, as in Foundation.
    private func find(_ key: Key) -> FlatJSON.Value? {
        let name = key.stringValue
        let length = name.utf8.count
        var i = fields.count - 1
        while i >= 0 {
            // Lengths first: most keys differ in length, which is much cheaper to compare.
            if fields[i].key.utf8.count == length && fields[i].key == name { return fields[i].value }
            i -= 1
        }
        return nil
    }

    private func require(_ key: Key) throws -> FlatJSON.Value {
        guard let value = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: [key], debugDescription: "no value for \(key.stringValue)"))
        }
        return value
    }

    private func mismatch<T>(_ type: T.Type, _ key: Key) -> DecodingError {
        .typeMismatch(type, .init(codingPath: [key], debugDescription: "\(key.stringValue) is not a \(type)"))
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try require(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        guard case .bool(let b) = try require(key) else { throw mismatch(type, key) }
        return b
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        guard case .string(let s) = try require(key) else { throw mismatch(type, key) }
        return s
    }

    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        switch try require(key) {
        case .int(let n): return n
        case .uint(let n) where n <= UInt64(Int64.max): return Int64(n)
        default: throw mismatch(type, key)
        }
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { Int(try decode(Int64.self, forKey: key)) }

    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        guard case .uint(let n) = try require(key) else { throw mismatch(type, key) }
        return n
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let value = try require(key)
        if T.self == [String].self {
            guard case .strings(let list) = value else { throw mismatch(type, key) }
            return list as! T
        }
        if T.self == [[String]].self {
            switch value {
            case .stringLists(let lists): return lists as! T
            case .strings(let list) where list.isEmpty: return [[String]]() as! T
            default: throw mismatch(type, key)
            }
        }
        if T.self == String.self { return try decode(String.self, forKey: key) as! T }
        if T.self == Int64.self { return try decode(Int64.self, forKey: key) as! T }
        if T.self == UInt64.self { return try decode(UInt64.self, forKey: key) as! T }
        if T.self == Int.self { return try decode(Int.self, forKey: key) as! T }
        if T.self == Bool.self { return try decode(Bool.self, forKey: key) as! T }
        throw mismatch(type, key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw mismatch([String: Any].self, key)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw mismatch([Any].self, key)
    }

    func superDecoder() throws -> any Decoder { FlatDecoder(fields: fields) }
    func superDecoder(forKey key: Key) throws -> any Decoder { FlatDecoder(fields: fields) }
}
