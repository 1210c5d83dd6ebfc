import PartnerlineCore
import PartnerlineProtocol

/// Client-certificate LOGIN for bots: `LOGIN <account> *` on a TLS connection whose client
/// certificate's SHA-256 is mapped to that account in `tls.client_certificates`. `*` can never be
/// a password (passwords are at least 8 characters), so the two ways never mix.
extension Session {
    static let certificatePassword = "*"

    func loginByCertificate(_ request: Request, account name: String) {
        guard let fingerprint = clientCertificateFingerprint else {
            return send(request.err(.authFailed, "LOGIN <account> * needs a client certificate, and this connection presented none"))
        }
        guard service.certificateAccounts[fingerprint] == name else {
            service.loginThrottle.recordFailure(account: name, address: addressKey)
            service.log.notice("client certificate not mapped to the account", metadata: [
                "account": "\(name)", "sha256": "\(fingerprint)", "peer": "\(connection.peer)",
            ])
            return send(request.err(.authFailed, "this client certificate is not mapped to \(name)"))
        }
        beginAsync()
        service.accounts.existingAccount(named: name) { [self] account in
            onQueue { [self] in
                if let account {
                    loginFinished(request, name: name, .success(account), byCertificate: true)
                } else {
                    loginFinished(request, name: name, .failure(DomainError(.authFailed, "the certificate's account \(name) does not exist; REGISTER it first")),
                                  byCertificate: true)
                }
            }
        }
    }
}
