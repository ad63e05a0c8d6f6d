import ChatCore
import Crypto
import Foundation
import _CryptoExtras

/// Why a vendor's configured credentials cannot be used: what `chatctl check` prints, and a provider's failing
/// state from the start.
public struct PushCredentialError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A Firebase service account: who signs the OAuth grant, and the project messages are sent in.
public struct FCMServiceAccount: Sendable {
    public var projectId: String
    public var clientEmail: String
    public var privateKeyId: String
    public var tokenURI: String
    public var key: _RSA.Signing.PrivateKey

    private struct File: Decodable {
        var type: String?
        var project_id: String?
        var private_key_id: String?
        var private_key: String?
        var client_email: String?
        var token_uri: String?
    }

    public init(json: Data) throws(PushCredentialError) {
        guard let file = try? JSONDecoder().decode(File.self, from: json) else {
            throw PushCredentialError("the service account file is not JSON")
        }
        guard file.type == "service_account" else {
            throw PushCredentialError("the file is not a service account key (its \"type\" is not \"service_account\")")
        }
        guard let projectId = file.project_id, !projectId.isEmpty,
            let clientEmail = file.client_email, !clientEmail.isEmpty, let pem = file.private_key
        else {
            throw PushCredentialError("the service account has no project_id, client_email or private_key")
        }
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw PushCredentialError("the service account's private_key is not an RSA key of 2048 bits or more")
        }
        self.projectId = projectId
        self.clientEmail = clientEmail
        privateKeyId = file.private_key_id ?? ""
        tokenURI = file.token_uri ?? "https://oauth2.googleapis.com/token"
    }
}

/// An APNs token-signing key: a P-256 key (the `.p8` file), its 10-character key id and the team's id.
public struct APNsSigningKey: Sendable {
    public var keyId: String
    public var teamId: String
    public var key: P256.Signing.PrivateKey

    public init(pem: String, keyId: String, teamId: String) throws(PushCredentialError) {
        guard keyId.count == 10, keyId.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
            throw PushCredentialError("push.apns.key_id must be the key's 10-character id (as in AuthKey_<id>.p8)")
        }
        guard teamId.count == 10, teamId.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
            throw PushCredentialError("push.apns.team_id must be the 10-character team id of the Apple developer account")
        }
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw PushCredentialError("the APNs key file is not a P-256 private key in PEM (an AuthKey_*.p8 file)")
        }
        self.keyId = keyId
        self.teamId = teamId
    }
}

/// The server's VAPID key pair (RFC 8292) and its contact.
public struct VAPIDKey: Sendable {
    public var key: P256.Signing.PrivateKey
    public var subject: String

    /// `privateKey` is the raw 32-byte scalar in base64url (what `chatctl push vapid-keys` prints), or a PEM.
    public init(privateKey: String, subject: String) throws(PushCredentialError) {
        let text = privateKey.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("-----BEGIN"), let key = try? P256.Signing.PrivateKey(pemRepresentation: text) {
            self.key = key
        } else if let raw = Data(base64URLEncoded: text), raw.count == 32,
            let key = try? P256.Signing.PrivateKey(rawRepresentation: raw)
        {
            self.key = key
        } else {
            throw PushCredentialError(
                "push.webpush.vapid_private_key is not a P-256 private key (32 bytes, base64url; `chatctl push vapid-keys` makes one)")
        }
        guard subject.hasPrefix("mailto:") || subject.hasPrefix("https://") else {
            throw PushCredentialError("push.webpush.subject must be a mailto: or https: URL that push services can contact")
        }
        // Apple's push service refuses a contact it cannot reach, and then every Safari notification fails.
        let domain = (subject.hasPrefix("mailto:")
            ? subject.split(separator: "@").last.map(String.init) ?? "" : URL(string: subject)?.host ?? "").lowercased()
        guard domain.contains("."), !["localhost", "local", "invalid", "internal"].contains(where: {
            domain == $0 || domain.hasSuffix("." + $0)
        }) else {
            throw PushCredentialError("push.webpush.subject \(subject) names no public domain; push services (Apple's) refuse it")
        }
        self.subject = subject
    }

    /// The public key as the browser's `applicationServerKey` takes it: the uncompressed point, base64url.
    public var publicKey: String { key.publicKey.x963Representation.base64URLEncoded() }

    /// A new key pair: the private key to configure, the public key for the web app.
    public static func generate() -> (privateKey: String, publicKey: String) {
        let key = P256.Signing.PrivateKey()
        return (key.rawRepresentation.base64URLEncoded(), key.publicKey.x963Representation.base64URLEncoded())
    }
}

/// Each vendor's credentials as configured: nil when it is not configured, an error when they cannot be used.
public struct PushCredentials: Sendable {
    public var fcm: Result<FCMServiceAccount, PushCredentialError>?
    public var apns: Result<APNsSigningKey, PushCredentialError>?
    public var webPush: Result<VAPIDKey, PushCredentialError>?

    public init(
        fcm: Result<FCMServiceAccount, PushCredentialError>? = nil,
        apns: Result<APNsSigningKey, PushCredentialError>? = nil,
        webPush: Result<VAPIDKey, PushCredentialError>? = nil
    ) {
        self.fcm = fcm
        self.apns = apns
        self.webPush = webPush
    }

    /// Reads the files the configuration names and parses every credential, and checks the vendors' addresses;
    /// nothing is sent.
    public static func load(_ config: PushConfiguration) -> PushCredentials {
        var credentials = PushCredentials()
        if config.fcm.isConfigured {
            credentials.fcm = Result {
                try checkURL(config.fcm.url, "push.fcm.url")
                if !config.fcm.tokenURL.isEmpty { try checkURL(config.fcm.tokenURL, "push.fcm.token_url") }
                guard let data = FileManager.default.contents(atPath: config.fcm.serviceAccountFile) else {
                    throw PushCredentialError("cannot read push.fcm.service_account_file \(config.fcm.serviceAccountFile)")
                }
                return try FCMServiceAccount(json: data)
            }.mapError { $0 as? PushCredentialError ?? PushCredentialError("\($0)") }
        }
        if config.apns.isConfigured {
            credentials.apns = Result {
                try checkURL(config.apns.url, "push.apns.url")
                try checkURL(config.apns.sandboxURL, "push.apns.sandbox_url")
                guard let data = FileManager.default.contents(atPath: config.apns.keyFile) else {
                    throw PushCredentialError("cannot read push.apns.key_file \(config.apns.keyFile)")
                }
                return try APNsSigningKey(
                    pem: String(decoding: data, as: UTF8.self), keyId: config.apns.keyId, teamId: config.apns.teamId)
            }.mapError { $0 as? PushCredentialError ?? PushCredentialError("\($0)") }
        }
        if config.webPush.isConfigured {
            credentials.webPush = Result {
                try VAPIDKey(privateKey: config.webPush.vapidPrivateKey, subject: config.webPush.subject)
            }.mapError { $0 as? PushCredentialError ?? PushCredentialError("\($0)") }
        }
        return credentials
    }

    /// A vendor's address: an https URL with a host (http only for a relay on this machine).
    static func checkURL(_ text: String, _ key: String) throws(PushCredentialError) {
        guard let url = URL(string: text), let host = url.host, !host.isEmpty,
            url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
        else { throw PushCredentialError("\(key) must be an https URL, not \"\(text)\"") }
    }
}
