/// Validation of the names that appear on the wire (spec "Names and ids").
public enum Names {
    /// An account name: `[a-z0-9][a-z0-9-]{1,31}` (2 to 32 bytes).
    public static func isValidAccount(_ s: String) -> Bool { isValidHandle(s) }

    /// A cluster name: same form as an account.
    public static func isValidCluster(_ s: String) -> Bool { isValidHandle(s) }

    /// The part of a room name after the `/`: same form as an account.
    public static func isValidRoomPart(_ s: String) -> Bool { isValidHandle(s) }

    /// A reply tag (`@tag`): 1 to 32 characters of `[A-Za-z0-9._-]`.
    public static func isValidTag(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isValidTag(bytes: $0) }
    }

    /// `[a-z0-9][a-z0-9-]{1,31}`.
    static func isValidHandle(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isValidHandle(bytes: $0) }
    }

    static func isValidHandle(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 2, bytes.count <= 32 else { return false }
        for (i, c) in bytes.enumerated() {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "-") where i > 0: continue
            default: return false
            }
        }
        return true
    }

    static func isValidTag<C: Collection>(bytes: C) -> Bool where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= 32 else { return false }
        return bytes.allSatisfy(isTagByte)
    }

    @inline(__always)
    static func isTagByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// A room name, `<cluster>/<room>`, both parts of the account form.
public struct RoomName: Hashable, Sendable, CustomStringConvertible {
    public let cluster: String
    public let room: String

    /// Parses `"<cluster>/<room>"`; nil unless there is exactly one `/` and both parts are valid.
    public init?(_ text: String) {
        let utf8 = text.utf8
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let cluster = String(text[..<slash])
        let room = String(text[text.index(after: slash)...])
        guard Names.isValidCluster(cluster), Names.isValidRoomPart(room) else { return nil }
        self.cluster = cluster
        self.room = room
    }

    /// Builds a room name from parts the caller has already validated.
    public init(cluster: String, room: String) {
        self.cluster = cluster
        self.room = room
    }

    /// `"cluster/room"`.
    public var description: String { cluster + "/" + room }
}
