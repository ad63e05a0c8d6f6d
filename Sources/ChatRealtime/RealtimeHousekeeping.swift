import ServiceLifecycle

/// The gateway's long-running part (a `Service`): once a second it expires typing and saves last-seen times; on graceful
/// shutdown it closes every socket with 1001 and saves the last batch. Start it after the store, so it stops first.
public struct RealtimeHousekeeping: Service {
    let gateway: RealtimeGateway

    public init(gateway: RealtimeGateway) {
        self.gateway = gateway
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await gateway.housekeeping()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
        await gateway.closeAll()
    }
}
