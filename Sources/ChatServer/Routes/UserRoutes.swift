import ChatCore
import ChatStore
import Hummingbird

/// `/v1/me` and `/v1/users`: profiles, lookup by handle, blocks.
struct UserRoutes {
    let services: ChatServices

    func register(on group: RouterGroup<ChatRequestContext>) {
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

    @Sendable func me(_ request: Request, context: ChatRequestContext) async throws -> UserResponse {
        UserResponse(user: try await services.store.profile(id: try context.requireIdentity().userId))
    }

    struct ProfileUpdate: Decodable {
        var displayName: String
    }

    @Sendable func updateMe(_ request: Request, context: ChatRequestContext) async throws -> UserResponse {
        let body = try await request.decodeJSON(ProfileUpdate.self, limit: services.maxBody)
        let name = try Validate.displayName(body.displayName)
        return UserResponse(
            user: try await services.store.updateDisplayName(user: try context.requireIdentity().userId, to: name))
    }

    @Sendable func user(_ request: Request, context: ChatRequestContext) async throws -> UserResponse {
        _ = try context.requireIdentity()
        return UserResponse(user: try await services.store.profile(id: try context.parameters.id("user_id", "user")))
    }

    @Sendable func byHandle(_ request: Request, context: ChatRequestContext) async throws -> UserResponse {
        _ = try context.requireIdentity()
        let handle = context.parameters.get("handle") ?? ""
        return UserResponse(user: try await services.store.profile(handle: handle))
    }

    @Sendable func block(_ request: Request, context: ChatRequestContext) async throws -> NoContent {
        try await services.store.block(
            user: try context.requireIdentity().userId, target: try context.parameters.id("user_id", "user"))
        return NoContent()
    }

    @Sendable func unblock(_ request: Request, context: ChatRequestContext) async throws -> NoContent {
        try await services.store.unblock(
            user: try context.requireIdentity().userId, target: try context.parameters.id("user_id", "user"))
        return NoContent()
    }

    @Sendable func blocks(_ request: Request, context: ChatRequestContext) async throws -> UsersResponse {
        UsersResponse(users: try await services.store.blockedUsers(of: try context.requireIdentity().userId))
    }
}
