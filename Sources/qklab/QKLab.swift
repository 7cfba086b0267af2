import ArgumentParser
import Autograd
import Formats
import Foundation
import Training

/// `qklab`: the command-line face of QKLab. Commands parse options and call `Training`.
@main
struct QKLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qklab",
        abstract: "Train tiny decoder-only transformers and watch what QK-Norm does to stability.",
        version: QKLabVersion.string,
        subcommands: [
            Train.self, Sample.self, Eval.self, Compare.self, Sweep.self, ExportHF.self, Logits.self, Info.self,
        ]
    )

    /// Every failure ends as one line on stderr: `qklab: <what, where>` for a failure while
    /// running, `qklab <command>: <reason> (see 'qklab <command> --help')` for a command line
    /// that cannot be parsed, instead of argument-parser's usage block.
    static func main() {
        OpenBLASKernel.reexecWithBestKernelIfNeeded()
        SmallProducts.exitIfTargetUnsupported(program: "qklab")
        SubnormalFlush.enable()
        // Past a file-size limit (ulimit -f) a write then fails with EFBIG, reported as one
        // line naming the file, instead of the process being killed by SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        rejectUnknownHelpTopic(Array(CommandLine.arguments.dropFirst()))
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitWithUsageError(error)
        }
        do {
            try command.run()
            // Text is these commands' product: output that could not be written is a failure
            // (train's is progress; its product is the run folder).
            if !(command is Train), fflush(stdout) != 0 {
                throw RunError("cannot write standard output: \(String(cString: strerror(errno)))")
            }
        } catch {
            let code = exitCode(for: error)
            // `--help` and `help` are commands whose run() throws argument-parser's request.
            if !(error is ExitCode) && (code == .success || code == .validationFailure) { exitWithUsageError(error) }
            if !(error is ExitCode) { printError("qklab: \(describe(error))") }
            Foundation.exit(code.rawValue == 0 ? EXIT_FAILURE : code.rawValue)
        }
    }

    /// Help and version requests print as usual; a parse or validation error prints one line.
    static func exitWithUsageError(_ error: Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            print(fullMessage(for: error))
            Foundation.exit(0)
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        let subcommand = configuration.subcommands.map { $0._commandName }.first { arguments.first == $0 }
        let name = subcommand.map { "qklab \($0)" } ?? "qklab"
        printError("\(name): \(usageMessage(message(for: error), arguments: arguments)) (see '\(name) --help')")
        Foundation.exit(code.rawValue)
    }

    /// `qklab help NAME` for a NAME that is no command fails as a usage error (argument-parser
    /// prints the main help and succeeds).
    static func rejectUnknownHelpTopic(_ arguments: [String]) {
        guard arguments.first == "help", let topic = arguments.dropFirst().first else { return }
        let names = configuration.subcommands.map { $0._commandName }
        guard !names.contains(topic), topic != "help", !topic.hasPrefix("-") else { return }
        printError(
            "qklab help: unknown command '\(topic)'; the commands are \(names.joined(separator: ", ")) (see 'qklab --help')"
        )
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// argument-parser's message, made one line and specific: "The value 'x' is invalid for
    /// '--opt <v>': reason" becomes "--opt x: reason"; a negative number taken for an option
    /// says how to write it.
    static func usageMessage(_ message: String, arguments: [String]) -> String {
        let line = message.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        if let invalid = line.wholeMatch(of: #/The value '(.*)' is invalid for '(-[^ ']+)[^']*'(?:: (.*))?/#) {
            let reason = invalid.3.map(String.init) ?? "not a valid value"
            return "\(invalid.2) \(invalid.1): \(reason)"
        }
        if let missing = line.wholeMatch(of: #/Missing value for '(-[^ ']+)[^']*'/#),
            let index = arguments.firstIndex(of: String(missing.1)), index + 1 < arguments.count,
            arguments[index + 1].hasPrefix("-"),
            Double(arguments[index + 1]) != nil || arguments[index + 1].lowercased().hasPrefix("-inf")
        {
            let value = arguments[index + 1]
            return
                "\(missing.1) \(value): a value starting with '-' is read as an option here; write \(missing.1)=\(value)"
        }
        return line
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
