//! Lossless documents in the INI dialect of the AWS shared config and credentials files.
//!
//! A [`Document`] keeps every line's exact text and line ending (and a UTF-8 BOM), so
//! serialising an unedited document gives back the input byte for byte. Edits touch only
//! the lines of the one section they name: values are replaced in place (keeping the
//! user's spacing around `=`), missing keys are inserted after the section's last key,
//! and a missing section is appended at the end. Nothing is ever reordered or removed.
//!
//! The grammar follows what botocore and the Rust SDK accept: `[section]` headers (a
//! comment may follow the `]`), `key = value` lines, `#` and `;` comment lines, blank
//! lines, and indented continuation lines under a key (the config file's nested `s3 =`
//! settings). A value's inline comment needs whitespace before its `#` or `;`. Anything
//! else is a [`ParseError`] naming the line, because guessing at a broken file is how
//! other tools lose their users' data.

use std::fmt;

const BOM: &str = "\u{feff}";

/// How a line ends. `None` only on the last line of a file without a final newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Lf,
    CrLf,
    None,
}

impl Eol {
    fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
            Eol::None => "",
        }
    }
}

/// What a line is, decided once when the document is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    /// A `[name]` header; `name` is trimmed.
    Section(String),
    /// A `key = value` line; `value_start` is the byte offset of the value in the text.
    Property { key: String, value_start: usize },
    /// An indented line under a property (a nested setting of the config file).
    Continuation,
}

#[derive(Debug, Clone)]
struct Line {
    text: String,
    eol: Eol,
    kind: Kind,
}

/// A parsed INI file that remembers every byte it was made from.
#[derive(Debug, Clone, Default)]
pub struct Document {
    bom: bool,
    lines: Vec<Line>,
}

/// Why a file could not be read as INI. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not UTF-8 text.
    #[error("it is not UTF-8 text (first bad byte on line {line})")]
    NotUtf8 {
        /// Line holding the first invalid byte.
        line: usize,
    },
    /// A line that is neither a header, a property, a comment nor blank.
    #[error("line {line} is not a [section], a `key = value` line or a comment")]
    Garbage {
        /// The offending line.
        line: usize,
    },
    /// A `[` without its `]`, an empty name, or text after the `]`.
    #[error("line {line} is a malformed [section] header")]
    BadHeader {
        /// The offending line.
        line: usize,
    },
    /// A `key = value` line before the first header.
    #[error("line {line} has a key outside any [section]")]
    KeyOutsideSection {
        /// The offending line.
        line: usize,
    },
}

/// Why an edit was refused. The document is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The section occurs more than once, so an edit could not say which one it meant.
    #[error("[{section}] appears more than once (lines {lines:?}); merge them into one")]
    DuplicateSection {
        /// The section name.
        section: String,
        /// 1-based line numbers of every header.
        lines: Vec<usize>,
    },
    /// A section name that could inject a header or break the file.
    #[error("{name:?} cannot be a section name: it must be non-empty, have no brackets, `#`, `;` or control characters, and no spaces at either end")]
    BadSectionName {
        /// The refused name.
        name: String,
    },
    /// A key that could inject another key or a section.
    #[error("{key:?} cannot be a key: use letters, digits, `_`, `-` and `.` only")]
    BadKey {
        /// The refused key.
        key: String,
    },
    /// A value that could inject a line, or would not read back as written.
    #[error("the value for {key} contains a line break, NUL or other control character, or spacing or a comment mark that would not read back")]
    BadValue {
        /// The key whose value was refused (the value itself may be a secret).
        key: String,
    },
}

