import Foundation
import PartnerlineTestSupport
import Testing

/// Events whose OK a client received, by room and seq, with the exact EV line the poster saw.
final class Ledger: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String: [Int: String]] = [:]
    private var total = 0
    private var problems: [String] = []

    func acknowledged(room: String, seq: Int, line: String) {
        lock.withLock {
            if lines[room, default: [:]].updateValue(line, forKey: seq) != nil {
                problems.append("seq \(seq) of \(room) was acknowledged twice")
            }
            total += 1
        }
    }

    func problem(_ text: String) { lock.withLock { problems.append(text) } }
    var count: Int { lock.withLock { total } }
    var snapshot: [String: [Int: String]] { lock.withLock { lines } }
    var issues: [String] { lock.withLock { problems } }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func raise() { lock.withLock { value = true } }
    var raised: Bool { lock.withLock { value } }
}

/// The crash torture test: a real server under concurrent posting load from several clients is
/// killed with SIGKILL at random points, several times. After each restart every event whose OK a
/// client received is present, with the same seq and the same EV line, seqs have no gaps, and
/// `verify` passes on the data dir.
@Suite(.serialized) struct CrashTortureTests {
    static let rooms = ["rural-east-midlands/general", "rural-east-midlands/purchasing", "inner-city-north/general"]
    static let posters = ["boston-mind", "lincoln-womens-aid", "grantham-foodbank", "leeds-refugee-hub", "york-carers"]

    /// Two clusters, small segments so they roll during the run, and a checkpoint every 50 records
    /// so kills also land while one is being written and restarts start from one.
    static func config(in dir: String, dataDir: String, fsync: String) -> String {
        TestConfig.yamlFile(in: dir, dataDir: dataDir, fsync: fsync, oneCluster: false,
                            journalExtra: "  segment_max_bytes: 16384\n  checkpoint_every_records: 50")
    }

    @Test(arguments: ["always", "batch"])
    func everyAcknowledgedEventSurvivesRepeatedKill9UnderLoad(fsync: String) throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let configPath = Self.config(in: dir.path, dataDir: dataDir, fsync: fsync)
        let ledger = Ledger()
        var generator = SystemRandomNumberGenerator()
        // A longer soak: PARTNERLINE_TORTURE_KILLS=100 swift test --filter CrashTortureTests
        let kills = ProcessInfo.processInfo.environment["PARTNERLINE_TORTURE_KILLS"].flatMap { Int($0) } ?? 4

        for round in 0...kills {
            let server = try ServerProcess(config: configPath, logDir: dir.path)
            try Self.check(port: server.tlsPort, dataDir: dataDir, ledger: ledger, register: round == 0,
                           context: context(fsync, round))
            if round == kills {
                #expect(server.stop() == 0)
                break
            }
            // Load: one thread per poster, each posting as fast as its OKs come back.
            let stop = StopFlag()
            let group = DispatchGroup()
            for (index, poster) in Self.posters.enumerated() {
                let room = Self.rooms[index % Self.rooms.count]
                let port = server.tlsPort
                DispatchQueue.global().async(group: group) {
                    Self.post(as: poster, in: room, port: port, round: round, ledger: ledger, stop: stop)
                }
            }
            // Kill at a random point: after a random number of further acknowledgements.
            let target = ledger.count + Int.random(in: 20...240, using: &generator)
            let hangGuard = Date().addingTimeInterval(60)
            while ledger.count < target && ledger.issues.isEmpty && Date() < hangGuard { usleep(1000) }
            #expect(ledger.count >= target, "\(context(fsync, round)): the load stalled")
            server.kill9()
            stop.raise()
            #expect(group.wait(timeout: .now() + 60) == .success, "posters ended after the kill")
        }
        #expect(ledger.issues.isEmpty, "\(ledger.issues)")
        #expect(ledger.count > kills * 20)
    }

    private func context(_ fsync: String, _ round: Int) -> String { "fsync \(fsync), after \(round) kills" }

    /// Posts until the connection dies; records each OK with the EV line that came before it.
    static func post(as poster: String, in room: String, port: Int, round: Int, ledger: Ledger, stop: StopFlag) {
        guard let client = try? TestClient(port: port, tls: true) else { return }
        defer { client.close() }
        guard (try? client.final("LOGIN \(poster) correct-horse-battery"))?.hasPrefix("OK LOGIN account=\(poster) role=member rooms=") == true,
              (try? client.final("JOIN \(room)"))?.hasPrefix("OK JOIN") == true
        else { return }
        var n = 0
        while !stop.raised {
            n += 1
            let text = "\(poster) round \(round) post \(n)"
            guard let reply = try? client.send("SAY \(room) \(text)"), let last = reply.last else { return }
            guard last.hasPrefix("OK SAY room=\(room) seq="), let seq = Int(last.split(separator: "=").last!) else {
                return ledger.problem("\(text): \(last)")
            }
            guard let line = reply.first(where: { $0.hasPrefix("EV \(room) \(seq) ") && $0.hasSuffix(" :\(text)") }) else {
                return ledger.problem("\(text): no EV before its OK in \(reply)")
            }
            ledger.acknowledged(room: room, seq: seq, line: line)
        }
    }

    /// Every acknowledged event is stored with its seq and line, seqs run 1...n, and verify passes.
    static func check(port: Int, dataDir: String, ledger: Ledger, register: Bool, context: String) throws {
        let client = try TestClient(port: port, tls: true)
        defer { client.close() }
        if register {
            for poster in posters {
                #expect(try client.final("REGISTER \(poster) correct-horse-battery") == "OK REGISTER account=\(poster)")
            }
        }
        try client.login("torture-checker", register: register)
        let acknowledged = ledger.snapshot
        for room in rooms {
            try client.send("JOIN \(room)")
            var stored: [String] = []
            while true {
                let page = try client.send("HISTORY \(room) after=\(stored.count) limit=500")
                let lines = page.dropLast().filter { $0.hasPrefix("EV ") }
                if lines.isEmpty { break }
                stored += lines
            }
            let seqs = stored.map { Int($0.split(separator: " ")[2])! }
            #expect(seqs == Array(0..<seqs.count).map { $0 + 1 }, "\(context): \(room) seqs have no gaps")
            for (seq, line) in acknowledged[room] ?? [:] {
                #expect(seq <= stored.count && stored[seq - 1] == line, "\(context): acknowledged \(line) is missing")
            }
        }
        let run = try ServerTool.verify(dataDir)
        #expect(run.status == 0, "\(context): verify: \(run.stdout)")
    }
}
