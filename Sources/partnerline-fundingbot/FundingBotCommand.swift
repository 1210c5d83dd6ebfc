import ArgumentParser
import Dispatch
import Foundation
import FundingBot
import Logging

@main
struct FundingBotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partnerline-fundingbot",
        abstract: "Posts funding opportunities from feeds (RSS, Atom, CommonGrants, JSON, CSV) as FUNDING alerts into Partnerline rooms.",
        discussion: """
            Without flags it runs until stopped: each feed is polled on its own interval (with jitter), \
            new opportunities are routed to rooms by keyword, area and tag, and posted once. What was \
            posted where is kept in state_dir (posted.log, append-only), and every alert carries \
            ref=<feed>:<id>, so even with the state lost the server stores it only once.

            Exit codes with --once: 0 done (a broken feed is logged, not fatal), 2 the server was \
            unreachable, 3 the login was refused; 1 for a bad config. Running as a daemon, SIGTERM or \
            SIGINT lets it finish the alert in hand, close its connection and exit 0.
            """
    )

    @Option(name: .long, help: "The YAML config file.")
    var config: String = "Config/fundingbot.yaml"

    @Flag(name: .long, help: "Poll every feed once, post, and exit (for cron).")
    var once = false

    @Flag(name: .customLong("dry-run"), help: "Print what would be posted where; post nothing and change no state.")
    var dryRun = false

    @Flag(name: .long, help: "Print, for each opportunity, the routes it matched and why (or why none); post nothing.")
    var explain = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let log = Logger(label: "fundingbot")
        let settings: BotConfig
        do {
            settings = try BotConfig.load(path: config)
        } catch {
            log.critical("\(error)")
            throw ExitCode(1)
        }
        let mode: FundingBotRunner.Mode = explain ? .explain : dryRun ? .dryRun : .post
        var server: FundingServer?
        if mode == .post {
            let credentials: Credentials
            do {
                credentials = try Credentials.resolve(settings.auth, environment: ProcessInfo.processInfo.environment)
            } catch {
                log.critical("\(error)")
                throw ExitCode(1)
            }
            server = ClientLibraryLink(config: settings, credentials: credentials, log: log)
        }
        let runner: FundingBotRunner
        do {
            runner = try FundingBotRunner(config: settings, mode: mode, server: server, out: { print($0) }, log: log)
        } catch {
            log.critical("\(error)")
            throw ExitCode(1)
        }
        // SIGTERM/SIGINT: the daemon finishes the alert in hand, closes its connection and exits 0.
        var signalSources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let flag = runner.stop
            source.setEventHandler { @Sendable in flag.set() }
            source.resume()
            signalSources.append(source)
        }
        defer { signalSources.forEach { $0.cancel() } }
        let result = (once || mode != .post) ? runner.runOnce() : runner.runForever()
        if result != .ok { throw ExitCode(result.rawValue) }
    }
}
