import Dispatch
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore

/// Offline administration of a stopped server's data directory (the `partnerline-server admin`
/// subcommand). It opens the server journal itself, so the journal's directory lock refuses it
/// while a server is running on the same data dir.
public enum AdminTool {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Makes `account` an admin: registers it with `password` when it does not exist (the first
    /// admin of a new server), or grants admin to an existing member. Returns what was done.
    public static func makeAdmin(config: ServerConfig, account: String, password: String?, organisation: String?) throws -> String {
        guard Names.isValidAccount(account) else {
            throw Failure("account names are 2-32 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        var registry = AccountRegistry()
        let journal: Journal
        do {
            (journal, _) = try Journal.open(directory: "\(config.dataDir)/accounts", options: JournalOptions(policy: .always)) { payload in
                try registry.apply(JournalEntryCodec.decode(payload))
            }
        } catch let error as StorageError where error.kind == .locked {
            throw Failure("the data dir \(config.dataDir) is in use: stop the server first")
        }
        defer { journal.close() }

        let now = Timestamp.nowMillis()
        let entry: JournalEntry
        let done: String
        if let existing = registry.account(named: account) {
            guard existing.role != .admin else { return "\(account) is already an admin" }
            guard existing.role == .member else {
                throw Failure("\(account) is \(existing.role.rawValue); an admin account cannot also be a bot")
            }
            entry = .roleGranted(account: account, role: .admin, cluster: nil, by: "*admin-cli", timeMillis: now)
            done = "granted admin to \(account)"
        } else {
            guard let password else { throw Failure("\(account) does not exist yet: give its password on standard input") }
            if let refusal = registry.checkRegistration(account: account, password: password, organisation: organisation,
                                                        invite: nil, policy: .open, inviteCodes: []) {
                throw Failure(refusal.message)
            }
            let hasher = PasswordHasher(log2N: config.passwords.scryptLog2N, r: config.passwords.scryptR, p: config.passwords.scryptP)
            guard let hash = hasher.hash(password: password) else { throw Failure("could not hash the password") }
            entry = .accountRegistered(Account(name: account, organisation: organisation ?? account, role: .admin,
                                               passwordHash: hash, createdMillis: now), invite: nil)
            done = "created admin account \(account)"
        }
        let stored = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Void, StorageError> = .success(())
        journal.append(JournalEntryCodec.encode(entry)) { result in
            outcome = result
            stored.signal()
        }
        stored.wait()
        if case .failure(let error) = outcome { throw Failure("not stored: \(error)") }
        return done
    }
}
