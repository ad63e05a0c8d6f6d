import Hummingbird

/// Applies a per-IP `RateLimiter` to every route it wraps.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ChatRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        try limiter.enforce("ip:" + context.clientIP, what: "requests from this address")
        return try await next(request, context)
    }
}
