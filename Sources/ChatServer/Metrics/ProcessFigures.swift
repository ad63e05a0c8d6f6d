import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// This process as the kernel counts it (Linux `/proc`): CPU time, resident memory, open files and their limit; and
/// the machine's memory, for the memory alert.
struct ProcessFigures: Sendable, Equatable {
    var cpuSeconds: Double
    var residentBytes: Int64
    var openFiles: Int
    var maxFiles: Int
    var startTimeSeconds: Double
    var machineMemoryBytes: Int64

    static func now() -> ProcessFigures {
        var figures = ProcessFigures(
            cpuSeconds: 0, residentBytes: 0, openFiles: 0, maxFiles: 0, startTimeSeconds: 0, machineMemoryBytes: 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name (which may hold spaces), numbered from 3 ("state").
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double { Double(fields[safe: number - 3] ?? "") ?? 0 }
            figures.cpuSeconds = (field(14) + field(15)) / ticks
            figures.residentBytes = Int64(field(24)) * pageSize
            figures.startTimeSeconds = bootTime() + field(22) / ticks
        }
        figures.openFiles = entries(in: "/proc/self/fd")
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { figures.maxFiles = Int(limit.rlim_cur) }
        figures.machineMemoryBytes = meminfo("MemTotal")
        return figures
    }

    /// Entries of a folder, counted without naming them (the daemon's fd folder holds one per socket).
    private static func entries(in path: String) -> Int {
        guard let folder = opendir(path) else { return 0 }
        defer { closedir(folder) }
        var count = 0
        while let entry = readdir(folder) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 }  // not "." or ".."
        }
        return count
    }

    private static func bootTime() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6)) ?? 0
        }
        return 0
    }

    /// A `/proc/meminfo` line, in bytes.
    static func meminfo(_ key: String) -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let number = line.dropFirst(key.count + 1).split(separator: " ").first.flatMap { Int64($0) } ?? 0
            return number * 1024
        }
        return 0
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
