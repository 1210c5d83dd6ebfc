import Testing
@testable import PartnerlineProtocol

@Suite("Names")
struct NamesTests {
    @Test func accountsClustersAndRoomParts() {
        let good = ["lincoln-womens-aid", "rural-east-midlands", "ab", "a1", "9z", "a-", String(repeating: "a", count: 32)]
        let bad = ["", "a", "-ab", "Ab", "a_b", "a b", "a.b", "é1", "a/b", String(repeating: "a", count: 33), "*server"]
        for name in good {
            #expect(Names.isValidAccount(name), "\(name)")
            #expect(Names.isValidCluster(name), "\(name)")
            #expect(Names.isValidRoomPart(name), "\(name)")
        }
        for name in bad {
            #expect(!Names.isValidAccount(name), "\(name)")
            #expect(!Names.isValidCluster(name), "\(name)")
            #expect(!Names.isValidRoomPart(name), "\(name)")
        }
    }

    @Test func tags() {
        for tag in ["q", "q7", "A.b_c-9", "-", "...", String(repeating: "Z", count: 32)] {
            #expect(Names.isValidTag(tag), "\(tag)")
        }
        for tag in ["", "a b", "a/b", "a=b", "@a", "é", String(repeating: "Z", count: 33)] {
            #expect(!Names.isValidTag(tag), "\(tag)")
        }
    }

    @Test func roomNames() {
        let room = RoomName("rural-east-midlands/purchasing")
        #expect(room?.cluster == "rural-east-midlands")
        #expect(room?.room == "purchasing")
        #expect(room?.description == "rural-east-midlands/purchasing")
        #expect(RoomName(cluster: "ab", room: "cd").description == "ab/cd")
        #expect(RoomName("ab/cd") == RoomName(cluster: "ab", room: "cd"))
        #expect(Set([RoomName("ab/cd")!, RoomName(cluster: "ab", room: "cd")]).count == 1)
        for bad in ["", "ab", "ab/", "/cd", "a/cd", "ab/c", "ab/cd/ef", "AB/cd", "ab//cd", "ab/cd ", "ab\\cd"] {
            #expect(RoomName(bad) == nil, "\(bad)")
        }
    }

    @Test func errorCodesAreStableUpperCaseWords() {
        #expect(ErrorCode.allCases.count == 20)  // the 19 of the spec, plus NO_SUCH_ACCOUNT
        for code in ErrorCode.allCases {
            #expect(code.rawValue.allSatisfy { ("A"..."Z").contains($0) || $0 == "_" })
        }
        #expect(ErrorCode.internal.rawValue == "INTERNAL")
        #expect(ErrorCode(rawValue: "PLAINTEXT_REFUSED") == .plaintextRefused)
    }
}
