import ArgumentParser
import ChatRealtime
import Foundation

/// `chatbench fragments`: the server's CPU time per byte of WebSocket input when the same 60 KB messages arrive whole
/// or cut into more and more fragments, and per empty continuation frame after a 60 KB start (the costliest input
/// before reassembly was linear). Measured from /proc on a real chatd; the frame budget is raised so every frame is
/// processed.
struct FragmentsScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fragments", abstract: "CPU per byte of fragmented WebSocket input.")

    @Option(help: "Messages per fragment count.") var messages = 40
    @Option(help: "Bytes per message.") var messageBytes = 60_000
    @Option(parsing: .upToNextOption, help: "Fragment counts to measure.") var fragments: [Int] = [1, 16, 256, 2048]

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        let users = try await server.seed(users: 1)
        try await server.start()
        let socket = try BlockingWebSocket(port: server.port)
        try socket.hello(token: users[0].token)
        var rows: [(fragments: Int, nsPerByte: Double, usPerMessage: Double)] = []
        for count in fragments {
            let cpu = try socket.serverCPU(server) {
                for index in 0..<messages {
                    try socket.sendPing(id: index, bytes: messageBytes, fragments: count)
                }
            }
            let bytes = Double(messages * messageBytes)
            rows.append((count, Double(cpu) / bytes, Double(cpu) / 1000 / Double(messages)))
            print("\(count) fragments: \(rounded(rows.last!.nsPerByte, 2)) ns of server CPU per byte, \(rounded(rows.last!.usPerMessage, 1)) µs per message")
        }
        // Empty continuations after a 1 KB and a 60 KB start: each used to copy the whole message so far, so their
        // cost grew with the start; now it does not. Each is measured as the server's CPU for messages with them less
        // that for the same messages without them.
        let empties = 2_000
        var perEmpty: [Int: Double] = [:]
        for start in [1_000, messageBytes] {
            func cpu(_ emptyContinuations: Int) throws -> Int {
                try socket.serverCPU(server) {
                    for index in 0..<(messages / 2) {
                        try socket.sendPing(
                            id: index, bytes: start, fragments: 2, emptyContinuations: emptyContinuations)
                    }
                }
            }
            let with = try cpu(empties)
            let without = try cpu(0)
            perEmpty[start] = Double(with - without) / 1000 / Double((messages / 2) * empties)
            print("empty continuations after a \(start)-byte start: \(rounded(perEmpty[start]!, 3)) µs of server CPU each")
        }
        let whole = rows.first?.nsPerByte ?? 0
        let most = rows.last?.nsPerByte ?? 0
        printResult([
            "scenario": "fragments", "message_bytes": messageBytes,
            "ns_per_byte_whole": rounded(whole, 2), "ns_per_byte_most_fragments": rounded(most, 2),
            "most_fragments": fragments.last ?? 0,
            "us_per_empty_continuation_1kb_start": rounded(perEmpty[1_000] ?? 0, 3),
            "us_per_empty_continuation_full_start": rounded(perEmpty[messageBytes] ?? 0, 3),
        ])
    }
}

/// A WebSocket client on a blocking socket, for measuring the server: frames built by hand, replies read in order.
final class BlockingWebSocket {
    private let http: BlockingHTTP

    init(port: Int) throws {
        http = try BlockingHTTP(port: port)
        let status = try http.exchange(
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        guard status == 101 else { throw BenchError("upgrade refused: \(status)") }
    }

    func hello(token: String) throws {
        try http.write(ClientFrameEncoding.frame(opcode: 0x1, payload: Array(#"{"type":"hello","token":"\#(token)"}"#.utf8)))
        while try readFrame().contains("\"synced\"") == false {}
    }

    /// A ping frame padded to `bytes`, cut into `fragments` pieces (plus `emptyContinuations` empty ones before the
    /// last), then its reply.
    func sendPing(id: Int, bytes: Int, fragments: Int, emptyContinuations: Int = 0) throws {
        let head = #"{"type":"ping","id":\#(id),"pad":""#
        let message = Array((head + String(repeating: "x", count: max(0, bytes - head.utf8.count - 2)) + #""}"#).utf8)
        let size = (message.count + fragments - 1) / fragments
        var pieces = stride(from: 0, to: message.count, by: size).map { Array(message[$0..<min(message.count, $0 + size)]) }
        if emptyContinuations > 0 {
            pieces.insert(contentsOf: Array(repeating: [UInt8](), count: emptyContinuations), at: pieces.count - 1)
        }
        var wire: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            var frame = ClientFrameEncoding.frame(opcode: index == 0 ? 0x1 : 0x0, payload: piece)
            if index < pieces.count - 1 { frame[0] &= 0x7F }
            wire += frame
        }
        try http.write(wire)
        let reply = try readFrame()
        guard reply.contains("\"status\":200") else { throw BenchError("unexpected reply: \(reply.prefix(200))") }
    }

    /// The server's CPU time, in nanoseconds, while `body` runs.
    func serverCPU(_ server: ChatdProcess, _ body: () throws -> Void) throws -> Int {
        let before = server.cpuNanoseconds
        try body()
        return server.cpuNanoseconds - before
    }

    /// The next frame's payload as text.
    private func readFrame() throws -> String {
        let header = try http.read(2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let bytes = try http.read(2)
            length = Int(bytes[0]) << 8 | Int(bytes[1])
        } else if length == 127 {
            length = try http.read(8).reduce(0) { $0 << 8 | Int($1) }
        }
        return String(decoding: try http.read(length), as: UTF8.self)
    }
}
