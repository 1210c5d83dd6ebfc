import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
@testable import PartnerlineServer
import PartnerlineStore
import PartnerlineTestSupport
import Testing

/// Protocol 1.1 over real TLS: read markers (MARK, READ), paged HISTORY with more=, funding alerts
/// with a ref that arrive once, room changes seen live and in HISTORY, and resume on LOGIN.
/// Serialized: each test blocks a thread on sockets for a while, and the cooperative pool is one
/// thread per core; run one at a time, they leave the pool to the async tests of other suites.
@Suite(.serialized) struct ResumeProtocolTests {
    static let room = "rural-east-midlands/general"

    /// The seq of an EV line (tagged or not).
    static func seq(_ line: String) -> UInt64? {
        let words = TestClient.untagged(line).split(separator: " ")
        guard words.first == "EV", words.count > 2 else { return nil }
        return UInt64(words[2])
    }

    /// Reads lines until one starts with `prefix` (lines before it are returned too).
    /// boston-mind, a member of a rural room and a city room, comes back while the city shard is held
    /// busy: its LOGIN has attached to the rural room but cannot answer yet. Returns lincoln-aid's
    /// connection (joined to the rural room), the returning connection, and the semaphore that
    /// releases the city shard. `postBefore`: boston-mind said one line (seq 1) before it left.
    static func heldResume(_ server: InProcessServer, postBefore: Bool) throws
        -> (poster: TestClient, back: TestClient, hold: DispatchSemaphore) {
        let reader = try server.client()
        try reader.login("boston-mind")
        #expect(try reader.final("JOIN \(room)").hasPrefix("OK JOIN"))
        #expect(try reader.final("JOIN inner-city-north/general").hasPrefix("OK JOIN"))
        if postBefore { #expect(try reader.final("SAY \(room) before").hasPrefix("OK SAY")) }
        reader.close()
        let poster = try server.client()
        try poster.login("lincoln-aid")
        #expect(try poster.final("JOIN \(room)").hasPrefix("OK JOIN"))
        // The first connection is gone from the room (so "online" below can only be the new one).
        try waitForWho(poster, "* MEMBER boston-mind online=no :Org boston-mind")
        let city = try #require(server.service.context?.shard("inner-city-north"))
        let hold = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        city.queue.async {
            holding.signal()
            hold.wait()
        }
        holding.wait()
        let back = try server.client()
        try back.connection.send(line: "LOGIN boston-mind correct-horse-battery")
        // Wait until the rural shard has attached the new connection (WHO shows it online again).
        do {
            try waitForWho(poster, "* MEMBER boston-mind online=yes :Org boston-mind")
        } catch {
            hold.signal()
            throw error
        }
        return (poster, back, hold)
    }

    /// Asks WHO until its reply holds `line`; fails after 20 s instead of hanging.
    static func waitForWho(_ client: TestClient, _ line: String) throws {
        let deadline = Date().addingTimeInterval(20)
        while try !client.send("WHO \(room)").contains(line) {
            guard Date() < deadline else { throw TestFailure("WHO never showed \(line)") }
            usleep(1_000)
        }
    }

    static func read(_ client: TestClient, until prefix: String) throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try client.readLine()
            lines.append(line)
            if line.hasPrefix(prefix) { return lines }
        }
    }

    @Test func markOnOneConnectionArrivesAsReadOnTheOthers() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        var server: InProcessServer? = try InProcessServer(config)
        let phone = try server!.client()
        try phone.login("boston-mind")
        let laptop = try server!.client()
        try laptop.login("boston-mind", register: false)
        let stranger = try server!.client()
        try stranger.login("lincoln-aid")
        #expect(try stranger.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))

        // A JOIN on the phone attaches the laptop too: it receives the room's events live.
        #expect(try phone.final("JOIN \(Self.room)") == "OK JOIN room=\(Self.room) last=0")
        for n in 1...3 { #expect(try phone.final("SAY \(Self.room) message \(n)").hasPrefix("OK SAY")) }
        #expect(try Self.read(laptop, until: "EV \(Self.room) 3 ").count == 3)
        #expect(try laptop.final("SAY \(Self.room) from the laptop") == "OK SAY room=\(Self.room) seq=4")

        #expect(try phone.final("MARK \(Self.room) 2") == "OK MARK room=\(Self.room) read=2")
        let seen = try Self.read(laptop, until: "READ ")
        #expect(seen.last == "READ \(Self.room) 2")
        // Forward only: a lower seq changes nothing and tells no one.
        #expect(try phone.final("MARK \(Self.room) 1") == "OK MARK room=\(Self.room) read=2")
        #expect(try laptop.final("@p PING nothing between") == "@p OK PING :nothing between")
        #expect(try laptop.final("MARK \(Self.room) 4") == "OK MARK room=\(Self.room) read=4")
        #expect(try Self.read(phone, until: "READ ").last == "READ \(Self.room) 4")
        // Another account's connection never hears of it.
        #expect(try stranger.send("@s PING").filter { $0.hasPrefix("READ") }.isEmpty)

        // Refusals change nothing.
        #expect(errorCode(try phone.final("MARK \(Self.room) 5")) == "INVALID_STATE")
        #expect(errorCode(try phone.final("MARK \(Self.room) two")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK \(Self.room) -1")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK \(Self.room) 18446744073709551616")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK \(Self.room) 9223372036854775808")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK \(Self.room) 3 extra")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK \(Self.room)")) == "BAD_SYNTAX")
        #expect(errorCode(try phone.final("MARK rural-east-midlands/purchasing 1")) == "NOT_JOINED")
        #expect(errorCode(try phone.final("MARK nowhere/general 1")) == "NO_SUCH_CLUSTER")
        let anonymous = try server!.client()
        #expect(errorCode(try anonymous.final("MARK \(Self.room) 1")) == "AUTH_REQUIRED")

        // ROOMS shows read= for member rooms only.
        let rooms = try phone.send("ROOMS rural-east-midlands")
        #expect(rooms.contains("* ROOM \(Self.room) members=2 last=4 read=4 :Introductions"))
        #expect(rooms.contains("* ROOM rural-east-midlands/purchasing members=0 last=0 :Buy together"))

        // Durable: after a restart the marker comes back in * JOINED.
        for client in [phone, laptop, stranger, anonymous] { client.close() }
        server!.stop()
        server = try InProcessServer(config)
        let back = try server!.client()
        let login = try back.send("LOGIN boston-mind correct-horse-battery")
        #expect(login == ["* JOINED \(Self.room) last=4 read=4", "OK LOGIN account=boston-mind role=member rooms=1"])
        #expect(try back.final("MARK \(Self.room) 3") == "OK MARK room=\(Self.room) read=4")

        // PART on one connection ends the membership for all of them.
        let other = try server!.client()
        #expect(try other.send("@l LOGIN boston-mind correct-horse-battery").first == "@l * JOINED \(Self.room) last=4 read=4")
        #expect(try back.final("PART \(Self.room)") == "OK PART room=\(Self.room)")
        #expect(errorCode(try other.final("SAY \(Self.room) still here?")) == "NOT_JOINED")
        #expect(try other.send("LOGIN boston-mind correct-horse-battery").last?.hasPrefix("ERR INVALID_STATE") == true)
        let third = try server!.client()
        #expect(try third.send("LOGIN boston-mind correct-horse-battery") == ["OK LOGIN account=boston-mind role=member rooms=0"])
    }

    /// Live lines that arrive while LOGIN is still resuming go out after `OK LOGIN`, never before the
    /// `* JOINED` lines nor lost. The second cluster's shard is held busy, so LOGIN has attached to the
    /// first cluster's room but cannot answer yet while a post lands there.
    @Test func liveLinesDuringResumeFollowTheOK() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let (poster, back, hold) = try Self.heldResume(server, postBefore: true)
        #expect(try poster.final("SAY \(Self.room) during the resume") == "OK SAY room=\(Self.room) seq=2")
        hold.signal()
        let lines = try Self.read(back, until: "EV ")
        #expect(lines.count == 4, "\(lines)")
        #expect(lines[0] == "* JOINED \(Self.room) last=1 read=0")
        #expect(lines[1] == "* JOINED inner-city-north/general last=0 read=0")
        #expect(lines[2] == "OK LOGIN account=boston-mind role=member rooms=2")
        #expect(lines[3].hasPrefix("EV \(Self.room) 2 ") && lines[3].hasSuffix(" lincoln-aid SAY :during the resume"))
    }

    /// Lines held during a resume count against the outbound bound: a connection whose LOGIN is held
    /// up while more than that arrives is cut off as a slow consumer at once, not buffered without end.
    @Test func heldLinesAreBounded() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path, extraLimits: "  max_outbound_bytes: 16384"))
        let (poster, back, hold) = try Self.heldResume(server, postBefore: false)
        defer { hold.signal() }   // also if a read below fails (a second signal is harmless)
        let text = String(repeating: "x", count: 1000)
        for n in 1...20 { #expect(try poster.final("SAY \(Self.room) \(n) \(text)").hasPrefix("OK SAY")) }
        // Cut off while still held, at the bound, not once LOGIN could answer.
        let lines = try Self.read(back, until: "BYE ")
        hold.signal()
        #expect(lines.last?.hasPrefix("BYE SLOW_CONSUMER") == true, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("EV ") }, "nothing held went out")
        withExtendedLifetime(server) {}
    }

    @Test(.timeLimit(.minutes(3))) func historyPagesWalkTwoThousandEventsBothWays() throws {
        let dir = TempDir()
        var config = TestConfig.make(dataDir: dir.path)
        config.journal.historyWindow = 100   // most pages come from the journal, some from memory
        let server = try InProcessServer(config)
        let client = try server.client()
        try client.login("boston-mind")
        #expect(try client.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))
        // Pipelined posts, 100 at a time.
        for chunk in 0..<20 {
            for n in 1...100 { try client.connection.send(line: "SAY \(Self.room) post \(chunk * 100 + n)") }
            for _ in 1...100 { #expect(try client.readReply().last?.hasPrefix("OK SAY") == true) }
        }
        func page(_ options: String) throws -> (seqs: [UInt64], more: String) {
            let reply = try client.send("@h HISTORY \(Self.room) \(options)")
            let last = reply.last!
            #expect(last.hasPrefix("@h OK HISTORY room=\(Self.room) count=\(reply.count - 1) more="), "\(last)")
            return (reply.dropLast().compactMap(Self.seq), String(last.split(separator: "=").last!))
        }
        for limit in [137, 500] {
            var forwards: [UInt64] = []
            var after: UInt64 = 0
            var pages = 0
            while true {
                let (seqs, more) = try page("after=\(after) limit=\(limit)")
                forwards += seqs
                pages += 1
                guard more == "yes" else { break }
                after = seqs.last!
            }
            #expect(forwards == Array(1...2000), "forwards, limit \(limit)")
            #expect(pages == (2000 + limit - 1) / limit)

            var backwards: [UInt64] = []
            var before = ""
            while true {
                let (seqs, more) = try page("\(before)limit=\(limit)")
                #expect(seqs == seqs.sorted(), "each page is oldest first")
                backwards = seqs + backwards
                guard more == "yes" else { break }
                before = "before=\(seqs.first!) "
            }
            #expect(backwards == Array(1...2000), "backwards, limit \(limit)")
        }
        // A resume's gap: forwards between two bounds, more=no exactly at the end of the bounds.
        #expect(try page("after=1000 before=1201 limit=100") == (Array(1001...1100), "yes"))
        #expect(try page("after=1100 before=1201 limit=100") == (Array(1101...1200), "no"))
        #expect(try page("after=2000") == ([], "no"))
    }

    @Test func aFundingAlertWithAKnownRefIsPostedOnceAlsoAfterARestart() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: nil)
        var server: InProcessServer? = try InProcessServer(config)
        let admin = try server!.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        #expect(try admin.final("REGISTER grants-bot correct-horse-battery").hasPrefix("OK REGISTER"))
        #expect(try admin.final("GRANT grants-bot bot").hasPrefix("OK GRANT"))
        for room in ["rural-east-midlands/purchasing", "inner-city-north/general"] {
            #expect(try admin.final("JOIN \(room)").hasPrefix("OK JOIN"))
        }
        let member = try server!.client()
        try member.login("boston-mind")
        #expect(try member.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))
        let bot = try server!.client()
        try bot.login("grants-bot", register: false, role: "bot")
        #expect(try bot.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))

        let post = "FUNDING \(Self.room) funder=\"National Lottery Community Fund\" amount=10000 ref=\"lottery feed guid 42\" Community transport"
        let first = try bot.send(post)
        #expect(first.last == "OK FUNDING id=F1 seq=1")
        #expect(first.first?.hasSuffix(" grants-bot FUNDING id=F1 funder=\"National Lottery Community Fund\" amount=10000 ref=\"lottery feed guid 42\" :Community transport") == true)
        #expect(try Self.read(member, until: "EV ").last?.contains(" ref=\"lottery feed guid 42\" ") == true)
        // The same ref again, even with other values and in another room of the cluster: nothing stored.
        #expect(try bot.send(post) == ["OK FUNDING id=F1 seq=1 duplicate=yes"])
        #expect(try admin.send("FUNDING rural-east-midlands/purchasing funder=Other ref=\"lottery feed guid 42\" Again") == ["OK FUNDING id=F1 seq=1 duplicate=yes"])
        // Another cluster has its own refs.
        #expect(try admin.final("FUNDING inner-city-north/general funder=Other ref=\"lottery feed guid 42\" City") == "OK FUNDING id=F2 seq=1")
        #expect(try member.send("@p PING").filter { $0.contains("EV ") }.isEmpty, "no EV for a duplicate")
        #expect(try member.final("HISTORY \(Self.room)") == "OK HISTORY room=\(Self.room) count=1 more=no")
        #expect(try member.send("LIST \(Self.room) funding").first == "* ITEM F1 \(Self.room) status=open by=grants-bot funder=\"National Lottery Community Fund\" amount=10000 ref=\"lottery feed guid 42\" :Community transport")
        // A bad ref changes nothing.
        #expect(errorCode(try bot.final("FUNDING \(Self.room) funder=X ref=\"\" Empty ref")) == "BAD_SYNTAX")
        #expect(errorCode(try bot.final("FUNDING \(Self.room) funder=X ref=\(String(repeating: "r", count: 201)) Long ref")) == "BAD_SYNTAX")
        #expect(errorCode(try bot.final("NEED \(Self.room) ref=abc Chairs")) == "BAD_SYNTAX")

        // STATUS on an alert: its poster, a facilitator or an admin; closed/open only.
        #expect(errorCode(try member.final("STATUS F1 closed")) == "FORBIDDEN")
        #expect(errorCode(try bot.final("STATUS F1 won")) == "BAD_SYNTAX")
        #expect(try bot.final("STATUS F1 closed Deadline moved up") == "OK STATUS id=F1 room=\(Self.room) seq=2")
        #expect(errorCode(try bot.final("STATUS F1 closed")) == "INVALID_STATE")
        #expect(try admin.final("STATUS F1 open") == "OK STATUS id=F1 room=\(Self.room) seq=3")

        // After a restart the ref index is rebuilt from the journal.
        for client in [admin, member, bot] { client.close() }
        server!.stop()
        server = try InProcessServer(config)
        let botAgain = try server!.client()
        try botAgain.login("grants-bot", register: false, role: "bot")
        #expect(try botAgain.send(post).last == "OK FUNDING id=F1 seq=1 duplicate=yes")
        #expect(try botAgain.final("HISTORY \(Self.room)") == "OK HISTORY room=\(Self.room) count=3 more=no")
        #expect(try botAgain.final("FUNDING \(Self.room) funder=X ref=new-one New").hasPrefix("OK FUNDING id=F3 seq=4"))
    }

    @Test func topicAndMuteArriveLiveAndStayInHistory() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: nil)
        var server: InProcessServer? = try InProcessServer(config)
        let admin = try server!.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN"))
        let member = try server!.client()
        try member.login("boston-mind")
        #expect(try member.final("JOIN \(Self.room)") == "OK JOIN room=\(Self.room) last=0")

        #expect(try admin.final("TOPIC \(Self.room) News and introductions") == "OK TOPIC room=\(Self.room)")
        #expect(try admin.final("MUTE \(Self.room) boston-mind Too many adverts") == "OK MUTE room=\(Self.room) account=boston-mind")
        #expect(try admin.final("UNMUTE \(Self.room) boston-mind") == "OK UNMUTE room=\(Self.room) account=boston-mind")
        let live = try Self.read(member, until: "EV \(Self.room) 3 ")
        #expect(live.count == 3)
        #expect(live[0].hasPrefix("EV \(Self.room) 1 ") && live[0].hasSuffix(" root-admin TOPIC :News and introductions"))
        #expect(live[1].hasSuffix(" root-admin MUTE account=boston-mind :Too many adverts"))
        #expect(live[2].hasSuffix(" root-admin UNMUTE account=boston-mind"))
        #expect(try member.final("SAY \(Self.room) Sorry") == "OK SAY room=\(Self.room) seq=4")

        let newRoom = "rural-east-midlands/minibus-pool"
        #expect(try admin.final("NEWROOM \(newRoom) Sharing minibuses") == "OK NEWROOM room=\(newRoom)")
        #expect(try member.final("JOIN \(newRoom)") == "OK JOIN room=\(newRoom) last=1")

        // Identical in HISTORY, and after a restart.
        let history = try member.send("HISTORY \(Self.room)")
        #expect(Array(history.prefix(3)) == live)
        let roomHistory = try member.send("HISTORY \(newRoom)")
        #expect(roomHistory.count == 2 && roomHistory[0].hasSuffix(" root-admin ROOM :Sharing minibuses"))
        for client in [admin, member] { client.close() }
        server!.stop()
        server = try InProcessServer(config)
        let again = try server!.client()
        let login = try again.send("LOGIN boston-mind correct-horse-battery")
        #expect(login == ["* JOINED \(Self.room) last=4 read=0", "* JOINED \(newRoom) last=1 read=0",
                          "OK LOGIN account=boston-mind role=member rooms=2"])
        #expect(try again.send("HISTORY \(Self.room)") == history)
        #expect(try again.send("ROOMS rural-east-midlands").contains("* ROOM \(newRoom) members=1 last=1 read=0 :Sharing minibuses"))
    }

    /// A data dir written before protocol 1.1 (room, topic, mute records instead of events) starts,
    /// keeps what those records said, and new room changes follow as events.
    @Test func aJournalWithTheOldModerationRecordsStillReplays() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        let (journal, _) = try Journal.open(directory: DataDirectory.clusterPath(dir.path, cluster: "rural-east-midlands"),
                                            options: JournalOptions()) { _ in }
        let old = [
            #"{"by":"fac","room":"rural-east-midlands/minibus-pool","text":"Sharing minibuses","time":1,"type":"room"}"#,
            #"{"by":"fac","room":"rural-east-midlands/general","text":"Old topic","time":2,"type":"topic"}"#,
            #"{"account":"boston-mind","by":"fac","room":"rural-east-midlands/general","text":"adverts","time":3,"type":"mute"}"#,
        ]
        let written = DispatchSemaphore(value: 0)
        journal.appendBatch(old.map { Array($0.utf8) }) { result in
            #expect((try? result.get()) != nil)
            written.signal()
        }
        written.wait()
        journal.close()

        let server = try InProcessServer(config)
        let client = try server.client()
        try client.login("boston-mind")
        let rooms = try client.send("ROOMS rural-east-midlands")
        #expect(rooms.contains("* ROOM rural-east-midlands/general members=0 last=0 :Old topic"))
        #expect(rooms.contains("* ROOM rural-east-midlands/minibus-pool members=0 last=0 :Sharing minibuses"))
        #expect(try client.final("JOIN \(Self.room)").hasPrefix("OK JOIN"))
        #expect(errorCode(try client.final("SAY \(Self.room) still muted")) == "FORBIDDEN")
    }

    /// Two FUNDINGs with one ref in the same group-commit batch: the first is stored, the second
    /// answers with it once it is durable. (A post in flight holds the batch open: the shard queue is
    /// blocked while the three writes are queued, so the two alerts are judged in one batch.)
    @Test func twoAlertsWithOneRefInOneBatchStoreOne() throws {
        let dir = TempDir()
        let room = RoomName(cluster: "rural", room: "funding")
        let (journal, _) = try Journal.open(directory: dir.path + "/rural", options: JournalOptions()) { _ in }
        var state = ClusterState(definition: ClusterDefinition(name: "rural", description: "", rooms: [.init(name: "funding", topic: "")]))
        try state.apply(.memberJoined(room: room, account: "a-bot", timeMillis: 1))
        let shard = ClusterShard(state: state, journal: journal)
        let results = ResultBox()
        let answered = DispatchGroup()
        func alert(_ number: UInt64) -> ItemAction {
            .create(ItemDraft(id: ItemID(kind: .funding, number: number), room: room, text: "Fund \(number)", funder: "Trust", ref: "guid-1"))
        }
        answered.enter()
        answered.enter()
        answered.enter()
        answered.enter()
        shard.queue.sync {
            shard.post(room: room, actor: "a-bot", kind: "SAY", text: "holds the batch", replyQueue: DispatchQueue(label: "reply")) { _ in answered.leave() }
            shard.items(alert(1), actor: "a-bot", moderates: false) { results.add("1", $0); answered.leave() }
            shard.items(alert(2), actor: "a-bot", moderates: false) { results.add("2", $0); answered.leave() }
            shard.mark(room: room, account: "a-bot", seq: 1) { _ in answered.leave() }
        }
        answered.wait()
        #expect(results.get("1") == "stored F1 seq=2")
        #expect(results.get("2") == "duplicate F1 seq=2")
        shard.drain()
        journal.close()
        var kinds: [String] = []
        let (reopened, _) = try Journal.open(directory: dir.path + "/rural", options: JournalOptions()) { payload in
            if case .event(let event) = try JournalEntryCodec.decode(payload) { kinds.append(event.kind) }
        }
        reopened.close()
        #expect(kinds == ["SAY", "FUNDING"])
    }

    /// Marks judged in one batch: a lower one behind a higher one in flight answers with the higher
    /// marker once that is durable, and stores nothing.
    @Test func marksInOneBatchMoveOnlyForward() throws {
        let dir = TempDir()
        let room = RoomName(cluster: "rural", room: "general")
        let (journal, _) = try Journal.open(directory: dir.path + "/rural", options: JournalOptions()) { _ in }
        var state = ClusterState(definition: ClusterDefinition(name: "rural", description: "", rooms: [.init(name: "general", topic: "")]))
        try state.apply(.memberJoined(room: room, account: "a", timeMillis: 1))
        for seq in 1...5 as ClosedRange<UInt64> {
            try state.apply(.event(StoredEvent(room: room, seq: seq, timeMillis: 1, actor: "a", kind: "SAY", text: "m")))
        }
        let shard = ClusterShard(state: state, journal: journal)
        let marks = ResultBox()
        let answered = DispatchGroup()
        for _ in 1...4 { answered.enter() }
        shard.queue.sync {
            shard.post(room: room, actor: "a", kind: "SAY", text: "holds the batch", replyQueue: DispatchQueue(label: "reply")) { _ in answered.leave() }
            for (name, seq) in [("4", 4), ("2", 2), ("5", 5)] as [(String, UInt64)] {
                shard.mark(room: room, account: "a", seq: seq) { result in
                    marks.add(name, result.map { "read=\($0.read) moved=\($0.moved)" })
                    answered.leave()
                }
            }
        }
        answered.wait()
        #expect(marks.get("4") == "read=4 moved=true")
        #expect(marks.get("2") == "read=5 moved=false")
        #expect(marks.get("5") == "read=5 moved=true")
        shard.drain()
        journal.close()
    }

    /// Resume over the real binary: a reader keeps the last seq it saw, the server is restarted with
    /// SIGKILL and then SIGTERM while another client keeps posting, and after each restart the reader
    /// logs in again, gets `* JOINED` with the room's last seq, fills the gap with HISTORY pages and
    /// takes the live lines after. In the end it has every event exactly once and in order.
    @Test(.timeLimit(.minutes(4))) func aReaderResumesAcrossRestartsWithoutGapsOrRepeats() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let configPath = TestConfig.yamlFile(in: dir.path, dataDir: dataDir)
        let room = Self.room
        var server = try ServerProcess(config: configPath, logDir: dir.path)
        let reader = try TestClient(port: server.tlsPort, tls: true)
        try reader.login("boston-mind")
        #expect(try reader.final("JOIN \(room)") == "OK JOIN room=\(room) last=0")
        let poster = Poster(account: "lincoln-aid", room: room)
        poster.start(port: server.tlsPort, register: true)

        var got: [(UInt64, String)] = []   // (seq, line) in the order the reader received them
        var kept: UInt64 = 0
        func take(_ line: String) {
            guard let seq = Self.seq(line) else { return }
            let untagged = String(TestClient.untagged(line))
            got.append((seq, untagged))
            kept = max(kept, seq)
        }
        /// Reads live lines until `count` more events arrived, or the connection ends.
        func readLive(_ client: TestClient, events count: Int) {
            var seen = 0
            while seen < count, let line = try? client.readLine() {
                if Self.seq(line) != nil { seen += 1 }
                take(line)
            }
        }
        var current = reader
        var filledFromHistory = 0
        for signal in [SIGKILL, SIGTERM, SIGKILL] {
            readLive(current, events: 40)
            if signal == SIGKILL { server.kill9() } else { #expect(server.stop(signal: SIGTERM) == 0) }
            readLive(current, events: Int.max)   // whatever was still on its way, up to the close
            current.close()
            server = try ServerProcess(config: configPath, logDir: dir.path)
            poster.start(port: server.tlsPort, register: false)
            // Away for a while: events are posted that the reader must get from HISTORY.
            poster.waitForPosts(10)

            // Come back: LOGIN resumes the room; fill kept+1...last from HISTORY, page by page.
            let client = try TestClient(port: server.tlsPort, tls: true)
            let login = try client.send("@l LOGIN boston-mind correct-horse-battery")
            #expect(login.last == "@l OK LOGIN account=boston-mind role=member rooms=1", "\(login)")
            let joined = login.first { $0.hasPrefix("@l * JOINED \(room) last=") }
            let last = try #require(joined.flatMap { UInt64($0.split(separator: "=")[1].split(separator: " ")[0]) })
            #expect(last >= kept, "the restarted server has every event the reader saw")
            // JOIN of a room one is in just answers OK JOIN again.
            var live: [String] = []
            let again = try client.send("@j JOIN \(room)")
            live += again.filter { $0.hasPrefix("EV ") }
            #expect(again.last?.hasPrefix("@j OK JOIN room=\(room) last=") == true)
            var after = kept
            while after < last {
                let page = try client.send("@h HISTORY \(room) after=\(after) before=\(last + 1) limit=7")
                live += page.filter { $0.hasPrefix("EV ") }   // live lines (untagged) keep coming meanwhile
                let lines = page.filter { $0.hasPrefix("@h EV ") }
                lines.forEach(take)
                filledFromHistory += lines.count
                let more = page.last?.hasSuffix("more=yes") == true
                #expect(page.last?.hasPrefix("@h OK HISTORY room=\(room) count=\(lines.count) more=") == true)
                guard let highest = lines.last.flatMap(Self.seq) else { break }
                after = highest
                if !more { break }
            }
            #expect(after == last)
            live.forEach(take)
            current = client
        }
        readLive(current, events: 40)
        poster.stop()   // returns once its last post is answered
        // Drain: the reader catches up with the newest stored event.
        let tail = try current.send("@f HISTORY \(room) limit=1")
        tail.filter { $0.hasPrefix("EV ") }.forEach(take)
        let final = try #require(tail.first { $0.hasPrefix("@f EV ") }.flatMap(Self.seq))
        while kept < final {
            take(try current.readLine())
        }
        let seqs = got.map(\.0)
        #expect(seqs == Array(1...final), "every event exactly once, in order")
        // And each line is the stored one.
        var stored: [String] = []
        var from: UInt64 = 0
        while from < final {
            let page = try current.send("@s HISTORY \(room) after=\(from) limit=500").filter { $0.hasPrefix("@s EV ") }
            stored += page.map { String(TestClient.untagged($0)) }
            from = Self.seq(page.last!)!
        }
        #expect(got.map(\.1) == stored)
        #expect(poster.restarts >= 3, "the poster posted across every restart")
        #expect(filledFromHistory > 0, "some events were missed while away and came from HISTORY")
        #expect(final > 160, "the poster kept posting: \(final) events")
        current.close()
        _ = server.stop(signal: SIGTERM)
    }
}

