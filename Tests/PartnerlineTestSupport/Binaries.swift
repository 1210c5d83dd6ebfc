import Foundation

/// The package's built executables (`partnerline-server`, `partnerline`, ...) beside the test bundle.
public enum Binaries {
    /// The test bundle sits in the build products directory, beside the executables.
    public static func path(_ name: String) -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/" + name
    }
}
