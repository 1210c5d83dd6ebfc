import PartnerlineProtocol

/// One stored room event: what HISTORY returns and what members receive live, identical in both.
public struct StoredEvent: Sendable {
    public var room: RoomName
    public var seq: UInt64
    public var timeMillis: Int64
    public var actor: String
    public var kind: String
    public var fields: [(String, String)]
    public var text: String?

    public init(room: RoomName, seq: UInt64, timeMillis: Int64, actor: String, kind: String,
                fields: [(String, String)] = [], text: String? = nil) {
        self.room = room
        self.seq = seq
        self.timeMillis = timeMillis
        self.actor = actor
        self.kind = kind
        self.fields = fields
        self.text = text
    }

    /// The value of the first field named `key`, if any.
    public func field(_ key: String) -> String? {
        fields.first { $0.0 == key }?.1
    }

    /// The wire line (`EV ...\r\n`, untagged). Encoded once per event and shared by every recipient.
    public func encodedLine() -> [UInt8] {
        ServerLine.event(room: room.description, seq: seq, timeMillis: timeMillis, actor: actor,
                         kind: kind, fields: fields, text: text)
    }
}
