import ChatCore
import Hummingbird

/// `/v1/auth`: register, log in, refresh, log out, change the password, one-time codes. Rate-limited per IP (each
/// password check costs a bcrypt hash).
struct AuthRoutes {
    let services: ChatServices
    private var accounts: AccountService { services.accounts }

    func register(on router: Router<ChatRequestContext>, limiter: RateLimiter, authenticated: AuthMiddleware) {
        let group = router.group("v1/auth").add(middleware: RateLimitMiddleware(limiter: limiter))
        group.post("register", use: registerUser)
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("otp/request", use: requestCode)
        group.post("otp/verify", use: verifyCode)
        let signedIn = group.add(middleware: authenticated).group(context: AuthenticatedContext.self)
        signedIn.post("logout", use: logout)
        signedIn.post("password", use: changePassword)
    }

    struct RegisterRequest: Decodable {
        var handle: String
        var password: String
        var displayName: String?
    }

    @Sendable func registerUser(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<TokenResponse>
    {
        let body = try await request.decodeJSON(RegisterRequest.self, limit: services.maxBody)
        let tokens = try await accounts.register(
            handle: body.handle, password: body.password, displayName: body.displayName)
        return EditedResponse(status: .created, response: tokens)
    }

    struct LoginRequest: Decodable {
        var handle: String
        var password: String
    }

    @Sendable func login(_ request: Request, context: ChatRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(LoginRequest.self, limit: services.maxBody)
        return try await accounts.login(handle: body.handle, password: body.password)
    }

    struct RefreshRequest: Decodable {
        var refreshToken: String
    }

    @Sendable func refresh(_ request: Request, context: ChatRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(RefreshRequest.self, limit: services.maxBody)
        return try await accounts.refresh(body.refreshToken)
    }

    /// Ends the caller's session: its refresh token and every access token of it stop working.
    @Sendable func logout(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        try await accounts.logout(context.identity)
        return NoContent()
    }

    struct PasswordChange: Decodable {
        var currentPassword: String
        var newPassword: String
    }

    /// Sets a new password; the caller's other sessions end.
    @Sendable func changePassword(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        let body = try await request.decodeJSON(PasswordChange.self, limit: services.maxBody)
        try await accounts.changePassword(context.identity, current: body.currentPassword, new: body.newPassword)
        return NoContent()
    }

    struct CodeRequest: Decodable {
        var channel: OTPChannel
        var destination: String
    }

    @Sendable func requestCode(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<CodeRequested>
    {
        let body = try await request.decodeJSON(CodeRequest.self, limit: services.maxBody)
        let destination = try await accounts.requestCode(channel: body.channel, destination: body.destination)
        return EditedResponse(
            status: .accepted, response: CodeRequested(destination: destination, expiresIn: services.config.otp.codeSeconds))
    }

    struct CodeRequested: ResponseEncodable {
        var destination: String
        var expiresIn: Int
    }

    struct CodeVerification: Decodable {
        var channel: OTPChannel
        var destination: String
        var code: String
    }

    @Sendable func verifyCode(_ request: Request, context: ChatRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(CodeVerification.self, limit: services.maxBody)
        return try await accounts.verifyCode(channel: body.channel, destination: body.destination, code: body.code)
    }
}
