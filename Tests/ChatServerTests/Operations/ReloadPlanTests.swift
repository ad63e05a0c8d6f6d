import ChatConfiguration
import Foundation
import Logging
import Testing

@testable import ChatServer

/// What a reload applies and what waits for a restart, decided as a value; and the log lines it writes.
@Suite struct ReloadPlanTests {
    @Test func reloadableSettingsApplyAndTheRestWaitsForARestart() {
        var running = ChatConfig()
        running.tls.certificate = "/etc/chatd/a.pem"
        running.tls.key = "/etc/chatd/a.key"
        var next = running
        next.log.level = "debug"
        next.limits.messagesPerMinute = 60
        next.operations.diskWarningPercent = 70
        next.tls.certificate = "/etc/chatd/b.pem"
        next.server.port = 443
        next.media.maxPixels = 10
        let plan = ReloadPlan.between(running, next)
        #expect(plan.applied == ["log", "limits.messages_per_minute", "operations", "tls.certificate"])
        #expect(plan.needsRestart == ["server", "media"])

        let merged = ReloadPlan.merged(running, next)
        #expect(merged.log.level == "debug")
        #expect(merged.limits.messagesPerMinute == 60)
        #expect(merged.tls.certificate == "/etc/chatd/b.pem")
        #expect(merged.server.port == running.server.port)
        #expect(merged.media.maxPixels == running.media.maxPixels)
    }

    @Test func turningTLSOnOrOffNeedsARestart() {
        let running = ChatConfig()
        var next = running
        next.tls.certificate = "/c.pem"
        next.tls.key = "/k.pem"
        let plan = ReloadPlan.between(running, next)
        #expect(plan.applied.isEmpty)
        #expect(plan.needsRestart == ["tls"])
        #expect(ReloadPlan.merged(running, next).tls.certificate.isEmpty)
    }

    @Test func anUnchangedConfigurationChangesNothing() {
        #expect(ReloadPlan.between(ChatConfig(), ChatConfig()) == ReloadPlan())
    }

    @Test func logLinesInLogfmtAndJSON() {
        let line = LogLine(
            time: Date(timeIntervalSince1970: 1_700_000_000.25), level: .notice, subsystem: "http",
            message: "request \"done\"", fields: [("path", "/v1/users/me"), ("note", "two words\nand=more")])
        #expect(
            line.logfmt
                == #"time=2023-11-14T22:13:20.250Z level=notice subsystem=http msg="request \"done\"" path=/v1/users/me note="two words\nand=more""#)
        let json = JSON(data: Data(line.json.utf8))
        #expect(json["msg"].string == "request \"done\"")
        #expect(json["note"].string == "two words\nand=more")
        #expect(json["time"].string == "2023-11-14T22:13:20.250Z")
    }

    @Test func subsystemLevelsAreReadOnEveryCall() {
        var config = ChatConfig.Log()
        config.level = "warning"
        config.subsystems = ["http": "debug"]
        let levels = LogLevels(config)
        #expect(levels.level(label: "chatd.http") == .debug)
        #expect(levels.level(label: "chatd.store") == .warning)
        #expect(levels.level(label: "chatd") == .warning)
        config.subsystems = [:]
        levels.update(config)
        #expect(levels.level(label: "chatd.http") == .warning)
    }
}
