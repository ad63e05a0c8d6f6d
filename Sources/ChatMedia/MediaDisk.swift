import Foundation

/// The media folder, shaped like the original design's bucket:
///
///     <data>/media/uploads/temp/{uploadId}          bytes of an upload in progress
///     <data>/media/uploads/final/{userId}/{uploadId} the original of a completed upload
///     <data>/media/processed/images/{mediaId}.{ext}      the display image
///     <data>/media/processed/thumbnails/{mediaId}.{ext}  the thumbnail (a video's poster)
///
/// Every path is built from ids the server made (integers, and upload ids of 32 lowercase hex digits checked on the
/// way in): nothing a client sends becomes part of a path. Files appear whole (written aside, then renamed).
public struct MediaDisk: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    public var temporaryUploads: URL { root.appendingPathComponent("uploads/temp", isDirectory: true) }
    public var finalUploads: URL { root.appendingPathComponent("uploads/final", isDirectory: true) }
    public var displayImages: URL { root.appendingPathComponent("processed/images", isDirectory: true) }
    public var thumbnails: URL { root.appendingPathComponent("processed/thumbnails", isDirectory: true) }

    /// Creates the folders (owner-only: media is private to the conversations it was shared in).
    public func prepare() throws {
        for folder in [temporaryUploads, finalUploads, displayImages, thumbnails] {
            try FileManager.default.createDirectory(
                at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    /// Whether an upload id is one this server could have made.
    public static func isUploadId(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public func temporary(upload id: String) -> URL {
        precondition(Self.isUploadId(id), "upload ids are made by the server")
        return temporaryUploads.appendingPathComponent(id)
    }

    public func original(owner: Int64, upload id: String) -> URL {
        precondition(Self.isUploadId(id), "upload ids are made by the server")
        return finalUploads.appendingPathComponent("\(owner)/\(id)")
    }

    public func display(media: Int64, type: String) -> URL {
        displayImages.appendingPathComponent("\(media).\(Self.fileExtension(type))")
    }

    public func thumbnail(media: Int64, type: String) -> URL {
        thumbnails.appendingPathComponent("\(media).\(Self.fileExtension(type))")
    }

    static func fileExtension(_ type: String) -> String {
        switch type {
        case "image/png": "png"
        case "image/gif": "gif"
        default: "jpg"
        }
    }
}
