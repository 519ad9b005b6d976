//! Lossless documents in the INI dialect of the AWS shared config and credentials files,
//! read exactly as botocore reads them.
//!
//! botocore (the AWS CLI, boto3) is the reference reader: `raw_config_parse` is Python's
//! `RawConfigParser` with its defaults, and mfa-tray reads every file the same way or
//! refuses it with the line number. What that means, line by line:
//! - lines end at `\n`, `\r\n` or a lone `\r`; a UTF-8 BOM makes the file unreadable;
//! - a line whose text (trimmed of Python's whitespace) starts with `#` or `;` is a
//!   comment; a comment or blank line does not end a value;
//! - a line indented deeper than the key above it (in the same section) continues that
//!   key's value; anything else is a header or a key, so keys indented with a tab under
//!   their header are ordinary keys;
//! - a header is `[` ... `]` up to the *last* `]` on the line, not trimmed: `[ a ]`
//!   names the section ` a `, and `[a] x` names `a`;
//! - a key line splits at its first `=` or `:`; keys are compared in lower case; there
//!   are no inline comments (`k = v # c` has the value `v # c`);
//! - a repeated section or key (in lower case), a line before the first header, and a
//!   line that is none of the above make the whole file unreadable, as does a nested
//!   block (a key with an empty value and continuation lines) holding a line without `=`;
//! - `[DEFAULT]` is not a section: its keys belong to every section that lacks them.
//!
//! A [`Document`] keeps every line's exact text and line ending, so serialising an
//! unedited document gives back the input byte for byte. Edits touch only the lines of
//! the one section they name, and every edit is read back before it is accepted: a
//! result that would not read (by the rules above) as the old file with exactly the new
//! values is refused rather than written.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use zeroize::Zeroizing;

/// The section whose keys every other section inherits (configparser's default section).
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// How a line ends. `None` only on the last line of a file without a final newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Lf,
    CrLf,
    Cr,
    None,
}

impl Eol {
    fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
            Eol::Cr => "\r",
            Eol::None => "",
        }
    }
}

/// What a line is, decided once when the document is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    /// A `[name]` header (its name, exactly as botocore sees it, is in the section index).
    Header,
    /// A `key = value` line. `key` is lower-cased; `value_start` is the byte offset in
    /// the line's text where the value starts (after the separator and its spacing).
    Property { key: String, value_start: usize },
    /// A line indented deeper than the key above it: more of that key's value.
    Continuation,
}

/// A line of the document: a range of its text.
#[derive(Debug, Clone)]
struct Line {
    /// Byte range of the line without its ending.
    start: usize,
    end: usize,
    eol: Eol,
    kind: Kind,
}

/// A line being edited: its own text. Zeroized when dropped: it may hold a secret.
struct EditLine {
    text: Zeroizing<String>,
    eol: Eol,
    kind: Kind,
}

/// One section's place in the document.
#[derive(Debug, Clone, Default)]
struct Section {
    /// Its header's line index (the first header, for `[DEFAULT]`).
    header: usize,
    /// `(lower-cased key, line index)` of its keys, in file order.
    keys: Vec<(String, usize)>,
}

/// A section's `(key, value)` pairs, in file order.
pub type Pairs<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// A parsed INI file that remembers every byte it was made from.
///
/// It may hold secrets, so its Debug form shows only its size and it has no Display.
#[derive(Clone, Default)]
pub struct Document {
    /// The whole file. Zeroized when dropped: it may hold secrets.
    text: Zeroizing<String>,
    lines: Vec<Line>,
    /// Sections other than `[DEFAULT]`, in file order.
    sections: Vec<(String, Section)>,
    /// Section name → index in `sections`.
    by_name: HashMap<String, usize>,
    /// The keys of every `[DEFAULT]` block.
    defaults: Section,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Document({} lines, {} sections)", self.lines.len(), self.sections.len())
    }
}

