import Foundation

/// Which file a descriptor or path is: its device and inode (a file renamed away, or replaced
/// at its path, no longer matches its path's).
struct FileIdentity: Equatable {
    let device: UInt64, inode: UInt64

    init?(descriptor fd: Int32) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        (device, inode) = (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        (device, inode) = (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
