/// The hand-written reader for journal records: replay reads every record of every journal at
/// start-up, and going through `Decodable` (a keyed container lookup per field, boxed) costs more
/// than parsing the JSON itself. Writing still goes through `Encodable` (FlatJSON.encode): one
/// record per post is cheap enough there.
extension JournalEntryCodec.Wire {
    /// The keys `init(flat:)` reads. JournalEntryCodecReaderTests checks that these are exactly
    /// Wire's stored properties, so a field added to Wire without a case below fails a test.
    static let readKeys: Set<String> = [
        "type", "time", "room", "seq", "actor", "kind", "fields", "text", "account", "org", "role", "hash", "invite",
    ]

    init(flat fields: [(key: String, value: FlatJSON.Value)]) throws {
        self.init(type: "", time: 0)
        var sawType = false
        var sawTime = false
        for (key, value) in fields {
            switch key {
            case "type": type = try Self.string(value, key); sawType = true
            case "time": time = try Self.int64(value, key); sawTime = true
            case "room": room = try Self.optionalString(value, key)
            case "seq": seq = try Self.optionalUInt64(value, key)
            case "actor": actor = try Self.optionalString(value, key)
            case "kind": kind = try Self.optionalString(value, key)
            case "fields": self.fields = try Self.optionalStringLists(value, key)
            case "text": text = try Self.optionalString(value, key)
            case "account": account = try Self.optionalString(value, key)
            case "org": org = try Self.optionalString(value, key)
            case "role": role = try Self.optionalString(value, key)
            case "hash": hash = try Self.optionalString(value, key)
            case "invite": invite = try Self.optionalString(value, key)
            default: continue   // unknown keys are skipped, as JSONDecoder skips them
            }
        }
        guard sawType else { throw FlatJSON.Failure("no type") }
        guard sawTime else { throw FlatJSON.Failure("no time") }
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
