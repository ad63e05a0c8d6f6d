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
        do {
            try writeInSteps(data, to: aside, mode: mode)
            try commit(aside, to: destination)
        } catch {
            try? FileManager.default.removeItem(at: aside)
            throw error
        }
    }

    /// What is written between two write-backs of a large file.
    public static let stepBytes = 1 << 20

    /// Writes `data` a MiB at a time, each written back to the disk before the next: on ext4 an fsync of the
    /// database's log also waits for every other dirty page of the journal's transaction, so a large file written
    /// in one go and synced at the end would stall the writer's commits behind it.
    static func writeInSteps(_ data: Data, to url: URL, mode: Int) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(descriptor) }
        _ = fchmod(descriptor, mode_t(mode))
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var position = 0
            while position < raw.count {
                let stepEnd = min(raw.count, position + stepBytes)
                while position < stepEnd {
                    let written = Glibc.write(descriptor, base + position, stepEnd - position)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
                    }
                    position += written
                }
                if raw.count > stepBytes { _ = fdatasync(descriptor) }
            }
        }
    }

    public static func fsync(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(descriptor) }
        _ = Glibc.fsync(descriptor)
    }
}
