import ChatCore
import ChatStore
import Hummingbird

/// `/v1/server`: the app's own backend, with the server API key, creates users and mints chatd tokens for them.
struct ServerRoutes {
    let services: ChatServices

    func register(on router: Router<ChatRequestContext>) {
        let group = router.group("v1/server").add(middleware: APIKeyMiddleware(apiKey: services.config.auth.apiKey))
        group.post("users", use: createUser)
        group.post("users/{user_id}/tokens", use: mintTokens)
    }

    struct NewUser: Decodable {
        var handle: String
        var displayName: String?
        var password: String?
    }

    @Sendable func createUser(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<UserRoutes.UserResponse>
    {
        let body = try await request.decodeJSON(NewUser.self, limit: services.maxBody)
        let handle = try Validate.handle(body.handle)
        let displayName = try Validate.displayName(body.displayName ?? handle)
        var hash: String?
        if let password = body.password {
            hash = try await services.passwords.hash(try Validate.password(password))
        }
        let user = try await services.store.createUser(handle: handle, displayName: displayName, passwordHash: hash)
        return EditedResponse(status: .created, response: UserRoutes.UserResponse(user: user))
    }

    @Sendable func mintTokens(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<TokenResponse>
    {
        let user = try await services.store.profile(id: try context.parameters.id("user_id", "user"))
        return EditedResponse(status: .created, response: try await services.signIn(user))
    }
}
