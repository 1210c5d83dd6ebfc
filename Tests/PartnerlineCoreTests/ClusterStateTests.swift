import PartnerlineCore
import PartnerlineProtocol
import Testing

struct ClusterStateTests {
    let definition = ClusterDefinition(name: "rural", description: "Rural", rooms: [
        .init(name: "general", topic: "Hello"), .init(name: "funding", topic: "Money"),
    ])

    @Test func roomsComeFromTheDefinitionInOrder() {
        let state = ClusterState(definition: definition)
        #expect(state.orderedRooms.map(\.name.room) == ["general", "funding"])
        #expect(state.room(RoomName(cluster: "rural", room: "funding"))?.topic == "Money")
        #expect(state.room(RoomName(cluster: "other", room: "funding")) == nil)
    }

    @Test func foldsEventsAndMembership() throws {
        var state = ClusterState(definition: definition)
        let general = RoomName(cluster: "rural", room: "general")
        try state.apply(.memberJoined(room: general, account: "boston-mind", timeMillis: 1))
        try state.apply(.memberJoined(room: general, account: "lincoln-aid", timeMillis: 2))
        try state.apply(.event(StoredEvent(room: general, seq: 1, timeMillis: 3, actor: "boston-mind", kind: "SAY", text: "hi")))
        try state.apply(.memberLeft(room: general, account: "boston-mind", timeMillis: 4))
        let room = try #require(state.room(general))
        #expect(room.members == ["lincoln-aid"])
        #expect(room.lastSeq == 1)
        #expect(room.lastTimeMillis == 3)
    }

    @Test func keepsHistoryOfARoomNoLongerConfigured() throws {
        var state = ClusterState(definition: definition)
        let old = RoomName(cluster: "rural", room: "archive")
        try state.apply(.event(StoredEvent(room: old, seq: 1, timeMillis: 1, actor: "a", kind: "SAY", text: "kept")))
        #expect(state.room(old)?.lastSeq == 1)
        #expect(state.orderedRooms.map(\.name.room) == ["general", "funding", "archive"])
    }

    @Test func refusesRecordsOfAnotherCluster() {
        var state = ClusterState(definition: definition)
        #expect(throws: ReplayError.self) {
            try state.apply(.memberJoined(room: RoomName(cluster: "city", room: "general"), account: "a", timeMillis: 1))
        }
    }
}
