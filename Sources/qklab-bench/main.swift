import Autograd
import Foundation
import Training

OpenBLASKernel.reexecWithBestKernelIfNeeded()
print(SystemReport.current().description)
