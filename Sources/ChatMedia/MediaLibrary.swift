import ChatCore
import Crypto
import Foundation
import NIOCore
import Synchronization
import _NIOFileSystem

/// Uploads and downloads: what S3 with presigned URLs was in the cloud design. The routes translate HTTP to these
/// calls; every rule (sizes, quota, signatures, resuming, sniffing) is here.
///
/// An upload streams to `uploads/temp/{id}` chunk by chunk (never whole in memory), with its size enforced and its
/// SHA-256 computed on the way. The file's length is how much arrived: `HEAD` tells it and a `PUT` with
/// `Content-Range` continues from there. When the last byte is in, the file is synced, sniffed, renamed to
/// `uploads/final/{owner}/{id}` and then recorded, with its processing job, in one transaction; a crash between the
/// rename and the record is finished by the client's retry, which finds the file in its final place.
public final class MediaLibrary: Sendable {
    public let disk: MediaDisk
    public let limits: MediaLimits
    let store: any MediaRepository
    let signer: URLSigner
    /// Whether videos get metadata and a poster (ffprobe and ffmpeg are installed).
    public let processesVideo: Bool
    /// The uploads being received, each with the PUT that owns it (see `UploadSlot`).
    private let slots = Mutex<[String: UploadSlot]>([:])
    private let nextReceiver = Atomic<Int>(0)

    public init(disk: MediaDisk, limits: MediaLimits, store: any MediaRepository, signer: URLSigner, processesVideo: Bool) {
        self.disk = disk
        self.limits = limits
        self.store = store
        self.signer = signer
        self.processesVideo = processesVideo
    }

    // MARK: Uploads

    /// A new upload and the signed URL to PUT its bytes to (relative to the server's address).
    public struct Ticket: Sendable, Equatable {
        public var upload: Upload
        public var url: String
    }

