//! The `nomad-gateway` binary: everything lives in the library so tests run the same code.

fn main() -> std::process::ExitCode {
    nomad_gateway::cli::run()
}
