import PartnerlineConfig
import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing
import Yams

/// A key the config does not know is an error that names it, its section and the nearest known key.
@Suite struct ConfigKeyTests {
    static let base = "clusters: [{ name: rural-east-midlands, rooms: [{ name: general }] }]\n"

    /// The error `parse` throws for `yaml`, or nil when it parsed.
    static func error(_ yaml: String) -> String? {
        do {
            _ = try ServerConfig.parse(yaml: yaml, source: "test.yaml")
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// One misspelling in every section (and in list items), with the message expected.
    @Test(arguments: [
        ("server_nmae: x", "unknown key server_nmae; did you mean server_name?"),
        ("listen: { tls_prot: 0 }", "unknown key listen.tls_prot; did you mean tls_port?"),
        ("listen: { tlsPort: 0 }", "unknown key listen.tlsPort; did you mean tls_port?"),
        ("tls: { privat_key: k.pem }", "unknown key tls.privat_key; did you mean private_key?"),
        ("tls: { client_certificates: [{ sha265: ab, account: bot }] }",
         "unknown key tls.client_certificates[0].sha265; did you mean sha256?"),
        ("registration: { polcy: open }", "unknown key registration.polcy; did you mean policy?"),
        ("passwords: { hashing_thread: 2 }", "unknown key passwords.hashing_thread; did you mean hashing_threads?"),
        ("journal:\n  fsync: batch\n  fsnyc: always", "unknown key journal.fsnyc; did you mean fsync? (line 4)"),
        ("limits: { max_line_lenght: 100 }", "unknown key limits.max_line_lenght; did you mean max_line_length?"),
        ("items: { reminder_day: [1] }", "unknown key items.reminder_day; did you mean reminder_days?"),
        ("protection: { flod: {} }", "unknown key protection.flod; did you mean flood?"),
        ("protection: { flood: { brust: 3 } }", "unknown key protection.flood.brust; did you mean burst?"),
        ("protection: { connections: { max_per_adress: 3 } }",
         "unknown key protection.connections.max_per_adress; did you mean max_per_address?"),
        ("protection: { timeouts: { idle_second: 3 } }", "unknown key protection.timeouts.idle_second; did you mean idle_seconds?"),
        ("protection: { hashing: { max_queud: 3 } }", "unknown key protection.hashing.max_queud; did you mean max_queued?"),
        ("protection: { logins: { windows_seconds: 3 } }",
         "unknown key protection.logins.windows_seconds; did you mean window_seconds?"),
        // In the wrong section: where it belongs.
        ("fsync: always", "unknown key fsync; fsync belongs under journal"),
        // Twice: refused by the YAML reader, naming the key.
        ("journal:\n  fsync: always\n  fsync: os", "not valid YAML: Parser: expected all keys to be unique but found the following duplicated key(s): 'fsync'"),
        // Nothing near: the section's keys.
        ("journal: { colour: blue }",
         "unknown key journal.colour; known here: batch_window_micros, checkpoint_every_records, fsync, history_window, max_batch_records, segment_max_bytes"),
    ])
    func aMisspelledKeyIsNamedWithTheNearestOne(yaml: String, message: String) {
        let error = Self.error(Self.base + yaml)
        #expect(error?.hasPrefix("test.yaml: ") == true, "\(error ?? "parsed")")
        #expect(error?.contains(message) == true, "\(error ?? "parsed")")
    }

    @Test func keysOfClustersAndRoomsAreCheckedInEveryListItem() {
        let error = Self.error("""
            clusters:
              - name: rural-east-midlands
                rooms: [{ name: general }]
              - name: inner-city-north
                descripton: City
                rooms: [{ name: general }, { name: funding, topc: Grants }]
            """)
        #expect(error == """
            test.yaml: unknown key clusters[1].descripton; did you mean description? (line 5)
            test.yaml: unknown key clusters[1].rooms[1].topc; did you mean topic? (line 6)
            """)
    }

    /// Every key written in the shipped config, misspelled in turn (two letters swapped), is caught
    /// and the original suggested: no section of the file is left unchecked.
    @Test func everyKeyOfTheShippedConfigMisspelledIsCaught() throws {
        let lines = DemoConfig.yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let keyLine = /^(\s*(?:- )?)([a-z0-9_]+):(.*)$/
        var checked = 0
        for (index, line) in lines.enumerated() {
            guard let match = line.wholeMatch(of: keyLine) else { continue }
            let key = String(match.2)
            var letters = Array(key)
            guard letters.count >= 3, letters[1] != letters[2] else { continue }
            letters.swapAt(1, 2)
            let typo = String(letters)
            var mutated = lines
            mutated[index] = "\(match.1)\(typo):\(match.3)"
            let error = Self.error(mutated.joined(separator: "\n"))
            let named = error?.contains("\(typo); did you mean \(key)? (line \(index + 1))") == true
            #expect(named, "\(key) misspelled as \(typo) on line \(index + 1): \(error ?? "parsed")")
            checked += 1
        }
        #expect(checked >= 45, "keys checked: \(checked)")
    }

    /// The shape cannot drift from the config: a config with every section filled in, written out
    /// by its own encoder (the same CodingKeys), has no key the shape lacks and no section the shape
    /// takes for a plain value (whose keys would then go unchecked).
    @Test func theShapeDescribesEverySectionOfTheConfig() throws {
        var config = ServerConfig()
        config.listen.plainPort = 7080
        config.tls.certificate = "cert.pem"
        config.tls.privateKey = "key.pem"
        config.tls.clientCertificates = [.init(sha256: String(repeating: "ab", count: 32), account: "funding-bot")]
        config.clusters = [.init(name: "rural", description: "Rural", rooms: [.init(name: "general", topic: "Hello")])]
        let tree = try #require(try Yams.compose(yaml: YAMLEncoder().encode(config)))
        #expect(ConfigKeyCheck.unknownKeys(in: tree, shape: ServerConfig.shape) == [])

        var undescribed: [String] = []
        func walk(_ node: Node, _ shape: ConfigShape, _ path: String) {
            switch (node, shape) {
            case (.mapping(let mapping), .section(let keys)):
                for (key, value) in mapping {
                    let name = key.string ?? "?"
                    if let inner = keys[name] { walk(value, inner, path.isEmpty ? name : "\(path).\(name)") }
                }
            case (.sequence(let items), .list(let item)):
                for element in items { walk(element, item, path + "[]") }
            case (.mapping, _), (.sequence, .section):
                undescribed.append(path)
            case (.sequence(let items), .value):
                if items.contains(where: { if case .scalar = $0 { false } else { true } }) { undescribed.append(path) }
            default:
                break
            }
        }
        walk(tree, ServerConfig.shape, "")
        #expect(undescribed == [], "sections the shape takes for plain values: \(undescribed)")
        // Every section of the shipped file is in the encoded config too.
        #expect(["listen", "tls", "registration", "passwords", "journal", "limits", "protection", "items", "clusters"]
            .allSatisfy { tree[$0] != nil })
    }

    @Test func theNearestKeyIsATypoAwayOrNone() {
        #expect(ConfigKeyCheck.editDistance("fsnyc", "fsync") == 1)
        #expect(ConfigKeyCheck.editDistance("", "abc") == 3)
        #expect(ConfigKeyCheck.nearest(to: "fsnyc", among: ["fsync", "history_window"]) == "fsync")
        #expect(ConfigKeyCheck.nearest(to: "Max-Total", among: ["max_total", "max_per_address"]) == "max_total")
        #expect(ConfigKeyCheck.nearest(to: "colour", among: ["fsync", "history_window"]) == nil)
    }

    /// Values of the wrong type say where, in the config's own words.
    @Test func aWrongValueNamesItsKey() {
        #expect(Self.error(Self.base + "journal: { max_batch_records: lots }")?
            .contains("test.yaml: journal.max_batch_records: expected a whole number") == true)
        #expect(Self.error(Self.base + "journal: { fsync: sometimes }")?.contains("test.yaml: journal.fsync:") == true)
    }
}

/// The demo config built into the binary is the shipped file, and the binary falls back to it
/// only when no config was asked for and none is in the working directory.
@Suite(.timeLimit(.minutes(2)))
struct DemoConfigTests {
    static var shippedFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/partnerline.yaml").path
    }

    @Test func theBuiltInDemoIsTheShippedFile() throws {
        let file = try String(contentsOfFile: Self.shippedFile, encoding: .utf8)
        #expect(DemoConfig.yaml == file, """
            Sources/PartnerlineServer/DemoConfig.swift differs from Config/partnerline.yaml: \
            copy the file's text into DemoConfig.yaml unchanged
            """)
        #expect(try ServerConfig.parse(yaml: DemoConfig.yaml) == ServerConfig.load(path: Self.shippedFile))
    }

    @Test func startedElsewhereItRunsTheBuiltInDemo() throws {
        let elsewhere = TempDir()
        let server = try ServerProcess(config: nil, arguments: ["--data-dir", elsewhere.path + "/data"],
                                       logDir: elsewhere.path, workingDirectory: elsewhere.path)
        let client = try TestClient(port: server.tlsPort, tls: true)
        #expect(client.greeting.hasPrefix("HELLO partnerline/1 demo "))
        #expect(server.stop() == 0)
        #expect(server.log.contains("no Config/partnerline.yaml in \(elsewhere.path): running the built-in demo config"),
                "\(server.log)")
        #expect(FileManager.default.fileExists(atPath: elsewhere.path + "/data/tls"))
    }

    @Test func aConfigInTheWorkingDirectoryIsUsedFirst() throws {
        let elsewhere = TempDir()
        try FileManager.default.createDirectory(atPath: elsewhere.path + "/Config", withIntermediateDirectories: true)
        let yaml = TestConfig.yaml(dataDir: elsewhere.path + "/data", plain: false, oneCluster: true)
            .replacingOccurrences(of: "server_name: test", with: "server_name: here")
        try yaml.write(toFile: elsewhere.path + "/Config/partnerline.yaml", atomically: true, encoding: .utf8)
        let server = try ServerProcess(config: nil, logDir: elsewhere.path, workingDirectory: elsewhere.path)
        #expect(try TestClient(port: server.tlsPort, tls: true).greeting.hasPrefix("HELLO partnerline/1 here "))
        #expect(server.stop() == 0)
        #expect(!server.log.contains("built-in demo"))
    }

    @Test func aMissingConfigThatWasAskedForIsAnError() throws {
        let elsewhere = TempDir()
        let missing = elsewhere.path + "/nowhere.yaml"
        let run = try ServerTool.run(["--config", missing, "--tls-port", "0", "--data-dir", elsewhere.path + "/data"],
                                     timeoutSeconds: 60, workingDirectory: elsewhere.path)
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot read config \(missing)"), "\(run.stderr)")
        #expect(!run.stderr.contains("Usage"), "a config error is not a usage error: \(run.stderr)")
        #expect(!run.stdout.contains("listening"))
        #expect(!FileManager.default.fileExists(atPath: elsewhere.path + "/data"))
    }

    @Test func aMisspelledKeyStopsTheBinaryWithItsName() throws {
        let dir = TempDir()
        let path = dir.path + "/typo.yaml"
        try TestConfig.yaml(dataDir: dir.path + "/data", plain: false, oneCluster: true)
            .replacingOccurrences(of: "fsync: batch", with: "fsnyc: batch")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let run = try ServerTool.run(["--config", path, "--tls-port", "0"], timeoutSeconds: 60, workingDirectory: dir.path)
        #expect(run.status != 0)
        #expect(run.stderr.contains("\(path): unknown key journal.fsnyc; did you mean fsync?"), "\(run.stderr)")
        #expect(!run.stderr.contains("Usage"), "\(run.stderr)")
    }
}
