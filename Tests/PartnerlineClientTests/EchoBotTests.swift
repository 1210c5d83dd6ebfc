import Foundation
import PartnerlineClient
import PartnerlineTestSupport
import Testing

/// The DocC catalog's bot: the article shows exactly the built program, and it works.
@Suite(.timeLimit(.minutes(3)))
struct EchoBotTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var botPath: String { Binaries.path("partnerline-echo-bot") }

    @Test func theArticleShowsExactlyTheBuiltProgram() throws {
        let article = try String(contentsOf: Self.packageRoot.appendingPathComponent(
            "Sources/PartnerlineClient/PartnerlineClient.docc/EchoBot.md"), encoding: .utf8)
        let program = try String(contentsOf: Self.packageRoot.appendingPathComponent(
            "Sources/partnerline-echo-bot/main.swift"), encoding: .utf8)
        guard let begin = article.range(of: "<!-- echo-bot:begin -->\n```swift\n"),
              let end = article.range(of: "```\n<!-- echo-bot:end -->") else {
            Issue.record("the article lost its echo-bot markers")
            return
        }
        #expect(String(article[begin.upperBound..<end.lowerBound]) == program)
        #expect(program.split(separator: "\n").count <= 25)
    }

    @Test func theGrammarArticlesFundingExampleIsWhatIsEncoded() throws {
        let alert = ClientCommand.funding("rural-east-midlands/funding", funder: "National Lottery Community Fund",
                                          title: "Awards for All: small grants", ref: "https://example.org/grants/123",
                                          amount: "10000")
        let article = try String(contentsOf: Self.packageRoot.appendingPathComponent(
            "Sources/PartnerlineClient/PartnerlineClient.docc/ServerLineGrammar.md"), encoding: .utf8)
        #expect(article.contains("// " + alert.line!))
    }

    @Test func theBotRunsAgainstARealServer() async throws {
        let server = try RealServer()
        let room = "c1/general"
        let setup = try await PartnerlineConnection.connect(server.caOptions)
        try await setup.registerAndLogin("echo-bot", password: "echo-bot-password")
        setup.close()
        let human = try await PartnerlineConnection.connect(server.caOptions)
        try await human.registerAndLogin("human")
        _ = try await human.send(.join(room)).checked()

        let knownHosts = server.dir.path + "/known_hosts"
        let bot = Process()
        bot.executableURL = URL(fileURLWithPath: Self.botPath)
        bot.environment = ["PL_HOST": "127.0.0.1", "PL_PORT": String(server.port), "PL_ROOM": room,
                           "PL_ACCOUNT": "echo-bot", "PL_PASSWORD": "echo-bot-password", "PL_KNOWN_HOSTS": knownHosts]
        let output = server.dir.path + "/bot.log"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        bot.standardOutput = FileHandle(forWritingAtPath: output)
        bot.standardError = FileHandle(forWritingAtPath: output)
        try bot.run()
        defer { if bot.isRunning { bot.terminate() } }

        var botLines: [String] = []
        for await message in human.messages {
            guard case .event(let event) = message, event.actor == "echo-bot", let text = event.text else { continue }
            botLines.append(text)
            if text.hasPrefix("echo-bot here") {
                _ = try await human.send(.say(room, "!echo hello, \"quoted\" world")).checked()
            } else if text.hasPrefix("echo: ") {
                _ = try await human.send(.say(room, "!quit")).checked()
                break
            }
        }
        #expect(botLines == ["echo-bot here: say !echo <text>", "echo: hello, \"quoted\" world"])
        while bot.isRunning { try await Task.sleep(nanoseconds: 20_000_000) }
        #expect(bot.terminationStatus == 0, "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8)
            == "127.0.0.1:\(server.port) sha256:\(server.certificate.fingerprint)\n")
        human.close()
    }
}
