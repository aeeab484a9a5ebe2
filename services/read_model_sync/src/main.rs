//! `read_model_sync` is specified in SPEC.md but not built yet (see the open issues).
//! It exits at once rather than pretend to work.

fn main() -> std::process::ExitCode {
    eprintln!("read_model_sync: not implemented yet; this service is still being built");
    std::process::ExitCode::FAILURE
}
