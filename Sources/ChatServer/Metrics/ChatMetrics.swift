import ChatCore
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// chatd's metrics, exported on `/metrics` in Prometheus text format: swift-metrics types made by a Prometheus
/// factory over this daemon's own registry (not the process-global one, so a test process can run several daemons).
/// Names are `chatd_*` in base units (seconds, bytes); labels are routes, queues, kinds and alert names — never a
/// user's or a conversation's id.
///
/// Events are recorded as they happen (requests, commits, fan-outs, processing); figures that already live elsewhere
/// (connections, queue depths, the process) are read when the metrics are scraped (`MetricsSampler`).
final class ChatMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let gauges = Mutex<[String: CoreMetrics.Gauge]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    private let recorders = Mutex<[String: CoreMetrics.Recorder]>([:])
    /// The last value of a counter kept elsewhere, so the exported counter grows by the difference.
    private let sampledTotals = Mutex<[String: Int64]>([:])

    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory.durationHistogramBuckets["chatd_media_processing_duration_seconds"] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.valueHistogramBuckets["chatd_store_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        self.factory = factory
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    func count(_ name: String, _ labels: [(String, String)] = [], by amount: Int64 = 1) {
        let counter = counters.withLock { counters in
            let key = Self.key(name, labels)
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment(by: amount)
    }

    /// A counter whose running total is kept elsewhere (the job runner's, the gateway's): exported as it grows.
    func total(_ name: String, _ labels: [(String, String)] = [], is value: Int64) {
        let delta = sampledTotals.withLock { totals in
            let key = Self.key(name, labels)
            defer { totals[key] = value }
            return max(0, value - (totals[key] ?? 0))
        }
        count(name, labels, by: delta)
        if delta == 0 { count(name, labels, by: 0) }
    }

    func gauge(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        let gauge = gauges.withLock { gauges in
            let key = Self.key(name, labels)
            if let gauge = gauges[key] { return gauge }
            let gauge = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            gauges[key] = gauge
            return gauge
        }
        gauge.record(value)
    }

    func time(_ name: String, _ labels: [(String, String)] = [], _ duration: Duration) {
        let timer = timers.withLock { timers in
            let key = Self.key(name, labels)
            if let timer = timers[key] { return timer }
            let timer = CoreMetrics.Timer(label: name, dimensions: labels, factory: factory)
            timers[key] = timer
            return timer
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func record(_ name: String, _ labels: [(String, String)] = [], _ value: Int) {
        let recorder = recorders.withLock { recorders in
            let key = Self.key(name, labels)
            if let recorder = recorders[key] { return recorder }
            let recorder = CoreMetrics.Recorder(label: name, dimensions: labels, aggregate: true, factory: factory)
            recorders[key] = recorder
            return recorder
        }
        recorder.record(value)
    }

    /// The text exposition of everything recorded.
    func text() -> String {
        registry.emitToString()
    }
}
