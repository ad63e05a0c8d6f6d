import ChatCore
import ChatPush
import Foundation
import Hummingbird

/// `/v1/push`: what push this server offers, the calling device's target, the user's targets and settings.
struct PushRoutes {
    let services: ChatServices
    private var push: PushService { PushService(store: services.push, sender: services.pushSender, webPush: services.config.push.webPush) }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("push/config", use: config)
        group.put("push/target", use: registerTarget)
        group.delete("push/target", use: removeOwnTarget)
        group.get("push/targets", use: targets)
        group.delete("push/targets/{target_id}", use: removeTarget)
        group.get("push/settings", use: settings)
        group.patch("push/settings", use: updateSettings)
    }

    struct ConfigResponse: ResponseEncodable {
        /// The platforms devices may register for.
        var platforms: [String]
        /// The `applicationServerKey` a browser subscribes with (Web Push on).
        var vapidPublicKey: String?
        var preview: String
    }

    @Sendable func config(_ request: Request, context: AuthenticatedContext) async throws -> ConfigResponse {
        ConfigResponse(
            platforms: services.pushSender.platforms.map(\.rawValue).sorted(),
            vapidPublicKey: services.pushSender.vapidPublicKey, preview: services.config.push.preview)
    }

    struct TargetRequest: Decodable {
        struct Keys: Decodable {
            var p256dh: String
            var auth: String
        }
        var platform: String
        /// FCM and APNs.
        var token: String?
        var topic: String?
        var sandbox: Bool?
        /// Web Push: the `PushSubscription`'s JSON (endpoint and keys).
        var endpoint: String?
        var keys: Keys?

        func registration() throws -> PushTargetRegistration {
            guard let platform = PushPlatform(rawValue: platform) else {
                throw ChatError.invalid("platform must be \"fcm\", \"apns\" or \"webpush\"")
            }
            guard platform == .webpush else {
                return PushTargetRegistration(
                    platform: platform, token: token ?? "", topic: topic, sandbox: sandbox ?? false)
            }
            // Missing or undecodable keys are named by the registration's own checks, after the platform's.
            return PushTargetRegistration(
                platform: .webpush, token: endpoint ?? "", p256dh: keys.flatMap { Data(base64URLEncoded: $0.p256dh) },
                auth: keys.flatMap { Data(base64URLEncoded: $0.auth) })
        }
    }

    /// A target as its owner sees it (without the Web Push keys).
    struct TargetView: Encodable {
        var id: Int64
        var platform: String
        var token: String?
        var endpoint: String?
        var topic: String?
        var sandbox: Bool?
        /// The login session (device) that registered it.
        var sessionId: SessionID?
        /// Registered by the calling device.
        var current: Bool
        var createdAt: Millis

        init(_ target: PushTarget, caller: Identity) {
            id = target.id
            platform = target.platform.rawValue
            if target.platform == .webpush { endpoint = target.token } else { token = target.token }
            if target.platform == .apns {
                topic = target.topic
                sandbox = target.sandbox
            }
            sessionId = target.sessionId
            current = target.sessionId != nil && target.sessionId == caller.sessionId
            createdAt = target.createdAt
        }
    }

    struct TargetResponse: ResponseEncodable {
        var target: TargetView
    }

    struct TargetsResponse: ResponseEncodable {
        var targets: [TargetView]
    }

    @Sendable func registerTarget(_ request: Request, context: AuthenticatedContext) async throws -> TargetResponse {
        let body = try await request.decodeJSON(TargetRequest.self, limit: services.maxBody)
        let target = try await push.register(try body.registration(), identity: context.identity)
        return TargetResponse(target: TargetView(target, caller: context.identity))
    }

    @Sendable func removeOwnTarget(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        try await push.removeOwn(identity: context.identity)
        return NoContent()
    }

    @Sendable func targets(_ request: Request, context: AuthenticatedContext) async throws -> TargetsResponse {
        TargetsResponse(targets: try await push.targets(of: context.user).map { TargetView($0, caller: context.identity) })
    }

    @Sendable func removeTarget(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        try await push.remove(target: try context.parameters.id("target_id", "push target"), user: context.user)
        return NoContent()
    }

    struct SettingsResponse: ResponseEncodable {
        var settings: PushSettings
    }

    struct SettingsUpdate: Decodable {
        var mentionsBreakMute: Bool
    }

    @Sendable func settings(_ request: Request, context: AuthenticatedContext) async throws -> SettingsResponse {
        SettingsResponse(settings: try await push.settings(of: context.user))
    }

    @Sendable func updateSettings(_ request: Request, context: AuthenticatedContext) async throws -> SettingsResponse {
        let body = try await request.decodeJSON(SettingsUpdate.self, limit: services.maxBody)
        let settings = PushSettings(mentionsBreakMute: body.mentionsBreakMute)
        try await push.setSettings(settings, user: context.user)
        return SettingsResponse(settings: settings)
    }
}
