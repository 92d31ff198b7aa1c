//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/*`) through the fuzz bodies, so
//! every seed, and every crash input once fixed and committed, is a regression test on stable.

use std::path::PathBuf;

use oyez_frame::{__fuzz, Role};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a readable seed");
            (path, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

macro_rules! replay {
    ($($test:ident: $target:literal => $body:expr;)*) => {$(
        #[test]
        fn $test() {
            for (path, data) in seeds($target) {
                let run: fn(&[u8]) = $body;
                if std::panic::catch_unwind(|| run(&data)).is_err() {
                    panic!("seed {} failed", path.display());
                }
            }
        }
    )*};
}

replay! {
    frame_decode_server: "frame_decode_server" => |d| __fuzz::decode(Role::Server, d);
    frame_decode_client: "frame_decode_client" => |d| __fuzz::decode(Role::Client, d);
    frame_chunked: "frame_chunked" => __fuzz::decode_chunked;
    frame_roundtrip: "frame_roundtrip" => __fuzz::roundtrip;
    frame_header: "frame_header" => __fuzz::header;
    utf8_differential: "utf8_differential" => __fuzz::utf8_differential;
    mask_differential: "mask_differential" => __fuzz::mask_differential;
    handshake_request: "handshake_request" => __fuzz::handshake_request;
    handshake_response: "handshake_response" => __fuzz::handshake_response;
    session: "session" => __fuzz::session;
}

#[cfg(feature = "deflate")]
replay! {
    deflate_extensions: "deflate_extensions" => __fuzz::deflate_extensions;
    deflate_session: "deflate_session" => __fuzz::deflate_session;
}
