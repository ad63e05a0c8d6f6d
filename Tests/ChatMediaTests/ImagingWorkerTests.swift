import Foundation
import Testing

@testable import ChatMedia

/// The image worker's process handling, with a stand-in worker (a shell script speaking its protocol) that can crash
/// or hang on demand: a request that kills the worker or outlasts the time limit fails alone, and the next request
/// gets a fresh worker. The real chatd-imaging is driven by PipelineTests and the media suites.
@Suite struct ImagingWorkerTests {
    let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-imaging-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A worker that greets with `greeting`, answers `ok <its pid>`, and dies or hangs when asked to.
    func standIn(greeting: String = "ready") throws -> String {
        let script = folder.appendingPathComponent("worker.sh")
        let text = """
            #!/bin/sh
            echo '\(greeting)'
            while read -r verb rest; do
                case "$verb" in
                    crash) kill -9 $$ ;;
                    hang) exec sleep 600 ;;
                    fail) echo "error the image is damaged" ;;
                    noise) echo "libfoo: a note on standard output" ;;
                    *) echo "ok $$ $verb" ;;
                esac
            done

            """
        // Written through a descriptor that no child process started meanwhile inherits past its exec: one that
        // kept it open for writing would make starting the script fail with ETXTBSY.
        let descriptor = open(script.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown) }
        return script.path
    }

    @Test func aCrashFailsThatRequestAndTheNextGetsAFreshWorker() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = ImagingWorker(executable: try standIn(), idle: .seconds(600))
        let first = try worker.request(["probe"])
        #expect(first.last == "probe")
        #expect(try worker.request(["again"]).first == first.first, "one worker serves request after request")

        #expect {
            try worker.request(["crash"])
        } throws: { error in
            "\(error)".contains("the image worker stopped") && "\(error)".contains("signal 9")
        }
        #expect(!worker.isRunning)
        let after = try worker.request(["probe"])
        #expect(after.first != first.first, "a new worker process")
    }

    @Test func anAnswerOutsideTheProtocolEndsThatWorker() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = ImagingWorker(executable: try standIn(), idle: .seconds(600))
        let first = try worker.request(["probe"])
        #expect {
            try worker.request(["noise"])
        } throws: { error in
            "\(error)".contains("chatd-imaging answered 'libfoo: a note on standard output'")
        }
        #expect(!worker.isRunning, "its later answers could no longer be matched to their requests")
        #expect(try worker.request(["probe"]).first != first.first)
    }

    @Test func aHungRequestIsEndedAtTheTimeLimit() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = ImagingWorker(executable: try standIn(), idle: .seconds(600), timeLimit: .milliseconds(300))
        #expect {
            try worker.request(["hang"])
        } throws: { error in
            "\(error)".contains("longer than")
        }
        #expect(!worker.isRunning)
        #expect(try worker.request(["probe"]).last == "probe")
    }

    @Test func anErrorAnswerIsThatRequestsFailureAndTheWorkerStays() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = ImagingWorker(executable: try standIn(), idle: .seconds(600))
        #expect {
            try worker.request(["fail"])
        } throws: { error in
            "\(error)" == "the image is damaged"
        }
        #expect(worker.isRunning)
    }

    @Test func aWorkerThatCannotStartLibvipsOrIsMissingSaysSo() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = ImagingWorker(executable: try standIn(greeting: "error VipsForeignLoad: no such class"))
        #expect {
            try broken.request(["probe"])
        } throws: { error in
            "\(error)".contains("libvips did not start: VipsForeignLoad: no such class")
        }
        let missing = ImagingWorker(executable: folder.appendingPathComponent("absent").path)
        #expect {
            try missing.request(["probe"])
        } throws: { error in
            "\(error)".contains("is missing")
        }
    }

    @Test func anIdleWorkerExits() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = ImagingWorker(executable: try standIn(), idle: .milliseconds(50))
        _ = try worker.request(["probe"])
        // Waits for the close to happen (bounded), never for something not to happen.
        let deadline = ContinuousClock.now + .seconds(10)
        while worker.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!worker.isRunning)
        #expect(try worker.request(["probe"]).last == "probe", "the next request starts it again")
    }
}
