import Foundation
@testable import FundingBot

/// The repository's sample feeds and config, found from this file's path.
enum Samples {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Support, FundingBotTests, Tests -> root
        return url.path
    }()

    static func path(_ name: String) -> String { repositoryRoot + "/Config/samples/" + name }

    static func data(_ name: String) -> Data { FileManager.default.contents(atPath: path(name))! }

    /// The shipped config, which names the samples and their field maps.
    static let config: BotConfig = try! BotConfig.load(path: repositoryRoot + "/Config/fundingbot.yaml")

    static func feed(_ name: String) -> BotConfig.Feed { config.feeds.first { $0.name == name }! }

    static func read(_ feedName: String) throws -> FeedReading {
        let feed = feed(feedName)
        return try FeedAdapter.read(FileManager.default.contents(atPath: repositoryRoot + "/" + feed.url)!, feed: feed)
    }
}

extension Day {
    static func of(_ text: String) -> Day { Day.parse(text)! }
}
