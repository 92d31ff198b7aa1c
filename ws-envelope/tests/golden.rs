//! The reference's golden vectors (a committed copy of `shared/reference/golden`).

use std::path::{Path, PathBuf};

use oyez_envelope::mega::{Broadcast, Direct, Roster, peek_o};
use oyez_envelope::tina4::{Envelope, TINA4_CHANNEL, peek_src};
use sha2::{Digest, Sha256};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// (file, channel, bytes) from MANIFEST.tsv, each checked against its size and sha256.
fn manifest() -> Vec<(String, String, Vec<u8>)> {
    let text = std::fs::read_to_string(golden_dir().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let rows: Vec<(String, String, Vec<u8>)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let [file, channel, size, sha] = cols[..] else {
                panic!("bad manifest row {line:?}")
            };
            let bytes = std::fs::read(golden_dir().join(file)).expect(file);
            assert_eq!(
                bytes.len(),
                size.parse::<usize>().expect("a size"),
                "{file}: size"
            );
            let digest: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(digest, sha, "{file}: sha256");
            (file.to_owned(), channel.to_owned(), bytes)
        })
        .collect();
    assert!(rows.len() >= 50, "{} vectors", rows.len());
    rows
}

#[test]
fn the_committed_copy_matches_shared_reference() {
    // When ../shared is beside the repository (CI, developers), the copy must not drift.
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/golden/MANIFEST.tsv");
    if let Ok(theirs) = std::fs::read_to_string(&shared) {
        let ours = std::fs::read_to_string(golden_dir().join("MANIFEST.tsv")).expect("ours");
        assert_eq!(
            ours, theirs,
            "tests/golden is out of date with shared/reference/golden"
        );
    }
}

#[test]
fn tina4_node_vectors_round_trip_byte_for_byte() {
    let mut n = 0;
    for (file, channel, bytes) in manifest() {
        if !file.starts_with("tina4/") {
            continue;
        }
        assert_eq!(channel, TINA4_CHANNEL);
        let env = Envelope::decode(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            peek_src(&bytes).as_deref(),
            Some(env.src.as_str()),
            "{file}"
        );
        assert_eq!(
            String::from_utf8_lossy(&env.encode()),
            String::from_utf8_lossy(&bytes),
            "{file}"
        );
        n += 1;
    }
    assert_eq!(n, 20);
}

#[test]
fn tina4_python_vectors_decode_like_node() {
    // tina4-python spaces its JSON and escapes non-ASCII (T15): not byte-identical, but the
    // same envelope, except edge-path-empty-string where Python sends kind "all" (T2).
    let all = manifest();
    let mut n = 0;
    for (file, _, bytes) in &all {
        let Some(name) = file.strip_prefix("tina4-python/") else {
            continue;
        };
        let python = Envelope::decode(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let node_bytes = &all
            .iter()
            .find(|(f, _, _)| f == &format!("tina4/{name}"))
            .expect("a Node twin")
            .2;
        let node = Envelope::decode(node_bytes).expect("node decodes");
        if name == "edge-path-empty-string.json" {
            assert_eq!(
                (python.kind, node.kind),
                (
                    oyez_envelope::tina4::Kind::All,
                    oyez_envelope::tina4::Kind::Path
                )
            );
            assert_eq!(python.path, node.path);
        } else {
            assert_eq!(python, node, "{file}");
        }
        n += 1;
    }
    assert_eq!(n, 19);
}

#[test]
fn the_escapes_vector_is_the_escapes_input() {
    let input =
        std::fs::read_to_string(golden_dir().join("inputs/escapes.txt")).expect("escapes.txt");
    let env = Envelope::decode(
        &std::fs::read(golden_dir().join("tina4/edge-text-escapes.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(env.payload, oyez_envelope::tina4::Payload::Text(input));
    let all_bytes =
        std::fs::read(golden_dir().join("inputs/all-bytes.bin")).expect("all-bytes.bin");
    let env = Envelope::decode(
        &std::fs::read(golden_dir().join("tina4/edge-b64-all-bytes.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        env.payload,
        oyez_envelope::tina4::Payload::Binary(all_bytes)
    );
}

#[test]
fn mega_vectors_round_trip_byte_for_byte() {
    let mut n = 0;
    for (file, subject, bytes) in manifest() {
        if !file.starts_with("mega/") {
            continue;
        }
        let again = if subject.ends_with(".bcast") {
            Broadcast::decode(&bytes).map(|b| b.encode())
        } else if subject.ends_with(".direct") {
            Direct::decode(&bytes).map(|d| d.encode())
        } else {
            assert!(subject.ends_with(".roster"), "{subject}");
            Roster::decode(&bytes).map(|r| r.encode())
        }
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let o = peek_o(&bytes).unwrap_or_else(|| panic!("{file}: every reference envelope has o"));
        assert!(
            !o.is_empty() && again.starts_with(format!(r#"{{"o":"{o}","#).as_bytes()),
            "{file}"
        );
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&bytes),
            "{file}"
        );
        n += 1;
    }
    assert_eq!(n, 13);
}
