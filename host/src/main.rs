//! The `extract` command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    extract::cli::main()
}
