import ChatCore

/// The answer to `POST /v1/reload` (SIGHUP does the same): what took effect, what waits for a restart.
public struct ReloadReport: Codable, Sendable, Equatable {
    public var applied: [String]
    public var needsRestart: [String]
    /// The certificate now served, when TLS is on.
    public var certificate: CertificateReport?

    public init(applied: [String], needsRestart: [String], certificate: CertificateReport?) {
        self.applied = applied
        self.needsRestart = needsRestart
        self.certificate = certificate
    }
}

/// A served certificate: whose, and until when.
public struct CertificateReport: Codable, Sendable, Equatable {
    public var subject: String
    public var notValidAfter: Millis
    public var daysLeft: Int

    public init(subject: String, notValidAfter: Millis, daysLeft: Int) {
        self.subject = subject
        self.notValidAfter = notValidAfter
        self.daysLeft = daysLeft
    }
}

/// `PUT /v1/certificate` (`chatctl cert import`): PEM text, read by chatctl (which may read what the daemon's user
/// cannot, such as certbot's live folder) and installed by the daemon over its configured files.
public struct CertificateImport: Codable, Sendable {
    public var chain: String
    public var key: String

    public init(chain: String, key: String) {
        self.chain = chain
        self.key = key
    }
}
