import ChatCore
import ChatMedia
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Uploads and downloads. `POST /v1/uploads` and `GET /v1/media/{id}` take the bearer token and hand out signed
/// URLs; the signed URLs themselves (`PUT`/`HEAD /v1/uploads/{id}`, `GET /v1/media/{id}/{variant}`) need no token:
/// the signature is the permission, as with S3's presigned URLs.
struct MediaRoutes {
    let services: ChatServices
    private var library: MediaLibrary { services.media }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("uploads", use: startUpload)
        group.get("media/{media_id}", use: media)
    }

    func registerSigned(on router: Router<ChatRequestContext>) {
        router.put("v1/uploads/{upload_id}", use: receive)
        router.on("v1/uploads/{upload_id}", method: .head, use: progress)
        router.get("v1/media/{media_id}/{variant}", use: file)
    }

    static let uploadOffset = HTTPField.Name("Upload-Offset")!
    static let uploadLength = HTTPField.Name("Upload-Length")!

    struct UploadRequest: Decodable {
        var size: Int64
        var filename: String
        var contentType: String
        var sha256: String?
    }

    struct UploadResponse: ResponseEncodable {
        var uploadId: String
        /// PUT the bytes here (relative to the server), before `expires_at`.
        var url: String
        var size: Int64
        var expiresAt: Millis
    }

    @Sendable func startUpload(_ request: Request, context: AuthenticatedContext) async throws
        -> EditedResponse<UploadResponse>
    {
        let body = try await request.decodeJSON(UploadRequest.self, limit: services.maxBody)
        let filename = try Validate.uploadFilename(body.filename)
        let type = try Validate.declaredContentType(body.contentType)
        let ticket = try await library.startUpload(
            owner: context.user, size: body.size, filename: filename, declaredType: type, sha256: body.sha256,
            now: Clock.nowMillis())
        return EditedResponse(
            status: .created,
            response: UploadResponse(
                uploadId: ticket.upload.id, url: ticket.url, size: ticket.upload.size, expiresAt: ticket.upload.expiresAt))
    }

    struct ProgressResponse: ResponseEncodable {
        var uploadId: String
        var received: Int64
        var size: Int64
    }

    struct MediaResponse: ResponseEncodable {
        var media: Media
    }

    /// 201 with the media when the last byte is in; 202 with how much arrived when more is expected.
    @Sendable func receive(_ request: Request, context: ChatRequestContext) async throws -> Response {
        let upload = try await authorize(request, context)
        var part: MediaLibrary.Part?
        if let range = request.headers[.contentRange] {
            guard let parsed = MediaLibrary.Part(contentRange: range) else {
                throw ChatError.invalid("Content-Range must be 'bytes FIRST-LAST/TOTAL'")
            }
            part = parsed
        }
        do {
            switch try await library.receive(upload, part: part, body: request.body) {
            case .complete(let media):
                services.usage.add(UsageCounts(uploads: 1))
                return try EditedResponse(status: .created, response: MediaResponse(media: media))
                    .response(from: request, context: context)
            case .partial(let received):
                var response = try EditedResponse(
                    status: .accepted, response: ProgressResponse(uploadId: upload.id, received: received, size: upload.size)
                ).response(from: request, context: context)
                response.headers[Self.uploadOffset] = String(received)
                return response
            }
        } catch let error as ChatError where error.code == .conflict {
            var response = ErrorResponse.response(for: error)
            response.headers[Self.uploadOffset] = String(try await library.received(upload))
            return response
        }
    }

    /// How many bytes have arrived, in `Upload-Offset` (and `Range: bytes=0-N`), for a client about to resume.
    @Sendable func progress(_ request: Request, context: ChatRequestContext) async throws -> Response {
        let upload = try await authorize(request, context)
        let received = try await library.received(upload)
        var headers: HTTPFields = [Self.uploadOffset: String(received), Self.uploadLength: String(upload.size)]
        if received > 0 { headers[.range] = "bytes=0-\(received - 1)" }
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers)
    }

    private func authorize(_ request: Request, _ context: ChatRequestContext) async throws -> Upload {
        let id = context.parameters.get("upload_id") ?? ""
        let query = request.uri.queryParameters
        return try await library.authorizeUpload(
            id: id, expires: query.get("expires"), signature: query.get("signature"), now: Clock.nowMillis())
    }

    struct LinksResponse: ResponseEncodable {
        var media: Media
        /// Signed GET URLs (relative) of each variant that exists, valid until `expires_at`.
        var urls: [String: String]
        var expiresAt: Millis
    }

    @Sendable func media(_ request: Request, context: AuthenticatedContext) async throws -> LinksResponse {
        let id = try context.parameters.id("media_id", "media")
        let now = Clock.nowMillis()
        let (media, urls) = try await library.downloadURLs(media: id, user: context.user, now: now)
        return LinksResponse(
            media: media, urls: Dictionary(uniqueKeysWithValues: urls.map { ($0.key.rawValue, $0.value) }),
            expiresAt: (now / 1000 + Int64(library.limits.downloadURLSeconds)) * 1000)
    }

    /// The file of a signed URL, streamed from disk: its sniffed type, `nosniff`, a CSP that runs nothing, an ETag,
    /// one byte range at a time, and long caching (the URL itself expires).
    @Sendable func file(_ request: Request, context: ChatRequestContext) async throws -> Response {
        let id = try context.parameters.id("media_id", "media")
        guard let variant = MediaVariant(rawValue: context.parameters.get("variant") ?? "") else {
            throw ChatError.notFound("media \(id)")
        }
        let query = request.uri.queryParameters
        let download = try await library.download(
            media: id, variant: variant, expires: query.get("expires"), signature: query.get("signature"),
            now: Clock.nowMillis())
        var headers: HTTPFields = [
            .contentType: download.contentType,
            .eTag: download.etag,
            .acceptRanges: "bytes",
            .cacheControl: "private, max-age=31536000, immutable",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; sandbox",
            .contentDisposition: Self.disposition(download),
        ]
        if let match = request.headers[.ifNoneMatch], match == download.etag || match == "*" {
            return Response(status: .notModified, headers: headers)
        }
        let size = Int(download.size)
        switch ByteRange.parse(request.headers[.range], size: size) {
        case .whole:
            headers[.contentLength] = String(size)
            let body = try await FileIO().loadFile(path: download.path, context: context)
            return Response(status: .ok, headers: headers, body: body)
        case .part(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            let body = try await FileIO().loadFile(path: download.path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        case .unsatisfiable:
            var response = ErrorResponse.response(
                for: ChatError(.rangeNotSatisfiable, "the range is outside the file's \(size) bytes"))
            response.headers[.contentRange] = "bytes */\(size)"
            return response
        }
    }

    /// RFC 8187's attr-char: ASCII letters and digits and a few marks; everything else is percent-encoded.
    static let attrChar = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")

    /// `inline` for images and videos, `attachment` for everything else, with the cleaned file name in ASCII and
    /// in UTF-8 (RFC 6266).
    static func disposition(_ download: MediaLibrary.Download) -> String {
        let ascii = String(download.filename.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "_" })
        let encoded =
            download.filename.addingPercentEncoding(withAllowedCharacters: Self.attrChar)
            ?? "file"
        return "\(download.inline ? "inline" : "attachment"); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

/// One `Range: bytes=…` of a download (a request for several ranges gets the whole file, as RFC 9110 allows).
enum ByteRange: Equatable {
    case whole
    case part(ClosedRange<Int>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int) -> ByteRange {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { return .whole }
        let first = spec[0].trimmingCharacters(in: .whitespaces)
        let last = spec[1].trimmingCharacters(in: .whitespaces)
        guard first.isEmpty || first.isDecimalDigits, last.isEmpty || last.isDecimalDigits,
            !(first.isEmpty && last.isEmpty)
        else { return .whole }
        guard size > 0 else { return .unsatisfiable }
        if first.isEmpty {
            // The last N bytes.
            guard let count = Int(last), count > 0 else { return .unsatisfiable }
            return .part(max(0, size - count)...(size - 1))
        }
        guard let start = Int(first), start < size else { return .unsatisfiable }
        let end = last.isEmpty ? size - 1 : min(Int(last) ?? size - 1, size - 1)
        guard end >= start else { return .whole }
        return .part(start...end)
    }
}
