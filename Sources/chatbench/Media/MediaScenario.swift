import ArgumentParser
import ChatStore
import Foundation
import GRDB

/// `chatbench media`: a 12-megapixel JPEG through the daemon's pipeline (upload over the signed URL, the media job,
/// libvips display image and thumbnail, blurhash, the record and its event), against the same two images made by
/// the `vipsthumbnail` command in the same run, alternating A B A B. Then a large upload, to show it streams to disk.
///
/// Figures: the daemon's milliseconds per image (from the upload's completion to the processed record, read from
/// the media rows), the ratio to `vipsthumbnail` (two runs per image: display from the original, thumbnail from the
/// display, as the daemon does), the daemon's peak RSS above its idle RSS while processing, and the RSS a
/// `--upload-mb` upload adds.
struct MediaScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media", abstract: "12 MP JPEGs through the daemon's image pipeline, against vipsthumbnail.")

    @Option(help: "Images through each path.") var images = 20
    @Option(help: "Width of the test JPEG.") var width = 4000
    @Option(help: "Height of the test JPEG.") var height = 3000
    @Option(help: "Size of the large upload, in MB (10^6 bytes).") var uploadMb = 100

    func run() async throws {
        let chatd = try ChatdProcess()
        defer { chatd.stop() }
        let user = try await chatd.seed(users: 1)[0]
        try await chatd.start()
        let folder = chatd.root.appendingPathComponent("bench-images")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let photo = folder.appendingPathComponent("photo.jpg")
        try tool("vips", ["gaussnoise", photo.path + "[Q=90]", "\(width)", "\(height)", "--mean", "128", "--sigma", "40"])
        let bytes = [UInt8](try Data(contentsOf: photo))
        print("image: \(width)×\(height) JPEG, \(bytes.count) bytes")

        try await Task.sleep(for: .seconds(1))
        let idleKB = chatd.rssKB
        // The large upload first, from idle: what streaming it to disk costs, with nothing else grown before it.
        let beforeUploadKB = idleKB
        let uploadSampler = PeakSampler(chatd)
        let uploadStart = now()
        try largeUpload(chatd, user.token, megabytes: uploadMb)
        let uploadSeconds = Double(now() - uploadStart) / 1e9
        let uploadPeakKB = uploadSampler.stop()
        let uploadRSS = Double(uploadPeakKB - beforeUploadKB) / 1024
        print(
            "upload: \(uploadMb) MB in \(rounded(uploadSeconds, 2)) s; RSS \(beforeUploadKB / 1024) MB before, peak \(uploadPeakKB / 1024) MB: +\(rounded(uploadRSS, 1)) MB"
        )
        try await Task.sleep(for: .seconds(1))
        let idleAfterUploadKB = chatd.rssKB
        var client: [Double] = []
        var cli: [Double] = []
        var startups: [Double] = []
        var ids: [Int64] = []
        let sampler = PeakSampler(chatd)
        for index in 0..<images {
            // A: the daemon; B: vipsthumbnail, alternating so both meet the same machine.
            let started = now()
            let id = try upload(chatd, user.token, bytes, filename: "photo\(index).jpg", type: "image/jpeg")
            try await waitUntilProcessed(chatd, user.token, id)
            client.append(Double(now() - started) / 1e6)
            ids.append(id)
            let cliStart = now()
            try tool("vipsthumbnail", [photo.path, "--size", "1600", "-o", folder.path + "/d.jpg[Q=82,strip,optimize_coding,interlace]"])
            try tool("vipsthumbnail", [folder.path + "/d.jpg", "--size", "320", "-o", folder.path + "/t.jpg[Q=82,strip,optimize_coding,interlace]"])
            cli.append(Double(now() - cliStart) / 1e6)
            // What two starts of the command cost with no image: process start and libvips' initialisation.
            let startupStart = now()
            try tool("vips", ["--version"])
            try tool("vips", ["--version"])
            startups.append(Double(now() - startupStart) / 1e6)
        }
        let peakKB = sampler.stop()
        let processingIdleKB = idleAfterUploadKB
        let pipeline = try processingMillis(chatd)
        let msPerImage = median(pipeline)
        let cliMs = median(cli)
        print(
            "daemon: \(rounded(msPerImage, 1)) ms per image (median of \(ids.count), upload complete → processed record; client-observed with the upload \(rounded(median(client), 1)) ms)"
        )
        print("vipsthumbnail: \(rounded(cliMs, 1)) ms per image (display from the original, thumbnail from the display; median of \(cli.count))")
        print("ratio to vipsthumbnail: \(rounded(msPerImage / cliMs, 2))")
        let startup = median(startups)
        print(
            "of which two starts of the command with no image: \(rounded(startup, 1)) ms; ratio to vipsthumbnail's image work alone: \(rounded(msPerImage / max(cliMs - startup, 1), 2))"
        )
        print(
            "RSS: idle \(processingIdleKB / 1024) MB, peak while processing \(peakKB / 1024) MB: +\(rounded(Double(peakKB - processingIdleKB) / 1024, 1)) MB"
        )

        printResult([
            "scenario": "media", "ms_per_image": rounded(msPerImage, 1), "ratio_to_vipsthumbnail": rounded(msPerImage / cliMs, 2),
            "peak_rss_mb_above_idle": rounded(Double(peakKB - processingIdleKB) / 1024, 1), "upload_rss_mb": rounded(uploadRSS, 1),
            "vipsthumbnail_ms": rounded(cliMs, 1), "vipsthumbnail_startup_ms": rounded(startup, 1),
            "ratio_to_vipsthumbnail_work": rounded(msPerImage / max(cliMs - startup, 1), 2), "images": images,
        ])
    }

}

