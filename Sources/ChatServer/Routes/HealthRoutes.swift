import ChatAdmin
import ChatCore
import ChatRealtime
import Hummingbird

/// `/livez` (the process answers) and `/readyz` (it can take traffic: the database takes a write, the disk has room,
/// it is not draining), for load balancers and systemd; no token, no body to parse.
struct HealthRoutes {
    let services: ChatServices
    let gateway: RealtimeGateway

    func register(on router: Router<ChatRequestContext>) {
        router.get("livez", use: live)
        router.get("readyz", use: ready)
    }

    struct Health: ResponseEncodable {
        var status: String
    }

    @Sendable func live(_ request: Request, context: ChatRequestContext) async throws -> Health {
        Health(status: "ok")
    }

    @Sendable func ready(_ request: Request, context: ChatRequestContext) async throws -> Health {
        if gateway.isDraining {
            throw ChatError(.unavailable, "draining: chatd is shutting down")
        }
        let disk = DiskStatus.of(services.config.storage.dataDirectory)
        let fullPercent = services.settings.current.operations.diskFullPercent
        let limit = Double(fullPercent) / 100
        guard disk.usedFraction < limit else {
            throw ChatError(
                .unavailable,
                "the disk holding the data is \(Int(disk.usedFraction * 100)) % full (operations.disk_full_percent is \(fullPercent))")
        }
        do {
            try await services.store.probeWrite()
        } catch {
            throw ChatError(.unavailable, "the database does not take a write: \(error)")
        }
        return Health(status: "ready")
    }
}
