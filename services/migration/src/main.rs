use std::process::ExitCode;

use migration::clients::{self, ClientsCommand};
use migration::{App, Config, Schemas};

const SERVICE: &str = "migration";

/// `migration` serves; `migration apply` migrates and exits (a Kubernetes
/// Job); `migration clients ...` manages clients and API keys (the README
/// and docs/operations.md).
#[tokio::main]
async fn main() -> ExitCode {
    use platform::service::{run, run_command};
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("clients") {
        let command = match ClientsCommand::parse(&args[1..]) {
            Ok(command) => command,
            Err(usage) => {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
        };
        return run_command(SERVICE, clients::write_model_from_env, |write_model| {
            clients::run(write_model, command)
        })
        .await;
    }
    if args.first().map(String::as_str) == Some("apply") {
        return run_command(SERVICE, Schemas::from_env, migration::apply_once).await;
    }
    run(SERVICE, Config::from_env, |config, shutdown| async move {
        App::build(config).await?.run(shutdown).await
    })
    .await
}