impl Document {
    /// Parses file contents. An empty input is an empty document.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 {
            line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
        })?;
        let (bom, text) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut lines = Vec::new();
        let mut in_section = false;
        let mut after_property = false;
        let mut rest = text;
        while !rest.is_empty() {
            let (raw, eol, next) = match rest.find('\n') {
                Some(i) if rest[..i].ends_with('\r') => (&rest[..i - 1], Eol::CrLf, &rest[i + 1..]),
                Some(i) => (&rest[..i], Eol::Lf, &rest[i + 1..]),
                None => (rest, Eol::None, ""),
            };
            rest = next;
            let number = lines.len() + 1;
            let kind = classify(raw, after_property, number)?;
            match &kind {
                Kind::Section(_) => in_section = true,
                Kind::Property { .. } if !in_section => {
                    return Err(ParseError::KeyOutsideSection { line: number })
                }
                _ => {}
            }
            after_property = match kind {
                Kind::Property { .. } | Kind::Continuation => true,
                Kind::Section(_) => false,
                // Comments and blank lines end a value in botocore's parser too.
                Kind::Blank | Kind::Comment => false,
            };
            lines.push(Line { text: raw.to_owned(), eol, kind });
        }
        Ok(Document { bom, lines })
    }

    /// The exact bytes of the document.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.text.len() + 2).sum::<usize>() + 3);
        if self.bom {
            out.push_str(BOM);
        }
        for line in &self.lines {
            out.push_str(&line.text);
            out.push_str(line.eol.as_str());
        }
        out.into_bytes()
    }

    /// Names of all sections, in file order, each once.
    pub fn section_names(&self) -> Vec<&str> {
        self.all_properties().into_iter().map(|(name, _)| name).collect()
    }

    /// Every section with its `(key, value)` pairs, in file order, in one pass over the
    /// file (a repeated section is merged into its first place).
    pub fn all_properties(&self) -> Vec<(&str, Vec<(&str, &str)>)> {
        let mut out: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut current = None;
        for line in &self.lines {
            match &line.kind {
                Kind::Section(name) => {
                    let next = out.len();
                    let i = *index.entry(name.as_str()).or_insert(next);
                    if i == next {
                        out.push((name.as_str(), Vec::new()));
                    }
                    current = Some(i);
                }
                Kind::Property { key, value_start } => {
                    if let Some(i) = current {
                        out[i].1.push((key.as_str(), value_of(&line.text[*value_start..])));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether a section with this exact name exists.
    pub fn has_section(&self, section: &str) -> bool {
        !self.headers(section).is_empty()
    }

    /// The 1-based line number of the section's first header.
    pub fn section_line(&self, section: &str) -> Option<usize> {
        self.headers(section).first().map(|&i| i + 1)
    }

    /// The value of `key` in `section`, read as the AWS SDKs do: keys match without
    /// regard to ASCII case, a repeated section or key takes its last value, and an
    /// inline comment (whitespace then `#` or `;`) is not part of the value.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let mut found = None;
        for idx in self.headers(section) {
            for line in &self.lines[idx + 1..self.section_end(idx)] {
                if let Kind::Property { key: k, value_start } = &line.kind {
                    if k.eq_ignore_ascii_case(key) {
                        found = Some(value_of(&line.text[*value_start..]));
                    }
                }
            }
        }
        found
    }

    /// All `(key, value)` pairs of a section in file order (keys as written).
    pub fn properties(&self, section: &str) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for idx in self.headers(section) {
            for line in &self.lines[idx + 1..self.section_end(idx)] {
                if let Kind::Property { key, value_start } = &line.kind {
                    out.push((key.as_str(), value_of(&line.text[*value_start..])));
                }
            }
        }
        out
    }

    /// Sets `entries` in `section`, creating the section at the end if it is missing.
    ///
    /// Existing keys keep their line and spacing and get the new value (every
    /// occurrence, so readers that take the first and readers that take the last agree);
    /// new keys go after the section's last key. No line outside the section changes,
    /// except that a final line without a newline gets one before an appended section.
    pub fn set(&mut self, section: &str, entries: &[(&str, &str)]) -> Result<(), EditError> {
        check_section_name(section)?;
        for (key, value) in entries {
            check_key(key)?;
            if !value_reads_back(value) {
                return Err(EditError::BadValue { key: (*key).to_owned() });
            }
        }
        let headers = self.headers(section);
        let eol = self.dominant_eol();
        let header = match headers.as_slice() {
            [] => self.append_section(section, eol),
            [one] => *one,
            many => {
                return Err(EditError::DuplicateSection {
                    section: section.to_owned(),
                    lines: many.iter().map(|i| i + 1).collect(),
                })
            }
        };
        for (key, value) in entries {
            let end = self.section_end(header);
            let mut replaced = false;
            for line in &mut self.lines[header + 1..end] {
                if let Kind::Property { key: k, value_start } = &line.kind {
                    if k.eq_ignore_ascii_case(key) {
                        line.text.truncate(*value_start);
                        line.text.push_str(value);
                        replaced = true;
                    }
                }
            }
            if !replaced {
                let at = self.lines[header + 1..end]
                    .iter()
                    .rposition(|l| matches!(l.kind, Kind::Property { .. } | Kind::Continuation))
                    .map_or(header + 1, |p| header + 2 + p);
                self.insert_property(at, key, value, eol);
            }
        }
        Ok(())
    }

    /// Line indices of every header of `section`.
    fn headers(&self, section: &str) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(&l.kind, Kind::Section(n) if n == section))
            .map(|(i, _)| i)
            .collect()
    }

    /// One past the last line of the section whose header is at `header`.
    fn section_end(&self, header: usize) -> usize {
        self.lines[header + 1..]
            .iter()
            .position(|l| matches!(l.kind, Kind::Section(_)))
            .map_or(self.lines.len(), |p| header + 1 + p)
    }

    /// The line ending most lines use; LF for a file with none.
    fn dominant_eol(&self) -> Eol {
        let crlf = self.lines.iter().filter(|l| l.eol == Eol::CrLf).count();
        let lf = self.lines.iter().filter(|l| l.eol == Eol::Lf).count();
        if crlf > lf {
            Eol::CrLf
        } else {
            Eol::Lf
        }
    }

    /// Appends `[section]` after a blank separator line and returns its index.
    fn append_section(&mut self, section: &str, eol: Eol) -> usize {
        if let Some(last) = self.lines.last_mut() {
            if last.eol == Eol::None {
                last.eol = eol;
            }
            if last.kind != Kind::Blank {
                self.lines.push(Line { text: String::new(), eol, kind: Kind::Blank });
            }
        }
        self.lines.push(Line { text: format!("[{section}]"), eol, kind: Kind::Section(section.to_owned()) });
        self.lines.len() - 1
    }

    /// Inserts `key = value` at `at`, giving the line before it a newline if it had none.
    fn insert_property(&mut self, at: usize, key: &str, value: &str, eol: Eol) {
        let mut new_eol = eol;
        if let Some(prev) = at.checked_sub(1).and_then(|p| self.lines.get_mut(p)) {
            if prev.eol == Eol::None {
                prev.eol = eol;
                // The new line is now the last one: keep the file's missing final newline.
                new_eol = Eol::None;
            }
        }
        let text = format!("{key} = {value}");
        let kind = Kind::Property { key: key.to_owned(), value_start: key.len() + 3 };
        self.lines.insert(at, Line { text, eol: new_eol, kind });
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Decides what one line is.
fn classify(raw: &str, after_property: bool, number: usize) -> Result<Kind, ParseError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(Kind::Blank);
    }
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Ok(Kind::Comment);
    }
    let indented = raw.starts_with([' ', '\t']);
    if indented && after_property {
        return Ok(Kind::Continuation);
    }
    if let Some(inner) = trimmed.strip_prefix('[') {
        let close = inner.find(']').ok_or(ParseError::BadHeader { line: number })?;
        let name = inner[..close].trim();
        let tail = inner[close + 1..].trim_start();
        if name.is_empty() || !(tail.is_empty() || tail.starts_with('#') || tail.starts_with(';')) {
            return Err(ParseError::BadHeader { line: number });
        }
        return Ok(Kind::Section(name.to_owned()));
    }
    if let Some(eq) = raw.find('=') {
        let key = raw[..eq].trim();
        if key.is_empty() {
            return Err(ParseError::Garbage { line: number });
        }
        let after = &raw[eq + 1..];
        let value_start = eq + 1 + (after.len() - after.trim_start().len());
        return Ok(Kind::Property { key: key.to_owned(), value_start });
    }
    Err(ParseError::Garbage { line: number })
}

