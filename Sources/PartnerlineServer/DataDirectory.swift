import Foundation
import PartnerlineCore

/// Where the journals of a data directory live: `accounts/` and one `clusters/<name>/` per cluster.
/// Shared by the server, `verify` and `backup`, so they always agree on what a data dir holds.
public enum DataDirectory {
    public struct JournalLocation: Sendable, Equatable {
        /// How the journal is named in reports: `accounts` or `clusters/<name>`.
        public var name: String
        /// Full path of the journal's directory.
        public var path: String
    }

    public static func accountsPath(_ dataDir: String) -> String { join(dataDir, "accounts") }

    public static func clusterPath(_ dataDir: String, cluster: String) -> String {
        join(join(dataDir, "clusters"), cluster)
    }

    /// The journals present on disk: accounts first (if present), then every cluster directory, sorted.
    /// A cluster removed from the config keeps its journal, so this reads the disk, not the config.
    public static func journals(in dataDir: String) -> [JournalLocation] {
        var found: [JournalLocation] = []
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: accountsPath(dataDir), isDirectory: &isDirectory), isDirectory.boolValue {
            found.append(JournalLocation(name: "accounts", path: accountsPath(dataDir)))
        }
        let clusters = join(dataDir, "clusters")
        for name in ((try? files.contentsOfDirectory(atPath: clusters)) ?? []).sorted() {
            let path = join(clusters, name)
            if files.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                found.append(JournalLocation(name: "clusters/\(name)", path: path))
            }
        }
        return found
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

extension JournalEntry {
    /// When the record was made (every entry carries a time).
    var timeMillis: Int64 {
        switch self {
        case .accountRegistered(let account, _): account.createdMillis
        case .event(let event): event.timeMillis
        case .memberJoined(_, _, let time), .memberLeft(_, _, let time), .readMarker(_, _, _, let time): time
        case .roleGranted(_, _, _, _, let time), .roleRevoked(_, _, _, _, let time), .inviteCreated(_, _, _, let time): time
        case .roomCreated(_, _, _, let time), .topicSet(_, _, _, let time), .muted(_, _, _, _, let time),
             .unmuted(_, _, _, let time), .membershipPolicy(_, _, _, let time), .memberApproved(_, _, _, let time): time
        case .joinRequested(_, _, let time), .requestDenied(_, _, _, let time): time
        }
    }
}

/// Another process holds the lock of a journal in this data directory: refuse to be a second writer.
public struct DataDirectoryInUse: Error, CustomStringConvertible, Sendable {
    public var dataDir: String
    public var journal: String

    public var description: String {
        "data directory \(dataDir) is in use by another running partnerline-server (journal \(journal) is locked); "
            + "refusing to start, since two servers appending to one journal would corrupt it. Stop the other server, "
            + "or give this one its own --data-dir."
    }
}
