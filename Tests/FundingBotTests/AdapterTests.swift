import Foundation
@testable import FundingBot
import Testing

@Suite("Adapters: feed bytes -> opportunities, per format")
struct AdapterTests {
    @Test("RSS 2.0: guid, link, categories, dc:creator, the channel title as funder, extension fields")
    func rss() throws {
        let reading = try Samples.read("fwcf-rss")
        #expect(reading.skipped.isEmpty)
        #expect(reading.opportunities.count == 4)
        let first = reading.opportunities[0]
        #expect(first.sourceID == "fwcf-2026-rtp")
        #expect(first.title == "Rural Transport Partnerships Fund")
        #expect(first.funder == "Fenland and Wolds Community Foundation (sample)")  // the channel's title
        #expect(first.url == "https://example.org/fwcf/grants/rural-transport")
        #expect(first.tags == ["Transport", "Rural"])
        #expect(first.closes == Day.of("2030-03-31"))
        #expect(first.amount == Amount(minimum: 5000, maximum: 50000, currency: "GBP"))
        #expect(first.eligibility == "Registered charities and CIOs in Lincolnshire or Rutland")
        #expect(first.description?.contains("<strong>shared minibuses</strong>") == true)  // CDATA kept as given
        // An item's own dc:creator beats the channel title.
        #expect(reading.opportunities[1].funder == "Fenland and Wolds Community Foundation: Green Halls Programme (sample)")
        #expect(reading.opportunities[1].tags == ["Energy", "Buildings & Premises"])  // &amp; decoded by the parser
    }

    @Test("Atom: id, alternate link, summary, category terms, author name, else the feed title")
    func atom() throws {
        let reading = try Samples.read("nct-atom")
        #expect(reading.opportunities.count == 2)
        let food = reading.opportunities[0]
        #expect(food.sourceID == "urn:nct:2026:food-bank-resilience")
        #expect(food.url == "https://example.org/nct/programmes/food-bank-resilience")
        #expect(food.funder == "Northern Cities Trust - open programmes (sample)")
        #expect(food.tags == ["food-poverty", "Core Costs"])
        #expect(food.area == "Greater Manchester, West Yorkshire")
        #expect(food.amount?.display == "£10,000-£40,000")
        let refugees = reading.opportunities[1]
        #expect(refugees.funder == "Northern Cities Trust with the Harbour Foundation (sample)")
        #expect(refugees.url == "https://example.org/nct/programmes/young-refugees-mentoring")  // a link without rel
        #expect(refugees.amount?.display == "up to £60,000")
    }

    @Test("CommonGrants list response: status, min/max award, close date, applicant types, custom fields")
    func commonGrants() throws {
        let reading = try Samples.read("sport-together")
        #expect(reading.opportunities.count == 3)
        let sports = reading.opportunities[0]
        #expect(sports.sourceID == "4d2f3c1a-7b1e-4b8e-9c3a-0a1b2c3d4e01")
        #expect(sports.status == "open")
        #expect(sports.amount == Amount(minimum: 1000, maximum: 10000, currency: "GBP"))
        #expect(sports.closes == Day.of("2030-06-30"))
        #expect(sports.funder == "Sport Together Foundation (sample)")
        #expect(sports.eligibility == "nonprofit, community amateur sports club")
        #expect(sports.tags == ["Sport", "Equipment"])
        #expect(sports.url == "https://example.org/sport-together/equipment-fund")
        #expect(reading.opportunities[2].status == "closed")
    }

    @Test("CommonGrants bare array; a bad element is left out with a reason, the rest still read")
    func commonGrantsBareArray() throws {
        let json = """
            [{"id": 42, "title": "Numeric id", "funding": {"maxAwardAmount": {"amount": 3000, "currency": "GBP"}}},
             {"description": "no title"},
             {"title": "Only a source", "source": "https://example.org/x"}]
            """
        let reading = try CommonGrantsAdapter.read(Data(json.utf8))
        #expect(reading.opportunities.map(\.sourceID) == ["42", "https://example.org/x"])
        #expect(reading.opportunities[0].amount?.display == "£3,000")
        #expect(reading.skipped.count == 1)
        #expect(reading.skipped[0].contains("title"))
        #expect(throws: FeedFormatError.self) { try CommonGrantsAdapter.read(Data("{\"data\": []}".utf8)) }
        #expect(throws: FeedFormatError.self) { try CommonGrantsAdapter.read(Data("not json".utf8)) }
    }

