import PartnerlineCore
import PartnerlineProtocol

/// NEED, OFFER, PROPOSE, FUNDING, BACK, VOTE, REPLY, RESOLVE, STATUS, SHOW, LIST, SEARCH, MATCHES,
/// WATCH and UNWATCH. Options are checked here (BAD_SYNTAX before anything is allocated or stored);
/// item state is judged by `ItemBook.prepare` on the item's shard, so a refusal changes nothing.
extension Session {
    func postItem(_ request: Request, _ kind: ItemKind, _ room: RoomName, _ post: ItemPost) {
        guard let shard = resolveRoom(request, room), let account else { return }
        let options = post.options
        let tags = ItemOptions.tags(options["tags"])
        let date = ItemOptions.date(kind.dateKey, options[kind.dateKey], todayMillis: service.clock())
        let funder = ItemOptions.shortValue("funder", options["funder"])
        let amount = ItemOptions.shortValue("amount", options["amount"])
        let url = ItemOptions.shortValue("url", options["url"])
        let ref = ItemOptions.shortValue("ref", options["ref"])
        var answers: ItemID?
        if let raw = options["funding"] {
            switch ItemOptions.id(raw, of: [.funding], for: "funding=") {
            case .failure(let error): return send(request.err(error))
            case .success(let id): answers = id
            }
            guard service.itemIndex.cluster(of: answers!) == room.cluster else {
                return send(request.err(.noSuchItem, "no funding alert \(raw) in cluster \(room.cluster)"))
            }
        }
        guard case .success(let tagList) = tags, case .success(let until) = date, case .success(let funderText) = funder,
              case .success(let amountText) = amount, case .success(let urlText) = url, case .success(let refText) = ref
        else {
            for case .failure(let error) in [tags.map { _ in () }, date.map { _ in () }, funder.map { _ in () },
                                              amount.map { _ in () }, url.map { _ in () }, ref.map { _ in () }] {
                return send(request.err(error))
            }
            return
        }
        let answering = answers
        let create: @Sendable (Session) -> Void = { session in
            let id = session.service.itemIndex.allocate(kind, in: room.cluster)
            let draft = ItemDraft(id: id, room: room, tags: tagList, date: until, text: post.text,
                                  funder: funderText, amount: amountText, url: urlText, answers: answering, ref: refText)
            session.runItemAction(request, .create(draft), on: shard, actor: account.name, cluster: room.cluster)
        }
        guard let refText else { return create(self) }
        // A ref the cluster knows answers at once, without using up an item id. (The shard judges
        // again when storing, so two alerts with one ref racing past this look still store one.)
        beginAsync()
        shard.readItems({ book, _ in book.fundingAlert(ref: refText) }, reply: { [self] first in
            onQueue { [self] in
                guard let first else { return create(self) }
                finish(request.ok([("id", first.id.description), ("seq", String(first.seq)), ("duplicate", "yes")]))
            }
        })
    }

    /// BACK, VOTE, REPLY, RESOLVE and STATUS: an action on an existing item, run on its cluster's shard.
    func changeItem(_ request: Request, _ action: ItemAction) {
        guard let account else { return }
        let id = action.itemID
        guard let cluster = service.itemIndex.cluster(of: id), let shard = service.shard(cluster) else {
            return send(request.err(.noSuchItem, "no item \(id)"))
        }
        runItemAction(request, action, on: shard, actor: account.name, cluster: cluster)
    }

    /// Sends the action to the item's shard; answers `OK <VERB> id=.. [room=..] seq=..` once durable
    /// (the poster's EV, as a room member, has been queued before).
    func runItemAction(_ request: Request, _ action: ItemAction, on shard: ClusterShard, actor: String, cluster: String) {
        beginAsync()
        shard.items(action, actor: actor, moderates: privileges.moderates(cluster)) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(.duplicate(let first)):
                    // A FUNDING whose ref the cluster knows: nothing stored, the first alert's id and seq.
                    finish(request.ok([("id", first.id.description), ("seq", String(first.seq)), ("duplicate", "yes")]))
                case .success(.stored(let events)):
                    // A new item's command named its room: `OK NEED id=N12 seq=42` as in the spec. A command
                    // on an item by id also says which room its event went to.
                    let first = events[0]
                    var fields = [("id", action.itemID.description)]
                    if case .create = action {} else { fields.append(("room", first.room.description)) }
                    fields.append(("seq", String(first.seq)))
                    finish(request.ok(fields))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }

