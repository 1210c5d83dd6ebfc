import Foundation

/// A temporary directory removed when the value goes away.
public final class TempDir: @unchecked Sendable {
    public let path: String

    /// `prefix` names the suite in /tmp; `uniqueCharacters` shortens the unique part where a suite
    /// wants short paths.
    public init(prefix: String = "partnerline-test-", uniqueCharacters: Int = 36) {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString.prefix(uniqueCharacters)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
