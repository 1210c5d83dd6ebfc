import Foundation
import Testing
@testable import PartnerlineTerminal

/// Feeds server lines; returns what the model sends.
@discardableResult
func feed(_ model: inout ChatModel, _ lines: String...) -> [Outgoing] {
    lines.flatMap { model.receive(IncomingLine($0)!) }
}

func ev(_ room: String, _ seq: Int, _ actor: String = "bob", _ rest: String = "SAY :hi", tag: String? = nil) -> String {
    (tag.map { "@\($0) " } ?? "") + "EV \(room) \(seq) 2026-11-25T10:00:0\(seq % 10).000Z \(actor) \(rest)"
}

func submitted(_ model: inout ChatModel, _ input: String) -> [String] {
    model.submit(input).map(\.line)
}

@Suite struct IncomingLineTests {
    @Test func quotedValuesTagsAndText() {
        let line = IncomingLine(#"@t7 EV r/f 1 2026-11-25T11:18:15.379Z bot FUNDING id=F1 funder="National Lottery \"Community\" Fund" amount=50000 url=https://x.org/a?b=c :Rural transport: now"#)!
        #expect(line.tag == "t7")
        #expect(line.word == "EV")
        #expect(line.arguments == ["r/f", "1", "2026-11-25T11:18:15.379Z", "bot", "FUNDING"])
        #expect(line.options["funder"] == #"National Lottery "Community" Fund"#)
        #expect(line.options["url"] == "https://x.org/a?b=c")
        #expect(line.text == "Rural transport: now")
        #expect(IncomingLine("OK JOIN room=a/b last=4")!.options == ["room": "a/b", "last": "4"])
        #expect(IncomingLine("") == nil)
    }

    @Test func timestampsAreUTC() {
        let date = Timestamps.parse("2026-11-25T10:54:15.795Z")!
        #expect(abs(date.timeIntervalSince1970 - 1_795_604_055.795) < 0.001)
        #expect(Timestamps.parse("not a time") == nil)
    }
}

@Suite struct ChatModelTests {
    @Test func joinOpensAWindowAndFetchesTheNewestPage() {
        var model = ChatModel(account: "me")
        let join = model.submit("/join c/general")
        #expect(join.map(\.line) == ["JOIN c/general"])
        let fetch = feed(&model, "@\(join[0].tag) OK JOIN room=c/general last=120")
        #expect(model.currentWindow.name == "c/general")
        #expect(fetch.map(\.line) == ["HISTORY c/general before=121 limit=50", "ROOMS c"])
        feed(&model, "@\(fetch[1].tag) * ROOM c/general members=3 last=120 :News and introductions",
             "@\(fetch[1].tag) * ROOM c/other members=1 last=0 :Elsewhere", "@\(fetch[1].tag) OK ROOMS count=2")
        #expect(model.currentWindow.topic == "News and introductions")
        #expect(model.knownRooms.contains("c/other"))
        // The page arrives; nothing more is asked (later events come from the session).
        let lines = (71...120).map { ev("c/general", $0, tag: fetch[0].tag) }
        for line in lines { feed(&model, line) }
        #expect(feed(&model, "@\(fetch[0].tag) OK HISTORY room=c/general count=50").isEmpty)
        #expect(model.currentWindow.lines.count == 50)
    }

    @Test func eventsLandInTheirWindowWithUnreadCounts() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0", "* JOINED c/purchasing last=0 read=0")
        model.select(named: "general")
        feed(&model, ev("c/purchasing", 1), ev("c/purchasing", 2), ev("c/general", 1))
        let purchasing = model.windows[model.index(of: "c/purchasing")!]
        #expect(purchasing.unread == 2)
        #expect(purchasing.lines.count == 2)
        // Reading the shown window sends one MARK, and only once.
        let marks = model.takeMarks()
        #expect(marks.map(\.line) == ["MARK c/general 1"])
        let second = model.takeMarks()
        #expect(second.isEmpty)
        // Another device read purchasing: the count agrees.
        feed(&model, "READ c/purchasing 2")
        #expect(model.windows[model.index(of: "c/purchasing")!].unread == 0)
    }

    @Test func unreadFromTheReadMarkerAtLogin() {
        var model = ChatModel(account: "me")
        let fetch = feed(&model, "* JOINED c/general last=9 read=6")
        #expect(model.windows[1].unread == 3)
        #expect(fetch.count == 1)
    }

