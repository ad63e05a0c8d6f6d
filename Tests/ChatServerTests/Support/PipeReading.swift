import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension FileHandle {
    /// Everything up to the end, read with read(2) and retried when a signal (a child process exiting) interrupts
    /// it: Foundation's `readDataToEndOfFile` traps on EINTR, which took a whole test run down once.
    func readAllRetryingInterrupts() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress!, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }
}
