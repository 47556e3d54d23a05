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
    if matches!(
        cli.command,
        Command::Live(_) | Command::Audit(_) | Command::Probe(_)
    ) {
        tuntrace::os::memory::return_large_frees_to_the_system();
    }
    let code = match &cli.command {
        Command::Read(a) => cmd::read::run(a),
        Command::Live(a) => cmd::live::run(a),
        Command::Autodetect(a) => cmd::autodetect::run(a),
        Command::Routes(a) => cmd::routes::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Merge(a) => cmd::merge::run(a),
    };
    ExitCode::from(code)
}
