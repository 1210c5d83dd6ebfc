import Foundation
@testable import PartnerlineCore
import Testing

/// The hand-written journal reader must know every Wire field; otherwise a field added for a new
/// entry type would be written and then silently dropped on replay.
struct JournalEntryCodecReaderTests {
    @Test func readerKnowsEveryWireField() {
        let wire = JournalEntryCodec.Wire(type: "event", time: 1)
        let properties = Set(Mirror(reflecting: wire).children.compactMap(\.label))
        let readKeys = Set(JournalEntryCodec.Wire.Field.allCases.map(\.rawValue))
        #expect(properties == readKeys,
                "add the missing keys to Wire.Field: \(properties.symmetricDifference(readKeys))")
    }

    @Test func readerAgreesWithDecodableForEveryField() throws {
        let payload = #"{"account":"a","actor":"b","by":"y","cluster":"c","fields":[["k","v"]],"hash":"h","invite":"i","kind":"K","org":"o","policy":"p","role":"r","room":"c/d","seq":9,"text":"t","time":-3,"type":"event","future":"ignored"}"#
        let parsed = try JournalEntryCodec.Wire(parsing: Array(payload.utf8))
        let slow = try JSONDecoder().decode(JournalEntryCodec.Wire.self, from: Data(payload.utf8))
        #expect(try FlatJSON.encode(parsed) == FlatJSON.encode(slow))
    }

    /// Keys are matched on their bytes; a key written with escapes still names its field, as it
    /// does for JSONDecoder, and a key that only starts like a field name does not.
    @Test func keysWithEscapesAndNearMissesAreReadAsJSONDecoderReadsThem() throws {
        let payload = #"{"ty\u0070e":"event","time":1,"tex":"not text","texts":"no","t\"ext":"no","text":"yes"}"#
        let parsed = try JournalEntryCodec.Wire(parsing: Array(payload.utf8))
        let slow = try JSONDecoder().decode(JournalEntryCodec.Wire.self, from: Data(payload.utf8))
        #expect(parsed.type == "event" && parsed.text == "yes")
        #expect(try FlatJSON.encode(parsed) == FlatJSON.encode(slow))
    }

    @Test(arguments: [
        #"{"time":1}"#, #"{"type":"event"}"#, #"{"type":1,"time":1}"#, #"{"type":"x","time":"1"}"#,
        #"{"type":"x","time":1,"seq":-1}"#, #"{"type":"x","time":1,"fields":["a"]}"#, #"{"type":"x","time":1,"room":5}"#,
        #"{"type":"x","time":1} x"#, #"{"type":"x","time":1"#, #"{"type":"x","time":1,"room":"a"#, #"{"type":"x",time:1}"#,
        #"{"type":"x","time":1,"future":{"a":1}}"#, #"["type","x"]"#, "",
    ])
    func readerRefusesWrongShapes(_ text: String) {
        #expect(throws: (any Error).self) { try JournalEntryCodec.Wire(parsing: Array(text.utf8)) }
    }
}
