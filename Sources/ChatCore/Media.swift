/// What chatd does with an upload: images and videos are processed (a display image, a thumbnail, metadata), any
/// other file is stored and served as an attachment.
public enum MediaKind: String, Codable, Sendable, CaseIterable {
    case image, video, file
}

public enum MediaStatus: String, Codable, Sendable {
    /// Uploaded; the display image, thumbnail and metadata are being made.
    case processing
    /// Complete: everything that will be made of it was made.
    case ready
    /// Processing failed for good (`error` says why); the original is still downloadable.
    case failed
}

/// An uploaded file as clients see it, in messages' `attachments`, in `media.*` events and from `/v1/media/{id}`.
/// `contentType` is what the bytes are (sniffed), never what the client declared.
public struct Media: Codable, Sendable, Equatable {
    public var id: Int64
    public var ownerId: UserID
    public var kind: MediaKind
    public var contentType: String
    /// The client's name for the file, cleaned (for `Content-Disposition` and display only; never a path).
    public var filename: String
    public var size: Int64
    public var sha256: String
    public var status: MediaStatus
    public var width: Int?
    public var height: Int?
    public var durationMs: Int64?
    /// A compact placeholder a client paints while the image loads (https://blurha.sh).
    public var blurhash: String?
    /// Video: its codecs ("h264", "aac").
    public var codecs: [String]?
    /// Which processed variants exist: "display", "thumbnail" (also a video's poster).
    public var variants: [String]
    public var error: String?
    public var createdAt: Millis

    public init(
        id: Int64, ownerId: UserID, kind: MediaKind, contentType: String, filename: String, size: Int64, sha256: String,
        status: MediaStatus, width: Int? = nil, height: Int? = nil, durationMs: Int64? = nil, blurhash: String? = nil,
        codecs: [String]? = nil, variants: [String] = [], error: String? = nil, createdAt: Millis
    ) {
        self.id = id
        self.ownerId = ownerId
        self.kind = kind
        self.contentType = contentType
        self.filename = filename
        self.size = size
        self.sha256 = sha256
        self.status = status
        self.width = width
        self.height = height
        self.durationMs = durationMs
        self.blurhash = blurhash
        self.codecs = codecs
        self.variants = variants
        self.error = error
        self.createdAt = createdAt
    }
}

/// The variants of a media file that can be downloaded.
public enum MediaVariant: String, Sendable, CaseIterable, Codable {
    case original, display, thumbnail
}

/// An upload in progress: what the client announced, and until when its signed URL may be used.
public struct Upload: Sendable, Equatable {
    /// 32 lowercase hex digits, made by the server.
    public var id: String
    public var ownerId: UserID
    public var size: Int64
    public var filename: String
    public var declaredType: String
    /// The SHA-256 (hex) the client announced, checked when the bytes are in.
    public var sha256: String?
    public var createdAt: Millis
    public var expiresAt: Millis
    /// Set once complete.
    public var mediaId: Int64?

    public init(
        id: String, ownerId: UserID, size: Int64, filename: String, declaredType: String, sha256: String?,
        createdAt: Millis, expiresAt: Millis, mediaId: Int64? = nil
    ) {
        self.id = id
        self.ownerId = ownerId
        self.size = size
        self.filename = filename
        self.declaredType = declaredType
        self.sha256 = sha256
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.mediaId = mediaId
    }
}

/// A media row with what serving it needs beyond what clients see.
public struct StoredMedia: Sendable, Equatable {
    public var media: Media
    /// The upload it came from, which names its original on disk.
    public var uploadId: String
    public var displayType: String?
    public var thumbnailType: String?

    public init(media: Media, uploadId: String, displayType: String?, thumbnailType: String?) {
        self.media = media
        self.uploadId = uploadId
        self.displayType = displayType
        self.thumbnailType = thumbnailType
    }
}

/// What processing found out and made.
public struct ProcessedMedia: Sendable, Equatable {
    public var width: Int?
    public var height: Int?
    public var durationMs: Int64?
    public var blurhash: String?
    public var codecs: [String]?
    public var displayType: String?
    public var thumbnailType: String?

    public init(
        width: Int?, height: Int?, durationMs: Int64? = nil, blurhash: String?, codecs: [String]? = nil,
        displayType: String?, thumbnailType: String?
    ) {
        self.width = width
        self.height = height
        self.durationMs = durationMs
        self.blurhash = blurhash
        self.codecs = codecs
        self.displayType = displayType
        self.thumbnailType = thumbnailType
    }
}

/// Uploads, media and their lifecycle in the store.
public protocol MediaRepository: Sendable {
    /// Stores a new upload, unless the owner's media and open uploads would then exceed `quota` bytes
    /// (`quota_exceeded`).
    func createUpload(_ upload: Upload, quota: Int64) async throws
    func upload(_ id: String) async throws -> Upload?
    /// Creates the media of a complete upload and, when `process` is given, its processing job, in one
    /// transaction. An upload completed before answers with its media.
    func completeUpload(_ id: String, kind: MediaKind, contentType: String, sha256: String, process: Job?)
        async throws -> Media
    func media(_ id: Int64) async throws -> StoredMedia?
    /// Whether `user` may read the media: its owner, or a member of a conversation where a message that is not
    /// deleted carries it.
    func canRead(media: Int64, user: UserID) async throws -> Bool
    /// Records what processing made, refreshes the messages that carry the media, appends `media.processed` events
    /// and finishes the job, in one transaction. A second run changes nothing and appends nothing.
    func recordProcessed(_ media: Int64, _ result: ProcessedMedia, completing lease: JobLease) async throws
    /// Marks the media failed with its reason (once: `media.failed` is appended only by the first call).
    func recordFailed(_ media: Int64, error: String) async throws

    /// Uploads never completed whose URL expired before `before`.
    func abandonedUploads(before: Millis, limit: Int) async throws -> [Upload]
    func deleteUpload(_ id: String) async throws
    /// Media no message that is not deleted has carried since before `before` (or never sent).
    func unusedMedia(before: Millis, limit: Int) async throws -> [StoredMedia]
    /// Deletes the media rows that are still unused and returns them: their files are the caller's to remove
    /// (afterwards, so a file never vanishes under a record; a crash in between leaves files the reconciliation
    /// reports).
    func deleteMedia(_ ids: [Int64]) async throws -> [StoredMedia]
    /// Every media row's id, owner and variant types, for reconciling the folder with the store.
    func allMedia() async throws -> [StoredMedia]
    /// Media counted by kind and status, with their bytes (originals as uploaded).
    func statistics() async throws -> [MediaStatistic]
    /// Deletes what remains of the text of messages deleted before `before` (their notifications); returns how
    /// many rows.
    func purgeDeletedMessageText(before: Millis) async throws -> Int
}

/// How much media of one kind and status there is.
public struct MediaStatistic: Sendable, Equatable, Codable {
    public var kind: MediaKind
    public var status: MediaStatus
    public var count: Int
    public var bytes: Int64

    public init(kind: MediaKind, status: MediaStatus, count: Int, bytes: Int64) {
        self.kind = kind
        self.status = status
        self.count = count
        self.bytes = bytes
    }
}
