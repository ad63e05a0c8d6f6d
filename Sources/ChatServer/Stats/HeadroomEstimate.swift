import ChatAdmin
import ChatCore
import Foundation

/// The figures `Headroom` is estimated from, read at one moment.
struct HeadroomInputs: Sendable, Equatable {
    var now: Millis
    var connections: Int
    var maxOpenFiles: Int
    var residentBytes: Int64
    /// Resident memory before the first connection (at start-up).
    var baselineResidentBytes: Int64
    var memoryBytes: Int64
    var memoryLimitPercent: Int
    var diskUsedBytes: Int64
    var diskTotalBytes: Int64
    var diskWarningPercent: Int
    /// The first and the last disk sample of the days looked at.
    var firstDisk: DiskSample?
    var lastDisk: DiskSample?
}

extension Headroom {
    /// What an idle connection costs, measured by `chatbench idle` (4.6 KB), doubled for one that talks.
    static let typicalBytesPerConnection: Int64 = 10 * 1024
    /// Connections it takes before the resident memory's growth says what one costs.
    static let connectionsToMeasure = 200
    /// Files chatd holds besides its sockets (database, WAL, logs, listeners, libvips).
    static let filesBesidesSockets = 64

    static func estimate(_ inputs: HeadroomInputs, calendar: UsageCalendar) -> Headroom {
        let byFiles = max(0, inputs.maxOpenFiles - Self.filesBesidesSockets)
        let grown = inputs.residentBytes - inputs.baselineResidentBytes
        // Growth below a quarter of the typical cost is other memory given back (caches), not the connections'.
        let perMeasured = inputs.connections > 0 ? grown / Int64(inputs.connections) : 0
        let measured =
            inputs.connections >= Self.connectionsToMeasure && perMeasured >= Self.typicalBytesPerConnection / 4
        let perConnection = measured ? perMeasured : Self.typicalBytesPerConnection
        let memoryBudget = inputs.memoryBytes * Int64(inputs.memoryLimitPercent) / 100
        // Today's connections plus as many more as the memory left below the alert's threshold holds.
        let spare = max(0, memoryBudget - inputs.residentBytes)
        let byMemory = inputs.connections + Int(spare / max(1, perConnection))

        var growth: Double?
        if let first = inputs.firstDisk, let last = inputs.lastDisk, last.at - first.at >= 3_600_000 {
            growth = Double(last.usedBytes - first.usedBytes) / (Double(last.at - first.at) / 86_400_000)
        }
        let threshold = Double(inputs.diskTotalBytes) * Double(inputs.diskWarningPercent) / 100
        let left = threshold - Double(inputs.diskUsedBytes)
        var days: Double?
        if inputs.diskTotalBytes <= 0 {
            days = nil  // the disk could not be read
        } else if left <= 0 {
            days = 0
        } else if let growth, growth > 0 {
            days = left / growth
        }
        let date = days.map { calendar.day(of: inputs.now + Millis(min($0, 365 * 100) * 86_400_000)).name }
        return Headroom(
            connections: inputs.connections, maxOpenFiles: inputs.maxOpenFiles, connectionsByFiles: byFiles,
            residentBytes: inputs.residentBytes, memoryBytes: inputs.memoryBytes,
            memoryLimitPercent: inputs.memoryLimitPercent, bytesPerConnection: perConnection,
            bytesPerConnectionMeasured: measured, connectionsByMemory: byMemory, maxConnections: min(byFiles, byMemory),
            diskUsedBytes: inputs.diskUsedBytes, diskTotalBytes: inputs.diskTotalBytes,
            diskWarningPercent: inputs.diskWarningPercent, diskGrowthBytesPerDay: growth, diskWarningDate: date,
            daysUntilDiskWarning: days)
    }
}
