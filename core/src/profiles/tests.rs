use super::*;

const CREDS: &str = "\
[corp-long-term]
aws_access_key_id = AKIAALICE
aws_secret_access_key = secret

[legacy-long-term]
aws_access_key_id = AKIALEGACY
aws_secret_access_key = secret
aws_mfa_device = arn:aws:iam::111111111111:mfa/legacy

[nokeys-long-term]
aws_access_key_id = AKIAHALF

[plain]
aws_access_key_id = AKIAPLAIN
aws_secret_access_key = secret
";

const CONFIG: &str = "\
[profile corp]
mfa_serial = arn:aws:iam::111111111111:mfa/alice
region = eu-west-1
# optional
duration_seconds = 43200

[profile prod-admin]
role_arn = arn:aws:iam::222222222222:role/Admin
source_profile = corp
external_id = ext-1
role_session_name = alice
duration_seconds = 3600

[profile via-legacy]
role_arn = arn:aws:iam::333333333333:role/Dev
source_profile = legacy
mfa_serial = arn:aws:iam::111111111111:mfa/other
region = us-west-2

[profile loop-a]
role_arn = arn:aws:iam::222222222222:role/A
source_profile = loop-b

[profile loop-b]
role_arn = arn:aws:iam::222222222222:role/B
source_profile = loop-a

[profile chained]
role_arn = arn:aws:iam::222222222222:role/C
source_profile = prod-admin

[profile orphan]
role_arn = arn:aws:iam::222222222222:role/O
source_profile = nowhere

[profile nosource]
role_arn = arn:aws:iam::222222222222:role/N

[profile from-plain]
role_arn = arn:aws:iam::222222222222:role/P
source_profile = plain
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile noserial]
mfa_serial =
region = x

[profile badduration]
role_arn = arn:aws:iam::222222222222:role/D
source_profile = corp
duration_seconds = 50000

[profile nomfa]
mfa_serial = arn:aws:iam::111111111111:mfa/nokeys

[profile plain-config]
region = eu-central-1

[profile commented]
role_arn = arn:aws:iam::222222222222:role/C
source_profile = corp
duration_seconds = 3600  # one hour
";

fn resolve() -> Profiles {
    let config = Document::parse(CONFIG.as_bytes()).unwrap();
    let creds = Document::parse(CREDS.as_bytes()).unwrap();
    Profiles::resolve(&config, &creds, "-long-term")
}

fn problem(p: &Profiles, name: &str) -> String {
    p.problem(name).unwrap_or_else(|| panic!("no problem for {name}: {p:#?}")).message.clone()
}

#[test]
fn session_profiles() {
    let p = resolve();
    let corp = p.session("corp").unwrap();
    assert_eq!(corp.mfa_serial.as_str(), "arn:aws:iam::111111111111:mfa/alice");
    assert_eq!(corp.long_term_section, "corp-long-term");
    assert_eq!(corp.region.as_deref(), Some("eu-west-1"));
    assert_eq!(corp.duration, Some(Duration::from_secs(43200)));
    // aws-mfa's layout: no config profile, the device in the long-term section.
    let legacy = p.session("legacy").unwrap();
    assert_eq!(legacy.mfa_serial.as_str(), "arn:aws:iam::111111111111:mfa/legacy");
    assert_eq!(p.sessions.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["corp", "legacy"]);
}

#[test]
fn role_profiles() {
    let p = resolve();
    let admin = p.role("prod-admin").unwrap();
    assert_eq!(admin.role_arn.as_str(), "arn:aws:iam::222222222222:role/Admin");
    assert_eq!(admin.source, "corp");
    assert_eq!(admin.mfa_serial.as_str(), "arn:aws:iam::111111111111:mfa/alice");
    assert_eq!(admin.external_id.as_deref(), Some("ext-1"));
    assert_eq!(admin.role_session_name.as_deref(), Some("alice"));
    assert_eq!(admin.region.as_deref(), Some("eu-west-1"), "inherited from the source");
    let dev = p.role("via-legacy").unwrap();
    assert_eq!(dev.mfa_serial.as_str(), "arn:aws:iam::111111111111:mfa/other", "the role's own serial wins");
    assert_eq!(dev.region.as_deref(), Some("us-west-2"));
}

#[test]
fn misconfigurations_are_per_profile() {
    let p = resolve();
    assert!(problem(&p, "loop-a").contains("loop: loop-a -> loop-b -> loop-a"));
    assert!(problem(&p, "loop-b").contains("loop: loop-b -> loop-a -> loop-b"));
    assert!(problem(&p, "chained").contains("itself a role"));
    assert!(problem(&p, "orphan").contains("nowhere does not exist"));
    assert!(problem(&p, "nosource").contains("without source_profile"));
    assert!(problem(&p, "from-plain").contains("rename that section to [plain-long-term]"));
    assert!(problem(&p, "badduration").contains("15m to 12h"));
    assert!(problem(&p, "nokeys").contains("[nokeys-long-term] in the credentials file has no aws_secret_access_key"));
    assert!(p.session("nokeys").is_none());
    assert!(problem(&p, "nomfa").contains("add [nomfa-long-term]"));
    // botocore reads `3600  # one hour` as the value; so does mfa-tray, and says why it fails.
    assert!(problem(&p, "commented").contains("\"3600  # one hour\" is not a whole number of seconds (the AWS tools have no comments after a value"));
    // An empty mfa_serial is no serial; without long-term keys it is not a session profile.
    assert!(p.problem("noserial").is_none() && p.session("noserial").is_none());
    assert!(p.problem("plain-config").is_none() && p.problem("plain").is_none());
    // The good ones are still there.
    assert!(p.role("prod-admin").is_some() && p.session("corp").is_some());
}

