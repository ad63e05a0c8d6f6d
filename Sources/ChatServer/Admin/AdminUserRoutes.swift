import ChatAdmin
import ChatCore
import Foundation
import Hummingbird

/// The admin API's accounts: list and show users, disable, enable and delete them, set their server role, list and
/// end their sessions. A user is named by id or by handle.
struct AdminUserRoutes {
    let services: ChatServices
    private var accounts: AccountService { services.accounts }

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.users), use: list)
        router.post(RouterPath(AdminAPI.users), use: add)
        router.post("v1/users/{user}/password", use: setPassword)
        router.get("v1/users/{user}", use: show)
        router.post("v1/users/{user}/disable", use: disable)
        router.post("v1/users/{user}/enable", use: enable)
        router.get("v1/users/{user}/sessions", use: sessions)
        router.post("v1/users/{user}/kick", use: kick)
        router.post("v1/users/{user}/delete", use: delete)
        router.post("v1/users/{user}/role", use: setRole)
        router.post("v1/users/{user}/push-test", use: pushTest)
    }

    /// `chatctl push test`: a notification to each of the user's targets, with each vendor's answer.
    @Sendable func pushTest(_ request: Request, context: ChatRequestContext) async throws -> PushTestReport {
        let user = try await resolve(context)
        return try await PushService(store: services.push, sender: services.pushSender, webPush: services.config.push.webPush).test(user: user)
    }

    struct Deletion: Decodable {
        var eraseMessages: Bool?
    }

    @Sendable func delete(_ request: Request, context: ChatRequestContext) async throws -> AccountDeletion {
        let user = try await resolve(context)
        let body = try await request.decodeJSON(Deletion.self, limit: services.maxBody)
        return try await accounts.delete(user, eraseMessages: body.eraseMessages ?? false)
    }

    struct NewRole: Decodable {
        var role: String
    }

    @Sendable func setRole(_ request: Request, context: ChatRequestContext) async throws -> UserReport {
        let user = try await resolve(context)
        let body = try await request.decodeJSON(NewRole.self, limit: services.maxBody)
        guard let role = ServerRole(rawValue: body.role) else {
            throw ChatError.invalid(
                "role must be one of \(ServerRole.allCases.map(\.rawValue).joined(separator: ", ")), not '\(body.role)'")
        }
        try await accounts.setRole(role, user: user)
        return try await report(user)
    }

    struct UsersResponse: ResponseEncodable {
        var users: [AccountSummary]
    }

    @Sendable func list(_ request: Request, context: ChatRequestContext) async throws -> UsersResponse {
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 100, max: 10_000)
        let after = try request.query("after", as: UserID.self) ?? 0
        return UsersResponse(users: try await accounts.store.listUsers(after: after, limit: limit))
    }

    struct NewUser: Decodable {
        var handle: String
        var displayName: String?
        var password: String?
    }

    @Sendable func add(_ request: Request, context: ChatRequestContext) async throws -> EditedResponse<UserReport> {
        let body = try await request.decodeJSON(NewUser.self, limit: services.maxBody)
        let user = try await accounts.create(handle: body.handle, displayName: body.displayName, password: body.password)
        return EditedResponse(status: .created, response: try await report(user.id))
    }

    struct NewPassword: Decodable {
        var password: String
    }

    /// An operator sets a password (a user locked out of theirs): every session ends, every socket closes.
    @Sendable func setPassword(_ request: Request, context: ChatRequestContext) async throws -> SessionsEnded {
        let user = try await resolve(context)
        let body = try await request.decodeJSON(NewPassword.self, limit: services.maxBody)
        return SessionsEnded(endedSessions: try await accounts.setPassword(user, to: body.password).count)
    }

    @Sendable func show(_ request: Request, context: ChatRequestContext) async throws -> UserReport {
        let user = try await resolve(context)
        return try await report(user)
    }

    @Sendable func disable(_ request: Request, context: ChatRequestContext) async throws -> SessionsEnded {
        SessionsEnded(endedSessions: try await accounts.disable(try await resolve(context)).count)
    }

    @Sendable func enable(_ request: Request, context: ChatRequestContext) async throws -> UserReport {
        let user = try await resolve(context)
        try await accounts.enable(user)
        return try await report(user)
    }

    struct SessionsResponse: ResponseEncodable {
        var sessions: [SessionSummary]
    }

    @Sendable func sessions(_ request: Request, context: ChatRequestContext) async throws -> SessionsResponse {
        SessionsResponse(sessions: try await accounts.store.sessions(of: try await resolve(context)))
    }

    @Sendable func kick(_ request: Request, context: ChatRequestContext) async throws -> SessionsEnded {
        SessionsEnded(endedSessions: try await accounts.kick(try await resolve(context)).count)
    }

    /// The user a path names: digits are an id, anything else a handle.
    private func resolve(_ context: ChatRequestContext) async throws -> UserID {
        let reference = context.parameters.get("user") ?? ""
        if reference.isDecimalDigits, let id = UserID(reference) {
            return try await accounts.store.profile(id: id).id
        }
        let handle = reference.removingPercentEncoding ?? reference
        return try await accounts.store.profile(handle: handle.hasPrefix("@") ? String(handle.dropFirst()) : handle).id
    }

    private func report(_ user: UserID) async throws -> UserReport {
        guard let account = try await accounts.store.listUsers(after: user - 1, limit: 1).first, account.user.id == user
        else { throw ChatError.notFound("user \(user)") }
        return UserReport(account: account, sessions: try await accounts.store.sessions(of: user))
    }
}

extension UserReport: ResponseEncodable {}
extension SessionsEnded: ResponseEncodable {}
extension AccountDeletion: ResponseEncodable {}
