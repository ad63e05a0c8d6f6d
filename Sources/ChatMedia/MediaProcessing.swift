import ChatCore
import ChatJobs
import Foundation
import Logging

/// `media.process`: makes an image's display image, thumbnail, dimensions and blurhash, or a video's metadata and
/// poster, then records them and finishes the job in one transaction. Idempotent: the files are written whole to
/// names fixed by the media id, and recording a second time changes nothing. After the last attempt the media is
/// marked failed and its conversations (or its owner) are told.
public struct MediaProcessing: JobHandler {
    let library: MediaLibrary
    let store: any MediaRepository
    let images: ImageProcessor
    let video: VideoProbe?
    let logger: Logger
    /// Told how long each processing took, by the media's kind (for metrics).
    public var observe: (@Sendable (MediaKind, Duration) -> Void)?
    /// libvips and ffmpeg block a thread for the length of an image: they run here, never on the cooperative pool.
    private static let workers = DispatchQueue(label: "chatd.media", qos: .utility, attributes: .concurrent)

    public init(library: MediaLibrary, store: any MediaRepository, images: ImageProcessor, video: VideoProbe?, logger: Logger) {
        self.library = library
        self.store = store
        self.images = images
        self.video = video
        self.logger = logger
    }

    struct Payload: Decodable {
        var mediaId: Int64
    }

    public func run(_ job: LeasedJob) async throws {
        let payload = try ChatJSON.decoder().decode(Payload.self, from: Data(job.payload.utf8))
        guard let stored = try await store.media(payload.mediaId) else { return }  // purged meanwhile
        if stored.media.status == .ready { return }
        let original = library.disk.original(owner: stored.media.ownerId, upload: stored.uploadId)
        let disk = library.disk
        let id = stored.media.id
        let images = images
        let video = video
        let started = ContinuousClock.now
        defer { observe?(stored.media.kind, started.duration(to: .now)) }
        let result: ProcessedMedia = try await Self.blocking {
            let type = try MediaLibrary.sniff(original)
            switch type.kind {
            case .image:
                let output = try images.process(
                    original, as: type, display: { disk.display(media: id, type: $0) },
                    thumbnail: { disk.thumbnail(media: id, type: $0) })
                return ProcessedMedia(
                    width: output.width, height: output.height, blurhash: output.blurhash,
                    displayType: output.displayType, thumbnailType: output.thumbnailType)
            case .video:
                guard let video, let demuxer = type.demuxer else {
                    return ProcessedMedia(width: nil, height: nil, blurhash: nil, displayType: nil, thumbnailType: nil)
                }
                let metadata = try video.metadata(of: original, demuxer: demuxer)
                let poster = disk.temporaryUploads.appendingPathComponent("poster-\(id)-\(UUID().uuidString).png")
                defer { try? FileManager.default.removeItem(at: poster) }
                try video.poster(of: original, demuxer: demuxer, durationMs: metadata.durationMs, to: poster)
                let frame = try images.process(
                    poster, as: SniffedType(kind: .image, contentType: "image/png", loader: "pngload"),
                    display: { disk.display(media: id, type: $0) }, thumbnail: { disk.thumbnail(media: id, type: $0) })
                return ProcessedMedia(
                    width: metadata.width ?? frame.width, height: metadata.height ?? frame.height,
                    durationMs: metadata.durationMs, blurhash: frame.blurhash, codecs: metadata.codecs,
                    displayType: frame.displayType, thumbnailType: frame.thumbnailType)
            case .file:
                return ProcessedMedia(width: nil, height: nil, blurhash: nil, displayType: nil, thumbnailType: nil)
            }
        }
        try await store.recordProcessed(id, result, completing: job.lease)
    }

    public func buried(_ job: LeasedJob, error: String) async {
        guard let payload = try? ChatJSON.decoder().decode(Payload.self, from: Data(job.payload.utf8)) else { return }
        do {
            try await store.recordFailed(payload.mediaId, error: error)
        } catch {
            logger.error("recording a media failure failed", metadata: ["media": "\(payload.mediaId)", "error": "\(error)"])
        }
    }

    private static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            workers.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
