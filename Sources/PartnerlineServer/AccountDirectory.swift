import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// Accounts and the server-wide journal they live in, confined to one serial queue.
/// Password hashing runs on the hashing pool, never on this queue or an I/O queue.
final class AccountDirectory: @unchecked Sendable {
    private let queue = DispatchQueue(label: "partnerline.accounts")
    private var registry: AccountRegistry
    private let journal: Journal
    private let hasher: PasswordHasher
    /// Internal, not private: tests hold its threads to fill the queue.
    let pool: HashingPool
    private let policy: RegistrationPolicy
    private let inviteCodes: Set<String>
    /// Names and invite codes of registrations between their check and their durable append,
    /// so two concurrent REGISTERs cannot both take the same name or code.
    private var reservedNames: Set<String> = []
    private var reservedInvites: Set<String> = []
    /// A dummy hash verified for unknown accounts, so a LOGIN takes as long whether or not the account exists.
    private let dummyHash: String
    /// Records folded into `registry` (on `queue`): a checkpoint pairs the registry with the journal's
    /// durable position only when the two agree.
    private var appliedRecords: Int

    /// Organisation names for WHO, and each account's privileges, readable from any queue.
    private let organisationsLock = NSLock()
    private var organisations: [String: String] = [:]
    private var privilegesByAccount: [String: Privileges] = [:]

    init(registry: AccountRegistry, journal: Journal, hasher: PasswordHasher, pool: HashingPool,
         policy: RegistrationPolicy, inviteCodes: [String], appliedRecords: Int = 0) {
        self.registry = registry
        self.appliedRecords = appliedRecords
        self.journal = journal
        self.hasher = hasher
        self.pool = pool
        self.policy = policy
        self.inviteCodes = Set(inviteCodes)
        dummyHash = hasher.hash(password: "partnerline-dummy-password") ?? ""
        organisations = registry.accounts.mapValues(\.organisation)
        privilegesByAccount = Dictionary(uniqueKeysWithValues: registry.accounts.keys.map { ($0, registry.privileges(of: $0)!) })
    }

    /// An account's role and facilitated clusters as they are now (a GRANT takes effect on the next command).
    func privileges(of account: String) -> Privileges? {
        organisationsLock.lock()
        defer { organisationsLock.unlock() }
        return privilegesByAccount[account]
    }

    /// Accounts that moderate `cluster` now: its facilitators and every admin.
    func moderators(of cluster: String) -> Set<String> {
        organisationsLock.lock()
        defer { organisationsLock.unlock() }
        return Set(privilegesByAccount.filter { $0.value.moderates(cluster) }.keys)
    }

    /// The cluster `account` was invited to with a facilitator's code, if any.
    func invitedCluster(of account: String) -> String? {
        queue.sync { registry.invitedTo[account] }
    }

