//! `fetch_buy_orders` is specified in SPEC.md but not built yet (see the open issues).
//! It exits at once rather than pretend to work.

fn main() -> std::process::ExitCode {
    eprintln!("fetch_buy_orders: not implemented yet; this service is still being built");
    std::process::ExitCode::FAILURE
}
