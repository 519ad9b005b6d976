//! The editor on ugly inputs. Every test states the exact bytes it expects, so a byte
//! moved outside the edited section fails it.

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

#[test]
fn unedited_document_round_trips_exactly() {
    let inputs = [
        "",
        "\n",
        "\u{feff}[a]\r\nk=v\r\n",
        "# only a comment",
        "[a]\nk = v # not a comment for botocore\n; semi\n\n\n[b]\n  k2   =  v2  \n",
        "[a]\ns3 =\n  max_concurrent_requests = 10\n  addressing_style = path\nregion=x",
        "[a]\nk=v\n[a]\nk=w\n",
        "[a]\r\nk=v\n[b]\r\n",
    ];
    for input in inputs {
        let doc = Document::parse(input.as_bytes()).unwrap();
        assert_eq!(doc.to_bytes(), input.as_bytes(), "{input:?}");
    }
}

#[test]
fn editing_one_section_keeps_comments_spacing_and_other_sections() {
    let input = "# my keys, do not touch\n[default-long-term]\naws_access_key_id=AKIAOLD ; inline\n\n[default]\n# managed below\naws_access_key_id   =   ASIAOLD\nregion = eu-west-1\naws_session_token=tokOLD\n\n; trailing comment\n[other]\nx = 1\n";
    let out = edit(input, "default", &CREDS);
    assert_eq!(
        out,
        "# my keys, do not touch\n[default-long-term]\naws_access_key_id=AKIAOLD ; inline\n\n[default]\n# managed below\naws_access_key_id   =   ASIANEW\nregion = eu-west-1\naws_session_token=tokenNEW\naws_secret_access_key = secretNEW\n\n; trailing comment\n[other]\nx = 1\n"
    );
}

#[test]
fn missing_section_is_appended_after_a_blank_line() {
    let out = edit("[a]\nk = v\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\nk = v\n\n[corp]\naws_access_key_id = ASIANEW\n");
}

#[test]
fn crlf_file_gets_crlf_lines() {
    let out = edit("[a]\r\nk = v\r\n\r\n[corp]\r\nx = 1\r\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\r\nk = v\r\n\r\n[corp]\r\nx = 1\r\naws_access_key_id = ASIANEW\r\n");
    let out = edit("[a]\r\nk = v\r\n", "corp", &CREDS[..1]);
    assert_eq!(out, "[a]\r\nk = v\r\n\r\n[corp]\r\naws_access_key_id = ASIANEW\r\n");
}

