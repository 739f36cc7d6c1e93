//! `orchestrator-client`: orchestrator's command-line client (see the `orc-client` crate).

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let env = orc_client::Env::from_process();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = orc_client::run(&argv, &env, &mut out, &mut err).await;
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