/// Why a file cannot be read as botocore reads it. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not UTF-8 text.
    #[error("it is not UTF-8 text (first bad byte on line {line})")]
    NotUtf8 {
        /// Line holding the first invalid byte.
        line: usize,
    },
    /// The file starts with a byte-order mark.
    #[error("it starts with a byte-order mark (U+FEFF), which the AWS CLI and boto3 cannot read; save it as UTF-8 without a BOM")]
    Bom,
    /// A line that is neither a header, a key, a comment nor blank.
    #[error("line {line} is not a [section] header, a `key = value` line or a comment")]
    Garbage {
        /// The offending line.
        line: usize,
    },
    /// A `[` without a `]` after it (where botocore finds no key either).
    #[error("line {line} is a [section] header without its closing `]`")]
    BadHeader {
        /// The offending line.
        line: usize,
    },
    /// Something other than a comment before the first header.
    #[error("line {line} comes before the first [section] header")]
    KeyOutsideSection {
        /// The offending line.
        line: usize,
    },
    /// A section header that appeared before.
    #[error("line {line} repeats the section [{section}] of line {first}; merge the two (the AWS CLI cannot read a file with a repeated section)")]
    DuplicateSection {
        /// The section name.
        section: String,
        /// The repeated header.
        line: usize,
        /// The first header.
        first: usize,
    },
    /// A key that appeared before in the same section (keys ignore case).
    #[error("line {line} repeats the key {key} of line {first} in [{section}]; keep one (the AWS CLI cannot read a file with a repeated key)")]
    DuplicateKey {
        /// The section.
        section: String,
        /// The key, lower-cased.
        key: String,
        /// The repeated key's line.
        line: usize,
        /// The first one's line.
        first: usize,
    },
    /// A nested block (`s3 =` then indented lines) with a line that is not `key = value`.
    #[error("line {line} is inside a nested block of settings but is not `key = value`")]
    Nested {
        /// The offending line.
        line: usize,
    },
}

impl ParseError {
    /// The 1-based line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            ParseError::Bom => 1,
            ParseError::NotUtf8 { line }
            | ParseError::Garbage { line }
            | ParseError::BadHeader { line }
            | ParseError::KeyOutsideSection { line }
            | ParseError::DuplicateSection { line, .. }
            | ParseError::DuplicateKey { line, .. }
            | ParseError::Nested { line } => *line,
        }
    }
}

/// Why an edit was refused. The document is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// A section name that could inject a header or break the file.
    #[error("{name:?} cannot be a section name: it must be non-empty, not DEFAULT, have no brackets, `#`, `;` or control characters, and no spaces at either end")]
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
    /// The edited file could not be read at all: the edit would bring out a problem
    /// the file already has (say, a bad nested block in `[DEFAULT]`, which botocore only
    /// reads once some section inherits it).
    #[error("writing [{section}] would make the file unreadable to the AWS tools: {source}")]
    WouldBreak {
        /// The section.
        section: String,
        /// What would be unreadable.
        source: ParseError,
    },
    /// The edited file would not read back as intended (a safety net; not expected).
    #[error("writing [{section}] would change how the AWS tools read the rest of the file, so mfa-tray left it alone")]
    WouldMisread {
        /// The section.
        section: String,
    },
}

/// A value as botocore returns it: text, or (for a key with an empty first line and
/// indented `k = v` lines) a nested map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A plain value (continuation lines joined with `\n`).
    Text(String),
    /// A nested block, as botocore's `_parse_nested` makes it.
    Nested(BTreeMap<String, String>),
}

