//! The `molecule-credential-helper` command: thin glue over the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
