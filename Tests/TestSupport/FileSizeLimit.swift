import Foundation

/// Runs `body` with the process's file-size limit at `bytes` (SIGXFSZ ignored: writes past it fail
/// with EFBIG, as on a full disk), then restores the limit.
public func withFileSizeLimit<T>(_ bytes: rlim_t, _ body: () throws -> T) rethrows -> T {
    var saved = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved)
    var limited = saved
    limited.rlim_cur = bytes
    signal(SIGXFSZ, SIG_IGN)
    setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited)
    defer { setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved) }
    return try body()
}
