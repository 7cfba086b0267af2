import Foundation

/// The console progress line: redrawn in place on a terminal, plain lines when piped.
public final class ConsoleProgress {
    let isTerminal: Bool
    /// Prints nothing at all (tests).
    let quiet: Bool
    private var lastDraw = Date.distantPast
    private var hasOpenLine = false

    public init(isTerminal: Bool = isatty(STDOUT_FILENO) != 0, quiet: Bool = false) {
        self.isTerminal = isTerminal
        self.quiet = quiet
    }

    /// Called after every step; draws at most 10 times a second on a terminal, and prints a
    /// line at log intervals (`logged`) when piped.
    public func update(
        step: Int, maxSteps: Int, loss: Float, valLoss: Double?, gradientNorm: Double,
        tokensPerSecond: Double, secondsLeft: Double, logged: Bool
    ) {
        if quiet { return }
        let text = Self.line(
            step: step, maxSteps: maxSteps, loss: loss, valLoss: valLoss, gradientNorm: gradientNorm,
            tokensPerSecond: tokensPerSecond, secondsLeft: secondsLeft)
        if isTerminal {
            guard step == maxSteps || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            FileHandle.standardOutput.write(Data("\r\u{1B}[K\(text)".utf8))
            hasOpenLine = true
        } else if logged {
            print(text)
            fflush(stdout)
        }
    }

    /// Prints a message on its own line (ending a redrawn progress line first).
    public func message(_ text: String) {
        if quiet { return }
        if hasOpenLine {
            FileHandle.standardOutput.write(Data("\n".utf8))
            hasOpenLine = false
        }
        print(text)
        fflush(stdout)
    }

    /// `step 120/2000 | loss 2.3104 | val 2.4012 | grad 0.84 | 41.2k tok/s | ETA 1m32s`
    static func line(
        step: Int, maxSteps: Int, loss: Float, valLoss: Double?, gradientNorm: Double,
        tokensPerSecond: Double, secondsLeft: Double
    ) -> String {
        var parts = ["step \(step)/\(maxSteps)", "loss \(String(format: "%.4f", loss))"]
        if let valLoss { parts.append("val \(String(format: "%.4f", valLoss))") }
        parts.append("grad \(String(format: "%.3g", gradientNorm))")
        parts.append(
            tokensPerSecond >= 1000
                ? String(format: "%.1fk tok/s", tokensPerSecond / 1000) : String(format: "%.0f tok/s", tokensPerSecond))
        parts.append("ETA \(duration(secondsLeft))")
        return parts.joined(separator: " | ")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let whole = Int(seconds.rounded())
        if whole >= 3600 { return "\(whole / 3600)h\(String(format: "%02d", whole % 3600 / 60))m" }
        if whole >= 60 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole)s"
    }
}
