//! The `extract` command line.

use std::process::ExitCode;

// mimalloc: the loader allocates and frees many small values (JSON trees,
// cells, rows) across threads; glibc's malloc spent a fifth of the sync's
// CPU time in malloc/free and their consolidation (`just bench` profile).
// Built with `no_thp` (Cargo.toml): mimalloc 3 asks for transparent huge
// pages on its arenas (`MADV_HUGEPAGE`), so every 2 MiB region it touched
// counted whole in RSS; the 1M-record sync peaked at 190-195 MB with
// them and 163-168 MB without, at the same speed.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    extract::cli::main()
}