    public func startUpload(owner: UserID, size: Int64, filename: String, declaredType: String, sha256: String?, now: Millis)
        async throws -> Ticket
    {
        let kind = Self.kind(declared: declaredType)
        guard size > 0 else { throw ChatError.invalid("size must be at least 1 byte") }
        guard size <= limits.maxBytes(kind) else {
            throw ChatError(.payloadTooLarge, "a \(kind.rawValue) may be at most \(limits.maxBytes(kind)) bytes; this one is \(size)")
        }
        if let sha256, !(sha256.utf8.count == 64 && sha256.utf8.allSatisfy(Self.isLowerHex)) {
            throw ChatError.invalid("sha256 must be 64 lowercase hex digits")
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let id = bytes.hexadecimal
        let upload = Upload(
            id: id, ownerId: owner, size: size, filename: Self.cleanFilename(filename), declaredType: declaredType,
            sha256: sha256, createdAt: now, expiresAt: now + Millis(limits.uploadURLSeconds) * 1000)
        try await store.createUpload(upload, quota: limits.userQuotaBytes)
        return Ticket(upload: upload, url: uploadURL(upload))
    }

    func uploadURL(_ upload: Upload) -> String {
        let expires = upload.expiresAt / 1000
        let signature = signer.signature(.upload(id: upload.id, size: upload.size), expires: expires)
        return "/v1/uploads/\(upload.id)?expires=\(expires)&signature=\(signature)"
    }

    /// The upload a signed URL names, if the URL is genuine and current (`now` in milliseconds).
    public func authorizeUpload(id: String, expires: String?, signature: String?, now: Millis) async throws -> Upload {
        guard MediaDisk.isUploadId(id), let expires, expires.isDecimalDigits, let seconds = Int64(expires),
            let signature
        else { throw ChatError(.forbidden, "this upload URL is not signed by this server") }
        guard let upload = try await store.upload(id) else { throw ChatError.notFound("upload") }
        switch signer.verify(.upload(id: id, size: upload.size), expires: seconds, signature: signature, now: now / 1000) {
        case .forged: throw ChatError(.forbidden, "this upload URL is not signed by this server")
        case .expired: throw ChatError(.forbidden, "this upload URL expired; ask for a new upload")
        case .valid: return upload
        }
    }

    /// How many bytes of an upload have arrived.
    public func received(_ upload: Upload) async throws -> Int64 {
        if upload.mediaId != nil { return upload.size }
        if let size = try await fileSize(disk.original(owner: upload.ownerId, upload: upload.id)) { return size }
        return try await fileSize(disk.temporary(upload: upload.id)) ?? 0
    }

    /// Where a PUT's bytes go: a whole file, or a part from `start` (`Content-Range: bytes start-end/total`).
    public struct Part: Sendable, Equatable {
        public var start: Int64
        public var end: Int64
        public var total: Int64

        public init(start: Int64, end: Int64, total: Int64) {
            self.start = start
            self.end = end
            self.total = total
        }

        /// `bytes 0-99/1000` (the only form a PUT takes).
        public init?(contentRange: String) {
            guard contentRange.hasPrefix("bytes ") else { return nil }
            let parts = contentRange.dropFirst(6).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let range = parts[0].split(separator: "-", omittingEmptySubsequences: false)
            guard range.count == 2, range.allSatisfy(\.isDecimalDigits), parts[1].isDecimalDigits,
                let start = Int64(range[0]), let end = Int64(range[1]), let total = Int64(parts[1]),
                start <= end, end < total
            else { return nil }
            self.init(start: start, end: end, total: total)
        }
    }

    public enum Received: Sendable, Equatable {
        /// More is expected; this many bytes are in.
        case partial(received: Int64)
        case complete(Media)
    }

    /// Receives the bytes of a PUT. A whole-file PUT starts the upload over; a part must start where the received
    /// bytes end. Bytes past the upload's size are refused (`payload_too_large`) and the part is undone. When the
    /// body breaks off, what arrived stays for a resume.
    public func receive<Body: AsyncSequence>(_ upload: Upload, part: Part?, body: Body) async throws -> Received
    where Body.Element == ByteBuffer {
        if upload.mediaId != nil {
            throw ChatError(.conflict, "this upload is complete; its URL cannot be used again")
        }
        let final = disk.original(owner: upload.ownerId, upload: upload.id)
        if try await fileSize(final) == upload.size {
            // A completion interrupted after the rename: finish it.
            return .complete(try await record(upload, file: final, sha256: try await Self.sha256(of: final)))
        }
        if let part, part.total != upload.size {
            throw ChatError.invalid("Content-Range says \(part.total) bytes in all; this upload is \(upload.size)")
        }
        let receiver = nextReceiver.add(1, ordering: .relaxed).newValue
        let slot = slots.withLock { slots in
            if let slot = slots[upload.id] { return slot }
            let slot = UploadSlot(path: disk.temporary(upload: upload.id).path)
            slots[upload.id] = slot
            return slot
        }
        defer { slots.withLock { if $0[upload.id]?.owned(by: receiver) == true { $0[upload.id] = nil } } }
        let start = part?.start ?? 0
        let have = try slot.takeOver(by: receiver, truncate: part == nil)
        guard start == have else {
            throw ChatError(.conflict, "\(have) bytes of this upload have arrived; continue from byte \(have)")
        }
        let descriptor = open(slot.path, O_RDWR)
        guard descriptor >= 0 else { throw ChatError(.internalError, "an upload's file cannot be opened") }
        defer { close(descriptor) }
        var hasher = SHA256()
        if start > 0 {
            // Resuming: the hash continues over the bytes already in (a newer PUT would have to take over first,
            // and this one then stops at its first write).
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var read: Int64 = 0
            while read < start {
                let count = buffer.withUnsafeMutableBytes {
                    pread(descriptor, $0.baseAddress, min($0.count, Int(start - read)), off_t(read))
                }
                guard count > 0 else { throw ChatError(.internalError, "an upload's bytes cannot be read back") }
                buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                read += Int64(count)
            }
        }
        var offset = start
        let limit = part.map { $0.end + 1 } ?? upload.size
        do {
            for try await chunk in body {
                guard offset + Int64(chunk.readableBytes) <= limit else {
                    try slot.truncate(to: start, by: receiver, descriptor: descriptor)
                    throw ChatError(
                        .payloadTooLarge,
                        part == nil
                            ? "more than the \(upload.size) bytes announced for this upload"
                            : "more bytes than Content-Range announced")
                }
                try chunk.withUnsafeReadableBytes { bytes in
                    try slot.write(bytes, at: offset, by: receiver, descriptor: descriptor)
                    hasher.update(bufferPointer: bytes)
                }
                offset += Int64(chunk.readableBytes)
            }
        } catch is UploadSlot.Superseded {
            throw ChatError(.conflict, "a newer PUT of this upload took over")
        }
        guard offset == upload.size else { return .partial(received: offset) }
        let digest = Array(hasher.finalize()).hexadecimal
        if let expected = upload.sha256, expected != digest {
            _ = try? slot.takeOver(by: receiver, truncate: true)
            throw ChatError.invalid("the bytes' SHA-256 is \(digest), not the \(expected) announced; upload them again")
        }
        do {
            try slot.finish(to: final, by: receiver)
        } catch is UploadSlot.Superseded {
            throw ChatError(.conflict, "a newer PUT of this upload took over")
        }
        return .complete(try await record(upload, file: final, sha256: digest))
    }

    /// Sniffs a complete upload in its final place and records it, with its processing job when there is one.
    private func record(_ upload: Upload, file: URL, sha256: String) async throws -> Media {
        let type = try Self.sniff(file)
        guard upload.size <= limits.maxBytes(type.kind) else {
            try? FileManager.default.removeItem(at: file)
            throw ChatError(
                .payloadTooLarge, "the file is a \(type.kind.rawValue), which may be at most \(limits.maxBytes(type.kind)) bytes")
        }
        let processed = type.kind == .image || (type.kind == .video && processesVideo)
        return try await store.completeUpload(
            upload.id, kind: type.kind, contentType: type.contentType, sha256: sha256,
            process: processed ? Job(kind: Job.Kind.mediaProcess, queue: Job.Queue.media, payload: "{}") : nil)
    }

    // MARK: Downloads

    /// Signed URLs (relative) for each variant of a media file that exists, if `user` may read it.
    public func downloadURLs(media id: Int64, user: UserID, now: Millis) async throws -> (Media, [MediaVariant: String]) {
        guard let stored = try await store.media(id), try await store.canRead(media: id, user: user) else {
            throw ChatError.notFound("media \(id)")
        }
        let expires = now / 1000 + Int64(limits.downloadURLSeconds)
        var urls: [MediaVariant: String] = [:]
        for variant in MediaVariant.allCases where path(of: stored, variant) != nil {
            let signature = signer.signature(.download(media: id, variant: variant), expires: expires)
            urls[variant] = "/v1/media/\(id)/\(variant.rawValue)?expires=\(expires)&signature=\(signature)"
        }
        return (stored.media, urls)
    }

    /// A file to serve for a signed download URL.
    public struct Download: Sendable, Equatable {
        public var path: String
        public var contentType: String
        public var size: Int64
        public var etag: String
        /// Shown inline (images and videos) or saved (everything else).
        public var inline: Bool
        public var filename: String
    }

    public func download(media id: Int64, variant: MediaVariant, expires: String?, signature: String?, now: Millis)
        async throws -> Download
    {
        guard let expires, expires.isDecimalDigits, let seconds = Int64(expires), let signature else {
            throw ChatError(.forbidden, "this download URL is not signed by this server")
        }
        switch signer.verify(.download(media: id, variant: variant), expires: seconds, signature: signature, now: now / 1000) {
        case .forged: throw ChatError(.forbidden, "this download URL is not signed by this server")
        case .expired: throw ChatError(.forbidden, "this download URL expired; ask for a new one")
        case .valid: break
        }
        guard let stored = try await store.media(id), let (url, type) = path(of: stored, variant),
            let size = try await fileSize(url)
        else { throw ChatError.notFound("media \(id)") }
        let inline = type.hasPrefix("image/") || type.hasPrefix("video/")
        var name = stored.media.filename
        if variant != .original {
            name = (name as NSString).deletingPathExtension + "-\(variant.rawValue).\(MediaDisk.fileExtension(type))"
        }
        return Download(
            path: url.path, contentType: type, size: size, etag: "\"\(stored.media.sha256.prefix(32))-\(variant.rawValue)\"",
            inline: inline, filename: name)
    }

    /// Every file of a media on disk: its original and the variants made of it.
    public func files(of stored: StoredMedia) -> [URL] {
        MediaVariant.allCases.compactMap { path(of: stored, $0)?.0 }
    }

    private func path(of stored: StoredMedia, _ variant: MediaVariant) -> (URL, String)? {
        switch variant {
        case .original:
            return (disk.original(owner: stored.media.ownerId, upload: stored.uploadId), stored.media.contentType)
        case .display:
            return stored.displayType.map { (disk.display(media: stored.media.id, type: $0), $0) }
        case .thumbnail:
            return stored.thumbnailType.map { (disk.thumbnail(media: stored.media.id, type: $0), $0) }
        }
    }

    // MARK: Helpers

    /// The kind a declared content type promises (the bytes decide in the end).
    static func kind(declared type: String) -> MediaKind {
        let lower = type.lowercased()
        if lower.hasPrefix("image/") { return .image }
        if lower.hasPrefix("video/") { return .video }
        return .file
    }

    /// A file name fit for a `Content-Disposition` header and a list: the last path component, without control
    /// characters, quotes or backslashes, at most 200 bytes. Never used as a path.
    static func cleanFilename(_ raw: String) -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(
            String.UnicodeScalarView(
                last.unicodeScalars.filter {
                    $0.properties.generalCategory != .control && $0.properties.generalCategory != .format
                        && $0 != "\"" && $0 != "\\"
                }))
        while cleaned.utf8.count > 200 { cleaned.removeLast() }
        cleaned = cleaned.trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "file" : cleaned
    }

    static func sniff(_ file: URL) throws -> SniffedType {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        let head = try handle.read(upToCount: SniffedType.headerLength) ?? Data()
        return SniffedType.sniff(head)
    }

    static func sha256(of file: URL) async throws -> String {
        var hasher = SHA256()
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file.path)) { handle in
            for try await chunk in handle.readChunks(chunkLength: .mebibytes(1)) {
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
        }
        return Array(hasher.finalize()).hexadecimal
    }

    private func fileSize(_ url: URL) async throws -> Int64? {
        guard let info = try await FileSystem.shared.info(forFileAt: FilePath(url.path)) else { return nil }
        return info.size
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (97...102).contains(byte)
    }
}
