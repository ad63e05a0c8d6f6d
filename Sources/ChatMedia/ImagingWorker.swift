import ChatCore
import ChatSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// chatd-imaging, the process libvips runs in (its protocol is in `Sources/chatd-imaging/main.c`): started on the
/// first request, reused while requests keep coming, closed after `idle` without one, and started again when the
/// next comes. A request that kills it (a decoder crash) or outlasts `timeLimit` fails alone; chatd carries on.
final class ImagingWorker: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct Running {
        var pid: pid_t
        var requests: Int32
        var answers: Int32
        var buffered: [UInt8] = []
    }

    private struct State {
        var worker: Running?
        /// Every request ever sent, across workers: an idle close scheduled before a later request (to this worker
        /// or a newer one) leaves the worker alone.
        var requests = 0
    }

    let executable: String
    let idle: Duration
    let timeLimit: Duration
    private let state = Mutex(State())

    init(executable: String, idle: Duration = .seconds(15), timeLimit: Duration = .seconds(120)) {
        self.executable = executable
        self.idle = idle
        self.timeLimit = timeLimit
    }

    deinit {
        state.withLock { state in
            if let current = state.worker { Self.stop(current) }
            state.worker = nil
        }
    }

    /// Where chatd-imaging is: beside the running program (a build folder, where the tests, `scripts/start` and the
    /// benchmarks find it), else where the Debian package puts it.
    static func locate() -> String {
        if let program = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let beside = URL(fileURLWithPath: program).deletingLastPathComponent().appendingPathComponent("chatd-imaging").path
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        }
        return "/usr/lib/chatd/chatd-imaging"
    }

    /// Sends one request (tab-separated fields) and returns the words of its `ok` answer.
    func request(_ fields: [String]) throws -> [Substring] {
        let (line, request) = try state.withLock { state -> (String, Int) in
            if state.worker == nil { state.worker = try start() }
            state.requests += 1
            do {
                try write(fields.joined(separator: "\t") + "\n", to: state.worker!.requests)
                let line = try readLine(&state.worker!)
                // One answer per request, nothing else: anything more and later answers would be read by the wrong
                // requests, so that worker is ended.
                guard line == "ok" || line.hasPrefix("ok ") || line.hasPrefix("error "), state.worker!.buffered.isEmpty
                else { throw Failure(description: "chatd-imaging answered '\(line.prefix(200))'") }
                return (line, state.requests)
            } catch let failure as Failure {
                let ended = Self.stop(state.worker!)
                state.worker = nil
                throw Failure(description: "\(failure.description)\(ended)")
            }
        }
        scheduleIdleClose(after: request)
        if line.hasPrefix("error ") { throw Failure(description: String(line.dropFirst(6))) }
        return line.split(separator: " ").dropFirst().map { $0 }
    }

    /// Whether a worker process is running now.
    var isRunning: Bool { state.withLock { $0.worker != nil } }

    private func start() throws -> Running {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "the image worker \(executable) is missing; reinstall chatd")
        }
        // A request written to a worker that has just died must fail, not end chatd.
        signal(SIGPIPE, SIG_IGN)
        var toWorker: [Int32] = [0, 0]
        var fromWorker: [Int32] = [0, 0]
        guard pipe(&toWorker) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&fromWorker) == 0 else {
            close(toWorker[0])
            close(toWorker[1])
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        // Only the worker gets these (ffmpeg, started beside it, must not hold its pipes open).
        for descriptor in toWorker + fromWorker { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toWorker[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromWorker[1], 1)
        // chatd-imaging closes every other descriptor it inherits (chatd's sockets, its database, another child's
        // pipes) before anything else.
        // chatd's environment without its own settings (CHATD_*: the signing keys among them).
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                executable, [], environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHATD_") },
                actions: &actions)
        } catch {
            (toWorker + fromWorker).forEach { close($0) }
            throw Failure(description: "\(error)")
        }
        close(toWorker[0])
        close(fromWorker[1])
        var worker = Running(pid: pid, requests: toWorker[1], answers: fromWorker[0])
        do {
            let greeting = try readLine(&worker)
            guard greeting == "ready" else {
                throw Failure(description: greeting.hasPrefix("error ") ? String(greeting.dropFirst(6)) : "chatd-imaging said '\(greeting)'")
            }
        } catch let failure as Failure {
            throw Failure(description: "libvips did not start: \(failure.description)\(Self.stop(worker))")
        }
        return worker
    }

    private func write(_ text: String, to descriptor: Int32) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "the image worker stopped")
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// One line of the answer, waiting at most `timeLimit` for it.
    private func readLine(_ worker: inout Running) throws -> String {
        let deadline = ContinuousClock.now + timeLimit
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = worker.buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: worker.buffered[..<end], as: UTF8.self)
                worker.buffered.removeSubrange(...end)
                return line
            }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw Failure(description: "the image took longer than \(timeLimit)") }
            var poller = pollfd(fd: worker.answers, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min((left.inSeconds * 1000).rounded(.down) + 1, 60_000))
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            if ready <= 0 { continue }
            let count = chunk.withUnsafeMutableBytes { read(worker.answers, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw Failure(description: "the image worker stopped") }
            worker.buffered.append(contentsOf: chunk[..<count])
        }
    }

    private func scheduleIdleClose(after request: Int) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + idle.inSeconds) { [weak self] in
            self?.state.withLock { state in
                guard let current = state.worker, state.requests == request else { return }
                _ = Self.stop(current)
                state.worker = nil
            }
        }
    }

    /// Ends a worker (closing its input ends a healthy one; SIGKILL one that is stuck) and says how it ended, for
    /// a failure's message.
    @discardableResult
    private static func stop(_ worker: Running) -> String {
        close(worker.requests)
        close(worker.answers)
        var status: Int32 = 0
        var waited = waitpid(worker.pid, &status, WNOHANG)
        if waited == 0 {
            // A healthy worker exits as soon as its input closes; give it a moment, then end it.
            for _ in 0..<50 where waited == 0 {
                usleep(2_000)
                waited = waitpid(worker.pid, &status, WNOHANG)
            }
            if waited == 0 {
                kill(worker.pid, SIGKILL)
                waitpid(worker.pid, &status, 0)
                return " (stopped)"
            }
        }
        if status & 0x7f != 0 { return " (signal \(status & 0x7f))" }
        let code = (status >> 8) & 0xff
        return code == 0 ? "" : " (exit \(code))"
    }
}