/// Python's `str.isspace()`, which botocore's parser trims and indents by.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// The separators of Python's `str.splitlines()` that can occur inside one line.
fn py_line_break(c: char) -> bool {
    matches!(c, '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// State of the parse between lines, as configparser keeps it.
struct Cursor {
    in_section: bool,
    /// The current key of the current section, if any (a continuation needs one).
    key_open: bool,
    indent_level: usize,
}

impl Document {
    /// Parses file contents. An empty input is an empty document.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 { line: 1 + count_line_ends(&bytes[..e.valid_up_to()]) })?;
        if text.starts_with('\u{feff}') {
            return Err(ParseError::Bom);
        }
        let mut lines = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let rest = &text[at..];
            let (len, eol, skip) = match rest.find(['\n', '\r']) {
                Some(i) if rest[i..].starts_with("\r\n") => (i, Eol::CrLf, 2),
                Some(i) if rest.as_bytes()[i] == b'\r' => (i, Eol::Cr, 1),
                Some(i) => (i, Eol::Lf, 1),
                None => (rest.len(), Eol::None, 0),
            };
            lines.push(Line { start: at, end: at + len, eol, kind: Kind::Blank });
            at += len + skip;
        }
        let mut doc = Document { text: Zeroizing::new(text.to_owned()), lines, ..Document::default() };
        doc.classify()?;
        doc.check_nested()?;
        Ok(doc)
    }

    /// Decides what every line is and indexes the sections, as configparser's `_read`.
    fn classify(&mut self) -> Result<(), ParseError> {
        let mut cur = Cursor { in_section: false, key_open: false, indent_level: 0 };
        // Which section keys go to: `None` for [DEFAULT], else an index into `sections`.
        let mut target: Option<usize> = None;
        let mut first_default: Option<usize> = None;
        for i in 0..self.lines.len() {
            let number = i + 1;
            let raw: &str = &self.text[self.lines[i].start..self.lines[i].end];
            let stripped = py_strip(raw);
            if stripped.starts_with('#') || stripped.starts_with(';') {
                self.lines[i].kind = Kind::Comment;
                continue;
            }
            if stripped.is_empty() {
                continue; // Blank: neither ends a value nor resets the indentation.
            }
            let indent = raw.chars().take_while(|&c| py_space(c)).count();
            if cur.in_section && cur.key_open && indent > cur.indent_level {
                self.lines[i].kind = Kind::Continuation;
                continue;
            }
            cur.indent_level = indent;
            if let Some(name) = header_name(stripped) {
                let name = name.to_owned();
                cur.in_section = true;
                cur.key_open = false;
                if name == DEFAULT_SECTION {
                    target = None;
                    if first_default.is_none() {
                        first_default = Some(i);
                        self.defaults.header = i;
                    }
                } else if let Some(&s) = self.by_name.get(&name) {
                    let first = self.sections[s].1.header + 1;
                    return Err(ParseError::DuplicateSection { section: name, line: number, first });
                } else {
                    self.by_name.insert(name.clone(), self.sections.len());
                    target = Some(self.sections.len());
                    self.sections.push((name, Section { header: i, keys: Vec::new() }));
                }
                self.lines[i].kind = Kind::Header;
                continue;
            }
            let sep = stripped.find(['=', ':']);
            if stripped.starts_with('[') && (!cur.in_section || sep.is_none()) {
                return Err(ParseError::BadHeader { line: number });
            }
            if !cur.in_section {
                return Err(ParseError::KeyOutsideSection { line: number });
            }
            let Some(sep) = sep else { return Err(ParseError::Garbage { line: number }) };
            let key = stripped[..sep].trim_end_matches(py_space);
            if key.is_empty() {
                return Err(ParseError::Garbage { line: number });
            }
            let key = key.to_lowercase();
            let lead = raw.len() - raw.trim_start_matches(py_space).len();
            let after = &raw[lead + sep + 1..];
            let value_start = lead + sep + 1 + (after.len() - after.trim_start_matches(py_space).len());
            let (section_name, section) = match target {
                Some(s) => {
                    let (name, section) = &mut self.sections[s];
                    (name.as_str(), section)
                }
                None => (DEFAULT_SECTION, &mut self.defaults),
            };
            if let Some((_, at)) = section.keys.iter().find(|(k, _)| *k == key) {
                return Err(ParseError::DuplicateKey { section: section_name.to_owned(), key, line: number, first: at + 1 });
            }
            section.keys.push((key.clone(), i));
            self.lines[i].kind = Kind::Property { key, value_start };
            cur.key_open = true;
        }
        Ok(())
    }

    /// Refuses nested blocks that botocore's `_parse_nested` cannot read. A `[DEFAULT]`
    /// value is read only through the sections that inherit it.
    fn check_nested(&self) -> Result<(), ParseError> {
        let check = |at: usize| match self.nested(at) {
            Some(Err(line)) => Err(ParseError::Nested { line }),
            _ => Ok(()),
        };
        for (_, s) in &self.sections {
            s.keys.iter().try_for_each(|(_, at)| check(*at))?;
        }
        for (key, at) in &self.defaults.keys {
            let inherited = self.sections.iter().any(|(_, s)| !s.keys.iter().any(|(k, _)| k == key));
            if inherited {
                check(*at)?;
            }
        }
        Ok(())
    }

    /// The exact bytes of the document.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.text.as_bytes().to_vec()
    }

    fn line_text(&self, i: usize) -> &str {
        &self.text[self.lines[i].start..self.lines[i].end]
    }

    /// Names of all sections (not `[DEFAULT]`), in file order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(n, _)| n.as_str())
    }

    /// Whether a section with this exact name exists (`[DEFAULT]` is not a section).
    pub fn has_section(&self, section: &str) -> bool {
        self.by_name.contains_key(section)
    }

    /// The 1-based line number of the section's header.
    pub fn section_line(&self, section: &str) -> Option<usize> {
        self.section(section).map(|s| s.header + 1)
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.by_name.get(name).map(|&i| &self.sections[i].1)
    }

    /// The value of `key` in `section` as botocore reads it: keys without regard to
    /// case, continuation lines joined with `\n`, inherited from `[DEFAULT]` when the
    /// section lacks it. (A nested block comes back as its raw text.)
    pub fn get(&self, section: &str, key: &str) -> Option<Cow<'_, str>> {
        let s = self.section(section)?;
        let key = key.to_lowercase();
        let find = |s: &Section| s.keys.iter().find(|(k, _)| *k == key).map(|(_, at)| *at);
        find(s).or_else(|| find(&self.defaults)).map(|at| self.value_text(at))
    }

    /// The section's own `(key, value)` pairs in file order (keys lower-cased; nothing
    /// inherited from `[DEFAULT]`).
    pub fn properties(&self, section: &str) -> Vec<(&str, Cow<'_, str>)> {
        self.section(section).map(|s| self.pairs(s)).unwrap_or_default()
    }

    /// Every section with its own `(key, value)` pairs, in file order, in one pass.
    pub fn all_properties(&self) -> Vec<(&str, Pairs<'_>)> {
        self.sections.iter().map(|(name, s)| (name.as_str(), self.pairs(s))).collect()
    }

    fn pairs<'s>(&'s self, s: &'s Section) -> Vec<(&'s str, Cow<'s, str>)> {
        s.keys.iter().map(|(k, at)| (k.as_str(), self.value_text(*at))).collect()
    }

    /// What botocore's `raw_config_parse` returns for this file: every section with its
    /// keys (its own, then those it inherits from `[DEFAULT]`) and their values.
    pub fn botocore_view(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        let value = |at: usize| match self.nested(at) {
            Some(Ok(map)) => Value::Nested(map),
            _ => Value::Text(self.value_text(at).into_owned()),
        };
        self.sections
            .iter()
            .map(|(name, s)| {
                let mut keys: BTreeMap<String, Value> = self.defaults.keys.iter().map(|(k, at)| (k.clone(), value(*at))).collect();
                keys.extend(s.keys.iter().map(|(k, at)| (k.clone(), value(*at))));
                (name.clone(), keys)
            })
            .collect()
    }

    /// The lines of the value of the key on line `at`: the key line's value, then
    /// `Some(text)` for each continuation line and `None` for each blank line among them.
    fn value_lines(&self, at: usize) -> (&str, Vec<(usize, Option<&str>)>) {
        let Kind::Property { value_start, .. } = &self.lines[at].kind else { return ("", vec![]) };
        let first = py_strip(&self.line_text(at)[*value_start..]);
        let mut more = Vec::new();
        for (i, line) in self.lines.iter().enumerate().skip(at + 1) {
            match line.kind {
                Kind::Continuation => more.push((i, Some(py_strip(self.line_text(i))))),
                Kind::Blank => more.push((i, None)),
                Kind::Comment => {}
                Kind::Header | Kind::Property { .. } => break,
            }
        }
        (first, more)
    }

    /// The value of the key on line `at`, as configparser joins it.
    fn value_text(&self, at: usize) -> Cow<'_, str> {
        let (first, more) = self.value_lines(at);
        if !more.iter().any(|(_, t)| t.is_some()) {
            return Cow::Borrowed(first);
        }
        let mut joined = first.to_owned();
        for (_, t) in more {
            joined.push('\n');
            joined.push_str(t.unwrap_or(""));
        }
        Cow::Owned(joined.trim_end_matches(py_space).to_owned())
    }

    /// The nested map of the key on line `at`, if its value is a nested block; `Err`
    /// holds the line that botocore could not read.
    fn nested(&self, at: usize) -> Option<Result<BTreeMap<String, String>, usize>> {
        let (first, more) = self.value_lines(at);
        if !first.is_empty() || !more.iter().any(|(_, t)| t.is_some_and(|t| !t.is_empty())) {
            return None;
        }
        let mut map = BTreeMap::new();
        for (i, text) in more {
            for part in text.unwrap_or("").split(py_line_break) {
                let part = py_strip(part);
                if part.is_empty() {
                    continue;
                }
                let Some((k, v)) = part.split_once('=') else { return Some(Err(i + 1)) };
                map.insert(py_strip(k).to_owned(), py_strip(v).to_owned());
            }
        }
        Some(Ok(map))
    }

    /// Sets `entries` in `section`, creating the section at the end if it is missing.
    ///
    /// Existing keys keep their line and spacing and get the new value (continuation
    /// lines of an old value go); new keys go after the section's last key, indented as
    /// it is. No line outside the section changes, except that a final line without a
    /// newline gets one before an appended section. The result is read back before it
    /// is accepted; anything but the old reading plus the new values is refused.
    pub fn set(&mut self, section: &str, entries: &[(&str, &str)]) -> Result<(), EditError> {
        check_section_name(section)?;
        for (key, value) in entries {
            check_key(key)?;
            if !value_reads_back(value) {
                return Err(EditError::BadValue { key: (*key).to_owned() });
            }
        }
        // Only the section's lines are edited (with the file's last line, when a section
        // is appended); the rest of the text is spliced around them unchanged.
        let eol = self.dominant_eol();
        let (first, end) = match self.section(section) {
            Some(s) => (s.header, section_end(&self.lines, s.header)),
            None => (self.lines.len().saturating_sub(1), self.lines.len()),
        };
        let mut lines: Vec<EditLine> = (first..end)
            .map(|i| EditLine { text: Zeroizing::new(self.line_text(i).to_owned()), eol: self.lines[i].eol, kind: self.lines[i].kind.clone() })
            .collect();
        let header = match self.section(section) {
            Some(_) => 0,
            None => append_section(&mut lines, section, eol),
        };
        let next_indent = if end < self.lines.len() { leading_space(self.line_text(end)) } else { "" };
        for (key, value) in entries {
            let key = key.to_lowercase();
            let existing = (header + 1..lines.len()).find(|&i| matches!(&lines[i].kind, Kind::Property { key: k, .. } if *k == key));
            match existing {
                Some(i) => {
                    let Kind::Property { value_start, .. } = lines[i].kind else { unreachable!("matched a property") };
                    lines[i].text.truncate(value_start);
                    lines[i].text.push_str(value);
                    // The old value's continuation lines would be read as part of the new one.
                    let mut j = i + 1;
                    while j < lines.len() && matches!(lines[j].kind, Kind::Blank | Kind::Comment | Kind::Continuation) {
                        if lines[j].kind == Kind::Continuation {
                            lines.remove(j);
                        } else {
                            j += 1;
                        }
                    }
                }
                None => insert_property(&mut lines, header, next_indent, &key, value, eol),
            }
        }
        let (from, to) = match (self.lines.get(first), self.lines.get(end)) {
            (Some(l), Some(next)) => (l.start, next.start),
            (Some(l), None) => (l.start, self.text.len()),
            (None, _) => (0, 0),
        };
        let mut text = Zeroizing::new(String::with_capacity(self.text.len() + 256));
        text.push_str(&self.text[..from]);
        for line in &lines {
            text.push_str(&line.text);
            text.push_str(line.eol.as_str());
        }
        text.push_str(&self.text[to..]);
        let edited = Document::parse(text.as_bytes()).map_err(|source| EditError::WouldBreak { section: section.to_owned(), source })?;
        if !edited.reads_as(self, section, entries) {
            return Err(EditError::WouldMisread { section: section.to_owned() });
        }
        *self = edited;
        Ok(())
    }

    /// Removes `section`: its header and its lines through its last key (comments after
    /// that stay, as they may introduce what follows), and the blank line after it when
    /// a blank line also precedes it. No other line changes. The result is read back:
    /// every other section and key must read exactly as before. `false` if there was no
    /// such section.
    pub fn remove_section(&mut self, section: &str) -> Result<bool, EditError> {
        let Some(s) = self.section(section) else { return Ok(false) };
        let header = s.header;
        let end = section_end(&self.lines, header);
        let last = (header + 1..end).rev().find(|&i| matches!(self.lines[i].kind, Kind::Property { .. } | Kind::Continuation)).unwrap_or(header);
        let blank = |i: usize| self.lines.get(i).is_some_and(|l| l.kind == Kind::Blank);
        let mut to = last + 1;
        if blank(to) && (header == 0 || blank(header - 1)) {
            to += 1;
        }
        let from = self.lines[header].start;
        let to = self.lines.get(to).map_or(self.text.len(), |l| l.start);
        let mut text = Zeroizing::new(String::with_capacity(self.text.len()));
        text.push_str(&self.text[..from]);
        text.push_str(&self.text[to..]);
        let edited = Document::parse(text.as_bytes()).map_err(|source| EditError::WouldBreak { section: section.to_owned(), source })?;
        let mut expected = self.botocore_view();
        expected.remove(section);
        if edited.botocore_view() != expected || edited.section_names().ne(self.section_names().filter(|n| *n != section)) {
            return Err(EditError::WouldMisread { section: section.to_owned() });
        }
        *self = edited;
        Ok(true)
    }

    /// Whether this document reads as `old` with `entries` set in `section`: the same
    /// sections in the same order, the same keys and values everywhere else.
    fn reads_as(&self, old: &Document, section: &str, entries: &[(&str, &str)]) -> bool {
        let same = |a: &Document, sa: &Section, b: &Document, sb: &Section| {
            sa.keys.len() == sb.keys.len()
                && sa.keys.iter().zip(&sb.keys).all(|((ka, ia), (kb, ib))| ka == kb && a.value_text(*ia) == b.value_text(*ib))
        };
        if !same(self, &self.defaults, old, &old.defaults) {
            return false;
        }
        let added = usize::from(!old.has_section(section));
        if self.sections.len() != old.sections.len() + added {
            return false;
        }
        for (i, (name, s)) in self.sections.iter().enumerate() {
            if name != section {
                match old.sections.get(i) {
                    Some((old_name, o)) if old_name == name && same(self, s, old, o) => continue,
                    _ => return false,
                }
            }
            // The edited section: the old keys in their order, with the new values, then
            // the keys it did not have.
            let mut expected: Vec<(String, Cow<'_, str>)> =
                old.section(name).map(|o| o.keys.iter().map(|(k, at)| (k.clone(), old.value_text(*at))).collect()).unwrap_or_default();
            for (key, value) in entries {
                let key = key.to_lowercase();
                match expected.iter_mut().find(|(k, _)| *k == key) {
                    Some(kv) => kv.1 = Cow::Borrowed(value),
                    None => expected.push((key, Cow::Borrowed(value))),
                }
            }
            let got = s.keys.iter().map(|(k, at)| (k, self.value_text(*at)));
            if !got.eq(expected.iter().map(|(k, v)| (k, v.clone()))) {
                return false;
            }
        }
        true
    }

    /// The line ending most lines use; LF for a file with none.
    fn dominant_eol(&self) -> Eol {
        let count = |e: Eol| self.lines.iter().filter(|l| l.eol == e).count();
        let (lf, crlf, cr) = (count(Eol::Lf), count(Eol::CrLf), count(Eol::Cr));
        if crlf > lf && crlf >= cr {
            Eol::CrLf
        } else if cr > lf && cr > crlf {
            Eol::Cr
        } else {
            Eol::Lf
        }
    }
}

