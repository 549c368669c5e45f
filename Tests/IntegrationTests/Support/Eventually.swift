// Polling helpers for asserting on asynchronous effects.
//
// redlock runs as a separate process and talks to Redis over the network, so a test often
// has to wait for something to become true ("the lock key exists on a majority") without
// knowing exactly when. Polling with a deadline keeps such tests fast when things work and
// bounded when they don't, unlike fixed sleeps.

import Foundation

/// Calls `condition` every `interval` seconds until it returns true or `timeout` seconds
/// have passed; returns whether it became true. The condition is always evaluated at least
/// once, and once more at the deadline. Errors thrown by `condition` propagate at once.
///
///     #expect(try eventually { try fixture[0].client().command("EXISTS", "k") == .integer(1) })
func eventually(timeout: TimeInterval = 10, interval: TimeInterval = 0.05,
                _ condition: () throws -> Bool) rethrows -> Bool {
    let start = DispatchTime.now().uptimeNanoseconds
    let limit = UInt64(max(timeout, 0) * 1_000_000_000)
    while true {
        if try condition() { return true }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        if elapsed >= limit { return false }
        let remaining = Double(limit - elapsed) / 1_000_000_000
        Thread.sleep(forTimeInterval: min(max(interval, 0.001), remaining))
    }
}

/// Blocks the calling thread for `milliseconds` ms.
func sleep(milliseconds: Int) {
    Thread.sleep(forTimeInterval: Double(max(milliseconds, 0)) / 1000)
}
