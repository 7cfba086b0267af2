import Formats
import Foundation

/// The claim of the process that writes a run folder: the folder's `RunLock`, and whether the claim
/// made the folder, so that a start that is taken back removes only what it made.
final class FolderClaim {
    let folder: RunFolder
    let lock: RunLock
    /// Whether this claim created the folder (a new run in a folder that did not exist).
    let createdFolder: Bool

    /// A new run: creates `folder` (refusing one that holds a run, or someone's own files), then
    /// locks it.
    init(newRun folder: RunFolder) throws {
        self.folder = folder
        createdFolder = try folder.createForNewRun()
        lock = try RunLock(folder: folder)
    }

    /// A resumed run: locks its folder.
    init(resuming folder: RunFolder) throws {
        self.folder = folder
        createdFolder = false
        lock = try RunLock(folder: folder)
    }

    /// Gives the lock back and removes the folder if this claim created it (folders above it that
    /// were created with it stay).
    func abandon() {
        lock.release()
        if createdFolder { rmdir(folder.url.path) }  // fails, harmlessly, unless the folder is empty
    }
}
