/// Every verb of the protocol, in the order HELP lists them. The grammar table (`syntax`) drives
/// parsing, usage lines and HELP; whether a verb pipelines is declared next to its typed command
/// (`Command` in PartnerlineCore, which also says how to add a verb).
public enum Verb: String, CaseIterable, Sendable {
    case help = "HELP"
    case ping = "PING"
    case pong = "PONG"
    case quit = "QUIT"
    case register = "REGISTER"
    case login = "LOGIN"
    case clusters = "CLUSTERS"
    case rooms = "ROOMS"
    case join = "JOIN"
    case part = "PART"
    case who = "WHO"
    case say = "SAY"
    case history = "HISTORY"
    case mark = "MARK"
    case head = "HEAD"
    // Needs, offers, proposals and funding alerts (issue 3).
    case need = "NEED"
    case offer = "OFFER"
    case propose = "PROPOSE"
    case back = "BACK"
    case vote = "VOTE"
    case reply = "REPLY"
    case resolve = "RESOLVE"
    case status = "STATUS"
    case funding = "FUNDING"
    case show = "SHOW"
    case list = "LIST"
    case search = "SEARCH"
    case watch = "WATCH"
    case unwatch = "UNWATCH"
    case matches = "MATCHES"
    // Roles.
    case grant = "GRANT"
    case revoke = "REVOKE"
    // Moderation: facilitators of the cluster and admins.
    case newRoom = "NEWROOM"
    case topic = "TOPIC"
    case mute = "MUTE"
    case unmute = "UNMUTE"
    case invite = "INVITE"
    case policy = "POLICY"
    case approve = "APPROVE"
    case requests = "REQUESTS"
    case deny = "DENY"

