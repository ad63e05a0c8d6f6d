import Hummingbird

/// With TLS on: every response tells browsers to come back over HTTPS only (`Strict-Transport-Security`).
struct HSTSMiddleware<Context: RequestContext>: RouterMiddleware {
    let value: String

    init(seconds: Int) {
        value = "max-age=\(seconds)"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = value
        return response
    }
}
