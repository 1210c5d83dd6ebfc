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

    /// Under approval a refused first JOIN leaves one request; APPROVE, DENY or joining ends it, and
    /// only approval takes requests.
    @Test func joinRequestsAreTakenOnceUnderApprovalAndEnded() throws {
        var state = ClusterState(definition: definition)
        let general = RoomName(cluster: "rural", room: "general")
        #expect(state.joinRequest(account: "hull-food", timeMillis: 1) == nil)   // open: nothing to ask
        try state.apply(.membershipPolicy(cluster: "rural", policy: .approval, by: "fac", timeMillis: 1))
        #expect(state.joinRefusal(account: "hull-food", moderates: false, invitedHere: false)?.code == .forbidden)
        #expect(state.joinRefusal(account: "hull-food", moderates: false, invitedHere: true) == nil)
        let request = try #require(state.joinRequest(account: "hull-food", timeMillis: 5))
        try state.apply(request)
        #expect(state.joinRequest(account: "hull-food", timeMillis: 6) == nil)   // once
        #expect(state.joinRefusal(account: "hull-food", moderates: false, invitedHere: false)?.message.contains("waiting") == true)
        try state.apply(try #require(state.joinRequest(account: "york-mind", timeMillis: 4)))
        #expect(state.orderedJoinRequests.map(\.account) == ["york-mind", "hull-food"])   // oldest first

        guard case .success(.record(let denied)) = state.prepare(.deny(account: "hull-food"), by: "fac", timeMillis: 7) else {
            Issue.record("DENY of a waiting request refused")
            return
        }
        try state.apply(denied)
        #expect(state.orderedJoinRequests.map(\.account) == ["york-mind"])
        guard case .failure(let again) = state.prepare(.deny(account: "hull-food"), by: "fac", timeMillis: 8) else {
            Issue.record("DENY without a request accepted")
            return
        }
        #expect(again.code == .invalidState)
        guard case .success(.record(let approved)) = state.prepare(.approve(account: "york-mind"), by: "fac", timeMillis: 9) else {
            Issue.record("APPROVE refused")
            return
        }
        try state.apply(approved)
        #expect(state.orderedJoinRequests.isEmpty && state.clusterMembers.contains("york-mind"))
        #expect(state.joinRequest(account: "york-mind", timeMillis: 10) == nil)   // a member asks nothing
        // A request ends when the account joins (e.g. by a facilitator's invite), and the policy
        // closing stops new ones.
        try state.apply(try #require(state.joinRequest(account: "hull-food", timeMillis: 11)))
        try state.apply(.memberJoined(room: general, account: "hull-food", timeMillis: 12))
        #expect(state.orderedJoinRequests.isEmpty)
        try state.apply(.membershipPolicy(cluster: "rural", policy: .closed, by: "fac", timeMillis: 13))
        #expect(state.joinRequest(account: "leeds-aid", timeMillis: 14) == nil)
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
