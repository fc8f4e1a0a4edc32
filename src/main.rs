//! The `nomad-gateway` binary: everything lives in the library so tests run the same code.

/// mimalloc instead of glibc's allocator: many small, short-lived allocations per request
/// (JSON, headers, spans) cost a quarter of the CPU per call with glibc (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nomad_gateway::cli::run(release_memory)
}

/// Hands the calling thread's free pages back to the system. mimalloc keeps a page's freed
/// blocks for reuse, purges an empty page only when the thread next allocates, and collects
/// blocks another thread freed only when asked: a thread that goes idle after a burst would
/// keep all of it (docs/benchmarks.md, "Idle memory and memory after sessions close").
fn release_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called on any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(false) }
}
