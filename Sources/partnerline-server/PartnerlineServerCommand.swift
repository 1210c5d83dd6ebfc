import ArgumentParser
import Dispatch
import Foundation
import Logging
import PartnerlineServer

@main
struct PartnerlineServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partnerline-server",
        abstract: "The Partnerline coordination server: topic rooms, needs, offers and joint bids for clusters of community organisations.",
        subcommands: [Serve.self, Verify.self, Backup.self, Admin.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server (the default).",
        discussion: """
            Prints `listening tls=<host>:<port>[ plain=<host>:<port>]` on stdout once it accepts connections.
            SIGINT or SIGTERM: stop accepting, flush the journals, send BYE SHUTDOWN, exit 0.
            SIGHUP: re-read the config; the certificate and key, clusters, rooms and topics change live
            (the log says what else changed and needs a restart).
            """
    )

    @Option(name: .long, help: ArgumentHelp("The YAML config file (default: Config/partnerline.yaml in the current directory, else the built-in demo config).", valueName: "path"))
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Directory for journals and the self-signed certificate (overrides data_dir).")
    var dataDir: String?

    @Option(name: .customLong("tls-port"), help: "TLS port; 0 picks a free one (overrides listen.tls_port).")
    var tlsPort: Int?

    @Option(name: .customLong("plain-port"), help: "Plaintext port for netcat, loopback only unless listen.plain_host says otherwise; 0 picks a free one (overrides listen.plain_port).")
    var plainPort: Int?

    @Option(name: .long, help: "Address for the TLS listener, e.g. 127.0.0.1, ::1 or :: (overrides listen.host).")
    var host: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \(logLevel)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let log = Logger(label: "partnerline")

        let source = ConfigSource(origin: .resolve(explicit: config), dataDir: dataDir, tlsPort: tlsPort,
                                  plainPort: plainPort, host: host)
        let settings: ServerConfig
        do {
            settings = try source.load()
        } catch {
            // A config error is not a usage error: say what is wrong, without the usage text.
            log.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        if case .builtInDemo = source.origin {
            let here = FileManager.default.currentDirectoryPath
            let journals = settings.dataDir.hasPrefix("/") ? settings.dataDir : here + "/" + settings.dataDir
            log.notice("""
                no \(DemoConfig.defaultPath) in \(here): running the built-in demo config (open registration, \
                journals in \(journals)); --config PATH uses a file
                """)
        } else {
            log.info("config from \(source.origin)")
        }

        let service = PartnerlineService(config: settings, logger: log)
        let endpoints: PartnerlineService.Endpoints
        do {
            endpoints = try service.start()
        } catch {
            log.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        SignalHandlers.install(log: log) {
            service.shutdown()
            Foundation.exit(0)
        }
        // SIGHUP: re-read the file; certificate, key, clusters and rooms change live.
        SignalHandlers.onReload(log: log) {
            do {
                service.reload(try source.load())
            } catch {
                log.error("reload: \(source.origin) cannot be used, nothing changed: \(error)")
            }
        }
        FileHandle.standardOutput.write(Data((endpoints.listeningLine + "\n").utf8))
        dispatchMain()
    }
}

struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an account an admin, on a stopped server's data dir.",
        discussion: """
            Creates the account as an admin if it does not exist (its password is read from the first line of \
            standard input), or grants admin to an existing account. Refused while a server runs on the data dir.

            Example: echo 'a-long-password' | partnerline-server admin ops-team --org "Cluster operations"
            """
    )

    @Argument(help: "The account to make an admin.")
    var account: String

    @Option(name: .long, help: "Display name of a new account.")
    var org: String?

    @Option(name: .long, help: ArgumentHelp("The YAML config file (default: Config/partnerline.yaml in the current directory, else the built-in demo config).", valueName: "path"))
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The data directory (overrides data_dir).")
    var dataDir: String?

    func run() throws {
        let settings: ServerConfig
        do {
            settings = try ConfigSource(origin: .resolve(explicit: config), dataDir: dataDir).load()
        } catch {
            FileHandle.standardError.write(Data("partnerline-server admin: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let password = readLine(strippingNewline: true).flatMap { $0.isEmpty ? nil : $0 }
        do {
            let done = try AdminTool.makeAdmin(config: settings, account: account, password: password, organisation: org)
            print(done)
        } catch {
            FileHandle.standardError.write(Data("partnerline-server admin: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// SIGINT/SIGTERM handled on a Dispatch queue rather than in a C signal handler, so shutdown
/// can flush journals and talk to clients.
enum SignalHandlers {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Returns once both sources are registered. A source registers asynchronously after `resume()`,
    /// and a signal that arrives in between, while the disposition is SIG_IGN, is lost: a SIGTERM
    /// sent right after the `listening` line (as tests and service managers do) was then never seen.
    static func install(log: Logger, onStop: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "partnerline.signals")
        let registered = DispatchGroup()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { @Sendable in
                log.notice("signal \(signalNumber): shutting down")
                onStop()
            }
            registered.enter()
            source.setRegistrationHandler { @Sendable in registered.leave() }
            source.resume()
            sources.append(source)
        }
        if registered.wait(timeout: .now() + .seconds(5)) == .timedOut {
            log.warning("signal handlers not registered after 5 s; SIGINT/SIGTERM may be missed")
        }
    }

    static func onReload(log: Logger, _ reload: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "partnerline.reload")
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        source.setEventHandler { @Sendable in
            log.notice("SIGHUP: reloading the config")
            reload()
        }
        source.resume()
        sources.append(source)
    }
}

/// The config file with the command line's overrides: read at start and again on SIGHUP.
struct ConfigSource: Sendable {
    /// Where the settings come from.
    enum Origin: Sendable, CustomStringConvertible {
        /// A file: given with --config (it must exist), or Config/partnerline.yaml found in the current directory.
        case file(String)
        /// No --config and no Config/partnerline.yaml here: the demo config built into the binary.
        case builtInDemo

        static func resolve(explicit: String?) -> Origin {
            if let explicit { return .file(explicit) }
            return FileManager.default.fileExists(atPath: DemoConfig.defaultPath) ? .file(DemoConfig.defaultPath) : .builtInDemo
        }

        var description: String {
            switch self {
            case .file(let path): path
            case .builtInDemo: "the built-in demo config"
            }
        }
    }

    var origin: Origin
    var dataDir: String?
    var tlsPort: Int?
    var plainPort: Int?
    var host: String?

    func load() throws -> ServerConfig {
        var settings: ServerConfig
        switch origin {
        case .file(let path): settings = try ServerConfig.load(path: path)
        case .builtInDemo: settings = try ServerConfig.parse(yaml: DemoConfig.yaml, source: "the built-in demo config")
        }
        if let dataDir { settings.dataDir = dataDir }
        if let tlsPort { settings.listen.tlsPort = tlsPort }
        if let plainPort { settings.listen.plainPort = plainPort }
        if let host { settings.listen.host = host }
        try settings.validate()
        return settings
    }
}
