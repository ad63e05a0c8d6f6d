import ChatConfiguration

/// What a reload does with a new configuration, decided from the running one: which settings take effect now and
/// which changed but only apply at the next start. A value, so the rule is tested without a daemon.
struct ReloadPlan: Equatable, Sendable {
    /// Reloadable settings that changed (the certificate is read again on every reload, changed or not).
    var applied: [String] = []
    /// Sections that changed in ways only a restart applies.
    var needsRestart: [String] = []

    static func between(_ running: ChatConfig, _ next: ChatConfig) -> ReloadPlan {
        var plan = ReloadPlan()
        if running.log != next.log { plan.applied.append("log") }
        if running.limits.authRequestsPerMinute != next.limits.authRequestsPerMinute {
            plan.applied.append("limits.auth_requests_per_minute")
        }
        if running.limits.messagesPerMinute != next.limits.messagesPerMinute {
            plan.applied.append("limits.messages_per_minute")
        }
        if running.operations != next.operations { plan.applied.append("operations") }
        if running.alerts != next.alerts { plan.applied.append("alerts") }
        if running.tls.certificate != next.tls.certificate || running.tls.key != next.tls.key {
            if running.tls.isEnabled == next.tls.isEnabled { plan.applied.append("tls.certificate") }
        }
        // Whatever else differs needs a restart: compare with the reloadable parts made equal.
        var rest = next
        rest.log = running.log
        rest.limits.authRequestsPerMinute = running.limits.authRequestsPerMinute
        rest.limits.messagesPerMinute = running.limits.messagesPerMinute
        rest.operations = running.operations
        rest.alerts = running.alerts
        if running.tls.isEnabled == next.tls.isEnabled {
            rest.tls.certificate = running.tls.certificate
            rest.tls.key = running.tls.key
        }
        let sections: [(String, Bool)] = [
            ("server", rest.server == running.server), ("tls", rest.tls == running.tls),
            ("http", rest.http == running.http), ("storage", rest.storage == running.storage),
            ("auth", rest.auth == running.auth), ("otp", rest.otp == running.otp),
            ("external_auth", rest.external == running.external), ("limits", rest.limits == running.limits),
            ("realtime", rest.realtime == running.realtime), ("events", rest.events == running.events),
            ("jobs", rest.jobs == running.jobs), ("media", rest.media == running.media),
            ("admin", rest.admin == running.admin), ("backup", rest.backup == running.backup),
            ("alerts", rest.alerts == running.alerts), ("metrics", rest.metrics == running.metrics),
        ]
        plan.needsRestart = sections.filter { !$0.1 }.map(\.0)
        return plan
    }

    /// What the running daemon keeps of the new configuration: the reloadable parts, over the running rest.
    static func merged(_ running: ChatConfig, _ next: ChatConfig) -> ChatConfig {
        var merged = running
        merged.log = next.log
        merged.limits.authRequestsPerMinute = next.limits.authRequestsPerMinute
        merged.limits.messagesPerMinute = next.limits.messagesPerMinute
        merged.operations = next.operations
        merged.alerts = next.alerts
        if running.tls.isEnabled == next.tls.isEnabled {
            merged.tls.certificate = next.tls.certificate
            merged.tls.key = next.tls.key
        }
        return merged
    }
}
