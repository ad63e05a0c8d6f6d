import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files that appear whole and stay after a crash: written beside their place, synced, renamed onto it, and the
/// rename synced in the folder. Media, backups and installed certificates all land this way.
public enum DurableFile {
    /// A name beside `url` to write to before renaming onto it.
    public static func aside(_ url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).part")
    }

    /// Moves a complete file into place and makes the rename durable (fsync of the file and of its folder).
    public static func commit(_ source: URL, to destination: URL) throws {
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try fsync(source)
        guard rename(source.path, destination.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination.path])
        }
        try fsync(destination.deletingLastPathComponent())
    }

    /// Writes `data` to `destination` with `mode`, whole or not at all.
    public static func write(_ data: Data, to destination: URL, mode: Int = 0o600) throws {
        let aside = aside(destination)
        guard FileManager.default.createFile(atPath: aside.path, contents: data, attributes: [.posixPermissions: mode])
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: aside.path]) }
        do {
            try commit(aside, to: destination)
        } catch {
            try? FileManager.default.removeItem(at: aside)
            throw error
        }
    }

    public static func fsync(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(descriptor) }
        _ = Glibc.fsync(descriptor)
    }
}
