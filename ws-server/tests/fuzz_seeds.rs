//! Replays `fuzz/seeds/token/` and `fuzz/seeds/public_key/` through `oyez_server::__fuzz` on
//! stable.

use std::path::PathBuf;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("an entry").path();
        let data = std::fs::read(&path).expect("a seed");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("seed {} failed", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}

#[test]
fn token() {
    replay("token", oyez_server::__fuzz::token);
}

#[test]
fn public_key() {
    replay("public_key", oyez_server::__fuzz::public_key);
}
