import Foundation
@testable import FundingBot
import PartnerlineClient
import Testing

@Suite("Routes, alert text and tags (pure)")
struct RoutingAndAlertTests {
    let today = Day.of("2026-12-07")

    @Test("Keywords match whole words and phrases, case- and accent-insensitively, in title, description or eligibility")
    func keywords() {
        let route = Route(cluster: "c1", keywords: ["art", "mental health", "cafe"])
        func matches(_ o: Opportunity) -> Bool { !Router.route(o, through: [route]).rooms.isEmpty }
        #expect(!matches(Opportunity(sourceID: "1", title: "Partnership funding")))  // "art" inside a word
        #expect(matches(Opportunity(sourceID: "2", title: "Community ART projects")))
        #expect(matches(Opportunity(sourceID: "3", title: "X", description: "For MENTAL   health support")))
        #expect(!matches(Opportunity(sourceID: "4", title: "Mental wellbeing and health")))  // not as a phrase
        #expect(matches(Opportunity(sourceID: "5", title: "X", eligibility: "Community Café groups")))
        #expect(!matches(Opportunity(sourceID: "6", title: "X", area: "art")))  // area text is not for keywords
    }

    @Test("Areas match the area or eligibility text; tags match in the server's form")
    func areasAndTags() {
        let route = Route(cluster: "c1", areas: ["Rutland"], tags: ["Young People"])
        #expect(Router.route(Opportunity(sourceID: "1", title: "Rutland fund"), through: [route]).rooms.isEmpty)  // title is not an area
        #expect(Router.route(Opportunity(sourceID: "2", title: "X", area: "rutland and Leicestershire"), through: [route]).rooms == ["c1/funding"])
        #expect(Router.route(Opportunity(sourceID: "3", title: "X", eligibility: "Groups in RUTLAND"), through: [route]).rooms == ["c1/funding"])
        #expect(Router.route(Opportunity(sourceID: "4", title: "X", tags: ["young-people"]), through: [route]).rooms == ["c1/funding"])
        #expect(Router.route(Opportunity(sourceID: "5", title: "X", tags: ["people"]), through: [route]).rooms.isEmpty)
    }

    @Test("Every matching cluster gets it, once per cluster; a route without criteria takes everything")
    func roomsPerCluster() {
        let routes = [Route(cluster: "north", keywords: ["youth"]),
                      Route(cluster: "north", room: "north/youth", keywords: ["youth"]),
                      Route(cluster: "south", tags: ["youth"]),
                      Route(cluster: "all")]
        let decision = Router.route(Opportunity(sourceID: "1", title: "Youth clubs", tags: ["Youth"]), through: routes)
        #expect(decision.rooms == ["north/funding", "south/funding", "all/funding"])
        #expect(decision.matches.count == 4)
        #expect(decision.shadowed.map(\.room) == ["north/youth"])
        let plan = Planner.plan([Opportunity(sourceID: "1", title: "Youth clubs", tags: ["Youth"])], feed: BotConfig.Feed(name: "f", url: "u", format: .rss),
                                routes: routes, composer: AlertComposer(), today: today) { _, _ in false }
        #expect(Planner.explain(plan[0], routes: routes).contains("route 2 (north/youth) left out"))
        #expect(Router.route(Opportunity(sourceID: "2", title: "Anything"), through: [routes[3]]).rooms == ["all/funding"])
    }

