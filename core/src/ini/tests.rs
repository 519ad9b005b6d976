//! The reader and the editor on ugly inputs. Readings are the ones botocore gives (each
//! checked against botocore 1.44 by hand; tests/dialect.rs checks thousands more), and
//! every edit states the exact bytes it expects, so a byte moved outside the edited
//! section fails it.

use super::*;

const CREDS: [(&str, &str); 3] = [
    ("aws_access_key_id", "ASIANEW"),
    ("aws_secret_access_key", "secretNEW"),
    ("aws_session_token", "tokenNEW"),
];

fn edit(input: &str, section: &str, entries: &[(&str, &str)]) -> String {
    let mut doc = Document::parse(input.as_bytes()).expect("parses");
    doc.set(section, entries).expect("edits");
    String::from_utf8(doc.to_bytes()).expect("utf-8")
}

fn get(input: &str, section: &str, key: &str) -> Option<String> {
    Document::parse(input.as_bytes()).expect("parses").get(section, key).map(Cow::into_owned)
}

fn names(input: &str) -> Vec<String> {
    Document::parse(input.as_bytes()).expect("parses").section_names().map(str::to_owned).collect()
}

#[test]
fn unedited_document_round_trips_exactly() {
    let inputs = [
        "",
        "\n",
        "[a]\r\nk=v\r\n",
        "# only a comment",
        "[a]\nk = v # part of the value for botocore\n; semi\n\n\n[b]\n  k2   =  v2  \n",
        "[a]\ns3 =\n  max_concurrent_requests = 10\n  addressing_style = path\nregion=x",
        "[a]\r\nk=v\n[b]\rx: y\r",
    ];
    for input in inputs {
        let doc = Document::parse(input.as_bytes()).unwrap();
        assert_eq!(doc.to_bytes(), input.as_bytes(), "{input:?}");
    }
}

#[test]
fn keys_indented_under_their_header_are_keys() {
    // The AWS CLI reads both keys; a reader that took the second for a continuation
    // would find no secret key.
    let input = "[corp-long-term]\n\taws_access_key_id\t=\tAKIA\n\taws_secret_access_key = s3cret\n";
    assert_eq!(get(input, "corp-long-term", "aws_secret_access_key").as_deref(), Some("s3cret"));
    assert_eq!(get(input, "corp-long-term", "aws_access_key_id").as_deref(), Some("AKIA"));
}

#[test]
fn continuation_lines_need_deeper_indentation_than_their_key() {
    assert_eq!(get("[a]\nk = v\n  more\n", "a", "k").as_deref(), Some("v\nmore"));
    // Comments and blank lines do not end a value.
    assert_eq!(get("[a]\nk = v\n# c\n  more\n", "a", "k").as_deref(), Some("v\nmore"));
    assert_eq!(get("[a]\nk = v\n\n  more\n\n", "a", "k").as_deref(), Some("v\n\nmore"));
    // An indented header under a key is part of its value...
    assert_eq!(names("[a]\nk = v\n  [b]\n"), ["a"]);
    assert_eq!(get("[a]\nk = v\n  [b]\n", "a", "k").as_deref(), Some("v\n[b]"));
    // ... but under a key indented as much, it is a header.
    assert_eq!(names("[a]\n  k = v\n  [b]\nx=1\n"), ["a", "b"]);
    // Right after a header nothing can continue.
    assert_eq!(get("[a]\n    k = v\n", "a", "k").as_deref(), Some("v"));
}

#[test]
fn colons_lone_carriage_returns_and_values_with_comment_marks() {
    assert_eq!(get("[a]\nk: v\n", "a", "k").as_deref(), Some("v"));
    assert_eq!(get("[a]\rk = v\rj=w", "a", "j").as_deref(), Some("w"));
    // botocore has no inline comments.
    assert_eq!(get("[a]\nx = 43200   # optional\n", "a", "x").as_deref(), Some("43200   # optional"));
    // The first `=` or `:` splits.
    assert_eq!(get("[a]\nrole_arn=arn:aws:iam::1:role/x\n", "a", "role_arn").as_deref(), Some("arn:aws:iam::1:role/x"));
    assert_eq!(get("[a]\nk==v\n", "a", "k").as_deref(), Some("=v"));
    assert_eq!(get("[a]\nurl: http://x\n", "a", "url").as_deref(), Some("http://x"));
    // Keys ignore case; Python's whitespace (with \x1c..\x1f) is trimmed.
    assert_eq!(get("[a]\n\tAWS_Access_Key_ID\t=\tAKIA \x1c\n", "a", "aws_access_key_id").as_deref(), Some("AKIA"));
}

