import Foundation

/// A temporary directory removed when the value goes away.
public final class TempDir: @unchecked Sendable {
    public let path: String

    /// `prefix` names the suite in /tmp; `uniqueCharacters` keeps a path short where it must be
    /// (the CLI tests put tmux sockets under it, and a Unix socket path has a small limit).
    public init(prefix: String = "partnerline-test-", uniqueCharacters: Int = 36) {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString.prefix(uniqueCharacters)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