    @Test("Explain says why no route matched, and why a matched one is not posted")
    func explain() {
        let routes = [Route(cluster: "c1", keywords: ["transport"], areas: ["Rutland"], tags: ["rural"])]
        let feed = BotConfig.Feed(name: "f", url: "u", format: .rss)
        let plans = Planner.plan([Opportunity(sourceID: "a", title: "Arts fund"),
                                  Opportunity(sourceID: "b", title: "Transport fund", closes: Day.of("2026-12-06")),
                                  Opportunity(sourceID: "c", title: "Transport fund", status: "closed"),
                                  Opportunity(sourceID: "d", title: "Transport fund", closes: Day.of("2026-12-07"))],
                                 feed: feed, routes: routes, composer: AlertComposer(), today: today) { ref, _ in ref == "f:d" }
        let none = Planner.explain(plans[0], routes: routes)
        #expect(none.contains("matched no route"))
        #expect(none.contains("no keyword of transport"))
        #expect(none.contains("no area of Rutland"))
        #expect(none.contains("no tag of rural"))
        #expect(Planner.explain(plans[1], routes: routes).contains("not posted: closed on 2026-12-06"))
        #expect(plans[1].alerts.isEmpty)
        #expect(Planner.explain(plans[2], routes: routes).contains("not posted: status is closed"))
        // Closing today is still open (the server's deadline is good through its day).
        #expect(plans[3].alerts.count == 1)
        #expect(plans[3].pending.isEmpty)
        #expect(Planner.explain(plans[3], routes: routes).contains("already posted to c1/funding"))
    }