    @Test func windowSwitching() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/b last=0 read=0", "* JOINED c/a last=0 read=0")
        #expect(model.windows.map(\.name) == ["server", "c/a", "c/b"])
        let third = model.select(named: "3")
        #expect(third)
        #expect(model.currentWindow.name == "c/b")
        model.selectNext()
        #expect(model.current == 0)
        model.selectPrevious()
        #expect(model.currentWindow.name == "c/b")
        let byShortName = model.select(named: "a")
        let nowhere = model.select(named: "nowhere")
        #expect(byShortName && !nowhere)
        _ = model.submit("/win 1")
        #expect(model.current == 0)
    }

    /// Catch-up is the session's (it delivers the missed events, once each and in order): after a
    /// drop the model asks for nothing again; it shows away and back, and the unread counts.
    @Test func awayAndBackAskForNothingAndTheLoginLinesUpdateTheCounts() {
        var model = ChatModel(account: "me")
        model.connectionEstablished(reconnect: false)
        feed(&model, "* JOINED c/general last=0 read=0")
        for seq in 1...3 { feed(&model, ev("c/general", seq)) }
        model.connectionLost(reason: "connection reset", retrySeconds: 1)
        #expect(model.status == .away(reason: "connection reset", retrySeconds: 1))
        #expect(model.windows[1].lines.last?.text.contains("disconnected (connection reset)") == true)
        model.connectionEstablished(reconnect: true)
        #expect(model.status == .online)
        #expect(model.windows[1].lines.last?.text == "reconnected")
        // The session's JOINED line after the new LOGIN: no page asked (the window holds events).
        #expect(feed(&model, "* JOINED c/general last=8 read=3").isEmpty)
        #expect(model.windows[1].unread == 5)
        for seq in 4...8 { feed(&model, ev("c/general", seq)) }
        #expect(model.windows[1].lines.compactMap(\.seq) == Array(1...8))
    }

    @Test func theOpeningPageIsAskedOnceAWindow() {
        var model = ChatModel(account: "me")
        let first = feed(&model, "* JOINED c/general last=40 read=40")
        #expect(first.map(\.line) == ["HISTORY c/general before=41 limit=50"])
        // A new LOGIN before the page came: not asked twice.
        #expect(feed(&model, "* JOINED c/general last=41 read=40").isEmpty)
        // A room empty at login fills from the session's events, not from a page.
        #expect(feed(&model, "* JOINED c/quiet last=0 read=0").isEmpty)
        #expect(feed(&model, "* JOINED c/quiet last=2 read=0").isEmpty)
    }

    @Test func aResetRoomIsSaidSoAndStartsAgain() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0")
        for seq in 1...5 { feed(&model, ev("c/general", seq)) }
        let page = model.roomReset("c/general", keptSeq: 5, serverLast: 2)
        let window = model.windows[1]
        #expect(window.lines.contains { $0.text.contains("reset on the server: its newest event is 2, this window had 5") })
        #expect(window.lines.compactMap(\.seq).isEmpty)
        #expect(window.lastSeq == 2)
        #expect(page.map(\.line) == ["HISTORY c/general before=3 limit=50"])
        for seq in 1...2 { feed(&model, ev("c/general", seq, tag: page[0].tag)) }
        feed(&model, ev("c/general", 3))
        #expect(model.windows[1].lines.compactMap(\.seq) == [1, 2, 3])
        #expect(model.roomReset("c/nowhere", keptSeq: 1, serverLast: 0).isEmpty)
    }

    @Test func highlightsAndBellForYourNameAndYourMatches() {
        var model = ChatModel(account: "lincoln-aid")
        feed(&model, "* JOINED c/general last=0 read=0")
        feed(&model, ev("c/general", 1, "bob", "SAY :is lincoln-aid around?"))
        #expect(model.windows[1].highlighted)
        let rang = model.takeBell()
        let again = model.takeBell()
        #expect(rang && !again)
        feed(&model, ev("c/general", 2, "bob", "SAY :lincoln-aid-two is someone else"))
        let other = model.takeBell()
        #expect(!other)
        feed(&model, ev("c/general", 3, "*server", "MATCH need=N1 offer=O1 need_by=lincoln-aid offer_by=bob :shared tags: minibus"))
        let matched = model.takeBell()
        #expect(matched)
        #expect(model.windows[1].lines.last?.kind == .match)
        #expect(model.windows[1].lines.last?.highlight == true)
        // Catch-up lines are old news: no bell.
        let page = model.submit("/history")
        #expect(page.isEmpty)   // the server window has no room
    }

    @Test func itemsAreStyledAndShowBuildsTheCard() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/funding last=0 read=0")
        model.select(1)
        feed(&model, ev("c/funding", 1, "me", "PROPOSAL id=P3 status=open tags=transport deadline=2027-03-01 :Shared minibus"),
             ev("c/funding", 2, "bob", "BACK id=P3 :Two drivers"),
             ev("c/funding", 3, "bob", "VOTE id=P3 vote=agree"))
        #expect(model.windows[1].lines[0].kind == .proposal)
        #expect(model.windows[1].lines[0].itemID == "P3")
        let show = model.submit("/show p3")
        #expect(show.map(\.line) == ["SHOW P3"])
        let t = show[0].tag
        feed(&model, "@\(t) * ITEM P3 c/funding status=open by=me tags=transport deadline=2027-03-01 partners=2 :Shared minibus",
             "@\(t) * PARTNER P3 bob :Two drivers", "@\(t) * PARTNER P3 ann :Garage space",
             "@\(t) * VOTE P3 bob vote=agree", "@\(t) * VOTE P3 ann vote=block :No insurance yet",
             "@\(t) * REPLY P3 ann time=2026-11-25T11:18:15.388Z :Broker on Friday", "@\(t) OK SHOW id=P3")
        let card = model.items["P3"]!
        #expect(card.partners.map(\.account) == ["bob", "ann"])
        #expect(card.tally["agree"] == 1 && card.tally["block"] == 1)
        let texts = model.windows[1].lines.map(\.text)
        #expect(texts.contains("agree 1, abstain 0, disagree 0, block 1"))
        #expect(texts.contains("Broker on Friday"))
        #expect(texts.contains("Garage space"))
    }

    @Test func commandsBecomeProtocolLines() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0")
        #expect(submitted(&model, "hello there").isEmpty)   // server window: refused, said why
        #expect(model.windows[0].lines.last?.kind == .error)
        model.select(1)
        #expect(submitted(&model, "hello there") == ["SAY c/general :hello there"])
        #expect(submitted(&model, "/need tags=minibus until=2026-12-31 A minibus")
                == ["NEED c/general tags=minibus until=2026-12-31 A minibus"])
        #expect(submitted(&model, "/vote p1 block not insured") == ["VOTE P1 block not insured"])
        #expect(submitted(&model, "/list needs") == ["LIST c/general needs"])
        #expect(submitted(&model, "/watch transport minibus") == ["WATCH tags=transport,minibus"])
        #expect(submitted(&model, "/quote WHO c/general") == ["WHO c/general"])
        #expect(submitted(&model, "/part") == ["PART c/general"])
        #expect(submitted(&model, "/bogus").isEmpty)
        #expect(submitted(&model, "/quit bye") == ["QUIT :bye"])
        #expect(model.quitRequested)
    }

    @Test func errorsShowInTheWindowTheyCameFrom() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0")
        model.select(1)
        let say = model.submit("hi")
        feed(&model, "@\(say[0].tag) ERR FORBIDDEN SAY :you are muted in this room")
        #expect(model.windows[1].lines.last?.kind == .error)
        #expect(model.windows[1].lines.last?.text.contains("muted") == true)
    }

    @Test func aMultiLinePasteIsHeldUntilConfirmed() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0")
        model.select(1)
        let single = model.paste("just one line")
        let several = model.paste("one\ntwo\n\nthree")
        #expect(single == "just one line" && several == nil)
        #expect(model.heldPaste == ["one", "two", "three"])
        let sent = model.answerPaste(true)
        #expect(sent.map(\.line) == ["SAY c/general :one", "SAY c/general :two", "SAY c/general :three"])
        #expect(model.heldPaste == nil)
        _ = model.paste("a\nb")
        let dropped = model.answerPaste(false)
        #expect(dropped.isEmpty)
    }

    @Test func scrollbackIsCappedAndRepeatsAreDropped() {
        var model = ChatModel(account: "me", scrollbackLimit: 10)
        feed(&model, "* JOINED c/general last=0 read=0")
        for seq in 1...30 { feed(&model, ev("c/general", seq)) }
        #expect(model.windows[1].lines.count == 10)
        feed(&model, ev("c/general", 25), ev("c/general", 3))
        #expect(model.windows[1].lines.compactMap(\.seq) == Array(21...30))
    }

    @Test func marksStopWhenTheServerDoesNotKnowThem() {
        var model = ChatModel(account: "me")
        feed(&model, "* JOINED c/general last=0 read=0")
        model.select(1)
        feed(&model, ev("c/general", 1))
        let mark = model.takeMarks()
        feed(&model, "@\(mark[0].tag) ERR UNKNOWN_COMMAND MARK :unknown command")
        feed(&model, ev("c/general", 2))
        let after = model.takeMarks()
        #expect(after.isEmpty)
        #expect(model.currentWindow.unread == 0)
    }
}
