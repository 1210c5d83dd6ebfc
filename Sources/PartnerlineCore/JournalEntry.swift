import Foundation
import PartnerlineProtocol

/// Everything the server remembers is one of these, appended to a journal and folded on start.
/// Room events go to their cluster's journal; accounts to the server-wide journal.
public enum JournalEntry: Sendable {
    case accountRegistered(Account, invite: String?)
    case event(StoredEvent)
    /// Room membership (what WHO lists). Not an EV: JOIN and PART are presence, not history.
    case memberJoined(room: RoomName, account: String, timeMillis: Int64)
    case memberLeft(room: RoomName, account: String, timeMillis: Int64)
}

public struct JournalEntryDecodingError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The payload format of a journal record: one JSON object per line, so an operator can read a
/// cluster's journal with `tail -f`. Pure; no I/O. Written and read by `FlatJSON` (the same bytes
/// Foundation's JSONEncoder writes with sorted keys, at a fraction of the cost): a new entry type
/// adds its optional fields to `Wire` and a case to each switch, nothing else.
public enum JournalEntryCodec {
    /// Every field of every entry type; each type uses some. A new field also goes into
    /// `Wire.init(flat:)` (JournalEntryCodec+Reader.swift); a test fails until it does.
    struct Wire: Codable {
        var type: String
        var time: Int64
        var room: String?
        var seq: UInt64?
        var actor: String?
        var kind: String?
        var fields: [[String]]?
        var text: String?
        var account: String?
        var org: String?
        var role: String?
        var hash: String?
        var invite: String?
    }

    public static func encode(_ entry: JournalEntry) -> [UInt8] {
        let wire: Wire
        switch entry {
        case .accountRegistered(let account, let invite):
            wire = Wire(type: "account", time: account.createdMillis, account: account.name,
                        org: account.organisation, role: account.role.rawValue, hash: account.passwordHash,
                        invite: invite)
        case .event(let event):
            wire = Wire(type: "event", time: event.timeMillis, room: event.room.description, seq: event.seq,
                        actor: event.actor, kind: event.kind,
                        fields: event.fields.isEmpty ? nil : event.fields.map { [$0.0, $0.1] },
                        text: event.text)
        case .memberJoined(let room, let account, let time):
            wire = Wire(type: "join", time: time, room: room.description, account: account)
        case .memberLeft(let room, let account, let time):
            wire = Wire(type: "part", time: time, room: room.description, account: account)
        }
        // A flat struct of strings, integers and string arrays always encodes.
        return try! FlatJSON.encode(wire)
    }

    public static func decode(_ payload: [UInt8]) throws -> JournalEntry {
        let wire: Wire
        do {
            wire = try Wire(flat: FlatJSON.parseObject(payload))
        } catch {
            throw JournalEntryDecodingError(description: "not a journal entry: \(error)")
        }
        func need<T>(_ value: T?, _ name: String) throws -> T {
            guard let value else {
                throw JournalEntryDecodingError(description: "\(wire.type) entry without \(name)")
            }
            return value
        }
        func roomName() throws -> RoomName {
            let text = try need(wire.room, "room")
            guard let room = RoomName(text) else {
                throw JournalEntryDecodingError(description: "bad room name \(text)")
            }
            return room
        }
        switch wire.type {
        case "account":
            let roleText = try need(wire.role, "role")
            guard let role = Role(rawValue: roleText) else {
                throw JournalEntryDecodingError(description: "unknown role \(roleText)")
            }
            let account = Account(name: try need(wire.account, "account"), organisation: wire.org ?? "",
                                  role: role, passwordHash: try need(wire.hash, "hash"), createdMillis: wire.time)
            return .accountRegistered(account, invite: wire.invite)
        case "event":
            let fields = try (wire.fields ?? []).map { pair -> (String, String) in
                guard pair.count == 2 else { throw JournalEntryDecodingError(description: "bad field \(pair)") }
                return (pair[0], pair[1])
            }
            return .event(StoredEvent(room: try roomName(), seq: try need(wire.seq, "seq"), timeMillis: wire.time,
                                      actor: try need(wire.actor, "actor"), kind: try need(wire.kind, "kind"),
                                      fields: fields, text: wire.text))
        case "join":
            return .memberJoined(room: try roomName(), account: try need(wire.account, "account"), timeMillis: wire.time)
        case "part":
            return .memberLeft(room: try roomName(), account: try need(wire.account, "account"), timeMillis: wire.time)
        default:
            throw JournalEntryDecodingError(description: "unknown entry type \(wire.type)")
        }
    }
}
