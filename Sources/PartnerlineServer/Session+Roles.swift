import PartnerlineCore
import PartnerlineProtocol

/// GRANT and REVOKE: facilitators of a cluster make facilitators there; admins give any role.
extension Session {
    func changeRole(_ request: Request) {
        guard let account else { return }
        let target = request.arguments[0]
        guard Names.isValidAccount(target) else { return send(request.err(.badSyntax, "\(target) is not an account name")) }
        guard let role = Role(rawValue: request.arguments[1].lowercased()) else {
            return send(request.err(.badSyntax, "a role is facilitator, bot or admin"))
        }
        let cluster = request.options["cluster"]
        beginAsync()
        service.accounts.changeRole(grant: request.verb == "GRANT", account: target, role: role, cluster: cluster,
                                    actor: account.name, knownClusters: Set(service.shards.map(\.name))) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let privileges):
                    var fields = [("account", target), ("role", privileges.displayRole.rawValue)]
                    if !privileges.facilitates.isEmpty {
                        fields.append(("facilitates", privileges.facilitates.sorted().joined(separator: ",")))
                    }
                    finish(request.ok(fields))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }
}
