//! Drives the Autobahn|Testsuite fuzzing server with `oyez_tokio::WebSocket` in the client
//! role (the third run of `scripts/autobahn.sh`, strict, against
//! `autobahn/expected-client-tokio.json`). Reads `AUTOBAHN_URL` and `AUTOBAHN_AGENT` (set by
//! `../shared/tools/autobahn/run-client-suite.sh`), runs every case, echoing each message,
//! and asks for the reports.
//!
//! `cargo run --release -p oyez-tokio --example autobahn_tokio`

use std::process::ExitCode;

use oyez_tokio::{CloseCode, Config, Error, Limits, Message, client::Builder};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".to_owned());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "oyez-tokio".to_owned());
    let count = match case_count(&base).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("autobahn-client: cannot get the case count: {e}");
            return ExitCode::FAILURE;
        }
    };
    for case in 1..=count {
        if let Err(e) = run_case(&format!("{base}/runCase?case={case}&agent={agent}")).await {
            // A case that makes our client fail the connection is the expected outcome for
            // many cases; the suite judges it.
            eprintln!("autobahn-client: case {case}: {e}");
        }
    }
    match oyez_tokio::connect(&format!("{base}/updateReports?agent={agent}")).await {
        Ok((mut ws, _)) => {
            let _ = ws.close(CloseCode::NORMAL, "").await;
        }
        Err(e) => eprintln!("autobahn-client: updateReports: {e}"),
    }
    ExitCode::SUCCESS
}

async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = oyez_tokio::connect(&format!("{base}/getCaseCount")).await?;
    while let Some(msg) = ws.recv().await {
        if let Message::Text(t) = msg? {
            return Ok(t.as_str().trim().parse()?);
        }
    }
    Err("closed before the count".into())
}

async fn run_case(url: &str) -> Result<(), Error> {
    // Case 9.x sends messages up to 16 MiB; the default message limit (64 MiB) covers them.
    let config = Config::default().with_limits(Limits::default());
    let (ws, _) = Builder::new(url).config(config).connect().await?;
    // Through the split halves: the reader answers pings and the close, the writer echoes.
    let (mut rx, mut tx) = ws.split();
    while let Some(msg) = rx.recv().await {
        let msg = msg?;
        if msg.is_data() {
            tx.send(msg).await?;
        }
    }
    Ok(())
}
