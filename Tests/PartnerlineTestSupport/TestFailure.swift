/// A test set-up step that went wrong, with what was seen (thrown from helpers, so a test fails
/// with the reason rather than crashing).
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
