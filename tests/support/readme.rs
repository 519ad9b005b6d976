//! README.md's examples, read back for tests that run them: console transcripts, and
//! text compared as the README shows it (paths as /home/alice's, digits aside).

use super::Stack;

/// README.md, as shipped.
pub fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The fenced blocks of README's section `heading` (up to the next `## `), or the one
/// block after `<!-- checked: NAME -->` when `heading` is that marker.
pub fn blocks(readme: &str, heading: &str) -> Vec<String> {
    let at = readme.find(heading).unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &readme[at + heading.len()..];
    let rest = if heading.starts_with("<!--") { rest } else { &rest[..rest.find("\n## ").unwrap_or(rest.len())] };
    let mut found = Vec::new();
    let mut parts = rest.split("\n```");
    parts.next();
    while let (Some(body), Some(_after)) = (parts.next(), parts.next()) {
        found.push(body.split_once('\n').map_or("", |(_, b)| b).to_owned() + "\n");
        if heading.starts_with("<!--") {
            break;
        }
    }
    found
}

/// Text as the README shows it: the sandbox's paths as /home/alice's, and every run of
/// digits (times, account ids, codes) as one 0, so that a time or a code that differs
/// still compares equal while every word must match.
pub fn as_shown(s: &Stack, text: &str) -> String {
    let text = with_alices_paths(s, text);
    let mut out = String::new();
    let mut digit = false;
    for c in text.chars() {
        if !(c.is_ascii_digit() && digit) {
            out.push(if c.is_ascii_digit() { '0' } else { c });
        }
        digit = c.is_ascii_digit();
    }
    out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim_end().to_owned()
}

/// Text with the sandbox's paths as /home/alice's.
pub fn with_alices_paths(s: &Stack, text: &str) -> String {
    text.replace(&s.path("mfa-tray-config").display().to_string(), "/home/alice/.config/mfa-tray").replace(s.path("").display().to_string().trim_end_matches('/'), "/home/alice")
}

/// Compares what the README shows with what the program printed; a difference is
/// collected (with the real text, to paste) rather than stopping at the first.
pub fn compare(s: &Stack, differences: &mut Vec<String>, what: &str, printed: &str, shown: &str) {
    if as_shown(s, printed) != as_shown(s, shown) {
        differences.push(format!("README's {what} shows\n{shown}\nbut the program printed\n{}", with_alices_paths(s, printed)));
    }
}

/// Splits a console block into (command line, what it printed) pairs.
pub fn transcript(block: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => pairs.push((command.split("  #").next().unwrap().trim().to_owned(), String::new())),
            None => pairs.last_mut().expect("output before any command").1.push_str(&format!("{line}\n")),
        }
    }
    pairs
}
