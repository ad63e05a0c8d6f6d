import ChatCore
import Hummingbird

/// `/v1/me` and `/v1/users`: profiles, lookup by handle, blocks.
struct UserRoutes {
    let services: ChatServices
    private var accounts: AccountService { services.accounts }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("me", use: me)
        group.patch("me", use: updateMe)
        group.get("me/blocks", use: blocks)
        group.get("users/by-handle/{handle}", use: byHandle)
        group.get("users/{user_id}", use: user)
        group.put("users/{user_id}/block", use: block)
        group.delete("users/{user_id}/block", use: unblock)
    }

    struct UserResponse: ResponseEncodable {
        var user: UserProfile
    }

    struct UsersResponse: ResponseEncodable {
        var users: [UserProfile]
    }

    @Sendable func me(_ request: Request, context: AuthenticatedContext) async throws -> UserResponse {
        UserResponse(user: try await accounts.profile(context.user))
    }

    struct ProfileUpdate: Decodable {
        var displayName: String
    }

    @Sendable func updateMe(_ request: Request, context: AuthenticatedContext) async throws -> UserResponse {
        let body = try await request.decodeJSON(ProfileUpdate.self, limit: services.maxBody)
        return UserResponse(user: try await accounts.rename(context.user, to: body.displayName))
    }

    @Sendable func user(_ request: Request, context: AuthenticatedContext) async throws -> UserResponse {
        UserResponse(user: try await accounts.profile(try context.parameters.id("user_id", "user")))
    }

    @Sendable func byHandle(_ request: Request, context: AuthenticatedContext) async throws -> UserResponse {
        UserResponse(user: try await accounts.profile(handle: context.parameters.get("handle") ?? ""))
    }

    @Sendable func block(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        try await accounts.block(try context.parameters.id("user_id", "user"), by: context.user)
        return NoContent()
    }

    @Sendable func unblock(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        try await accounts.unblock(try context.parameters.id("user_id", "user"), by: context.user)
        return NoContent()
    }

    @Sendable func blocks(_ request: Request, context: AuthenticatedContext) async throws -> UsersResponse {
        UsersResponse(users: try await accounts.blocked(by: context.user))
    }
}
