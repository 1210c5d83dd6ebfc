import PartnerlineProtocol

/// One server line as the model reads it: tag, first word, positional words, `key=value` options
/// and the free text, as `ServerLineTokens` (the contract's "Parsing a server line" grammar, shared
/// with the client library) cuts it. The model needs only this flat shape.
public struct IncomingLine: Sendable, Equatable {
    public var tag: String?
    /// `OK`, `ERR`, `EV`, `*`, `PING`, `NOTICE`, `BYE`, `HELLO`, `READ`, ...
    public var word: String
    /// Tokens after the first word that are not options, in order.
    public var arguments: [String]
    public var options: [String: String]
    public var text: String?

    public init(tag: String? = nil, word: String, arguments: [String] = [], options: [String: String] = [:],
                text: String? = nil) {
        self.tag = tag
        self.word = word
        self.arguments = arguments
        self.options = options
        self.text = text
    }

    /// Reads a line with the project's one tokenizer (`ServerLineTokens`); nil for an empty line.
    public init?(_ raw: String) {
        self.init(ServerLineTokens(raw))
    }

    public init?(_ tokens: ServerLineTokens) {
        guard !tokens.word.isEmpty else { return nil }
        tag = tokens.tag
        word = tokens.word
        arguments = tokens.arguments
        var options: [String: String] = [:]
        for field in tokens.fields where options[field.key] == nil { options[field.key] = field.value }
        self.options = options
        text = tokens.text
    }

    public func option(_ key: String) -> String? { options[key] }
}