    /// INVITE: a new single-use code for REGISTER (under the invite policy), stored before it is given out.
    func createInvite(cluster: String, by actor: String, completion: @escaping @Sendable (Result<String, DomainError>) -> Void) {
        queue.async { [self] in
            var generator = SystemRandomNumberGenerator()
            let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
            let code = String((0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
            let entry = JournalEntry.inviteCreated(code: code, cluster: cluster, by: actor, timeMillis: Timestamp.nowMillis())
            switch appendAndWait(entry) {
            case .success:
                try? registry.apply(entry)
                appliedRecords += 1
                completion(.success(code))
            case .failure(let error):
                completion(.failure(DomainError(.storage, "the invite could not be stored: \(error)")))
            }
        }
    }

    /// Appends one record and waits for it: for rare records (roles, invites) checked and applied on
    /// this queue one at a time, so nothing else can slip between the check and the append.
    private func appendAndWait(_ entry: JournalEntry) -> Result<Void, StorageError> {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var stored: Result<Void, StorageError> = .success(())
        journal.append(JournalEntryCodec.encode(entry)) { result in
            stored = result
            done.signal()
        }
        done.wait()
        return stored
    }

    /// GRANT (or REVOKE with `grant: false`) by `actor`, stored in the server journal before the reply.
    func changeRole(grant: Bool, account: String, role: Role, cluster: String?, actor: String, knownClusters: Set<String>,
                    completion: @escaping @Sendable (Result<Privileges, DomainError>) -> Void) {
        queue.async { [self] in
            guard let actorPrivileges = registry.privileges(of: actor) else {
                return completion(.failure(DomainError(.authFailed, "your account is gone")))
            }
            if let refusal = registry.checkRoleChange(grant: grant, account: account, role: role, cluster: cluster,
                                                      actor: actorPrivileges, actorName: actor, knownClusters: knownClusters) {
                return completion(.failure(refusal))
            }
            let now = Timestamp.nowMillis()
            let entry: JournalEntry = grant
                ? .roleGranted(account: account, role: role, cluster: cluster, by: actor, timeMillis: now)
                : .roleRevoked(account: account, role: role, cluster: cluster, by: actor, timeMillis: now)
            switch appendAndWait(entry) {
            case .success:
                try? registry.apply(entry)
                appliedRecords += 1
                let updated = registry.privileges(of: account)!
                organisationsLock.lock()
                privilegesByAccount[account] = updated
                organisationsLock.unlock()
                completion(.success(updated))
            case .failure(let error):
                completion(.failure(DomainError(.storage, "the role change could not be stored: \(error)")))
            }
        }
    }

    /// The registry and the journal position it folds, read together on the queue; nil when a
    /// durable record is not applied yet (no checkpoint can pair them now).
    func checkpointState() -> (AccountRegistry, JournalPosition?)? {
        queue.sync {
            let position = journal.durablePosition
            guard (position?.records ?? 0) == appliedRecords else { return nil }
            return (registry, position)
        }
    }

    var accountCount: Int { queue.sync { registry.accounts.count } }

    func organisation(of account: String) -> String {
        organisationsLock.lock()
        defer { organisationsLock.unlock() }
        return organisations[account] ?? ""
    }

    /// REGISTER for the connection `owner`. Its hash is dropped if the connection closes before
    /// the hash starts (the name it reserved is freed, `completion` is not called), and refused
    /// with RATE_LIMITED when the hashing queue is full.
    func register(account: String, password: String, organisation: String?, invite: String?, owner: HashingOwner,
                  completion: @escaping @Sendable (Result<Account, DomainError>) -> Void) {
        queue.async { [self] in
            if let refusal = registry.checkRegistration(account: account, password: password, organisation: organisation,
                                                         invite: invite, policy: policy, inviteCodes: inviteCodes) {
                return completion(.failure(refusal))
            }
            if reservedNames.contains(account) {
                return completion(.failure(DomainError(.accountExists, "account \(account) already exists")))
            }
            let usedInvite = policy == .invite ? invite : nil
            if let usedInvite, reservedInvites.contains(usedInvite) {
                return completion(.failure(DomainError(.registrationClosed, "that invite code is not valid or was already used")))
            }
            reservedNames.insert(account)
            if let usedInvite { reservedInvites.insert(usedInvite) }
            let hasher = self.hasher
            let refusal = pool.submit(for: owner, { hasher.hash(password: password) }, then: { [self] hash in
                queue.async { [self] in
                    guard let hash else {
                        release(account, usedInvite)
                        return completion(.failure(DomainError(.internal, "could not hash the password")))
                    }
                    store(Account(name: account, organisation: organisation ?? account, role: .member,
                                  passwordHash: hash, createdMillis: Timestamp.nowMillis()),
                          invite: usedInvite, completion: completion)
                }
            }, dropped: { [self] in
                queue.async { [self] in release(account, usedInvite) }
            })
            if let refusal {
                release(account, usedInvite)
                completion(.failure(Self.busy(refusal)))
            }
        }
    }

    /// Appends a new account's record, then folds it in and answers (on this queue).
    private func store(_ record: Account, invite usedInvite: String?,
                       completion: @escaping @Sendable (Result<Account, DomainError>) -> Void) {
        let payload = JournalEntryCodec.encode(.accountRegistered(record, invite: usedInvite))
        journal.append(payload) { [self] result in
            queue.async { [self] in
                release(record.name, usedInvite)
                switch result {
                case .success:
                    // Folding our own record cannot fail: the name was checked and reserved.
                    try? registry.apply(.accountRegistered(record, invite: usedInvite))
                    appliedRecords += 1
                    organisationsLock.lock()
                    organisations[record.name] = record.organisation
                    privilegesByAccount[record.name] = Privileges(role: record.role)
                    organisationsLock.unlock()
                    completion(.success(record))
                case .failure(let error):
                    completion(.failure(DomainError(.storage, "the account could not be stored: \(error)")))
                }
            }
        }
    }

    /// LOGIN for the connection `owner`: dropped if it closes before its hash starts, refused with
    /// RATE_LIMITED when the hashing queue is full.
    func login(account: String, password: String, owner: HashingOwner,
               completion: @escaping @Sendable (Result<Account, DomainError>) -> Void) {
        queue.async { [self] in
            let found = registry.account(named: account)
            let stored = found?.passwordHash ?? dummyHash
            let refusal = pool.submit(for: owner, { PasswordHasher.verify(password: password, against: stored) }, then: { matches in
                if let found, matches {
                    completion(.success(found))
                } else {
                    completion(.failure(DomainError(.authFailed, "wrong account or password")))
                }
            })
            if let refusal { completion(.failure(Self.busy(refusal))) }
        }
    }

    /// The answer to a hash the pool would not take. Not a failed LOGIN: the password was never checked.
    static func busy(_ refusal: HashingPool.Refusal) -> DomainError {
        switch refusal {
        case .busy:
            DomainError(.rateLimited, "the server is busy checking passwords; try again in a few seconds")
        case .ownerBusy:
            DomainError(.rateLimited, "a password of this connection is still being checked")
        }
    }

    /// The account, if it exists (client-certificate LOGIN: no password to check).
    func existingAccount(named account: String, completion: @escaping @Sendable (Account?) -> Void) {
        queue.async { [self] in completion(registry.account(named: account)) }
    }

    private func release(_ account: String, _ invite: String?) {
        reservedNames.remove(account)
        if let invite { reservedInvites.remove(invite) }
    }
}
