import Foundation
@testable import FundingBot
import Testing

@Suite("Fetching over real HTTP on loopback", .timeLimit(.minutes(2)))
struct FetchTests {
    func fetcher(timeout: Double = 10, maxBytes: Int = 1_000_000) -> FeedFetcher {
        var limits = BotConfig.FetchLimits()
        limits.timeoutSeconds = timeout
        limits.maxBytes = maxBytes
        return FeedFetcher(limits: limits)
    }

    @Test("ETag: the first GET gets the document and the validator, the conditional one gets 304")
    func etag() throws {
        let http = try FeedHTTPServer()
        http.serve("/a.rss", .init(file: Samples.path("grants.rss.xml"), contentType: "application/rss+xml", etag: "\"rss-v1\""))
        let first = try fetcher().fetch(http.url("/a.rss"), validators: nil)
        guard case .fetched(let data, let validators) = first else { Issue.record("expected a document"); return }
        #expect(data == Samples.data("grants.rss.xml"))
        #expect(validators?.etag == "\"rss-v1\"")
        #expect(try fetcher().fetch(http.url("/a.rss"), validators: validators) == .notModified)
        #expect(http.requests(to: "/a.rss").map(\.answered) == [200, 304])
        #expect(http.requests(to: "/a.rss")[1].headers["if-none-match"] == "\"rss-v1\"")
        #expect(http.requests(to: "/a.rss")[0].headers["user-agent"]?.hasPrefix("partnerline-fundingbot") == true)
    }

    @Test("Last-Modified: sent back as If-Modified-Since, answered 304")
    func lastModified() throws {
        let http = try FeedHTTPServer()
        let date = "Mon, 07 Dec 2026 01:00:00 GMT"
        http.serve("/a.csv", .init(file: Samples.path("grants.csv"), contentType: "text/csv", lastModified: date))
        guard case .fetched(_, let validators) = try fetcher().fetch(http.url("/a.csv"), validators: nil) else {
            Issue.record("expected a document")
            return
        }
        #expect(validators?.lastModified == date)
        #expect(try fetcher().fetch(http.url("/a.csv"), validators: validators) == .notModified)
        #expect(http.requests(to: "/a.csv").last?.headers["if-modified-since"] == date)
    }

    @Test("An HTTP error, a missing file, a body over the cap and a feed slower than the timeout are errors")
    func failures() throws {
        let http = try FeedHTTPServer()
        http.serve("/down", .init(file: "", contentType: "text/xml", behaviour: .status(503)))
        http.serve("/big", .init(file: Samples.path("grants.rss.xml"), contentType: "text/xml"))
        http.serve("/slow", .init(file: "", contentType: "text/xml", behaviour: .slow(interval: 0.2)))
        let down = #expect(throws: FetchError.self) { try fetcher().fetch(http.url("/down"), validators: nil) }
        #expect(down?.description.contains("503") == true)
        #expect(throws: FetchError.self) { try fetcher().fetch(http.url("/nothing-here"), validators: nil) }
        let big = #expect(throws: FetchError.self) { try fetcher(maxBytes: 1000).fetch(http.url("/big"), validators: nil) }
        #expect(big?.description.contains("limit") == true)
        let slow = #expect(throws: FetchError.self) { try fetcher(timeout: 2).fetch(http.url("/slow"), validators: nil) }
        #expect(slow != nil)
        let refused = #expect(throws: FetchError.self) { try fetcher(timeout: 2).fetch("http://127.0.0.1:1/feed", validators: nil) }
        #expect(refused != nil)
    }

    @Test("Local files: by path and file:// URL, with the same size cap")
    func localFiles() throws {
        let path = Samples.path("grants.json")
        guard case .fetched(let data, nil) = try fetcher().fetch(path, validators: nil) else { Issue.record("expected a document"); return }
        #expect(data == Samples.data("grants.json"))
        guard case .fetched = try fetcher().fetch("file://" + path, validators: nil) else { Issue.record("expected a document"); return }
        #expect(throws: FetchError.self) { try fetcher(maxBytes: 10).fetch(path, validators: nil) }
        #expect(throws: FetchError.self) { try fetcher().fetch(path + ".missing", validators: nil) }
    }
}
