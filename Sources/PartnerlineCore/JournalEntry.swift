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
    /// A role given to an account (server journal): bot or admin for the whole server, or
    /// facilitator of one `cluster`. `by` is who granted it (`*admin-cli` for the admin subcommand).
    case roleGranted(account: String, role: Role, cluster: String?, by: String, timeMillis: Int64)
    /// A role taken away again (server journal); the account is then a member (or no longer facilitates `cluster`).
    case roleRevoked(account: String, role: Role, cluster: String?, by: String, timeMillis: Int64)
    /// A single-use invite code for REGISTER made by a facilitator (server journal); an account that
    /// registers with it is welcome in `cluster` even when the cluster's membership needs approval.
    case inviteCreated(code: String, cluster: String?, by: String, timeMillis: Int64)
    /// How far `account` has read in `room` (cluster journal, protocol 1.1 MARK). Markers only move
    /// forward: the fold keeps the highest seq, so a replayed lower one changes nothing.
    case readMarker(room: RoomName, account: String, seq: UInt64, timeMillis: Int64)
    /// Moderation records of journals written before protocol 1.1. New room, topic and mute changes
    /// are room events (kinds ROOM, TOPIC, MUTE, UNMUTE) so members see them live and in HISTORY;
    /// these cases stay so old journals replay (nothing writes them any more).
    case roomCreated(room: RoomName, topic: String, by: String, timeMillis: Int64)
    case topicSet(room: RoomName, topic: String, by: String, timeMillis: Int64)
    case muted(room: RoomName, account: String, reason: String?, by: String, timeMillis: Int64)
    case unmuted(room: RoomName, account: String, by: String, timeMillis: Int64)
    /// Cluster-wide moderation records (not EVs: they change the cluster, not a room's story).
    case membershipPolicy(cluster: String, policy: MembershipPolicy, by: String, timeMillis: Int64)
    case memberApproved(cluster: String, account: String, by: String, timeMillis: Int64)
    /// A JOIN refused under the `approval` policy, kept as a request for the cluster's facilitators
    /// (REQUESTS lists it; APPROVE or DENY, or the account's own first JOIN as a member, ends it).
    case joinRequested(cluster: String, account: String, timeMillis: Int64)
    /// A facilitator dropped a request (DENY).
    case requestDenied(cluster: String, account: String, by: String, timeMillis: Int64)
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
    /// `Wire.Field` (JournalEntryCodec+Reader.swift); a test fails until it does.
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
        var cluster: String?
        var by: String?
        var policy: String?
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
        case .roleGranted(let account, let role, let cluster, let by, let time):
            wire = Wire(type: "grant", time: time, account: account, role: role.rawValue, cluster: cluster, by: by)
        case .roleRevoked(let account, let role, let cluster, let by, let time):
            wire = Wire(type: "revoke", time: time, account: account, role: role.rawValue, cluster: cluster, by: by)
        case .inviteCreated(let code, let cluster, let by, let time):
            wire = Wire(type: "invite", time: time, invite: code, cluster: cluster, by: by)
        case .readMarker(let room, let account, let seq, let time):
            wire = Wire(type: "read", time: time, room: room.description, seq: seq, account: account)
        case .roomCreated(let room, let topic, let by, let time):
            wire = Wire(type: "room", time: time, room: room.description, text: topic, by: by)
        case .topicSet(let room, let topic, let by, let time):
            wire = Wire(type: "topic", time: time, room: room.description, text: topic, by: by)
        case .muted(let room, let account, let reason, let by, let time):
            wire = Wire(type: "mute", time: time, room: room.description, text: reason, account: account, by: by)
        case .unmuted(let room, let account, let by, let time):
            wire = Wire(type: "unmute", time: time, room: room.description, account: account, by: by)
        case .membershipPolicy(let cluster, let policy, let by, let time):
            wire = Wire(type: "policy", time: time, cluster: cluster, by: by, policy: policy.rawValue)
        case .memberApproved(let cluster, let account, let by, let time):
            wire = Wire(type: "approve", time: time, account: account, cluster: cluster, by: by)
        case .joinRequested(let cluster, let account, let time):
            wire = Wire(type: "request", time: time, account: account, cluster: cluster)
        case .requestDenied(let cluster, let account, let by, let time):
            wire = Wire(type: "deny", time: time, account: account, cluster: cluster, by: by)
        }
        // A flat struct of strings, integers and string arrays always encodes.
        return try! FlatJSON.encode(wire)
    }

    public static func decode(_ payload: [UInt8]) throws -> JournalEntry {
        let wire: Wire
        do {
            wire = try Wire(parsing: payload)
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
        func role() throws -> Role {
            let roleText = try need(wire.role, "role")
            guard let role = Role(rawValue: roleText) else {
                throw JournalEntryDecodingError(description: "unknown role \(roleText)")
            }
            return role
        }
        switch wire.type {
        case "account":
            let role = try role()
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
        case "grant":
            return .roleGranted(account: try need(wire.account, "account"), role: try role(), cluster: wire.cluster,
                                by: try need(wire.by, "by"), timeMillis: wire.time)
        case "revoke":
            return .roleRevoked(account: try need(wire.account, "account"), role: try role(), cluster: wire.cluster,
                                by: try need(wire.by, "by"), timeMillis: wire.time)
        case "invite":
            return .inviteCreated(code: try need(wire.invite, "invite"), cluster: wire.cluster, by: try need(wire.by, "by"),
                                  timeMillis: wire.time)
        case "read":
            return .readMarker(room: try roomName(), account: try need(wire.account, "account"), seq: try need(wire.seq, "seq"),
                               timeMillis: wire.time)
        case "room":
            return .roomCreated(room: try roomName(), topic: wire.text ?? "", by: try need(wire.by, "by"), timeMillis: wire.time)
        case "topic":
            return .topicSet(room: try roomName(), topic: wire.text ?? "", by: try need(wire.by, "by"), timeMillis: wire.time)
        case "mute":
            return .muted(room: try roomName(), account: try need(wire.account, "account"), reason: wire.text,
                          by: try need(wire.by, "by"), timeMillis: wire.time)
        case "unmute":
            return .unmuted(room: try roomName(), account: try need(wire.account, "account"), by: try need(wire.by, "by"),
                            timeMillis: wire.time)
        case "policy":
            let text = try need(wire.policy, "policy")
            guard let policy = MembershipPolicy(rawValue: text) else {
                throw JournalEntryDecodingError(description: "unknown membership policy \(text)")
            }
            return .membershipPolicy(cluster: try need(wire.cluster, "cluster"), policy: policy, by: try need(wire.by, "by"),
                                     timeMillis: wire.time)
        case "approve":
            return .memberApproved(cluster: try need(wire.cluster, "cluster"), account: try need(wire.account, "account"),
                                   by: try need(wire.by, "by"), timeMillis: wire.time)
        case "request":
            return .joinRequested(cluster: try need(wire.cluster, "cluster"), account: try need(wire.account, "account"),
                                  timeMillis: wire.time)
        case "deny":
            return .requestDenied(cluster: try need(wire.cluster, "cluster"), account: try need(wire.account, "account"),
                                  by: try need(wire.by, "by"), timeMillis: wire.time)
        default:
            throw JournalEntryDecodingError(description: "unknown entry type \(wire.type)")
        }
    }
}
