/// A number type `ShardExchange` can gather: `Float` (gradients, MPI_FLOAT) or `Double` (losses
/// and telemetry sums, MPI_DOUBLE). Gathering copies bits; nothing is converted or reduced.
public protocol ExchangedNumber: BinaryFloatingPoint {
    /// Which MPI datatype carries it.
    static var kind: ExchangedNumberKind { get }
}

/// The MPI datatypes an exchange uses.
public enum ExchangedNumberKind { case float, double }

extension Float: ExchangedNumber { public static var kind: ExchangedNumberKind { .float } }
extension Double: ExchangedNumber { public static var kind: ExchangedNumberKind { .double } }