    /// The verb's row of the grammar table: its arguments, options, text, usage line and summary.
    public var syntax: CommandSyntax {
        switch self {
        case .help:
            CommandSyntax(
                verb: rawValue, optional: ["verb"],
                usage: "HELP [verb]",
                summary: "list the commands, or show how to use one")
        case .ping:
            CommandSyntax(
                verb: rawValue, text: .optional,
                usage: "PING [token]",
                summary: "check the connection; the reply is OK PING with the same token")
        case .pong:
            CommandSyntax(
                verb: rawValue, text: .optional,
                usage: "PONG [token]",
                summary: "answer a PING from the server with its token")
        case .quit:
            CommandSyntax(
                verb: rawValue, text: .optional,
                usage: "QUIT [message]",
                summary: "say goodbye and close the connection")
        case .register:
            CommandSyntax(
                verb: rawValue, required: ["account", "password"], options: ["invite", "org"],
                usage: "REGISTER <account> <password> [invite=<code>] [org=\"Display Name\"]",
                summary: "create an account (lower-case letters, digits and '-', 2-32 long)")
        case .login:
            CommandSyntax(
                verb: rawValue, required: ["account", "password"],
                usage: "LOGIN <account> <password>",
                summary: "log in to your account")
        case .clusters:
            CommandSyntax(
                verb: rawValue,
                usage: "CLUSTERS",
                summary: "list the clusters you can see")
        case .rooms:
            CommandSyntax(
                verb: rawValue, optional: ["cluster"],
                usage: "ROOMS [cluster]",
                summary: "list rooms with their member count, last event and topic")
        case .join:
            CommandSyntax(
                verb: rawValue, required: ["room"],
                usage: "JOIN <room>",
                summary: "receive a room's events live; the reply says the last seq")
        case .part:
            CommandSyntax(
                verb: rawValue, required: ["room"],
                usage: "PART <room>",
                summary: "stop receiving a room's events")
        case .who:
            CommandSyntax(
                verb: rawValue, required: ["room"],
                usage: "WHO <room>",
                summary: "list a room's members and whether they are online")
        case .say:
            CommandSyntax(
                verb: rawValue, required: ["room"], text: .required,
                usage: "SAY <room> <text>",
                summary: "post a message to a room you have joined")
        case .history:
            CommandSyntax(
                verb: rawValue, required: ["room"], options: ["after", "before", "limit"],
                usage: "HISTORY <room> [after=<seq>] [before=<seq>] [limit=<n>]",
                summary: "replay stored events oldest first (default limit 50, max 500)")
        case .mark:
            CommandSyntax(
                verb: rawValue, required: ["room", "seq"],
                usage: "MARK <room> <seq>",
                summary: "say you have read a room up to seq (only ever forward); your other connections get READ")
        case .head:
            CommandSyntax(
                verb: rawValue, required: ["cluster"],
                usage: "HEAD <cluster>",
                summary: "the cluster journal's record count and head hash, to keep as a receipt")
        // Needs, offers, proposals and funding alerts (issue 3).
        case .need:
            CommandSyntax(
                verb: rawValue, required: ["room"], options: ["tags", "until"], text: .required,
                usage: "NEED <room> [tags=a,b] [until=YYYY-MM-DD] <text>",
                summary: "say what your organisation needs; the reply gives its id N<n>")
        case .offer:
            CommandSyntax(
                verb: rawValue, required: ["room"], options: ["tags", "until"], text: .required,
                usage: "OFFER <room> [tags=a,b] [until=YYYY-MM-DD] <text>",
                summary: "say what your organisation can offer; the reply gives its id O<n>")
        case .propose:
            CommandSyntax(
                verb: rawValue, required: ["room"], options: ["deadline", "funding", "tags"], text: .required,
                usage: "PROPOSE <room> [deadline=YYYY-MM-DD] [funding=F<n>] [tags=a,b] <title>",
                summary: "start a joint proposal (a consortium bid) that you lead; the reply gives its id P<n>")
        case .back:
            CommandSyntax(
                verb: rawValue, required: ["id"], text: .required,
                usage: "BACK <P-id> <contribution>",
                summary: "join an open proposal as a partner, saying what you bring")
        case .vote:
            CommandSyntax(
                verb: rawValue, required: ["id", "vote"], text: .optional,
                usage: "VOTE <P-id> agree|abstain|disagree|block [reason]",
                summary: "vote on an open proposal (a block needs a reason); a new vote replaces your last")
        case .reply:
            CommandSyntax(
                verb: rawValue, required: ["id"], text: .required,
                usage: "REPLY <item-id> <text>",
                summary: "reply to a need, offer, proposal or funding alert")
        case .resolve:
            CommandSyntax(
                verb: rawValue, required: ["id"], text: .optional,
                usage: "RESOLVE <N-or-O-id> [note]",
                summary: "mark your need or offer resolved (its author or a facilitator)")
        case .status:
            CommandSyntax(
                verb: rawValue, required: ["id", "status"], text: .optional,
                usage: "STATUS <P-id> open|submitted|won|lost|withdrawn [note] | STATUS <F-id> closed|open [note]",
                summary: "move a proposal along (its lead or a facilitator), or close a funding alert early and reopen it (its poster or a facilitator)")
        case .funding:
            CommandSyntax(
                verb: rawValue, required: ["room"], options: ["funder", "amount", "deadline", "url", "tags", "ref"],
                requiredOptions: ["funder"], text: .required,
                usage: "FUNDING <room> funder=\"..\" [amount=..] [deadline=YYYY-MM-DD] [url=..] [tags=a,b] [ref=<key>] <title>",
                summary: "post a funding alert (bots and facilitators); the reply gives its id F<n>; a ref= the cluster knows stores nothing and answers duplicate=yes")
        case .show:
            CommandSyntax(
                verb: rawValue, required: ["id"],
                usage: "SHOW <item-id>",
                summary: "an item with its partners, votes, replies and answering proposals")
        case .list:
            CommandSyntax(
                verb: rawValue, required: ["room", "kind"], optional: ["all"],
                usage: "LIST <room> needs|offers|proposals|funding [all]",
                summary: "a room's open items of one kind (every one with 'all')")
        case .search:
            CommandSyntax(
                verb: rawValue, options: ["kind"], text: .required,
                usage: "SEARCH [kind=need|offer|proposal|funding] <words>",
                summary: "items in every cluster whose tags or words hold all the words given")
        case .watch:
            CommandSyntax(
                verb: rawValue, options: ["tags"], requiredOptions: ["tags"],
                usage: "WATCH tags=a,b",
                summary: "also receive new needs, offers, proposals and funding alerts with these tags from every room of your clusters")
        case .unwatch:
            CommandSyntax(
                verb: rawValue, options: ["tags"], requiredOptions: ["tags"],
                usage: "UNWATCH tags=a,b",
                summary: "stop watching these tags")
        case .matches:
            CommandSyntax(
                verb: rawValue,
                usage: "MATCHES",
                summary: "open needs and offers that fit each other, at least one of them yours")
        // Roles.
        case .grant:
            CommandSyntax(
                verb: rawValue, required: ["account", "role"], options: ["cluster"],
                usage: "GRANT <account> facilitator|bot|admin [cluster=<cluster>]",
                summary: "give a role: facilitator of a cluster (its facilitators, admins), bot or admin (admins)")
        case .revoke:
            CommandSyntax(
                verb: rawValue, required: ["account", "role"], options: ["cluster"],
                usage: "REVOKE <account> facilitator|bot|admin [cluster=<cluster>]",
                summary: "take a role away again")
        // Moderation: facilitators of the cluster and admins.
        case .newRoom:
            CommandSyntax(
                verb: rawValue, required: ["room"], text: .optional,
                usage: "NEWROOM <room> [topic]",
                summary: "make a new room in a cluster you facilitate")
        case .topic:
            CommandSyntax(
                verb: rawValue, required: ["room"], text: .required,
                usage: "TOPIC <room> <topic>",
                summary: "set a room's topic")
        case .mute:
            CommandSyntax(
                verb: rawValue, required: ["room", "account"], text: .optional,
                usage: "MUTE <room> <account> [reason]",
                summary: "stop an account posting in a room (it can still read)")
        case .unmute:
            CommandSyntax(
                verb: rawValue, required: ["room", "account"],
                usage: "UNMUTE <room> <account>",
                summary: "let a muted account post again")
        case .invite:
            CommandSyntax(
                verb: rawValue, required: ["cluster"],
                usage: "INVITE <cluster>",
                summary: "make a single-use invite code for REGISTER that also welcomes the new account into the cluster")
        case .policy:
            CommandSyntax(
                verb: rawValue, required: ["cluster", "policy"],
                usage: "POLICY <cluster> open|approval|closed",
                summary: "who may become a new member: anyone, those a facilitator approves or invites, or no one")
        case .approve:
            CommandSyntax(
                verb: rawValue, required: ["cluster", "account"],
                usage: "APPROVE <cluster> <account>",
                summary: "let an account become a member of a cluster whose membership needs approval")
        case .requests:
            CommandSyntax(
                verb: rawValue, required: ["cluster"],
                usage: "REQUESTS <cluster>",
                summary: "the accounts waiting for approval to join a cluster (a JOIN refused under approval asks)")
        case .deny:
            CommandSyntax(
                verb: rawValue, required: ["cluster", "account"],
                usage: "DENY <cluster> <account>",
                summary: "drop an account's request to join a cluster")
        }
    }
}
