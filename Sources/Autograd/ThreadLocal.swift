import Foundation

/// A value of which every thread has its own instance, made on the thread's first access.
///
/// The tape and the parallel-region flag are per thread, so that shards of a batch can run
/// forward and backward at the same time on different cores without sharing any state.
final class ThreadLocal<Value: AnyObject>: @unchecked Sendable {
    private var key = pthread_key_t()
    private let makeValue: () -> Value

    init(_ makeValue: @escaping () -> Value) {
        self.makeValue = makeValue
        // When a thread exits, its instance is released.
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
    }

    /// This thread's instance.
    var value: Value {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<Value>.fromOpaque(pointer).takeUnretainedValue()
        }
        let fresh = makeValue()
        pthread_setspecific(key, Unmanaged.passRetained(fresh).toOpaque())
        return fresh
    }
}
