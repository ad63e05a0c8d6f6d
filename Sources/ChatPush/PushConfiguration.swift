import Foundation

/// The `[push]` configuration: what notifications show, and each vendor's credentials and address. A vendor with
/// no credentials is off: devices cannot register targets for it.
public struct PushConfiguration: Sendable, Equatable {
    /// How much of a message a notification shows (`push.preview`).
    public var preview = "full"
    /// How long a vendor keeps trying to reach an offline device before dropping the notification.
    public var ttlSeconds = 86_400
    /// Extra certificate authorities (PEM) trusted for vendor connections, beside the system's: a private relay's,
    /// or a test's stand-in. Empty: the system's only.
    public var caFile = ""

    public struct FCM: Sendable, Equatable {
        /// The service account JSON downloaded from the Firebase console.
        public var serviceAccountFile = ""
        public var url = "https://fcm.googleapis.com"
        /// Where the OAuth grant goes; empty: the service account's own `token_uri`.
        public var tokenURL = ""
        public var isConfigured: Bool { !serviceAccountFile.isEmpty }
    }

    public struct APNs: Sendable, Equatable {
        /// The token-signing key (`AuthKey_XXXXXXXXXX.p8`) from Apple's developer account, its key id and team id.
        public var keyFile = ""
        public var keyId = ""
        public var teamId = ""
        public var url = "https://api.push.apple.com"
        public var sandboxURL = "https://api.sandbox.push.apple.com"
        public var isConfigured: Bool { !keyFile.isEmpty }
    }

    public struct WebPush: Sendable, Equatable {
        /// The VAPID private key, base64url (`chatctl push vapid-keys` makes one).
        public var vapidPrivateKey = ""
        /// Who push services contact about this server: a `mailto:` or `https:` URL.
        public var subject = ""
        /// The push services subscriptions may name, comma-separated: a host, or a domain with its subdomains;
        /// "*" for any.
        public var allowedHosts = "fcm.googleapis.com, push.services.mozilla.com, web.push.apple.com, notify.windows.com"
        public var isConfigured: Bool { !vapidPrivateKey.isEmpty }

        /// Whether a subscription's endpoint is at one of the allowed push services.
        public func allows(endpoint: String) -> Bool {
            let allowed = allowedHosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if allowed.contains("*") { return true }
            guard let host = URL(string: endpoint)?.host?.lowercased() else { return false }
            return allowed.contains { !$0.isEmpty && (host == $0 || host.hasSuffix("." + $0)) }
        }
    }

    public var fcm = FCM()
    public var apns = APNs()
    public var webPush = WebPush()

    public init() {}
}
