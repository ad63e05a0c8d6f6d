import ChatStore
import ServiceLifecycle

/// Keeps the store open for the life of the server and closes it after everything else has stopped.
struct StoreService: Service {
    let store: Store

    func run() async throws {
        try? await gracefulShutdown()
        try await store.checkpoint()
        try store.close()
    }
}
