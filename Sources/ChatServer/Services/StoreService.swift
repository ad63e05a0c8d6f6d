import ChatCore
import ServiceLifecycle

/// Keeps the store open for the life of the server and closes it after everything else has stopped.
struct StoreService: Service {
    let store: any StoreMaintenance

    func run() async throws {
        try? await gracefulShutdown()
        try await store.checkpoint()
        try store.close()
    }
}
