import Glibc

/// Every raw system call that can fail with EINTR goes through here, so a signal arriving
/// while redlock sleeps in poll or read never surfaces as an error.
///
/// `body` returns the call's result; a result of -1 is a failure whose errno is read at once.
@inline(__always)
func retryingOnInterrupt<Result: FixedWidthInteger>(_ body: () -> Result) throws(Errno) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}
