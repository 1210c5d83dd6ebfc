#if canImport(Glibc)
import Glibc
#endif

/// The hand-written reader for journal records: replay reads every record of every journal at
/// start-up, and going through `Decodable` (a keyed container lookup per field, boxed) costs more
/// than parsing the JSON itself. Writing still goes through `Encodable` (FlatJSON.encode): one
/// record per post is cheap enough there.
extension JournalEntryCodec.Wire {
    /// Wire's fields by their JSON key. JournalEntryCodecReaderTests checks that these are exactly
    /// Wire's stored properties, so a field added to Wire without a case here fails a test.
    enum Field: String, CaseIterable {
        case type, time, room, seq, actor, kind, fields, text, account, org, role, hash, invite, cluster, by, policy

        private static let keys: [(field: Field, utf8: [UInt8])] = allCases.map { ($0, Array($0.rawValue.utf8)) }

        /// The field a key names, matched on its bytes (no String made per key and record).
        init?(utf8 key: UnsafeBufferPointer<UInt8>) {
            guard let start = key.baseAddress else { return nil }
            for candidate in Self.keys where candidate.utf8.count == key.count {
                let same = candidate.utf8.withUnsafeBufferPointer { memcmp($0.baseAddress!, start, key.count) == 0 }
                if same {
                    self = candidate.field
                    return
                }
            }
            return nil
        }
    }

    /// Reads a record's JSON object straight into a Wire: the replay path (one call per record).
    init(parsing payload: [UInt8]) throws {
        self.init(type: "", time: 0)
        var sawType = false, sawTime = false
        try payload.withUnsafeBufferPointer { buffer in
            var parser = FlatJSON.Parser(bytes: buffer)
            try parser.forEachField { key, parser in
                let value = try parser.value()
                // Unknown keys are skipped, as JSONDecoder skips them.
                guard let field = Field(utf8: key) else { return }
                try set(field, value)
                sawType = sawType || field == .type
                sawTime = sawTime || field == .time
            }
        }
        guard sawType else { throw FlatJSON.Failure("no type") }
        guard sawTime else { throw FlatJSON.Failure("no time") }
    }

    private mutating func set(_ field: Field, _ value: FlatJSON.Value) throws {
        let key = field.rawValue
        switch field {
        case .type: type = try Self.string(value, key)
        case .time: time = try Self.int64(value, key)
        case .room: room = try Self.optionalString(value, key)
        case .seq: seq = try Self.optionalUInt64(value, key)
        case .actor: actor = try Self.optionalString(value, key)
        case .kind: kind = try Self.optionalString(value, key)
        case .fields: self.fields = try Self.optionalStringLists(value, key)
        case .text: text = try Self.optionalString(value, key)
        case .account: account = try Self.optionalString(value, key)
        case .org: org = try Self.optionalString(value, key)
        case .role: role = try Self.optionalString(value, key)
        case .hash: hash = try Self.optionalString(value, key)
        case .invite: invite = try Self.optionalString(value, key)
        case .cluster: cluster = try Self.optionalString(value, key)
        case .by: by = try Self.optionalString(value, key)
        case .policy: policy = try Self.optionalString(value, key)
        }
    }

    private static func string(_ value: FlatJSON.Value, _ key: String) throws -> String {
        guard case .string(let s) = value else { throw FlatJSON.Failure("\(key) is not a string") }
        return s
    }

    private static func optionalString(_ value: FlatJSON.Value, _ key: String) throws -> String? {
        if case .null = value { return nil }
        return try string(value, key)
    }

    private static func int64(_ value: FlatJSON.Value, _ key: String) throws -> Int64 {
        switch value {
        case .int(let n): return n
        case .uint(let n) where n <= UInt64(Int64.max): return Int64(n)
        default: throw FlatJSON.Failure("\(key) is not a 64-bit integer")
        }
    }

    private static func optionalUInt64(_ value: FlatJSON.Value, _ key: String) throws -> UInt64? {
        switch value {
        case .null: return nil
        case .uint(let n): return n
        default: throw FlatJSON.Failure("\(key) is not an unsigned integer")
        }
    }

    private static func optionalStringLists(_ value: FlatJSON.Value, _ key: String) throws -> [[String]]? {
        switch value {
        case .null: return nil
        case .stringLists(let lists): return lists
        case .strings(let list) where list.isEmpty: return []
        default: throw FlatJSON.Failure("\(key) is not a list of string lists")
        }
    }
}
