//! The `flowgauge` binary: parses the command line and hands over to the library.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