/// A value without its inline comment and surrounding whitespace.
fn value_of(raw: &str) -> &str {
    let bytes = raw.as_bytes();
    let cut = (1..bytes.len())
        .find(|&i| (bytes[i] == b'#' || bytes[i] == b';') && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    raw[..cut].trim()
}

/// Whether `key = value` reads back as exactly `value` in every AWS tool: no control
/// characters, no surrounding spaces, no `#` or `;` after whitespace (an inline comment
/// to the Rust SDK).
fn value_reads_back(value: &str) -> bool {
    let b = value.as_bytes();
    !value.chars().any(char::is_control)
        && value.trim() == value
        && !(1..b.len()).any(|i| (b[i] == b'#' || b[i] == b';') && b[i - 1].is_ascii_whitespace())
}

/// Refuses names that would break out of `[...]` or hide in whitespace.
pub fn check_section_name(name: &str) -> Result<(), EditError> {
    let bad = name.is_empty()
        || name.trim() != name
        || name.chars().any(|c| c.is_control() || matches!(c, '[' | ']' | '#' | ';'));
    if bad {
        Err(EditError::BadSectionName { name: name.to_owned() })
    } else {
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), EditError> {
    let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(EditError::BadKey { key: key.to_owned() })
    }
}

#[cfg(test)]
mod tests;
