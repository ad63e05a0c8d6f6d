import Foundation
import Testing

/// `/livez` and `/readyz` for load balancers; a disk past the threshold (simulated by a tiny threshold) makes the
/// instance not ready, and `chatctl status` warns.
@Suite struct HealthTests {
    @Test func liveAndReady() async throws {
        try await withServer(testConfig()) { api in
            let live = try await api.call(.get, "/livez")
            #expect(live.status == 200)
            #expect(live["status"].string == "ok")
            let ready = try await api.call(.get, "/readyz")
            #expect(ready.status == 200, "\(ready.text)")
            #expect(ready["status"].string == "ready")
        }
    }

    @Test func aFullDiskMakesItNotReadyAndWarns() async throws {
        let config = testConfig {
            $0.operations.diskFullPercent = 1
            $0.operations.diskWarningPercent = 1
        }
        try await withServer(config) { api in
            let ready = try await api.call(.get, "/readyz")
            #expect(ready.status == 503)
            #expect(ready.errorCode == "unavailable")
            #expect(ready.text.contains("% full"))
            let status = try await ChatctlTests.chatctl(["status", "--json", "--socket", try await adminSocket(config)])
            #expect(status.json["warnings"].array.contains { $0.string?.contains("% full") == true }, "\(status.stdout)")
        }
    }
}
