import Multiprocess
import XCTest

final class ProcessGroupTests: XCTestCase {
    func testAProcessStartedByHandIsAGroupOfOne() throws {
        let group = try ProcessGroup.start(environment: ["PATH": "/usr/bin"])
        XCTAssertEqual(group.rank, 0)
        XCTAssertEqual(group.size, 1)
        XCTAssertEqual(group.hosts(), [group.hostname])
        XCTAssertEqual(group.allgather(2.5), [2.5])
        XCTAssertEqual(group.broadcast([1, -2]), [1, -2])
        group.barrier()
        group.finish()
    }

    func testLauncherDetection() {
        XCTAssertNil(LaunchEnvironment.launcher(in: ["OMPI_MCA_btl": "tcp,self"]))
        XCTAssertEqual(LaunchEnvironment.launcher(in: ["OMPI_COMM_WORLD_SIZE": "4"]), "OMPI_COMM_WORLD_SIZE=4")
        XCTAssertEqual(LaunchEnvironment.launcher(in: ["PMIX_RANK": "1"]), "PMIX_RANK=1")
    }

    func testAJobOfOneRethrowsForTheCommandsOwnReport() throws {
        struct Failure: Error {}
        let group = try ProcessGroup.start(environment: [:])
        XCTAssertThrowsError(try group.failingTogether { throw Failure() }) { XCTAssertTrue($0 is Failure) }
        XCTAssertEqual(group.failingTogether { 7 }, 7)
    }

    #if !MPI
        func testALaunchedProcessOfABuildWithoutOpenMPIIsToldHowToRebuild() {
            XCTAssertThrowsError(try ProcessGroup.start(environment: ["OMPI_COMM_WORLD_SIZE": "2"])) { error in
                XCTAssertEqual(
                    "\(error)",
                    "started by an MPI launcher (OMPI_COMM_WORLD_SIZE=2) but this qklab was built without "
                        + "Open MPI; rebuild with `swift build -c release --traits MPI` (needs libopenmpi-dev)")
            }
        }
    #endif
}
