use std::process::ExitCode;

use read_model_sync::{App, Config, RebuildConfig, rebuild_read_model, replay_dead_letters};

const SERVICE: &str = "read_model_sync";

/// `read_model_sync` serves; `read_model_sync rebuild` and
/// `read_model_sync replay-dead-letters` are the operator's commands
/// (docs/operations.md).
#[tokio::main]
async fn main() -> ExitCode {
    use platform::service::{run, run_command};
    match std::env::args().nth(1).as_deref() {
        Some("rebuild") => run_command(SERVICE, RebuildConfig::from_env, rebuild_read_model).await,
        Some("replay-dead-letters") => {
            run_command(SERVICE, Config::queue_from_env, replay_dead_letters).await
        }
        _ => {
            run(SERVICE, Config::from_env, |config, shutdown| async move {
                App::build(config).await?.run(shutdown).await
            })
            .await
        }
    }
}
