import ChatCore
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The one place where errors become responses: `{"error":{"code":…,"message":…}}` with the code's status.
/// Framework errors are translated into the same shape; anything unexpected is logged and answered 500
/// without details.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            // The router found no route: is it the path, or only the method?
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { return ErrorResponse.response(for: Self.chatError(for: error, request: request)) }
            var response = ErrorResponse.response(
                for: ChatError(
                    .methodNotAllowed,
                    "\(request.method) is not served on \(request.uri.path); allowed: \(allowed.joined(separator: ", "))"))
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        } catch {
            let chatError = Self.chatError(for: error, request: request)
            if chatError.code == .internalError {
                context.logger.error(
                    "request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            }
            return ErrorResponse.response(for: chatError)
        }
    }

    static func chatError(for error: any Error, request: Request) -> ChatError {
        switch error {
        case let error as ChatError:
            return error
        case let error as HTTPParserError:
            // The body of the request failed to parse while the route read it (HTTPGuard ends the connection).
            return ChatError.invalid("malformed HTTP request (\(error))")
        case let error as HTTPError:
            return translate(status: error.status, message: error.body, request: request)
        case let error as any HTTPResponseError:
            return translate(status: error.status, message: nil, request: request)
        default:
            return ChatError(.internalError, "internal error")
        }
    }

    private static func translate(status: HTTPResponse.Status, message: String?, request: Request) -> ChatError {
        switch status.code {
        case 400: ChatError.invalid(message ?? "bad request")
        case 401: ChatError(.unauthorized, message ?? "missing or invalid credentials")
        case 403: ChatError.forbidden(message ?? "forbidden")
        case 404: ChatError(.notFound, message ?? "no route \(request.method) \(request.uri.path)")
        case 405: ChatError(.methodNotAllowed, message ?? "method not allowed")
        case 413: ChatError(.payloadTooLarge, message ?? "the request body is too large")
        case 429: ChatError(.rateLimited, message ?? "too many requests")
        case 400..<500: ChatError.invalid(message ?? "bad request")
        default: ChatError(.internalError, "internal error")
        }
    }
}
