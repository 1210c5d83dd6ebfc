import Foundation
@testable import PartnerlineCore
import PartnerlineProtocol
import Testing

/// FlatJSON must write what Foundation's JSONEncoder writes (journals read the same whichever
/// codec wrote them) and read what either writes.
struct FlatJSONTests {
    struct Record: Codable, Equatable {
        var type: String
        var time: Int64
        var seq: UInt64?
        var text: String?
        var fields: [[String]]?
        var tags: [String]?
        var flag: Bool?
    }

    private func foundation<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value))
    }

    static let samples: [Record] = [
        Record(type: "event", time: 1_764_062_043_117, seq: 42, text: "Shared \"minibus\"\\ on / Tuesdays ✓ 🚐",
               fields: [["id", "N12"], ["tags", "transport,minibus"]], tags: ["a", "b"], flag: true),
        Record(type: "join", time: -5),
        Record(type: "x", time: 0, seq: UInt64.max, text: "tab\there\u{1}\u{1f}\r\n\u{8}\u{c}", fields: [], tags: [], flag: false),
        Record(type: "", time: Int64.min, text: ""),
    ]

    @Test(arguments: samples)
    func writesTheSameBytesAsFoundation(_ record: Record) throws {
        #expect(try FlatJSON.encode(record) == (try foundation(record)))
    }

    @Test(arguments: samples)
    func readsBackWhatEitherWrites(_ record: Record) throws {
        #expect(try FlatJSON.decode(Record.self, from: try FlatJSON.encode(record)) == record)
        #expect(try FlatJSON.decode(Record.self, from: try foundation(record)) == record)
    }

    @Test func readsOtherKeyOrdersSpacesEscapesAndUnknownKeys() throws {
        let text = #" { "time" : 7 , "unknown": [1], "type":"a\u00e9\ud83d\ude90\/\n", "seq": null } "#
        // Unknown keys are skipped only when their value has a flat shape; [1] is not one.
        #expect(throws: (any Error).self) { try FlatJSON.decode(Record.self, from: Array(text.utf8)) }
        let flat = #" { "time" : 7 , "unknown": ["x"], "type":"a\u00e9\ud83d\ude90\/\n", "seq": null } "#
        let record = try FlatJSON.decode(Record.self, from: Array(flat.utf8))
        #expect(record == Record(type: "aé🚐/\n", time: 7))
    }

    @Test(arguments: [
        "", "{", "{}", "[]", "{\"type\":\"a\"}", "{\"type\":1,\"time\":1}", "{\"type\":\"a\",\"time\":1.5}",
        "{\"type\":\"a\",\"time\":1} x", "{\"type\":\"a\",\"time\":99999999999999999999}", "{\"type\":\"a\u{1}\",\"time\":1}",
        "{\"type\":\"\\ud800\",\"time\":1}", "{\"type\":\"\\q\",\"time\":1}", "{\"type\":\"a\",\"time\":-}",
        "{\"type\":\"a\",\"time\":1,}", "{\"type\":\"a\" \"time\":1}", "{\"type\":\"unterminated,\"time\":1}",
    ])
    func refusesMalformedInput(_ text: String) {
        #expect(throws: (any Error).self) { try FlatJSON.decode(Record.self, from: Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8() {
        var bytes = Array("{\"type\":\"a".utf8)
        bytes.append(0xFF)
        bytes += Array("\",\"time\":1}".utf8)
        #expect(throws: (any Error).self) { try FlatJSON.decode(Record.self, from: bytes) }
    }

    @Test func journalEntriesMatchTheFoundationEncoding() throws {
        // The same entry through the production codec and through Foundation give one byte string.
        let event = StoredEvent(room: RoomName(cluster: "rural", room: "purchasing"), seq: 3, timeMillis: 11, actor: "a1",
                                kind: "NEED", fields: [("id", "N1")], text: "x/y \"z\"")
        let payload = JournalEntryCodec.encode(.event(event))
        let expected = #"{"actor":"a1","fields":[["id","N1"]],"kind":"NEED","room":"rural/purchasing","seq":3,"text":"x/y \"z\"","time":11,"type":"event"}"#
        #expect(String(decoding: payload, as: UTF8.self) == expected)
    }
}