#[test]
fn headers_are_read_to_the_last_bracket_and_not_trimmed() {
    assert_eq!(names("[ a ]\n"), [" a "]);
    assert_eq!(names("[a] x\n"), ["a"]);
    assert_eq!(names("[corp-long-term]   # keys of alice [never rewritten]\n"), ["corp-long-term]   # keys of alice [never rewritten"]);
    assert_eq!(names("  [corp]   # keys\n"), ["corp"]);
    assert_eq!(names("[a]]\n"), ["a]"]);
    // `[]` is no header, so inside a section it is a key.
    assert_eq!(get("[a]\n[]=x\n", "a", "[]").as_deref(), Some("x"));
}

#[test]
fn default_is_inherited_by_every_section() {
    let input = "[DEFAULT]\nregion = x\n[a]\nk = 1\n[b]\nregion = y\n[DEFAULT]\nz = 0\n";
    let doc = Document::parse(input.as_bytes()).unwrap();
    assert_eq!(doc.section_names().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(doc.get("a", "region").as_deref(), Some("x"));
    assert_eq!(doc.get("b", "region").as_deref(), Some("y"));
    assert_eq!(doc.get("a", "z").as_deref(), Some("0"));
    assert!(!doc.has_section("DEFAULT"));
    // Only a section's own keys are its properties (what an edit would touch).
    assert_eq!(doc.properties("a"), vec![("k", Cow::Borrowed("1"))]);
}

#[test]
fn nested_blocks() {
    let input = "[profile a]\ns3 =\n  addressing_style = path\n\n  max_concurrent_requests=10\nregion = x\n";
    let doc = Document::parse(input.as_bytes()).unwrap();
    let view = doc.botocore_view();
    let s3 = BTreeMap::from([("addressing_style".to_owned(), "path".to_owned()), ("max_concurrent_requests".to_owned(), "10".to_owned())]);
    assert_eq!(view["profile a"]["s3"], Value::Nested(s3));
    assert_eq!(view["profile a"]["region"], Value::Text("x".into()));
    // A line without `=` in a nested block makes botocore give up on the file.
    assert_eq!(Document::parse(b"[a]\ns3 =\n  x = 1\n  y\n").unwrap_err(), ParseError::Nested { line: 4 });
    // Python's splitlines also breaks at \x0b.
    assert_eq!(Document::parse(b"[a]\ns3 =\n  a\x0bb = 1\n").unwrap_err(), ParseError::Nested { line: 3 });
    // A value with a first line is not nested, whatever follows.
    assert_eq!(get("[a]\nk = v\n  no equals\n", "a", "k").as_deref(), Some("v\nno equals"));
}

#[test]
fn files_botocore_cannot_read_are_refused_with_their_line() {
    let refused: [(&[u8], ParseError); 12] = [
        (b"[a]\nk = v\nthis is not ini\n", ParseError::Garbage { line: 3 }),
        (b"[a\nk = v\n", ParseError::BadHeader { line: 1 }),
        (b"[]\n", ParseError::BadHeader { line: 1 }),
        (b"[a]\n[b\n", ParseError::BadHeader { line: 2 }),
        (b"k = v\n[a]\n", ParseError::KeyOutsideSection { line: 1 }),
        (b"# c\n  indented\n[a]\n", ParseError::KeyOutsideSection { line: 2 }),
        (b"[a]\n= v\n", ParseError::Garbage { line: 2 }),
        (b"[a]\n : v\n", ParseError::Garbage { line: 2 }),
        (b"[a]\nk = \xff\n", ParseError::NotUtf8 { line: 2 }),
        (b"\xef\xbb\xbf[a]\nk = v\n", ParseError::Bom),
        (b"[a]\nk=1\n[b]\r[a]\nj=2\n", ParseError::DuplicateSection { section: "a".into(), line: 4, first: 1 }),
        (b"[a]\nk=1\n\nK = 2\n", ParseError::DuplicateKey { section: "a".into(), key: "k".into(), line: 4, first: 2 }),
    ];
    for (input, err) in refused {
        assert_eq!(Document::parse(input).unwrap_err(), err, "{:?}", String::from_utf8_lossy(input));
    }
    assert_eq!(ParseError::Bom.line(), 1);
    // [DEFAULT] may appear twice, but not its keys.
    assert!(Document::parse(b"[DEFAULT]\na=1\n[DEFAULT]\nb=2\n").is_ok());
    assert!(matches!(Document::parse(b"[DEFAULT]\na=1\n[DEFAULT]\nA=2\n"), Err(ParseError::DuplicateKey { .. })));
}

#[test]
fn editing_one_section_keeps_comments_spacing_and_other_sections() {
    let input = "# my keys, do not touch\n[default-long-term]\naws_access_key_id=AKIAOLD\n\n[default]\n# managed below\naws_access_key_id   =   ASIAOLD\nregion = eu-west-1\naws_session_token: tokOLD\n\n; trailing comment\n[other]\nx = 1\n";
    let out = edit(input, "default", &CREDS);
    assert_eq!(
        out,
        "# my keys, do not touch\n[default-long-term]\naws_access_key_id=AKIAOLD\n\n[default]\n# managed below\naws_access_key_id   =   ASIANEW\nregion = eu-west-1\naws_session_token: tokenNEW\naws_secret_access_key = secretNEW\n\n; trailing comment\n[other]\nx = 1\n"
    );
}

#[test]
fn new_keys_are_indented_like_the_last_key() {
    // A key indented with a tab gets a tab-indented neighbour; unindented, the next
    // indented header would have become a continuation of it.
    let input = "[a]\n\tk = v\n\t[b]\n\tx = 1\n";
    assert_eq!(edit(input, "a", &[("n", "1")]), "[a]\n\tk = v\n\tn = 1\n\t[b]\n\tx = 1\n");
    assert_eq!(edit("[a]\n  [b]\nx = 1\n", "a", &[("n", "1")]), "[a]\n  n = 1\n  [b]\nx = 1\n");
    // After a continuation, at the key's own depth.
    assert_eq!(edit("[a]\nk = v\n  more\n", "a", &[("n", "1")]), "[a]\nk = v\n  more\nn = 1\n");
}

#[test]
fn replacing_a_value_drops_its_continuation_lines() {
    let out = edit("[a]\naws_session_token = old\n  old-tail\n# note\nregion = x\n", "a", &[("aws_session_token", "new")]);
    assert_eq!(out, "[a]\naws_session_token = new\n# note\nregion = x\n");
}

#[test]
fn missing_section_is_appended_after_a_blank_line() {
    let out = edit("[a]\nk = v\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\nk = v\n\n[corp]\naws_access_key_id = ASIANEW\n");
    // After an indented key and its continuation, the header still starts a section.
    let out = edit("[a]\n  k =\n    x = 1\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\n  k =\n    x = 1\n\n[corp]\naws_access_key_id = ASIANEW\n");
}

#[test]
fn line_endings_are_kept() {
    let out = edit("[a]\r\nk = v\r\n\r\n[corp]\r\nx = 1\r\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\r\nk = v\r\n\r\n[corp]\r\nx = 1\r\naws_access_key_id = ASIANEW\r\n");
    let out = edit("[a]\r\nk = v\r\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\r\nk = v\r\n\r\n[corp]\r\naws_access_key_id = ASIANEW\r\n");
    let out = edit("[a]\rk = v\r", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\rk = v\r\r[corp]\raws_access_key_id = ASIANEW\r");
}

#[test]
fn no_final_newline() {
    // Appending: the last line gets the newline it needs, nothing else moves.
    let out = edit("[a]\nk = v", "b", &[("x", "1")]);
    assert_eq!(out, "[a]\nk = v\n\n[b]\nx = 1\n");
    // Inserting at the end of the last section keeps the file without a final newline.
    let out = edit("[a]\nk = v", "a", &[("x", "1")]);
    assert_eq!(out, "[a]\nk = v\nx = 1");
    // A header that is the file's last line.
    let out = edit("# c\n[a]", "a", &[("x", "1")]);
    assert_eq!(out, "# c\n[a]\nx = 1");
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(edit("", "default", &[("k", "v")]), "[default]\nk = v\n");
    assert_eq!(edit("# hello", "default", &[("k", "v")]), "# hello\n\n[default]\nk = v\n");
}

#[test]
fn a_key_inherited_from_default_is_added_to_the_section_itself() {
    let input = "[DEFAULT]\nregion = x\n[a]\nk = 1\n";
    let out = edit(input, "a", &[("region", "y")]);
    assert_eq!(out, "[DEFAULT]\nregion = x\n[a]\nk = 1\nregion = y\n");
}

#[test]
fn section_with_only_a_header_then_another_section() {
    assert_eq!(edit("[a]\n[b]\nk = v\n", "a", &[("x", "1")]), "[a]\nx = 1\n[b]\nk = v\n");
}

#[test]
fn hostile_names_keys_and_values_are_refused_without_change() {
    let input = "[a]\nk = v\n";
    let mut doc = Document::parse(input.as_bytes()).unwrap();
    for name in ["x]\n[evil", "x]", "[x", "a\0b", "", " a", "a #b", "a\r", "DEFAULT", "a\u{3000}"] {
        assert!(matches!(doc.set(name, &[("k", "v")]), Err(EditError::BadSectionName { .. })), "{name:?}");
    }
    for key in ["k\n[evil]", "k=v", "k:v", "", "a b", "k\0"] {
        assert!(matches!(doc.set("a", &[(key, "v")]), Err(EditError::BadKey { .. })), "{key:?}");
    }
    for value in ["v\n[evil]", "v\r\nx = 1", "v\rx", "v\0", " v", "v ", "v #not a comment", "v ;x", "v\x1c", "a\tb"] {
        assert!(matches!(doc.set("a", &[("k", value)]), Err(EditError::BadValue { .. })), "{value:?}");
    }
    assert_eq!(doc.to_bytes(), input.as_bytes());
}

#[test]
fn value_with_equals_sign_colon_and_base64() {
    let out = edit("[a]\nk = v\n", "a", &[("aws_session_token", "AQoE+/b==:x")]);
    assert_eq!(out, "[a]\nk = v\naws_session_token = AQoE+/b==:x\n");
    assert_eq!(get(&out, "a", "aws_session_token").as_deref(), Some("AQoE+/b==:x"));
}

#[test]
fn debug_shows_no_text() {
    let doc = Document::parse(b"[a]\naws_secret_access_key = s3cr3t\n").unwrap();
    let shown = format!("{doc:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert_eq!(shown, "Document(2 lines, 1 sections)");
}

fn remove(input: &str, section: &str) -> String {
    let mut doc = Document::parse(input.as_bytes()).unwrap();
    assert!(doc.remove_section(section).unwrap(), "{section} was there");
    String::from_utf8(doc.to_bytes()).unwrap()
}

#[test]
fn removing_a_section_changes_nothing_else() {
    let file = "# keep me\n[a]\nx = 1\n\n[corp-long-term]\naws_access_key_id = AKIA\naws_secret_access_key = s\n  more\n\n# about b\n[b]\ny = 2";
    assert_eq!(remove(file, "corp-long-term"), "# keep me\n[a]\nx = 1\n\n# about b\n[b]\ny = 2");
    // First and last sections, CRLF, no final newline.
    assert_eq!(remove("[k]\r\nid = 1\r\n\r\n[b]\r\ny = 2\r\n", "k"), "[b]\r\ny = 2\r\n");
    assert_eq!(remove("[b]\ny = 2\n\n[k]\nid = 1", "b"), "[k]\nid = 1");
    assert_eq!(remove("[b]\ny = 2\n\n[k]\nid = 1", "k"), "[b]\ny = 2\n\n");
    // Only the named section: a same-looking name elsewhere stays.
    assert_eq!(remove("[k]\na = 1\n[k2]\na = 1\n", "k"), "[k2]\na = 1\n");
    let mut doc = Document::parse(b"[a]\nx = 1\n").unwrap();
    assert!(!doc.remove_section("nope").unwrap());
    assert_eq!(doc.to_bytes(), b"[a]\nx = 1\n");
}

#[test]
fn comments_after_a_removed_section_stay_and_read_as_comments() {
    // The indented comment now follows a's key: botocore skips comment lines inside a
    // value, so a's value still reads "1" (the read-back check would refuse otherwise).
    let out = remove("[a]\nx = 1\n[k]\nid = 1\n  ; note\n[b]\ny=2\n", "k");
    assert_eq!(out, "[a]\nx = 1\n  ; note\n[b]\ny=2\n");
    assert_eq!(get(&out, "a", "x").as_deref(), Some("1"));
}