/// The daemon's own time per processed media: from the media row's creation (the upload's last byte is in) to its
/// processing being recorded.
func processingMillis(_ chatd: ChatdProcess) throws -> [Double] {
    try chatd.database().read { db in
        try Double.fetchAll(db, sql: "SELECT processed_at - created_at FROM media WHERE processed_at IS NOT NULL")
    }
}

/// Uploads bytes through a signed URL; returns the media id.
func upload(_ chatd: ChatdProcess, _ token: String, _ bytes: [UInt8], filename: String, type: String) throws -> Int64 {
    let http = try BlockingHTTP(port: chatd.port)
    let ticket = try http.json("POST", "/v1/uploads", token: token, ["size": bytes.count, "filename": filename, "content_type": type])
    guard ticket.status == 201, let url = ticket.json["url"] as? String else {
        throw BenchError("POST /v1/uploads answered \(ticket.status): \(ticket.json)")
    }
    let (status, body) = try http.exchange(
        "PUT \(url) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: \(bytes.count)\r\n\r\n",
        body: bytes)
    let reply = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    guard status == 201, let media = reply?["media"] as? [String: Any], let id = (media["id"] as? NSNumber)?.int64Value else {
        throw BenchError("PUT answered \(status): \(String(decoding: body, as: UTF8.self))")
    }
    return id
}

/// Polls the media until it is processed (or failed, which is an error here).
func waitUntilProcessed(_ chatd: ChatdProcess, _ token: String, _ id: Int64, timeout: Double = 60) async throws {
    let http = try BlockingHTTP(port: chatd.port)
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let reply = try http.json("GET", "/v1/media/\(id)", token: token, nil)
        let status = (reply.json["media"] as? [String: Any])?["status"] as? String
        if status == "ready" { return }
        if status == "failed" { throw BenchError("media \(id) failed: \(reply.json)") }
        try await Task.sleep(for: .milliseconds(2))
    }
    throw BenchError("media \(id) was not processed within \(timeout) s")
}

/// A PUT of `megabytes` × 10^6 bytes, written in 64 KiB pieces as a phone would stream it.
func largeUpload(_ chatd: ChatdProcess, _ token: String, megabytes: Int) throws {
    let size = megabytes * 1_000_000
    let http = try BlockingHTTP(port: chatd.port)
    let ticket = try http.json(
        "POST", "/v1/uploads", token: token, ["size": size, "filename": "big.bin", "content_type": "application/octet-stream"])
    guard ticket.status == 201, let url = ticket.json["url"] as? String else {
        throw BenchError("POST /v1/uploads answered \(ticket.status): \(ticket.json)")
    }
    try http.write(Array(
        "PUT \(url) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n".utf8))
    let piece = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    var sent = 0
    while sent < size {
        let count = min(piece.count, size - sent)
        try http.write(count == piece.count ? piece : Array(piece[..<count]))
        sent += count
    }
    let (status, body) = try http.exchange("", body: nil)
    guard status == 201 else { throw BenchError("the large upload answered \(status): \(String(decoding: body, as: UTF8.self))") }
}

/// Samples a process's RSS every 2 ms on a thread of its own, keeping the highest.
final class PeakSampler: @unchecked Sendable {
    // `peak` and `running` are guarded by `lock`.
    private let lock = NSLock()
    private var peak = 0
    private var running = true
    private let chatd: ChatdProcess

    init(_ chatd: ChatdProcess) {
        self.chatd = chatd
        peak = chatd.rssKB
        Thread.detachNewThread { [self] in
            while isRunning {
                record(chatd.rssKB)
                usleep(2000)
            }
        }
    }

    private var isRunning: Bool { lock.withLock { running } }
    private func record(_ kb: Int) { lock.withLock { peak = max(peak, kb) } }

    /// Stops sampling; the highest RSS seen, in KiB.
    func stop() -> Int {
        lock.withLock { running = false }
        usleep(5000)
        return lock.withLock { peak }
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Runs a command-line tool to its end; throws with its output when it fails.
func tool(_ name: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(name) failed: \(String(decoding: output, as: UTF8.self))")
    }
}