    @Test("JSON with a fields map: items_key, dotted paths, numbers, tag arrays")
    func json() throws {
        let reading = try Samples.read("funders-json")
        #expect(reading.opportunities.count == 2)
        let youth = reading.opportunities[0]
        #expect(youth.sourceID == "LWYF-2027")
        #expect(youth.funder == "Wolds Rotary Trust (sample)")
        #expect(youth.amount == Amount(minimum: 500, maximum: 7500, currency: "GBP"))
        #expect(youth.tags == ["Youth", "Rural"])
        #expect(youth.area == "Lincolnshire")
        // A top-level array, and a record without id falls back to its url.
        let feed = BotConfig.Feed(name: "x", url: "x", format: .json, fields: ["title": "t", "url": "u", "closes": "c"])
        let bare = try FeedAdapter.read(Data(#"[{"t": "A", "u": "https://e.org/a", "c": "31/12/2030"}, {"t": "B"}, 7]"#.utf8), feed: feed)
        #expect(bare.opportunities.map(\.sourceID) == ["https://e.org/a"])
        #expect(bare.opportunities[0].closes == Day.of("2030-12-31"))
        #expect(bare.skipped.count == 2)
        #expect(throws: FeedFormatError.self) { try FeedAdapter.read(Data(#"{"rows": []}"#.utf8), feed: feed) }
    }

    @Test("CSV (SwiftCSV): header names, quoted commas and quotes, UK dates, comma-separated tags")
    func csv() throws {
        let reading = try Samples.read("community-chest-csv")
        #expect(reading.skipped.isEmpty)
        #expect(reading.opportunities.count == 3)
        let carers = reading.opportunities[1]
        #expect(carers.sourceID == "SAMPLE-CSV-002")
        #expect(carers.description == #"Respite breaks, peer groups and advice for unpaid carers; "carer-led" groups especially welcome."#)
        #expect(carers.closes == Day.of("2030-04-15"))
        #expect(carers.tags == ["carers", "health"])
        #expect(carers.amount?.display == "£250-£3,000")
        // A missing title column is a broken feed, not a feed of nothing.
        let feed = BotConfig.Feed(name: "x", url: "x", format: .csv, fields: ["title": "Name"])
        #expect(throws: FeedFormatError.self) { try FeedAdapter.read(Data("Grant,Funder\nA,B\n".utf8), feed: feed) }
    }

    @Test("Broken XML, the wrong root, and a feed of the wrong format are errors that say so")
    func brokenXML() throws {
        let rss = Samples.feed("fwcf-rss")
        let error = #expect(throws: FeedFormatError.self) {
            try FeedAdapter.read(Data("<rss><channel><item><title>Cut off".utf8), feed: rss)
        }
        #expect(error?.description.contains("malformed XML") == true)
        #expect(throws: FeedFormatError.self) { try FeedAdapter.read(Samples.data("grants.atom.xml"), feed: rss) }
        #expect(throws: FeedFormatError.self) { try FeedAdapter.read(Data("{}".utf8), feed: rss) }
        // An external entity is not fetched (and the document still parses).
        let xxe = """
            <?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <rss><channel><title>T</title><item><title>A &x;</title><guid>g</guid></item></channel></rss>
            """
        let reading = try? FeedAdapter.read(Data(xxe.utf8), feed: rss)
        #expect(reading?.opportunities.first?.title.contains("root:") != true)
    }

    @Test("Amounts and dates in the forms feeds use")
    func amountsAndDates() {
        #expect(Amount.parse("£5,000")?.display == "£5,000")
        #expect(Amount.parse("5000-50000")?.display == "£5,000-£50,000")
        #expect(Amount.parse("$1,234.50")?.display == "$1,234.50")
        #expect(Amount.parse("Up to £10k")?.display == "Up to £10k")
        #expect(Amount.parse("  ") == nil)
        #expect(Amount(minimum: 0, maximum: 9000).display == "up to £9,000")
        #expect(Amount(minimum: 100, maximum: nil, currency: "CHF").display == "from 100 CHF")
        #expect(Day.parse("2030-03-31T17:00:00Z") == Day.of("2030-03-31"))
        #expect(Day.parse("Wed, 02 Oct 2030 15:00:00 +0000") == Day.of("2030-10-02"))
        #expect(Day.parse("31/03/2030") == Day.of("2030-03-31"))
        #expect(Day.parse("2030-02-30") == nil)
        #expect(Day.parse("soon") == nil)
    }
}