fn count_line_ends(bytes: &[u8]) -> usize {
    bytes.iter().enumerate().filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))).count()
}

/// The section name of a header line (trimmed text), by configparser's `\[(?P<header>.+)\]`:
/// from the first `[` to the last `]`, with at least one character between.
fn header_name(stripped: &str) -> Option<&str> {
    let inner = stripped.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    (close > 0).then(|| &inner[..close])
}

/// One past the last line of the section whose header is at line `header`.
fn section_end(lines: &[Line], header: usize) -> usize {
    lines[header + 1..].iter().position(|l| matches!(l.kind, Kind::Header)).map_or(lines.len(), |p| header + 1 + p)
}

fn leading_space(text: &str) -> &str {
    &text[..text.len() - text.trim_start_matches(py_space).len()]
}

/// Appends `[section]` after a blank separator line to `lines` (the file's last line, or
/// nothing for an empty file) and returns its index.
fn append_section(lines: &mut Vec<EditLine>, section: &str, eol: Eol) -> usize {
    if let Some(last) = lines.last_mut() {
        if last.eol == Eol::None {
            last.eol = eol;
        }
        if last.kind != Kind::Blank {
            lines.push(EditLine { text: Zeroizing::new(String::new()), eol, kind: Kind::Blank });
        }
    }
    lines.push(EditLine { text: Zeroizing::new(format!("[{section}]")), eol, kind: Kind::Header });
    lines.len() - 1
}

