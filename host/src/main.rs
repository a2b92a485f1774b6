//! The `extract` command line.

use std::process::ExitCode;

// mimalloc: the loader allocates and frees many small values (JSON trees,
// cells, rows) across threads; glibc's malloc spent a fifth of the sync's
// CPU time in malloc/free and their consolidation (`just bench` profile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    extract::cli::main()
}
