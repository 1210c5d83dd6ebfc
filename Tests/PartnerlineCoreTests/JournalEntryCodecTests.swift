import PartnerlineCore
import PartnerlineProtocol
import Testing

struct JournalEntryCodecTests {
    let room = RoomName(cluster: "rural", room: "purchasing")

    @Test func eventRoundTrip() throws {
        let event = StoredEvent(room: room, seq: 42, timeMillis: 1_764_062_043_117, actor: "lincoln-aid", kind: "NEED",
                                fields: [("id", "N12"), ("tags", "transport,minibus")], text: "Shared \"minibus\"\\ on Tuesdays ✓")
        let payload = JournalEntryCodec.encode(.event(event))
        #expect(!payload.contains(UInt8(ascii: "\n")))
        guard case .event(let decoded) = try JournalEntryCodec.decode(payload) else {
            Issue.record("not an event")
            return
        }
        #expect(decoded.encodedLine() == event.encodedLine())
    }

    @Test func payloadIsReadableJSON() {
        let event = StoredEvent(room: room, seq: 1, timeMillis: 5, actor: "a1", kind: "SAY", text: "hi")
        let text = String(decoding: JournalEntryCodec.encode(.event(event)), as: UTF8.self)
        #expect(text.hasPrefix("{"))
        #expect(text.contains("\"room\":\"rural/purchasing\""))
    }

    @Test func accountAndMembershipRoundTrip() throws {
        let account = Account(name: "boston-mind", organisation: "Boston Mind", role: .bot, passwordHash: "$scrypt$x", createdMillis: 9)
        guard case .accountRegistered(let decoded, let invite) = try JournalEntryCodec.decode(
            JournalEntryCodec.encode(.accountRegistered(account, invite: "code-1"))) else {
            Issue.record("not an account")
            return
        }
        #expect(decoded == account)
        #expect(invite == "code-1")
        guard case .memberLeft(let r, let who, let time) = try JournalEntryCodec.decode(
            JournalEntryCodec.encode(.memberLeft(room: room, account: "boston-mind", timeMillis: 7))) else {
            Issue.record("not a part")
            return
        }
        #expect(r == room && who == "boston-mind" && time == 7)
    }

    @Test func joinRequestsRoundTrip() throws {
        let request = JournalEntry.joinRequested(cluster: "rural", account: "hull-food", timeMillis: 5)
        #expect(String(decoding: JournalEntryCodec.encode(request), as: UTF8.self)
            == #"{"account":"hull-food","cluster":"rural","time":5,"type":"request"}"#)
        guard case .joinRequested("rural", "hull-food", 5) = try JournalEntryCodec.decode(JournalEntryCodec.encode(request)) else {
            Issue.record("not a request")
            return
        }
        let deny = JournalEntry.requestDenied(cluster: "rural", account: "hull-food", by: "fac", timeMillis: 6)
        guard case .requestDenied("rural", "hull-food", "fac", 6) = try JournalEntryCodec.decode(JournalEntryCodec.encode(deny)) else {
            Issue.record("not a deny")
            return
        }
        #expect(throws: JournalEntryDecodingError.self) {
            try JournalEntryCodec.decode(Array(#"{"type":"request","time":1,"account":"a"}"#.utf8))
        }
    }

    @Test(arguments: [
        "", "not json", "{}", "{\"type\":\"event\",\"time\":1}", "{\"type\":\"martian\",\"time\":1}",
        "{\"type\":\"event\",\"time\":1,\"room\":\"no-slash\",\"seq\":1,\"actor\":\"a\",\"kind\":\"SAY\"}",
        "{\"type\":\"account\",\"time\":1,\"account\":\"a\",\"role\":\"emperor\",\"hash\":\"x\"}",
    ])
    func refusesBadPayloads(_ text: String) {
        #expect(throws: JournalEntryDecodingError.self) { try JournalEntryCodec.decode(Array(text.utf8)) }
    }
}