/// Inserts `key = value` after the last key (or continuation) of the section whose
/// header is `lines[header]` and whose lines end with `lines`, indented like that key so
/// that it is neither read as a continuation nor turns the following header (indented
/// by `next_indent`) into one.
fn insert_property(lines: &mut Vec<EditLine>, header: usize, next_indent: &str, key: &str, value: &str, eol: Eol) {
    let end = lines.len();
    let last_key = (header + 1..end).rev().find(|&i| matches!(lines[i].kind, Kind::Property { .. }));
    let last_line = (header + 1..end).rev().find(|&i| matches!(lines[i].kind, Kind::Property { .. } | Kind::Continuation));
    let indent = match last_key {
        Some(k) => leading_space(&lines[k].text).to_owned(),
        // After a header any indentation is a key; match the next header's, so it stays one.
        None => next_indent.to_owned(),
    };
    let at = last_line.map_or(header + 1, |i| i + 1);
    let mut new_eol = eol;
    if let Some(prev) = lines.get_mut(at - 1) {
        if prev.eol == Eol::None {
            prev.eol = eol;
            // The new line is now the last one: keep the file's missing final newline.
            new_eol = Eol::None;
        }
    }
    let text = format!("{indent}{key} = {value}");
    let value_start = text.len() - value.len();
    lines.insert(at, EditLine { text: Zeroizing::new(text), eol: new_eol, kind: Kind::Property { key: key.to_owned(), value_start } });
}

/// Whether `key = value` reads back as exactly `value` in every AWS tool: no control
/// characters, no surrounding spaces, no `#` or `;` after whitespace (an inline comment
/// to the AWS SDKs that have them, though not to botocore).
fn value_reads_back(value: &str) -> bool {
    let b = value.as_bytes();
    !value.chars().any(|c| c.is_control() || py_space(c) && c != ' ')
        && py_strip(value) == value
        && !(1..b.len()).any(|i| (b[i] == b'#' || b[i] == b';') && b[i - 1].is_ascii_whitespace())
}

/// Refuses names that would break out of `[...]`, hide in whitespace, or name
/// configparser's `[DEFAULT]`, whose keys every section inherits.
pub fn check_section_name(name: &str) -> Result<(), EditError> {
    let bad = name.is_empty()
        || name == DEFAULT_SECTION
        || py_strip(name) != name
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
