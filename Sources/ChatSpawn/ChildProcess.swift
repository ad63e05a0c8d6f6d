import CChatd
import Synchronization
import Foundation

/// A program run to its end: started with `posix_spawn`, fed its input, its output read, waited for. chatd runs its
/// tools (ffprobe, ffmpeg, the post-backup command) with this instead of Foundation's `Process`, whose `run()` on
/// Linux over-reads `/proc/self/fd` and now and then crashes the process that calls it (swift-corelibs-foundation
/// #5472, in Swift 6.3.1): a daemon with many sockets open meets that more often.
///
/// The child gets only its standard input, output and error: every other descriptor is closed before it runs.
public enum ChildProcess {
    public struct Output: Sendable {
        /// The exit status, or 128 plus the signal that ended it.
        public var status: Int32
        public var stdout: Data
        /// Empty when standard error was merged into `stdout`.
        public var stderr: Data
        /// The time limit ran out and the child was killed.
        public var timedOut: Bool
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Starts `executable` with `arguments`, exactly `environment` and the file `actions`; its pid. A start that
    /// meets ETXTBSY is tried again: the file was open for writing in some process at that instant (a child forked by
    /// another thread holds what was open then until it execs), which passes within moments.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String],
        actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environ = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environ.forEach { free($0) } }
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        for _ in 0..<20 where spawned == ETXTBSY {
            usleep(5_000)
            spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        }
        guard spawned == 0 else {
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// Runs `executable` with `arguments` and exactly `environment`; `input` is its standard input (none: empty).
    /// With `mergeErrors`, standard error goes where standard output goes. After `timeLimit` it is killed (SIGKILL)
    /// and `timedOut` says so. Blocks the calling thread until the child has ended and its output is read.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], input: Data? = nil,
        mergeErrors: Bool = false, timeLimit: Duration? = nil
    ) throws -> Output {
        // A child that exits before reading all its input must not take this process with it.
        signal(SIGPIPE, SIG_IGN)
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        var errorsFromChild: [Int32] = [-1, -1]
        guard chatd_pipe_cloexec(&toChild) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        guard chatd_pipe_cloexec(&fromChild) == 0 else {
            toChild.forEach { close($0) }
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        if !mergeErrors, chatd_pipe_cloexec(&errorsFromChild) != 0 {
            (toChild + fromChild).forEach { close($0) }
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_adddup2(&actions, mergeErrors ? fromChild[1] : errorsFromChild[1], 2)
        _ = chatd_spawn_closefrom(&actions, 3)
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, environment: environment, actions: &actions)
        } catch {
            (toChild + fromChild + errorsFromChild).filter { $0 >= 0 }.forEach { close($0) }
            throw error
        }
        close(toChild[0])
        close(fromChild[1])
        if !mergeErrors { close(errorsFromChild[1]) }
        let exchange = exchange(
            pid: pid, input: input ?? Data(), toChild: toChild[1], fromChild: fromChild[0],
            errorsFromChild: mergeErrors ? -1 : errorsFromChild[0], timeLimit: timeLimit)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return Output(status: code, stdout: exchange.stdout, stderr: exchange.stderr, timedOut: exchange.timedOut)
    }

    /// Writes the input and reads both outputs as they come (a chatty child cannot fill one pipe and stall), until
    /// both outputs end; kills the child when the time limit passes. Closes the descriptors it was given.
    private static func exchange(
        pid: pid_t, input: Data, toChild: Int32, fromChild: Int32, errorsFromChild: Int32, timeLimit: Duration?
    ) -> (stdout: Data, stderr: Data, timedOut: Bool) {
        var stdout = Data()
        var stderr = Data()
        var timedOut = false
        var writing: Int32 = toChild
        var written = 0
        if input.isEmpty {
            close(toChild)
            writing = -1
        } else {
            _ = fcntl(toChild, F_SETFL, fcntl(toChild, F_GETFL) | O_NONBLOCK)
        }
        var reading = [fromChild, errorsFromChild].filter { $0 >= 0 }
        let deadline = timeLimit.map { ContinuousClock.now + $0 }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !reading.isEmpty {
            var polled = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writing >= 0 { polled.append(pollfd(fd: writing, events: Int16(POLLOUT), revents: 0)) }
            var wait: Int32 = -1
            if let deadline, !timedOut {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero {
                    timedOut = true
                    kill(pid, SIGKILL)
                } else {
                    wait = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
                }
            }
            let ready = poll(&polled, nfds_t(polled.count), wait)
            if ready < 0 && errno != EINTR { break }
            for entry in polled where entry.revents != 0 {
                if entry.fd == writing {
                    let count = input.withUnsafeBytes { bytes in
                        Foundation.write(writing, bytes.baseAddress! + written, bytes.count - written)
                    }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN && errno != EINTR || written == input.count {
                        close(writing)
                        writing = -1
                    }
                    continue
                }
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    if entry.fd == fromChild {
                        stdout.append(contentsOf: buffer[0..<count])
                    } else {
                        stderr.append(contentsOf: buffer[0..<count])
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(entry.fd)
                    reading.removeAll { $0 == entry.fd }
                }
            }
        }
        if writing >= 0 { close(writing) }
        return (stdout, stderr, timedOut)
    }
}

/// A program left running (a daemon a test starts and stops): started with `posix_spawn`, its standard output and
/// error appended to a file, every other descriptor closed.
public final class RunningChild: Sendable {
    public let pid: pid_t
    private let exit = Mutex<Int32?>(nil)

    /// Starts `executable`; its output goes to the end of `outputFile`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String], outputFile: String) throws {
        let output = open(outputFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw ChildProcess.Failure(description: "cannot open \(outputFile): \(String(cString: strerror(errno)))")
        }
        defer { close(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        _ = chatd_spawn_closefrom(&actions, 3)
        pid = try ChildProcess.spawn(executable, arguments, environment: environment, actions: &actions)
    }

    /// Whether it has not ended yet (an ended child is reaped, and its status kept).
    public var isRunning: Bool {
        exit.withLock { exit in
            guard exit == nil else { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            exit = status
            return false
        }
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for it to end; its exit status, or 128 plus the signal that ended it.
    @discardableResult
    public func wait() -> Int32 {
        let status = exit.withLock { exit -> Int32 in
            if let exit { return exit }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            exit = status
            return status
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