/// Completions that arrive on other queues, by name.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: String] = [:]

    func add(_ name: String, _ result: Result<ItemOutcome, DomainError>) {
        let text = switch result {
        case .success(.stored(let events)): "stored \(events[0].field("id") ?? "") seq=\(events[0].seq)"
        case .success(.duplicate(let item)): "duplicate \(item.id) seq=\(item.seq)"
        case .failure(let error): "\(error)"
        }
        lock.withLock { values[name] = text }
    }

    func add(_ name: String, _ result: Result<String, DomainError>) {
        lock.withLock { values[name] = (try? result.get()) ?? "\(result)" }
    }

    func get(_ name: String) -> String? { lock.withLock { values[name] } }
}

/// Posts to a room from its own thread until stopped; reconnects after each restart (`start`).
private final class Poster: @unchecked Sendable {
    let account: String
    let room: String
    private let lock = NSLock()
    private var stopped = false
    private var starts = 0
    /// Posts acknowledged since the last `start`.
    private var acknowledged = 0
    private var running: DispatchSemaphore?

    init(account: String, room: String) {
        self.account = account
        self.room = room
    }

    var restarts: Int { lock.withLock { starts } }
    private var isStopped: Bool { lock.withLock { stopped } }

    /// Connects to the server on `port` and posts until the connection ends or `stop()`.
    func start(port: Int, register: Bool) {
        lock.withLock {
            starts += 1
            acknowledged = 0
        }
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let client = try? TestClient(port: port, tls: true) else { return }
            defer { client.close() }
            if register { _ = try? client.send("REGISTER \(account) correct-horse-battery") }
            guard (try? client.final("LOGIN \(account) correct-horse-battery"))?.hasPrefix("OK LOGIN") == true,
                  (try? client.final("JOIN \(room)"))?.hasPrefix("OK JOIN") == true
            else { return }
            var n = 0
            while !isStopped {
                n += 1
                guard (try? client.final("SAY \(room) post \(n) after start \(restarts)"))?.hasPrefix("OK SAY") == true else { return }
                lock.withLock { acknowledged += 1 }
            }
        }
        lock.withLock { running = done }
        thread.start()
        // The thread ends by itself when the server goes away; `stop()` waits for the last one.
    }

    /// Waits until `count` posts were acknowledged since the last start (polls; the test's time limit bounds it).
    func waitForPosts(_ count: Int) {
        while lock.withLock({ acknowledged }) < count { usleep(2_000) }
    }

    func stop() {
        let last = lock.withLock { () -> DispatchSemaphore? in
            stopped = true
            return running
        }
        last?.wait()
    }
}
