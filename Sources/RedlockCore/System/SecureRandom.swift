import CLinux
import Glibc

/// Bytes from the kernel's CSPRNG (getrandom(2)): lock tokens must not be guessable, or
/// another client could release or extend a lock it does not hold.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try retryingOnInterrupt { CLinux.getrandom(raw.baseAddress! + filled, count - filled, 0) } }
            }
            switch result {
            case let .success(n): filled += n
            // getrandom only fails without the syscall (Linux < 3.17); nothing safe to fall back to.
            case let .failure(error): fatalError("redlock: getrandom failed: \(error)")
            }
        }
        return buffer
    }

    /// A uniformly random number in `range` (for retry jitter), from the same source.
    public static func uniform(in range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        let raw = bytes(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        if span == 0 { return Int64(bitPattern: raw) }
        return range.lowerBound + Int64(raw % span)
    }

    /// `count` random bytes as URL-safe base64 without padding.
    public static func urlSafeToken(byteCount: Int) -> String {
        Base64URL.encode(bytes(byteCount))
    }
}

/// RFC 4648 section 5 ("base64url"), without padding.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            let available = min(3, bytes.count - index)
            for position in 0...available {
                out.append(alphabet[Int(group >> (18 - 6 * UInt32(position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
