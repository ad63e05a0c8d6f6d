import ArgumentParser
import Foundation

/// `--cpu-hog N`: a busy neighbour. N child processes (`chatbench cpu-hog`), each spinning on one core at normal
/// priority for as long as the scenario runs, as another service on the same small VM would. Each child ends when
/// its stdin closes, so a scenario that dies takes its hogs with it.
final class CPUHog: @unchecked Sendable {
    // @unchecked: made and stopped by the scenario's one task.
    private let children: [(process: Process, input: Pipe)]

    init(cores: Int) throws {
        children = try (0..<cores).map { _ in
            let process = Process()
            let input = Pipe()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            process.arguments = ["cpu-hog"]
            process.standardInput = input
            try process.run()
            return (process, input)
        }
    }

    var cores: Int { children.count }

    /// CPU time the hogs used, in microseconds.
    var cpuMicroseconds: Int { children.reduce(0) { $0 + processCPUMicroseconds($1.process.processIdentifier) } }

    func stop() {
        for child in children {
            try? child.input.fileHandleForWriting.close()
            child.process.waitUntilExit()
        }
    }
}

/// The hog itself: spins until its stdin closes.
struct CPUHogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu-hog", abstract: "Keeps one core busy until stdin closes (started by --cpu-hog).",
        shouldDisplay: false)

    func run() throws {
        Thread.detachNewThread {
            while !FileHandle.standardInput.availableData.isEmpty {}
            Foundation.exit(0)
        }
        var state: UInt64 = 1
        while true {
            for _ in 0..<1_000_000 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
            if state == 0 { print("") }
        }
    }
}
