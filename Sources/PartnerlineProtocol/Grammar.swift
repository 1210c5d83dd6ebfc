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

    /// Protocol version 1. One table: later commands are added as more rows here.
    public static let v1 = Grammar([
        CommandSyntax(
            verb: "HELP", optional: ["verb"],
            usage: "HELP [verb]",
            summary: "list the commands, or show how to use one"),
        CommandSyntax(
            verb: "PING", text: .optional,
            usage: "PING [token]",
            summary: "check the connection; the reply is OK PING with the same token"),
        CommandSyntax(
            verb: "PONG", text: .optional,
            usage: "PONG [token]",
            summary: "answer a PING from the server with its token"),
        CommandSyntax(
            verb: "QUIT", text: .optional,
            usage: "QUIT [message]",
            summary: "say goodbye and close the connection"),
        CommandSyntax(
            verb: "REGISTER", required: ["account", "password"], options: ["invite", "org"],
            usage: "REGISTER <account> <password> [invite=<code>] [org=\"Display Name\"]",
            summary: "create an account (lower-case letters, digits and '-', 2-32 long)"),
        CommandSyntax(
            verb: "LOGIN", required: ["account", "password"],
            usage: "LOGIN <account> <password>",
            summary: "log in to your account"),
        CommandSyntax(
            verb: "CLUSTERS",
            usage: "CLUSTERS",
            summary: "list the clusters you can see"),
        CommandSyntax(
            verb: "ROOMS", optional: ["cluster"],
            usage: "ROOMS [cluster]",
            summary: "list rooms with their member count, last event and topic"),
        CommandSyntax(
            verb: "JOIN", required: ["room"],
            usage: "JOIN <room>",
            summary: "receive a room's events live; the reply says the last seq"),
        CommandSyntax(
            verb: "PART", required: ["room"],
            usage: "PART <room>",
            summary: "stop receiving a room's events"),
        CommandSyntax(
            verb: "WHO", required: ["room"],
            usage: "WHO <room>",
            summary: "list a room's members and whether they are online"),
        CommandSyntax(
            verb: "SAY", required: ["room"], text: .required,
            usage: "SAY <room> <text>",
            summary: "post a message to a room you have joined"),
        CommandSyntax(
            verb: "HISTORY", required: ["room"], options: ["after", "before", "limit"],
            usage: "HISTORY <room> [after=<seq>] [before=<seq>] [limit=<n>]",
            summary: "replay stored events oldest first (default limit 50, max 500)"),
        CommandSyntax(
            verb: "HEAD", required: ["cluster"],
            usage: "HEAD <cluster>",
            summary: "the cluster journal's record count and head hash, to keep as a receipt"),
        // Needs, offers, proposals and funding alerts (issue 3).
        CommandSyntax(
            verb: "NEED", required: ["room"], options: ["tags", "until"], text: .required,
            usage: "NEED <room> [tags=a,b] [until=YYYY-MM-DD] <text>",
            summary: "say what your organisation needs; the reply gives its id N<n>"),
        CommandSyntax(
            verb: "OFFER", required: ["room"], options: ["tags", "until"], text: .required,
            usage: "OFFER <room> [tags=a,b] [until=YYYY-MM-DD] <text>",
            summary: "say what your organisation can offer; the reply gives its id O<n>"),
        CommandSyntax(
            verb: "PROPOSE", required: ["room"], options: ["deadline", "funding", "tags"], text: .required,
            usage: "PROPOSE <room> [deadline=YYYY-MM-DD] [funding=F<n>] [tags=a,b] <title>",
            summary: "start a joint proposal (a consortium bid) that you lead; the reply gives its id P<n>"),
        CommandSyntax(
            verb: "BACK", required: ["id"], text: .required,
            usage: "BACK <P-id> <contribution>",
            summary: "join an open proposal as a partner, saying what you bring"),
        CommandSyntax(
            verb: "VOTE", required: ["id", "vote"], text: .optional,
            usage: "VOTE <P-id> agree|abstain|disagree|block [reason]",
            summary: "vote on an open proposal (a block needs a reason); a new vote replaces your last"),
        CommandSyntax(
            verb: "REPLY", required: ["id"], text: .required,
            usage: "REPLY <item-id> <text>",
            summary: "reply to a need, offer, proposal or funding alert"),
        CommandSyntax(
            verb: "RESOLVE", required: ["id"], text: .optional,
            usage: "RESOLVE <N-or-O-id> [note]",
            summary: "mark your need or offer resolved (its author or a facilitator)"),
        CommandSyntax(
            verb: "STATUS", required: ["id", "status"], text: .optional,
            usage: "STATUS <P-id> open|submitted|won|lost|withdrawn [note]",
            summary: "move a proposal along (its lead or a facilitator)"),
        CommandSyntax(
            verb: "FUNDING", required: ["room"], options: ["funder", "amount", "deadline", "url", "tags"],
            requiredOptions: ["funder"], text: .required,
            usage: "FUNDING <room> funder=\"..\" [amount=..] [deadline=YYYY-MM-DD] [url=..] [tags=a,b] <title>",
            summary: "post a funding alert (bots and facilitators); the reply gives its id F<n>"),
        CommandSyntax(
            verb: "SHOW", required: ["id"],
            usage: "SHOW <item-id>",
            summary: "an item with its partners, votes, replies and answering proposals"),
        CommandSyntax(
            verb: "LIST", required: ["room", "kind"], optional: ["all"],
            usage: "LIST <room> needs|offers|proposals|funding [all]",
            summary: "a room's open items of one kind (every one with 'all')"),
        CommandSyntax(
            verb: "SEARCH", options: ["kind"], text: .required,
            usage: "SEARCH [kind=need|offer|proposal|funding] <words>",
            summary: "items in every cluster whose tags or words hold all the words given"),
        CommandSyntax(
            verb: "WATCH", options: ["tags"], requiredOptions: ["tags"],
            usage: "WATCH tags=a,b",
            summary: "also receive new needs, offers, proposals and funding alerts with these tags from every room of your clusters"),
        CommandSyntax(
            verb: "UNWATCH", options: ["tags"], requiredOptions: ["tags"],
            usage: "UNWATCH tags=a,b",
            summary: "stop watching these tags"),
        CommandSyntax(
            verb: "MATCHES",
            usage: "MATCHES",
            summary: "open needs and offers that fit each other, at least one of them yours"),
        // Roles.
        CommandSyntax(
            verb: "GRANT", required: ["account", "role"], options: ["cluster"],
            usage: "GRANT <account> facilitator|bot|admin [cluster=<cluster>]",
            summary: "give a role: facilitator of a cluster (its facilitators, admins), bot or admin (admins)"),
        CommandSyntax(
            verb: "REVOKE", required: ["account", "role"], options: ["cluster"],
            usage: "REVOKE <account> facilitator|bot|admin [cluster=<cluster>]",
            summary: "take a role away again"),
        // Moderation: facilitators of the cluster and admins.
        CommandSyntax(
            verb: "NEWROOM", required: ["room"], text: .optional,
            usage: "NEWROOM <room> [topic]",
            summary: "make a new room in a cluster you facilitate"),
        CommandSyntax(
            verb: "TOPIC", required: ["room"], text: .required,
            usage: "TOPIC <room> <topic>",
            summary: "set a room's topic"),
        CommandSyntax(
            verb: "MUTE", required: ["room", "account"], text: .optional,
            usage: "MUTE <room> <account> [reason]",
            summary: "stop an account posting in a room (it can still read)"),
        CommandSyntax(
            verb: "UNMUTE", required: ["room", "account"],
            usage: "UNMUTE <room> <account>",
            summary: "let a muted account post again"),
        CommandSyntax(
            verb: "INVITE", required: ["cluster"],
            usage: "INVITE <cluster>",
            summary: "make a single-use invite code for REGISTER that also welcomes the new account into the cluster"),
        CommandSyntax(
            verb: "POLICY", required: ["cluster", "policy"],
            usage: "POLICY <cluster> open|approval|closed",
            summary: "who may become a new member: anyone, those a facilitator approves or invites, or no one"),
        CommandSyntax(
            verb: "APPROVE", required: ["cluster", "account"],
            usage: "APPROVE <cluster> <account>",
            summary: "let an account become a member of a cluster whose membership needs approval"),
    ])
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
