import ChatCore
import Hummingbird
import Logging

/// Outermost on the public router: every request is counted by route, method and status, timed, logged (subsystem
/// `http`, with its latency) and added to the error-rate window. The route is the matched template
/// (`/v1/conversations/{conversation_id}/messages`), never the path with its ids.
struct RequestMetrics<Context: RequestContext>: RouterMiddleware {
    let metrics: ChatMetrics
    let errors: ErrorRateWindow
    /// Where the bytes of each response body count as egress (`chatctl stats`).
    var usage: UsageMeter? = nil
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // ErrorMiddleware answers every error inside; what reaches here is a failure to answer at all.
            observe(request, context: context, status: 500, started: started)
            throw error
        }
        observe(request, context: context, status: Int(response.status.code), started: started)
        if let bytes = response.body.contentLength, bytes > 0 { usage?.add(UsageCounts(egressBytes: Int64(bytes))) }
        return response
    }

    private func observe(_ request: Request, context: Context, status: Int, started: ContinuousClock.Instant) {
        let elapsed = started.duration(to: .now)
        // Hummingbird names a path with no route "NotFound".
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        let method = request.method.rawValue
        metrics.count("chatd_http_requests_total", [("route", route), ("method", method), ("status", String(status))])
        metrics.time("chatd_http_request_duration_seconds", [("route", route), ("method", method)], elapsed)
        errors.record(status: status, atSecond: Clock.nowMillis() / 1000)
        logger.info(
            "request",
            metadata: [
                "method": "\(method)", "path": "\(request.uri.path)", "status": "\(status)",
                "ms": "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
            ])
    }
}
