import ChatCore
import ChatStore
import Hummingbird

/// `/v1/auth`: register, log in, refresh, log out, one-time codes. Rate-limited per IP.
struct AuthRoutes {
    let services: ChatServices

    func register(on router: Router<ChatRequestContext>, limiter: RateLimiter, authenticated: AuthMiddleware) {
        let group = router.group("v1/auth").add(middleware: RateLimitMiddleware(limiter: limiter))
        group.post("register", use: registerUser)
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("otp/request", use: requestCode)
        group.post("otp/verify", use: verifyCode)
        group.add(middleware: authenticated).post("logout", use: logout)
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
        let handle = try Validate.handle(body.handle)
        let password = try Validate.password(body.password)
        let displayName = try Validate.displayName(body.displayName ?? handle)
        let hash = try await services.passwords.hash(password)
        let user = try await services.store.createUser(handle: handle, displayName: displayName, passwordHash: hash)
        return EditedResponse(status: .created, response: try await services.signIn(user))
    }

    struct LoginRequest: Decodable {
        var handle: String
        var password: String
    }

    @Sendable func login(_ request: Request, context: ChatRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(LoginRequest.self, limit: services.maxBody)
        let refused = ChatError(.unauthorized, "wrong handle or password")
        guard body.password.utf8.count <= 72, let (user, hash) = try await services.store.credentials(handle: body.handle)
        else {
            try await services.passwords.verifyAgainstNothing(body.password)
            throw refused
        }
        guard try await services.passwords.verify(body.password, hash: hash) else { throw refused }
        return try await services.signIn(try await services.store.profile(id: user))
    }

    struct RefreshRequest: Decodable {
        var refreshToken: String
    }

    @Sendable func refresh(_ request: Request, context: ChatRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(RefreshRequest.self, limit: services.maxBody)
        let successor = services.tokens.newRefreshToken()
        let outcome = try await services.store.rotateRefreshToken(
            TokenIssuer.hash(body.refreshToken), successorHash: successor.hash,
            expiresAt: services.tokens.refreshExpiry())
        switch outcome {
        case .rotated(let user, let session):
            return TokenResponse(
                user: try await services.store.profile(id: user),
                accessToken: try await services.tokens.accessToken(user: user, session: session),
                refreshToken: successor.token, expiresIn: services.tokens.accessSeconds)
        case .reused:
            services.logger.warning("refresh token reuse: session revoked")
            throw ChatError(.unauthorized, "this refresh token was already used; the session has been revoked")
        case .expired:
            throw ChatError(.unauthorized, "the refresh token has expired; sign in again")
        case .revoked:
            throw ChatError(.unauthorized, "this session has ended; sign in again")
        case .unknown:
            throw ChatError(.unauthorized, "unknown refresh token")
        }
    }

    /// Ends the caller's session: its refresh token and every access token of it stop working.
    @Sendable func logout(_ request: Request, context: ChatRequestContext) async throws -> NoContent {
        let identity = try context.requireIdentity()
        guard let session = identity.sessionId else {
            throw ChatError.invalid("tokens minted by your backend have no chatd session to end")
        }
        try await services.store.revokeSession(session, reason: "logout")
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
        let destination = try Validate.otpDestination(body.destination, channel: body.channel)
        try await services.codes.request(channel: body.channel, destination: destination)
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
        let destination = try Validate.otpDestination(body.destination, channel: body.channel)
        let user = try await services.codes.verify(destination: destination, code: body.code)
        return try await services.signIn(user)
    }
}
