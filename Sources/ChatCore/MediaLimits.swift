/// The media settings (`[media]` in chatd.toml), as ChatMedia takes them. Here, not in ChatMedia, so what reads the
/// configuration (chatctl) does not link libvips.
public struct MediaLimits: Sendable, Equatable {
    public init() {}

    /// Largest upload of each kind, in bytes (the kind is what the client declares, checked again on the bytes).
    public var maxImageBytes: Int64 = 25 << 20
    public var maxVideoBytes: Int64 = 200 << 20
    public var maxFileBytes: Int64 = 100 << 20
    /// What one user's media and open uploads may take together.
    public var userQuotaBytes: Int64 = 2 << 30
    /// Images with more pixels (all frames together) are refused from their header, before decoding.
    public var maxPixels = 50_000_000
    public var displaySize = 1600
    public var thumbnailSize = 320
    /// Attachments one message may carry.
    public var maxAttachments = 10
    public var uploadURLSeconds = 900
    public var downloadURLSeconds = 3600
    /// Uploads never completed are removed this long after their URL expired.
    public var abandonedUploadHours = 24
    /// Media no live message carries (its messages were deleted, or it was never sent) is removed after this long,
    /// and so is what remains of deleted messages' text.
    public var deletedMediaDays = 30
    /// Each run of ffprobe or ffmpeg is killed after this long.
    public var videoToolSeconds = 30

    public func maxBytes(_ kind: MediaKind) -> Int64 {
        switch kind {
        case .image: maxImageBytes
        case .video: maxVideoBytes
        case .file: maxFileBytes
        }
    }
}