    func show(_ request: Request, _ id: ItemID) {
        guard let cluster = service.itemIndex.cluster(of: id), let shard = service.shard(cluster) else {
            return send(request.err(.noSuchItem, "no item \(id)"))
        }
        beginAsync()
        shard.readItems({ book, _ in
            book[id].map { item in (item, item.answeredBy.compactMap { book[$0] }) }
        }, reply: { [self] found in
            onQueue { [self] in
                guard let (item, answering) = found else { return finish(request.err(.noSuchItem, "no item \(id)")) }
                finish(Self.showLines(request, item, answering) + request.ok([("id", id.description)]))
            }
        })
    }

    /// `* ITEM`, then `* PARTNER` per partner, `* TALLY` and `* VOTE` per vote (proposals), `* REPLY` per
    /// reply, and `* ANSWER` per proposal that names a funding alert.
    static func showLines(_ request: Request, _ item: Item, _ answering: [Item]) -> [UInt8] {
        let id = item.id.description
        var lines = itemLine(request, item)
        for partner in item.partners {
            lines += request.data("PARTNER", [id, partner.account], text: partner.contribution)
        }
        if item.id.kind == .proposal {
            lines += request.data("TALLY", [id], item.tally.map { ($0.0.rawValue, String($0.1)) })
            for ballot in item.votes {
                lines += request.data("VOTE", [id, ballot.account], [("vote", ballot.choice.rawValue)], text: ballot.reason)
            }
        }
        for reply in item.replies {
            lines += request.data("REPLY", [id, reply.account], [("time", Timestamp.format(millis: reply.timeMillis))],
                                  text: reply.text)
        }
        for proposal in answering {
            lines += request.data("ANSWER", [id, proposal.id.description],
                                  [("status", proposal.status.rawValue), ("by", proposal.author)], text: proposal.text)
        }
        return lines
    }

    static func itemLine(_ request: Request, _ item: Item) -> [UInt8] {
        request.data("ITEM", [item.id.description, item.room.description], item.summaryFields, text: item.text)
    }

    func list(_ request: Request, _ room: RoomName, _ kind: ItemKind, all: Bool) {
        guard let shard = resolveRoom(request, room) else { return }
        beginAsync()
        shard.readItems({ book, state in
            state.room(room) == nil ? nil : book.list(room: room, kind: kind, all: all)
        }, reply: { [self] items in
            onQueue { [self] in
                guard let items else {
                    return finish(request.err(.noSuchRoom, "no room \(room.room) in cluster \(room.cluster)"))
                }
                let lines = items.flatMap { Self.itemLine(request, $0) }
                finish(lines + request.ok([("room", room.description), ("count", String(items.count))]))
            }
        })
    }

    func search(_ request: Request, kind wanted: ItemKind?, words: [String]) {
        beginAsync()
        service.askShards(service.shards.filter { maySee($0.name) }, { book, _ in book.search(words, kind: wanted) },
                          reply: { [self] found in
            let items = found.flatMap { $0 }
            onQueue { [self] in
                finish(items.flatMap { Self.itemLine(request, $0) } + request.ok([("count", String(items.count))]))
            }
        })
    }

    func matches(_ request: Request) {
        guard let account else { return }
        let name = account.name
        beginAsync()
        service.askShards(service.shards.filter { maySee($0.name) }, { book, _ in book.matches(involving: name) },
                          reply: { [self] found in
            let matches = found.flatMap { $0 }
            onQueue { [self] in
                var lines: [UInt8] = []
                for match in matches {
                    lines += request.data("MATCH", [], [("need", match.need.id.description), ("offer", match.offer.id.description),
                                                        ("need_by", match.need.author), ("offer_by", match.offer.author)],
                                          text: match.reason)
                }
                finish(lines + request.ok([("count", String(matches.count))]))
            }
        })
    }

    func watch(_ request: Request, tags: [String], watch: Bool) {
        let watched = service.online.watch(self, tags: tags, watch: watch)
        send(request.ok([("tags", watched.sorted().joined(separator: ","))]))
    }
}
