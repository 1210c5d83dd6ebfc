import ArgumentParser
import Foundation
import PartnerlineClient
#if canImport(Glibc)
import Glibc
#endif

@main
struct PartnerlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partnerline",
        abstract: "The Partnerline chat client: rooms, needs, offers and joint bids in your terminal.",
        discussion: """
            With a terminal: a full-screen client (type /help inside). With --send, or when standard \
            input is not a terminal: sends each line (one command each, e.g. "JOIN c/general" or \
            "SAY c/general :hello"), prints each reply without the client's tags, and exits 0 when \
            every command got OK, 1 when any got ERR, 2 when it could not connect, verify the \
            server or log in.

            Defaults come from \(ConfigFile.defaultPath) (or --config). The password comes from \
            PARTNERLINE_PASSWORD, else --password-file (which must not be readable by others), else \
            a prompt. The server is checked against --ca-file, or else trusted on first use and \
            remembered in a known-hosts file (a changed certificate is refused).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Server to connect to (port 7443 if left out).", valueName: "HOST:PORT"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("Account to log in as.", valueName: "ACCOUNT"))
    var user: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Verify the server's certificate with this CA (PEM).", valueName: "PATH"))
    var caFile: String?

    @Option(name: .customLong("known-hosts"),
            help: ArgumentHelp("Trust on first use, remembered in this file (default: known_hosts in the config directory).",
                               valueName: "PATH"))
    var knownHosts: String?

    @Flag(name: .long, help: "Do not check the server's certificate at all (a warning on every start).")
    var insecure = false

    @Flag(name: .long, help: "No TLS (only to a loopback address, e.g. a local test server's plaintext port).")
    var plain = false

    @Option(name: .long, help: ArgumentHelp("Config file.", valueName: "PATH"))
    var config: String?

    @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the password from this file (mode 0600).", valueName: "PATH"))
    var passwordFile: String?

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Send this command line and print its reply (repeatable; no full screen).", valueName: "LINE"))
    var send: [String] = []

    mutating func validate() throws {
        let trustFlags = [caFile != nil, knownHosts != nil, insecure].filter { $0 }.count
        if trustFlags > 1 { throw ValidationError("use only one of --ca-file, --known-hosts and --insecure") }
    }

    func run() throws {
        Terminal.unblockSignals()
        let batch = !send.isEmpty || !Terminal.isInteractive
        let settings: Settings
        do {
            settings = try Settings.resolve(self)
        } catch {
            fail(error)
        }
        for warning in settings.warnings { standardError("partnerline: warning: " + warning) }
        let password: String
        do {
            password = try PasswordSource.obtain(file: settings.passwordFile, account: settings.user)
        } catch {
            fail(error)
        }
        if !batch {
            runInteractive(settings, password: password)
        }
        let session: Established
        do {
            session = try Establish.run(endpoint: settings.endpoint, trust: settings.trust, user: settings.user,
                                        password: password)
        } catch {
            fail(error)
        }
        for note in session.notes { standardError("partnerline: " + note) }
        var lines = send
        if lines.isEmpty {
            while let line = readLine(strippingNewline: true) { lines.append(line) }
        }
        Foundation.exit(BatchMode.run(session, lines: lines))
    }

    /// The full-screen client on the library's `PartnerlineSession`: the first login is waited for
    /// here (a failure is exit status 2, before the screen is taken), then it reconnects by itself.
    private func runInteractive(_ settings: Settings, password: String) -> Never {
        var knownBefore = true
        if case .knownHosts(let path) = settings.trust {
            knownBefore = KnownHosts(contents: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                .entries.contains { $0.hostPort == settings.endpoint.key }
        }
        let link = SessionLink(endpoint: settings.endpoint, trust: settings.trust, user: settings.user, password: password)
        let started: SessionLink.Started
        do {
            started = try link.waitForFirstLogin()
        } catch {
            fail(error)
        }
        var notes: [String] = []
        if case .knownHosts(let path) = settings.trust, !knownBefore,
           let entry = KnownHosts(contents: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            .entries.first(where: { $0.hostPort == settings.endpoint.key }) {
            notes.append("trusting \(settings.endpoint.key) on first use: certificate SHA-256 \(Fingerprint.display(entry.fingerprint)) (recorded in \(path))")
        }
        for note in notes { standardError("partnerline: " + note) }
        let app = InteractiveApp(settings: settings, link: link, started: started, notes: notes)
        Foundation.exit(app.run())
    }

    /// Exit status 2 with the reason on standard error: could not connect, verify or log in
    /// (or the settings say it cannot).
    private func fail(_ error: Error) -> Never {
        standardError("partnerline: \(error)")
        Foundation.exit(2)
    }
}

func standardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Flags over the config file over the defaults.
struct Settings {
    var endpoint: Endpoint
    var user: String
    var trust: TrustMode
    var passwordFile: String?
    var scrollback: Int
    var rooms: [String]
    var warnings: [String] = []

    static func resolve(_ flags: PartnerlineCommand) throws -> Settings {
        let file = try ConfigFile.load(flags.config)
        guard let server = flags.server ?? file.server else {
            throw ClientError("no server: use --server HOST:PORT or set server: in \(flags.config ?? ConfigFile.defaultPath)")
        }
        guard let user = flags.user ?? file.user else {
            throw ClientError("no account: use --user ACCOUNT or set user: in \(flags.config ?? ConfigFile.defaultPath)")
        }
        let endpoint = try Endpoint.parse(server)
        var warnings: [String] = []
        let trust: TrustMode
        // A trust flag on the command line beats the config file's.
        let anyFlag = flags.caFile != nil || flags.knownHosts != nil || flags.insecure
        if flags.plain || (!anyFlag && file.plain == true) {
            guard endpoint.isLoopback else {
                throw ClientError("--plain sends your password unencrypted: it is only allowed to a loopback address, not \(endpoint.host)")
            }
            trust = .plain
        } else if let ca = flags.caFile ?? (anyFlag ? nil : file.caFile) {
            trust = .caFile(ConfigFile.expand(ca))
        } else if flags.insecure || (!anyFlag && file.insecure == true) {
            trust = .insecure
            warnings.append("--insecure: the server's certificate is NOT checked; anyone on the network path can read and change this session")
        } else {
            trust = .knownHosts(ConfigFile.expand(flags.knownHosts ?? file.knownHosts ?? ConfigFile.directory + "/known_hosts"))
        }
        return Settings(endpoint: endpoint, user: user, trust: trust,
                        passwordFile: (flags.passwordFile ?? file.passwordFile).map(ConfigFile.expand),
                        scrollback: file.scrollback ?? 2000, rooms: file.rooms, warnings: warnings)
    }
}
