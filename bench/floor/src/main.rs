//! The least a program can do for "code typed → credentials file written": one
//! GetSessionToken call with the AWS SDK for Rust, and the result appended to a file.
//! No config parsing, no lock, no atomic rename, no fsync. bench/login.sh compares
//! `mfa-tray login` against this.
//!
//! Usage: mfa-tray-floor <credentials-file> <access-key-id> <secret> <serial> <code>
//! (endpoint from AWS_ENDPOINT_URL, region from AWS_REGION or us-east-1).

use std::io::Write;

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, key, secret, serial, code] = args.as_slice() else {
        eprintln!("usage: mfa-tray-floor <file> <access-key-id> <secret> <serial> <code>");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())))
        .credentials_provider(Credentials::new(key, secret, None, None, "floor"));
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        conf = conf.endpoint_url(url);
    }
    let client = aws_sdk_sts::Client::from_conf(conf.build());
    let out = rt
        .block_on(client.get_session_token().serial_number(serial).token_code(code).duration_seconds(43200).send())
        .expect("GetSessionToken");
    let c = out.credentials().expect("credentials");
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).expect("open");
    write!(
        f,
        "\n[corp]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token()
    )
    .expect("write");
}
