import Foundation

/// Choosing OpenBLAS's kernels before the library loads.
///
/// Debian's OpenBLAS 0.3.21 does not recognise some recent CPUs and falls back to its generic
/// "Prescott" kernels, 3–4× slower than the kernels the CPU can run. OpenBLAS reads
/// `OPENBLAS_CORETYPE` only when it loads, so the fix is to re-execute the process once with the
/// variable set. A value the user set is never overridden.
public enum OpenBLASKernel {
    /// The variable OpenBLAS reads at load time.
    public static let environmentKey = "OPENBLAS_CORETYPE"

    /// Kernel names OpenBLAS falls back to when it does not know the CPU.
    static let genericCores: Set<String> = [
        "Prescott", "Core2", "Nehalem", "Atom", "Katmai", "Coppermine", "Northwood", "Banias",
    ]

    /// The best kernel set the CPU's features allow, from `/proc/cpuinfo` flags:
    /// AVX-512 (F, BW, DQ, VL) → SkylakeX, AVX2 + FMA → Haswell, else nil.
    public static func recommendedCore(cpuFlags: Set<String>) -> String? {
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    /// The kernel to force, or nil when nothing should change: the user set the variable, the
    /// library already runs a specific kernel, or the CPU offers nothing better.
    public static func coreToForce(environment: [String: String], loadedCore: String, cpuFlags: Set<String>) -> String?
    {
        if environment[environmentKey] != nil { return nil }
        guard genericCores.contains(loadedCore) else { return nil }
        return recommendedCore(cpuFlags: cpuFlags)
    }

    /// CPU feature flags of the first processor in `/proc/cpuinfo` (empty where it is absent).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Call first thing in `main`: if OpenBLAS loaded a generic kernel on a CPU that can do
    /// better, re-executes this program with `OPENBLAS_CORETYPE` set (returns only if it does not).
    public static func reexecWithBestKernelIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard let core = coreToForce(environment: environment, loadedCore: BLAS.coreName, cpuFlags: cpuFlags())
        else { return }
        setenv(environmentKey, core, 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv returned: keep running on the generic kernel rather than fail.
        unsetenv(environmentKey)
    }
}
