/// A process group that cannot be formed or used as asked: the message says what and what to do.
public struct MultiprocessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
