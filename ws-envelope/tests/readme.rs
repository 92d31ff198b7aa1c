//! The README's example is a doc test of `src/lib.rs`, line for line, so that it is compiled
//! and run (`cargo test --doc`) and cannot drift from the crate.

/// The fenced code blocks of `lines`: (the fence's info string, the lines inside).
fn code_blocks<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, Vec<&str>)> = None;
    for line in lines {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info, Vec::new())),
            (Some(block), Some(_)) => blocks.push(block),
            (Some((info, mut body)), None) => {
                body.push(line);
                open = Some((info, body));
            }
            (None, None) => {}
        }
    }
    blocks
}

#[test]
fn the_readme_example_is_a_doc_test() {
    let readme = include_str!("../README.md");
    let docs = include_str!("../src/lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line));
    let doc_tests: Vec<Vec<&str>> = code_blocks(docs)
        .into_iter()
        .filter(|(info, _)| matches!(*info, "" | "rust"))
        .map(|(_, body)| body)
        .collect();
    let examples: Vec<Vec<&str>> = code_blocks(readme.lines())
        .into_iter()
        .filter(|(info, _)| *info == "rust")
        .map(|(_, body)| body)
        .collect();
    assert!(!examples.is_empty(), "README.md has no rust example");
    for example in examples {
        assert!(
            doc_tests.contains(&example),
            "README.md's example is not a doc test of src/lib.rs:\n{}",
            example.join("\n")
        );
    }
}
