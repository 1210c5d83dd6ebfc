import PartnerlineCore
import PartnerlineProtocol

/// One typed command with its reply tag, and the ways to answer it; every reply line carries the tag.
struct Request: Sendable {
    let tag: String?
    let command: Command

    /// The verb as the replies name it (`OK <VERB>`).
    var verb: String { command.verb.rawValue }

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
}
