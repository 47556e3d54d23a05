//! Thin entry point: parse flags, dispatch, exit with the command's code.

use std::process::ExitCode;

use clap::Parser;
use tuntrace::cli::{Cli, Command};
use tuntrace::{cmd, exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let code = match &cli.command {
        Command::Read(a) => cmd::read::run(a),
        Command::Live(a) => cmd::live::run(a),
    };
    ExitCode::from(code)
}