#[test]
fn long_term_keys_in_place_get_a_rename_hint() {
    let config = Document::parse(b"[default]\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\n").unwrap();
    let creds = Document::parse(b"[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n").unwrap();
    let p = Profiles::resolve(&config, &creds, "-long-term");
    assert!(problem(&p, "default").contains("rename that section to [default-long-term]"));
}

#[test]
fn custom_suffix_and_missing_files() {
    let creds = Document::parse(b"[me-keys]\naws_access_key_id = A\naws_secret_access_key = s\naws_mfa_device = GAHT12345678\n").unwrap();
    let p = Profiles::resolve(&Document::default(), &creds, "-keys");
    assert_eq!(p.session("me").unwrap().mfa_serial.as_str(), "GAHT12345678");
    let empty = Profiles::resolve(&Document::default(), &Document::default(), "-long-term");
    assert_eq!(empty, Profiles::default());
}

#[test]
fn profile_headers_split_like_a_shell_as_in_botocore() {
    let config = Document::parse(
        b"[profile \"corp\"]\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\n\
          [profile   prod-admin]\nrole_arn = arn:aws:iam::222222222222:role/Admin\nsource_profile = corp\n\
          [profile 'two words']\nregion = x\n[profile a b]\nregion = y\n[profile \"open]\nregion = z\n\
          [profilex other]\nregion = w\n[ profile spaced]\nregion = v\n",
    )
    .unwrap();
    let creds = Document::parse(b"[corp-long-term]\naws_access_key_id = A\naws_secret_access_key = s\n").unwrap();
    let names: Vec<String> = config_profiles(&config).into_iter().map(|(n, _)| n).collect();
    // botocore does not check the first word, so `[profilex other]` is profile `other`.
    assert_eq!(names, ["corp", "prod-admin", "two words", "other"]);
    let p = Profiles::resolve(&config, &creds, "-long-term");
    assert_eq!(p.session("corp").unwrap().mfa_serial.as_str(), "arn:aws:iam::111111111111:mfa/alice");
    assert_eq!(p.role("prod-admin").unwrap().source, "corp");
}

#[test]
fn the_later_of_two_sections_for_one_profile_wins_and_credentials_override() {
    let config = Document::parse(b"[profile corp]\nregion = a\n[default]\nregion = d1\n[profile \"corp\"]\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\n[profile default]\nregion = d2\n").unwrap();
    let creds = Document::parse(b"[corp-long-term]\naws_access_key_id = A\naws_secret_access_key = s\n[corp]\nregion = from-creds\n").unwrap();
    assert_eq!(profile_value(&config, &creds, "default", "region").as_deref(), Some("d2"));
    // [profile corp] is replaced by [profile "corp"], which has no region of its own;
    // botocore merges the credentials file's [corp] over it.
    assert_eq!(profile_value(&config, &creds, "corp", "region").as_deref(), Some("from-creds"));
    let p = Profiles::resolve(&config, &creds, "-long-term");
    assert_eq!(p.session("corp").unwrap().region.as_deref(), Some("from-creds"));
}

#[test]
fn shlex() {
    let split = |s: &str| shlex_split(s);
    assert_eq!(split("profile corp"), Some(vec!["profile".into(), "corp".into()]));
    assert_eq!(split("  profile\t \"a b\"  "), Some(vec!["profile".into(), "a b".into()]));
    assert_eq!(split("pro'file x'"), Some(vec!["profile x".into()]));
    assert_eq!(split(r#"a "b\"c\d" e\ f"#), Some(vec!["a".into(), r#"b"c\d"#.into(), "e f".into()]));
    assert_eq!(split("profile \"\""), Some(vec!["profile".into(), "".into()]));
    assert_eq!(split("'it''s'"), Some(vec!["its".into()]));
    assert_eq!(split("profile \"open"), None);
    assert_eq!(split("trailing\\"), None);
    assert_eq!(split(""), Some(vec![]));
}

#[test]
fn roles_tools_fetch_keep_their_arn_under_mfa_trays_key() {
    let creds = Document::parse(CREDS.as_bytes()).unwrap();
    let config = "[profile corp]\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\n\n\
        [profile ci]\ncredential_process = mfa-tray credential-process ci\nmfa_tray_role_arn = arn:aws:iam::222222222222:role/CI\nsource_profile = corp\n\n\
        [profile both]\nrole_arn = arn:aws:iam::222222222222:role/A\nmfa_tray_role_arn = arn:aws:iam::222222222222:role/A\nsource_profile = corp\n";
    let p = Profiles::resolve(&Document::parse(config.as_bytes()).unwrap(), &creds, "-long-term");
    let ci = p.role("ci").unwrap();
    assert!(ci.on_demand);
    assert_eq!(ci.role_arn.as_str(), "arn:aws:iam::222222222222:role/CI");
    assert_eq!(ci.source, "corp");
    assert!(!resolve().role("prod-admin").unwrap().on_demand);
    // Never an MFA session, and not both keys at once (botocore would take role_arn).
    assert!(p.session("ci").is_none());
    assert!(problem(&p, "both").starts_with("both role_arn and mfa_tray_role_arn"), "{}", problem(&p, "both"));
}
