//! Instance ids for the echo guard.

/// A fresh instance id: 16 lowercase hex characters, made the way the Tina4 reference makes
/// its `src` (the first 16 hex digits of a random UUIDv4, so the 13th character is `4`).
///
/// Peers compare ids by string equality only, so this one format serves both clusters: the
/// Tina4 receivers accept any string `src`, and mega receivers accept any string `o` (theirs
/// are 16-ish characters of `[0-9a-z]`). 60 random bits make a collision between instances
/// negligible.
///
/// ```
/// let id = oyez_envelope::new_instance_id();
/// assert_eq!(id.len(), 16);
/// assert_eq!(id.as_bytes()[12], b'4');
/// assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
pub fn new_instance_id() -> String {
    let mut raw = [0u8; 8];
    if getrandom::fill(&mut raw).is_err() {
        use std::hash::BuildHasher;
        raw = std::collections::hash_map::RandomState::new()
            .hash_one(std::process::id())
            .to_ne_bytes();
    }
    // UUIDv4 layout: the version nibble 4 sits at hex digit 12.
    raw[6] = (raw[6] & 0x0F) | 0x40;
    raw.iter().map(|b| format!("{b:02x}")).collect()
}
