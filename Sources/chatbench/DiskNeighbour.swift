import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes beside a measurement that share its disk and nothing else with chatd: the floor under what chatd's own
/// writes of the same volume can cost (`chatbench backup`). Each writes a MiB at a time and syncs it (`fdatasync`),
/// the way chatd writes its archive and its snapshots.
enum DiskNeighbour {
    static let step = 1 << 20

    /// Writes `bytes` to a new file at `url`, spread evenly over `seconds`, on its own thread; returns when done.
    static func write(bytes: Int, over seconds: Double, to url: URL) async {
        await onThread {
            let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { return }
            defer { close(descriptor) }
            let chunk = [UInt8]((0..<step).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
            let steps = max(1, (bytes + step - 1) / step)
            let start = now()
            for index in 0..<steps {
                let due = start + UInt64(Double(index) * seconds / Double(steps) * 1e9)
                if due > now() { usleep(UInt32((due - now()) / 1000)) }
                _ = chunk.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress!, step) }
                fdatasync(descriptor)
            }
        }
    }

    /// Copies `source` to `destination` as fast as the disk lets it, a MiB and a sync at a time; returns when done.
    static func copy(_ source: URL, to destination: URL) async {
        await onThread {
            let input = open(source.path, O_RDONLY | O_CLOEXEC)
            let output = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer {
                if input >= 0 { close(input) }
                if output >= 0 { close(output) }
            }
            guard input >= 0, output >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: step)
            while true {
                let got = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, step) }
                guard got > 0 else { break }
                _ = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress!, got) }
                fdatasync(output)
            }
        }
    }

    /// Keeps one core busy for `seconds` on its own thread, at the snapshot thread's priority (nice 10): the floor
    /// under what a snapshot's CPU can cost the sends beside it.
    static func burn(seconds: Double) async {
        await onThread {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            let end = now() + UInt64(seconds * 1e9)
            var spin: UInt64 = 0
            while now() < end { spin &+= 1 }
            if spin == 0 { print("") }
        }
    }

    private static func onThread(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                work()
                continuation.resume()
            }
        }
    }
}
