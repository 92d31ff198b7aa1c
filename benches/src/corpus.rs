//! Chat-like JSON for the compression benches and the load tool: deterministic (a fixed
//! pseudo-random sequence), varied enough that deflate cannot cheat on it (every message has
//! its own words, ids and times, as a real chat's do).

/// A small vocabulary of chat words.
const WORDS: &[&str] = &[
    "hey", "anyone", "up", "for", "lunch", "at", "noon", "the", "place", "on", "fifth", "is",
    "open", "again", "I", "think", "we", "should", "ship", "it", "today", "tomorrow", "works",
    "better", "for", "me", "can", "you", "review", "my", "pull", "request", "please", "thanks",
    "a", "lot", "see", "standup", "notes", "deploy", "went", "fine", "rollback", "not", "needed",
    "coffee", "break", "meeting", "moved", "to", "three", "o'clock", "lgtm", "nice", "work",
    "team", "weekend", "plans", "hiking", "if", "the", "weather", "holds", "cool", "sounds",
    "good", "ok", "what", "about", "bug", "fixed", "in", "main", "release", "notes", "draft",
];

const ROOMS: &[&str] = &["lobby", "general", "random", "dev", "ops", "design"];
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

/// A tiny deterministic generator (xorshift64*), so every run sees the same messages.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("below n")
    }
}

/// One chat message as JSON: type, room, sender, id, time and a sentence of 4 to 16 words
/// (about 120 to 220 bytes).
pub fn chat_message(rng: &mut Rng, seq: u64) -> String {
    let words = 4 + rng.below(13);
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len())]);
    }
    format!(
        r#"{{"type":"chat","room":"{}","from":"{}","id":"m-{seq:08}","ts":{},"text":"{text}"}}"#,
        ROOMS[rng.below(ROOMS.len())],
        USERS[rng.below(USERS.len())],
        1_700_000_000_000u64 + seq * 137 + rng.next_u64() % 1000,
    )
}

/// A JSON array of chat messages of at least `size` bytes, cut to exactly `size` (so not
/// valid JSON at its very end when cut; deflate does not care).
pub fn json_doc(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = String::from("[");
    let mut seq = 0;
    while out.len() < size {
        if seq > 0 {
            out.push(',');
        }
        out.push_str(&chat_message(&mut rng, seq));
        seq += 1;
    }
    out.push(']');
    out.truncate(size);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_json_and_deterministic() {
        let a = chat_message(&mut Rng::new(7), 1);
        let b = chat_message(&mut Rng::new(7), 1);
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["type"], "chat");
        assert!((100..260).contains(&a.len()), "{}", a.len());
        assert_eq!(json_doc(16 << 10, 1).len(), 16 << 10);
    }
}
