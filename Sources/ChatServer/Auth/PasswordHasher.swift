import HummingbirdBcrypt
import NIOPosix

/// bcrypt, computed on NIO's thread pool so a burst of logins never stalls an event loop.
struct PasswordHasher: Sendable {
    let cost: Int
    /// A real hash at the configured cost, checked against when a handle is unknown.
    private let dummyHash: String

    init(cost: Int) async throws {
        self.cost = cost
        let random = UInt64.random(in: .min ... .max)
        dummyHash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash("\(random)", cost: UInt8(cost)) }
    }

    func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the same time as a real check when the handle is unknown, so timing does not reveal which
    /// handles exist.
    func verifyAgainstNothing(_ password: String) async throws {
        _ = try await verify(password, hash: dummyHash)
    }
}
