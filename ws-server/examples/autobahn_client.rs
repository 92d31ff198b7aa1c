//! Drives the Autobahn|Testsuite fuzzing server with our client: the client role of the
//! conformance run. Reads `AUTOBAHN_URL` and `AUTOBAHN_AGENT` (set by
//! `../shared/tools/autobahn/run-client-suite.sh`), runs every case, echoing each message,
//! and asks for the reports.
//!
//! `cargo run --release -p oyez-server --example autobahn_client`

use std::process::ExitCode;

use oyez_frame::CloseCode;
use oyez_server::client::{self, ClientEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".to_owned());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "ws-server".to_owned());
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
    match client::connect(&format!("{base}/updateReports?agent={agent}")).await {
        Ok(mut c) => {
            let _ = c.close(CloseCode::NORMAL, "").await;
        }
        Err(e) => eprintln!("autobahn-client: updateReports: {e}"),
    }
    ExitCode::SUCCESS
}

async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let mut c = client::connect(&format!("{base}/getCaseCount")).await?;
    loop {
        match c.recv().await? {
            Some(ClientEvent::Message(m)) => {
                return Ok(m.as_text().ok_or("not text")?.trim().parse()?);
            }
            Some(ClientEvent::Pong(_)) => {}
            _ => return Err("closed before the count".into()),
        }
    }
}

async fn run_case(url: &str) -> Result<(), oyez_server::Error> {
    let mut c = client::connect(url).await?;
    while let Some(event) = c.recv().await? {
        if let ClientEvent::Message(m) = event {
            c.send(m).await?;
        }
    }
    Ok(())
}
