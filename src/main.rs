//! The `nomad-gateway` binary: everything lives in the library so tests run the same code.

/// mimalloc instead of glibc's allocator: many small, short-lived allocations per request
/// (JSON, headers, spans) cost a quarter of the CPU per call with glibc (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nomad_gateway::cli::run()
}
