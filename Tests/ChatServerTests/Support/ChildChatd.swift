import AsyncHTTPClient
import ChatSpawn
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `chatd` process, started from the built executable with a TOML file, that a test can kill -9.
final class ChildChatd: @unchecked Sendable {
    // Mutated only by start() and kill(), which a test calls in sequence.
    let arguments: [String]
    private(set) var process: RunningChild?
    let logFile: URL
    private(set) var port = 0

    static var executable: URL {
        let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("chatd")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return repositoryRoot.appendingPathComponent(".build/debug/chatd")
    }

    init(arguments: [String], logFile: URL) {
        self.logFile = logFile
        self.arguments = arguments
    }

    /// Starts the process and waits until it logs the port it listens on.
    func start() async throws {
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let process = try RunningChild(
            Self.executable.path, arguments, environment: ProcessInfo.processInfo.environment, outputFile: logFile.path)
        self.process = process
        for _ in 0..<400 {
            let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            if let range = text.range(
                of: #"msg="chatd listening" address=https?://127\.0\.0\.1:\d+"#, options: .regularExpression)
            {
                port = Int(text[range].split(separator: ":").last ?? "") ?? 0
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChildError(message: "chatd did not start:\n" + ((try? String(contentsOf: logFile, encoding: .utf8)) ?? ""))
    }

    func kill9() {
        process?.signal(SIGKILL)
        process?.wait()
    }

    func terminate() {
        process?.signal(SIGTERM)
        process?.wait()
    }

    struct ChildError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// One JSON request to the child.
    func request(_ method: HTTPMethod, _ path: String, token: String? = nil, json: [String: Any]? = nil) async throws
        -> (status: Int, json: JSON)
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), JSON(data: Data(buffer: body)))
    }
}
