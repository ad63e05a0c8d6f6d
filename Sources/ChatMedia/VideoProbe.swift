import ChatCore
import ChatSpawn
import Foundation

/// Video metadata and a poster frame through Debian's `ffprobe` and `ffmpeg`, when installed (a recommended
/// package, not a dependency). Each run has a time limit, reads only the one file, through the one demuxer sniffing
/// chose, with every network protocol off.
public struct VideoProbe: Sendable {
    public let ffprobe: String
    public let ffmpeg: String
    public var timeLimit: Duration

    /// The tools on PATH (or in /usr/bin), or nil when either is missing.
    public static func find(timeLimit: Duration = .seconds(30)) -> VideoProbe? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        func locate(_ name: String) -> String? {
            (paths + ["/usr/bin"]).map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let ffprobe = locate("ffprobe"), let ffmpeg = locate("ffmpeg") else { return nil }
        return VideoProbe(ffprobe: ffprobe, ffmpeg: ffmpeg, timeLimit: timeLimit)
    }

    public struct Metadata: Sendable, Equatable {
        public var durationMs: Int64?
        public var width: Int?
        public var height: Int?
        public var codecs: [String]
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The options that confine ffmpeg and ffprobe to reading one local file with one demuxer.
    private func confined(_ file: URL, demuxer: String) -> [String] {
        ["-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file", "-f", demuxer,
         "-i", "file:" + file.path]
    }

    public func metadata(of file: URL, demuxer: String) throws -> Metadata {
        var arguments = confined(file, demuxer: demuxer)
        arguments.removeFirst()  // ffprobe has no -nostdin
        arguments += ["-print_format", "json", "-show_entries", "format=duration:stream=codec_type,codec_name,width,height:stream_tags=rotate:stream_side_data=rotation"]
        let output = try run(ffprobe, arguments)
        struct Probe: Decodable {
            struct Format: Decodable { var duration: String? }
            struct Stream: Decodable {
                struct SideData: Decodable { var rotation: Int? }
                var codec_type: String?
                var codec_name: String?
                var width: Int?
                var height: Int?
                var side_data_list: [SideData]?
            }
            var format: Format?
            var streams: [Stream]?
        }
        let probe = try JSONDecoder().decode(Probe.self, from: output)
        let streams = probe.streams ?? []
        guard let video = streams.first(where: { $0.codec_type == "video" }) else {
            throw Failure(description: "the file holds no video stream")
        }
        let rotation = abs(video.side_data_list?.compactMap(\.rotation).first ?? 0) % 180
        let duration = probe.format?.duration.flatMap(Double.init).map { Int64(($0 * 1000).rounded()) }
        return Metadata(
            durationMs: duration, width: rotation == 90 ? video.height : video.width,
            height: rotation == 90 ? video.width : video.height,
            codecs: streams.compactMap(\.codec_name))
    }

    /// Writes one frame (a second in, or the first of a shorter video) as a PNG to `output`, upright.
    public func poster(of file: URL, demuxer: String, durationMs: Int64?, to output: URL) throws {
        let at = (durationMs ?? 0) > 2000 ? "1" : "0"
        _ = try run(ffmpeg, ["-ss", at] + confined(file, demuxer: demuxer) + [
            "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-f", "image2", "-c:v", "png", "-y",
            "file:" + output.path,
        ])
        guard FileManager.default.fileExists(atPath: output.path) else {
            throw Failure(description: "ffmpeg wrote no poster frame")
        }
    }

    /// Runs a tool with the time limit; its standard output, or a failure with the end of its standard error.
    private func run(_ tool: String, _ arguments: [String]) throws -> Data {
        let name = (tool as NSString).lastPathComponent
        let output: ChildProcess.Output
        do {
            output = try ChildProcess.run(tool, arguments, environment: ["PATH": "/usr/bin:/bin"], timeLimit: timeLimit)
        } catch {
            throw Failure(description: "\(error)")
        }
        if output.timedOut { throw Failure(description: "\(name) took longer than \(timeLimit)") }
        guard output.status == 0 else {
            let message = String(decoding: output.stderr.suffix(500), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "\(name) failed (\(output.status)): \(message)")
        }
        return output.stdout
    }
}
