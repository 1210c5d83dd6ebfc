import PartnerlineCore
import PartnerlineProtocol

/// GRANT and REVOKE: facilitators of a cluster make facilitators there; admins give any role.
extension Session {
    func changeRole(_ request: Request, grant: Bool, target: String, role: Role, cluster: String?) {
        guard let account else { return }
        beginAsync()
        service.accounts.changeRole(grant: grant, account: target, role: role, cluster: cluster,
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
