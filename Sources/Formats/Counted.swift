/// A count and its noun, singular for exactly one: `counted(1, "thread")` is "1 thread",
/// `counted(2, "process", plural: "processes")` "2 processes". Every count a message shows goes
/// through it.
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}
