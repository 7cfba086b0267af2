// Open MPI's C interface (Debian: libopenmpi-dev; pkg-config: ompi-c), built only with the
// SwiftPM trait MPI. Open MPI defines its handles as macros over the addresses of globals
// (`#define MPI_COMM_WORLD ((MPI_Comm) &ompi_mpi_comm_world)`), which Swift does not import;
// these accessors return them. Each one is checked by `qklab-mpi-check` (scripts/mpi_test.sh).
#include <mpi.h>

/// MPI_COMM_WORLD: every process of the job.
static inline MPI_Comm qk_mpi_comm_world(void) { return MPI_COMM_WORLD; }
/// MPI_FLOAT: 32-bit IEEE float (Swift Float).
static inline MPI_Datatype qk_mpi_float(void) { return MPI_FLOAT; }
/// MPI_DOUBLE: 64-bit IEEE float (Swift Double).
static inline MPI_Datatype qk_mpi_double(void) { return MPI_DOUBLE; }
/// MPI_CHAR: a C char (host names).
static inline MPI_Datatype qk_mpi_char(void) { return MPI_CHAR; }
/// MPI_IN_PLACE: "my contribution is already in the receive buffer".
static inline void *qk_mpi_in_place(void) { return MPI_IN_PLACE; }
/// MPI_ERRORS_RETURN: MPI calls return an error code instead of aborting the job.
static inline MPI_Errhandler qk_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