#[test]
fn bom_is_kept() {
    let out = edit("\u{feff}[a]\nk = v\n", "a", &[("k", "w")]);
    assert_eq!(out, "\u{feff}[a]\nk = w\n");
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
fn duplicate_sections_elsewhere_are_untouched_and_the_edited_one_must_be_unique() {
    let input = "[a]\nk=1\n[b]\nk=2\n[a]\nk=3\n";
    assert_eq!(edit(input, "b", &[("k", "9")]), "[a]\nk=1\n[b]\nk=9\n[a]\nk=3\n");
    let mut doc = Document::parse(input.as_bytes()).unwrap();
    let err = doc.set("a", &[("k", "9")]).unwrap_err();
    assert_eq!(err, EditError::DuplicateSection { section: "a".into(), lines: vec![1, 5] });
    assert_eq!(doc.to_bytes(), input.as_bytes());
    // Reading a duplicated section merges it, the last value winning, as the SDKs do.
    assert_eq!(doc.get("a", "k"), Some("3"));
}

#[test]
fn repeated_key_gets_the_value_everywhere() {
    assert_eq!(edit("[a]\nk=1\nk = 2\n", "a", &[("k", "9")]), "[a]\nk=9\nk = 9\n");
}

#[test]
fn keys_with_odd_spacing_and_case() {
    let input = "[a]\n\tAWS_Access_Key_ID\t=\tAKIA   \nregion=x\n";
    let doc = Document::parse(input.as_bytes()).unwrap();
    assert_eq!(doc.get("a", "aws_access_key_id"), Some("AKIA"));
    assert_eq!(edit(input, "a", &[("aws_access_key_id", "NEW")]), "[a]\n\tAWS_Access_Key_ID\t=\tNEW\nregion=x\n");
}

#[test]
fn header_spacing_and_trailing_comment() {
    let input = "  [ corp-long-term ]   # keys of alice [never rewritten]\naws_access_key_id = AKIA\n";
    let doc = Document::parse(input.as_bytes()).unwrap();
    assert_eq!(doc.section_names(), vec!["corp-long-term"]);
    assert_eq!(doc.get("corp-long-term", "aws_access_key_id"), Some("AKIA"));
}

#[test]
fn inline_comments_need_whitespace() {
    let doc = Document::parse(b"[a]\nx = 43200   # optional\ny = pa#ss;word\nz = a ;c\n").unwrap();
    assert_eq!(doc.get("a", "x"), Some("43200"));
    assert_eq!(doc.get("a", "y"), Some("pa#ss;word"));
    assert_eq!(doc.get("a", "z"), Some("a"));
}

#[test]
fn nested_config_settings_are_continuations() {
    let input = "[profile a]\ns3 =\n  addressing_style = path\nregion = x\n";
    let doc = Document::parse(input.as_bytes()).unwrap();
    assert_eq!(doc.properties("profile a"), vec![("s3", ""), ("region", "x")]);
    assert_eq!(
        edit(input, "profile a", &[("k", "v")]),
        "[profile a]\ns3 =\n  addressing_style = path\nregion = x\nk = v\n"
    );
}

#[test]
fn section_with_only_a_header_then_another_section() {
    assert_eq!(edit("[a]\n[b]\nk = v\n", "a", &[("x", "1")]), "[a]\nx = 1\n[b]\nk = v\n");
}

#[test]
fn garbage_is_reported_with_its_line() {
    assert_eq!(Document::parse(b"[a]\nk = v\nthis is not ini\n").unwrap_err(), ParseError::Garbage { line: 3 });
    assert_eq!(Document::parse(b"[a\nk = v\n").unwrap_err(), ParseError::BadHeader { line: 1 });
    assert_eq!(Document::parse(b"[]\n").unwrap_err(), ParseError::BadHeader { line: 1 });
    assert_eq!(Document::parse(b"[a] x\n").unwrap_err(), ParseError::BadHeader { line: 1 });
    assert_eq!(Document::parse(b"k = v\n[a]\n").unwrap_err(), ParseError::KeyOutsideSection { line: 1 });
    assert_eq!(Document::parse(b"[a]\n= v\n").unwrap_err(), ParseError::Garbage { line: 2 });
    assert_eq!(Document::parse(b"[a]\nk = \xff\n").unwrap_err(), ParseError::NotUtf8 { line: 2 });
}

#[test]
fn hostile_names_keys_and_values_are_refused_without_change() {
    let input = "[a]\nk = v\n";
    let mut doc = Document::parse(input.as_bytes()).unwrap();
    for name in ["x]\n[evil", "x]", "[x", "a\0b", "", " a", "a #b", "a\r"] {
        assert!(matches!(doc.set(name, &[("k", "v")]), Err(EditError::BadSectionName { .. })), "{name:?}");
    }
    for key in ["k\n[evil]", "k=v", "", "a b", "k\0"] {
        assert!(matches!(doc.set("a", &[(key, "v")]), Err(EditError::BadKey { .. })), "{key:?}");
    }
    for value in ["v\n[evil]", "v\r\nx = 1", "v\0", " v", "v ", "v #not a comment", "v ;x"] {
        assert!(matches!(doc.set("a", &[("k", value)]), Err(EditError::BadValue { .. })), "{value:?}");
    }
    assert_eq!(doc.to_bytes(), input.as_bytes());
}

#[test]
fn value_with_equals_sign_and_base64() {
    let out = edit("[a]\nk = v\n", "a", &[("aws_session_token", "AQoE+/b==")]);
    assert_eq!(out, "[a]\nk = v\naws_session_token = AQoE+/b==\n");
    let doc = Document::parse(out.as_bytes()).unwrap();
    assert_eq!(doc.get("a", "aws_session_token"), Some("AQoE+/b=="));
}
