/// Whether a verb takes free text after its arguments and options.
public enum TextRule: Sendable {
    /// No text may follow.
    case none
    /// Text may follow.
    case optional
    /// Non-empty text must follow.
    case required
}

/// The fixed shape of one verb: `VERB <required...> [optional...] [key=value ...] [text]`.
public struct CommandSyntax: Sendable {
    /// The verb, upper-case.
    public var verb: String
    /// Names of the required positional arguments, in order, e.g. `["room"]`.
    public var required: [String]
    /// Names of the optional positional arguments that may follow the required ones.
    public var optional: [String]
    /// The allowed `key=value` keys. Empty means the verb takes no options, and
    /// everything after its positionals is text.
    public var options: Set<String>
    /// Keys (a subset of `options`) that must be given, e.g. `funder` for FUNDING.
    public var requiredOptions: Set<String>
    /// Whether free text may or must follow.
    public var text: TextRule
    /// The usage line, e.g. `"SAY <room> <text>"`.
    public var usage: String
    /// One line for HELP.
    public var summary: String

    /// - Parameter usage: when nil, a usage line is derived from the other fields
    ///   (`VERB <req> [opt] [key=<key>] [text]`).
    public init(
        verb: String,
        required: [String] = [],
        optional: [String] = [],
        options: Set<String> = [],
        requiredOptions: Set<String> = [],
        text: TextRule = .none,
        usage: String? = nil,
        summary: String = ""
    ) {
        precondition(requiredOptions.isSubset(of: options), "requiredOptions must be declared in options")
        self.verb = ASCII.uppercased(verb)
        self.required = required
        self.optional = optional
        self.options = options
        self.requiredOptions = requiredOptions
        self.text = text
        self.summary = summary
        self.usage = usage ?? Self.derivedUsage(
            verb: self.verb, required: required, optional: optional,
            options: options, requiredOptions: requiredOptions, text: text)
    }

    private static func derivedUsage(
        verb: String, required: [String], optional: [String],
        options: Set<String>, requiredOptions: Set<String>, text: TextRule
    ) -> String {
        var parts = [verb]
        parts += required.map { "<\($0)>" }
        parts += optional.map { "[\($0)]" }
        for key in options.sorted() {
            parts.append(requiredOptions.contains(key) ? "\(key)=<\(key)>" : "[\(key)=<\(key)>]")
        }
        switch text {
        case .none: break
        case .optional: parts.append("[text]")
        case .required: parts.append("<text>")
        }
        return parts.joined(separator: " ")
    }
}

/// The table of verbs a server understands. Verb look-up is case-insensitive.
public struct Grammar: Sendable {
    private let table: [String: CommandSyntax]
    /// The verbs, upper-case, in table order (for HELP).
    public let verbs: [String]

    /// - Precondition: no verb appears twice.
    public init(_ syntaxes: [CommandSyntax]) {
        var table: [String: CommandSyntax] = [:]
        var verbs: [String] = []
        for syntax in syntaxes {
            let verb = ASCII.uppercased(syntax.verb)
            precondition(table[verb] == nil, "verb \(verb) appears twice in the grammar")
            table[verb] = syntax
            verbs.append(verb)
        }
        self.table = table
        self.verbs = verbs
    }

    /// The syntax of `verb`, matched case-insensitively; nil for an unknown verb.
    public func syntax(for verb: String) -> CommandSyntax? {
        table[ASCII.uppercased(verb)]
    }

    /// All syntaxes in table order.
    public var syntaxes: [CommandSyntax] { verbs.map { table[$0]! } }

    /// Protocol version 1: every `Verb` in order, each with its syntax (`Verb.syntax` is the table).
    public static let v1 = Grammar(Verb.allCases.map(\.syntax))
}

/// ASCII-only helpers: the grammar is ASCII, and user text must not be case-mapped by locale.
enum ASCII {
    static func uppercased(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return s }
        return String(decoding: s.utf8.map(upper), as: UTF8.self)
    }

    @inline(__always)
    static func upper(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") ? c - 32 : c
    }
}
