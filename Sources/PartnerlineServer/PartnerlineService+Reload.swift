import Foundation
import PartnerlineCore

/// SIGHUP: the certificate and key, and the clusters and rooms, change without a restart.
extension PartnerlineService {
    /// What a reload did, line by line (also logged).
    public struct ReloadReport: Sendable {
        public var applied: [String] = []
        public var keptOld: [String] = []
        public var needsRestart: [String] = []
    }

    /// Applies what can change live from `newConfig`:
    /// - the certificate and key: new connections get the new pair, sessions already open keep
    ///   theirs; if the new pair cannot be loaded the old one stays and the log says why;
    /// - clusters and rooms: new clusters (their journals are opened), new rooms, new topics and
    ///   descriptions.
    /// Everything else (listen addresses, data_dir, limits, protection, passwords, journal,
    /// registration, server_name, client certificates) and removing a cluster or room needs a
    /// restart; the log names each such difference.
    @discardableResult
    public func reload(_ newConfig: ServerConfig) -> ReloadReport {
        reloadLock.lock()
        defer { reloadLock.unlock() }
        var report = ReloadReport()
        guard let context else { return report }

        // Certificate and key.
        let previous = config
        config.tls.certificate = newConfig.tls.certificate
        config.tls.privateKey = newConfig.tls.privateKey
        do {
            let tls = try loadCertificate()
            listeners.first?.replaceTLSContext(tls)
            report.applied.append("certificate reloaded from \(config.tls.certificate ?? "the self-signed pair in \(config.dataDir)/tls"); new connections get it, open sessions keep theirs")
        } catch {
            config.tls.certificate = previous.tls.certificate
            config.tls.privateKey = previous.tls.privateKey
            report.keptOld.append("the new certificate could not be loaded, so the old one stays in use: \(error)")
        }

        // Clusters and rooms.
        let newNames = Set(newConfig.clusters.map(\.name))
        for definition in newConfig.clusterDefinitions {
            if let shard = context.shard(definition.name) {
                let changes = Locked<[String]>([])
                let done = DispatchSemaphore(value: 0)
                shard.reconfigure(definition) { list in
                    changes.withLock { $0 = list }
                    done.signal()
                }
                done.wait()
                report.applied += changes.withLock { $0 }
                if let old = previous.clusters.first(where: { $0.name == definition.name }) {
                    let removed = Set(old.rooms.map(\.name)).subtracting(definition.rooms.map(\.name))
                    for room in removed.sorted() {
                        report.needsRestart.append("room \(definition.name)/\(room) is gone from the config but stays until a restart (and its history stays in the journal)")
                    }
                }
            } else {
                do {
                    context.addShard(try openShard(definition, online: context.online, itemIndex: context.itemIndex))
                    report.applied.append("new cluster \(definition.name) with \(definition.rooms.count) rooms")
                } catch {
                    report.keptOld.append("new cluster \(definition.name) could not be opened: \(error)")
                }
            }
        }
        for cluster in previous.clusters where !newNames.contains(cluster.name) {
            report.needsRestart.append("cluster \(cluster.name) is gone from the config but stays until a restart")
        }
        config.clusters = previous.clusters.filter { !newNames.contains($0.name) } + newConfig.clusters

        // What only a restart changes.
        let restartOnly: [(String, Bool)] = [
            ("server_name", newConfig.serverName != previous.serverName),
            ("data_dir", newConfig.dataDir != previous.dataDir),
            ("listen", newConfig.listen != previous.listen),
            ("tls.client_certificates", newConfig.tls.clientCertificates != previous.tls.clientCertificates),
            ("registration", newConfig.registration != previous.registration),
            ("passwords", newConfig.passwords != previous.passwords),
            ("journal", newConfig.journal != previous.journal),
            ("limits", newConfig.limits != previous.limits),
            ("protection", newConfig.protection != previous.protection),
        ]
        for (section, changed) in restartOnly where changed {
            report.needsRestart.append("\(section) changed in the file; it takes effect only after a restart")
        }

        for line in report.applied { log.notice("reload: \(line)") }
        for line in report.keptOld { log.error("reload: \(line)") }
        for line in report.needsRestart { log.warning("reload: \(line)") }
        if report.applied.isEmpty && report.keptOld.isEmpty && report.needsRestart.isEmpty {
            log.notice("reload: nothing changed")
        }
        return report
    }
}

/// A value behind a lock, for results that arrive on another queue.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
