import PartnerlineCore
import PartnerlineProtocol

/// One parsed command and the ways to answer it; every reply line carries the command's tag.
struct Request: Sendable {
    let command: ParsedCommand

    var tag: String? { command.tag }
    var verb: String { command.verb }
    var arguments: [String] { command.arguments }
    var options: [String: String] { command.options }
    var text: String? { command.text }

    func ok(_ fields: [(String, String)] = [], text: String? = nil) -> [UInt8] {
        ServerLine.ok(tag: tag, verb: verb, fields: fields, text: text)
    }

    func err(_ code: ErrorCode, _ message: String) -> [UInt8] {
        ServerLine.err(tag: tag, code: code, verb: verb, message: message)
    }

    func err(_ error: DomainError) -> [UInt8] { err(error.code, error.message) }

    func data(_ word: String, _ arguments: [String] = [], _ fields: [(String, String)] = [], text: String? = nil) -> [UInt8] {
        ServerLine.data(tag: tag, word: word, arguments: arguments, fields: fields, text: text)
    }

    /// Reads a non-negative integer option; nil when absent, or a refusal when malformed.
    func number(_ key: String, in range: ClosedRange<UInt64>) -> Result<UInt64?, DomainError> {
        guard let raw = options[key] else { return .success(nil) }
        guard raw.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = UInt64(raw), range.contains(value) else {
            return .failure(DomainError(.badSyntax, "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)"))
        }
        return .success(value)
    }
}
