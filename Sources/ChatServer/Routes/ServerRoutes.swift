import ChatCore
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
        let user = try await services.accounts.create(
            handle: body.handle, displayName: body.displayName, password: body.password)
        return EditedResponse(status: .created, response: UserRoutes.UserResponse(user: user))
    }

    @Sendable func mintTokens(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<TokenResponse>
    {
        let tokens = try await services.accounts.mintTokens(for: try context.parameters.id("user_id", "user"))
        return EditedResponse(status: .created, response: tokens)
    }
}