    @Test("Tags are cleaned to the server's form: a-z, 0-9 and '-', 1-32, at most 10, no repeats")
    func tags() {
        #expect(TagCleaner.clean("Mental Health") == "mental-health")
        #expect(TagCleaner.clean("Café & Arts!") == "cafe-arts")
        #expect(TagCleaner.clean("--Youth--") == "youth")
        #expect(TagCleaner.clean("***") == nil)
        #expect(TagCleaner.clean("社区") == nil)
        let long = TagCleaner.clean("a very long tag name that goes on past thirty-two bytes")!
        #expect(long.utf8.count <= 32)
        #expect(!long.hasSuffix("-"))
        #expect(TagCleaner.clean(["Youth", "youth", "YOUTH!", "", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
                == ["youth", "a", "b", "c", "d", "e", "f", "g", "h", "i"])
    }

    @Test("Values are quoted the way the server's tokenizer reads them")
    func quoting() {
        #expect(AlertComposer.quoted("plain") == "plain")
        #expect(AlertComposer.quoted("two words") == "\"two words\"")
        #expect(AlertComposer.quoted(#"say "hi" \ there"#) == #""say \"hi\" \\ there""#)
        #expect(AlertComposer.quoted("a=b") == "\"a=b\"")
        #expect(AlertComposer.quoted("") == "\"\"")
    }

    @Test("A FUNDING line: funder, amount, deadline, url, tags, ref; text after ' :'; control characters gone")
    func line() {
        let feed = BotConfig.Feed(name: "grants", url: "u", format: .rss)
        let opportunity = Opportunity(sourceID: "id 7", funder: "The \"Big\" Trust", title: "key=value looking\ntitle",
                                      description: "<p>First&nbsp;para</p><p>Second</p>", amount: Amount(minimum: 5000, maximum: 50000),
                                      closes: Day.of("2030-01-31"), url: "https://example.org/a?b=c",
                                      tags: ["Rural Transport", "rural transport"])
        let alert = AlertComposer().alert(for: opportunity, feed: feed, room: "c1/funding")
        #expect(alert.line == #"FUNDING c1/funding funder="The \"Big\" Trust" amount=£5,000-£50,000 deadline=2030-01-31 url="https://example.org/a?b=c" tags=rural-transport ref="grants:id 7" :key=value looking title - First para Second"#)
        #expect(alert.ref == "grants:id 7")
        // The client library's command, which is what goes on the wire, encodes it the same.
        #expect(alert.command.line == alert.line)
        // No funder anywhere: the feed's funder, then its name.
        var bare = opportunity
        bare.funder = nil
        #expect(AlertComposer().alert(for: bare, feed: feed, room: "c1/funding").funder == "grants")
    }

    @Test("Long text is cut at a word end with an ellipsis so the whole line fits 4096 bytes, even all multi-byte")
    func shortening() {
        var posting = BotConfig.Posting()
        posting.maxTextBytes = 100_000  // only the line limit binds
        let composer = AlertComposer(posting: posting)
        let feed = BotConfig.Feed(name: "f", url: "u", format: .rss)
        let words = String(repeating: "Grant für Gemeinschaftsküche ", count: 400)
        let alert = composer.alert(for: Opportunity(sourceID: "1", funder: String(repeating: "F", count: 300), title: words,
                                                    amount: Amount(text: String(repeating: "ä", count: 300)),
                                                    url: "https://example.org/" + String(repeating: "x", count: 300)),
                                   feed: feed, room: "c1/funding")
        #expect(alert.line.utf8.count <= 4096 - AlertComposer.tagAllowance)
        #expect(alert.line.utf8.count > 3900)
        #expect(alert.command.line == alert.line)
        #expect((try? alert.command.encoded(tag: String(repeating: "t", count: 32)).count).map { $0 - 2 <= 4096 } == true)
        #expect(alert.text.hasSuffix("…"))
        #expect(alert.text.dropLast().hasSuffix("Grant") || alert.text.dropLast().hasSuffix("für") || alert.text.dropLast().hasSuffix("Gemeinschaftsküche"))
        #expect(alert.funder.unicodeScalars.count == 200)
        #expect(alert.amount!.unicodeScalars.count <= 200)
        #expect(alert.url == nil)  // a cut URL would lead nowhere
        // The default text budget keeps alerts short.
        let short = AlertComposer().alert(for: Opportunity(sourceID: "1", title: "Fund", description: words), feed: feed, room: "c1/funding")
        #expect(short.text.utf8.count <= 600)
        #expect(short.text.hasPrefix("Fund - Grant für"))
        #expect(Text.shorten("abcdefghij", bytes: 6) == "abc…")
        #expect(Text.shorten("short", bytes: 6) == "short")
        #expect(Text.shorten("one two three four", bytes: 12) == "one two…")
    }

    @Test("A ref is <feed>:<id>; a very long id keeps its start and a hash, stable and distinct")
    func refs() {
        #expect(AlertComposer.ref(feed: "rss", sourceID: "guid-1") == "rss:guid-1")
        let a = AlertComposer.ref(feed: "rss", sourceID: "https://example.org/" + String(repeating: "a", count: 300) + "/1")
        let b = AlertComposer.ref(feed: "rss", sourceID: "https://example.org/" + String(repeating: "a", count: 300) + "/2")
        #expect(a.unicodeScalars.count == 200)
        #expect(a != b)
        #expect(a == AlertComposer.ref(feed: "rss", sourceID: "https://example.org/" + String(repeating: "a", count: 300) + "/1"))
        #expect(a.hasPrefix("rss:https://example.org/aaa"))
    }

    @Test("The shipped samples and routes give the alerts the config promises")
    func samplePlan() throws {
        var rooms: [String: [String]] = [:]
        for feed in Samples.config.feeds {
            let reading = try Samples.read(feed.name)
            for plan in Planner.plan(reading.opportunities, feed: feed, routes: Samples.config.routes, composer: AlertComposer(),
                                     today: today, isPosted: { _, _ in false }) {
                for alert in plan.pending { rooms[alert.room, default: []].append(alert.ref) }
            }
        }
        #expect(rooms["rural-east-midlands/funding"]?.sorted() == ["community-chest-csv:SAMPLE-CSV-002", "funders-json:LWYF-2027",
                                                                  "fwcf-rss:fwcf-2026-rtp", "fwcf-rss:fwcf-2026-vhe"])
        #expect(rooms["inner-city-north/funding"]?.sorted() == ["funders-json:GMHP-2027", "funders-json:LWYF-2027",
                                                               "nct-atom:urn:nct:2026:food-bank-resilience",
                                                               "nct-atom:urn:nct:2026:young-refugees-mentoring"])
        #expect(rooms["community-south/funding"]?.sorted() == ["community-chest-csv:SAMPLE-CSV-001",
                                                              "sport-together:4d2f3c1a-7b1e-4b8e-9c3a-0a1b2c3d4e01",
                                                              "sport-together:4d2f3c1a-7b1e-4b8e-9c3a-0a1b2c3d4e02"])
    }
}
