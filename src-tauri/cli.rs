//! The headless shell: parses arguments, calls the engine, prints for people (or JSON),
//! and maps errors to documented exit codes. No INI or STS in here.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mfa_tray_core::env::{OsEnvironment, SystemClock};
use mfa_tray_core::status::{State, Status};
use mfa_tray_core::types::{human_duration, parse_duration, MfaCode};
use mfa_tray_core::{Engine, Error, ErrorKind, RefreshItem, Strategy};
use time::{OffsetDateTime, UtcOffset};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  unexpected internal error
  2  bad input: usage, MFA code format, unknown or misconfigured profile, duration out of range
  3  AWS refused: wrong or reused code, access denied, expired token, invalid keys
  4  local file problem: unreadable, malformed, read-only, locked, or a section mfa-tray will not overwrite
  5  network failure, or AWS throttling/unavailable (try again)
On any error, no file is changed.";

const SETUP: &str = "\
Set-up (your existing AWS files; nothing new to learn):
  ~/.aws/credentials   [corp-long-term]  aws_access_key_id, aws_secret_access_key
  ~/.aws/config        [profile corp]    mfa_serial = arn:aws:iam::111111111111:mfa/alice
                       [profile admin]   role_arn = ..., source_profile = corp
Then: `mfa-tray login corp --code 123456` writes [corp]; `mfa-tray assume admin` writes [default].";

/// Type your AWS MFA code once; mfa-tray keeps temporary credentials in ~/.aws/credentials.
#[derive(Debug, Parser)]
#[command(name = "mfa-tray", version, about, arg_required_else_help = true, after_help = SETUP, after_long_help = format!("{SETUP}\n\n{EXIT_CODES}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show every MFA session and role profile: state, time left, and the active role
    #[command(after_help = "States: valid, expiring (within the warning lead time), expired, absent.")]
    Status {
        /// Print the stable JSON document instead (see README, "status --json")
        #[arg(long)]
        json: bool,
    },
    /// Start an MFA session: GetSessionToken with your code, written to [PROFILE]
    #[command(after_help = "Without --code, the code is asked for on the terminal (or read from standard input).")]
    Login {
        /// An MFA session profile (it has mfa_serial and keys in [PROFILE-long-term])
        profile: String,
        /// The 6-digit code from your authenticator ("123 456" is fine)
        #[arg(long, short, value_parser = parse_code)]
        code: Option<MfaCode>,
        /// Session length: seconds, or like 90m or 12h (AWS allows 15m to 36h; default 12h)
        #[arg(long, short, value_parser = parse_duration_arg)]
        duration: Option<Duration>,
    },
    /// Assume a role and make it the active one (through the MFA session when it can)
    #[command(after_help = "Through a valid MFA session no code is needed (AWS caps such role sessions at 1 hour).\nWithout one, or for longer durations, AssumeRole is called with your MFA code.")]
    Assume {
        /// A role profile (it has role_arn and source_profile)
        role: String,
        /// The 6-digit code, used only if the MFA session cannot serve
        #[arg(long, short, value_parser = parse_code)]
        code: Option<MfaCode>,
        /// Role session length: seconds, or like 90m or 12h (AWS allows 15m to 12h)
        #[arg(long, short, value_parser = parse_duration_arg)]
        duration: Option<Duration>,
        /// The credentials-file profile to write (default: the target profile, "default")
        #[arg(long)]
        to: Option<String>,
    },
    /// Re-assume role credentials near expiry, through still-valid MFA sessions; asks for nothing
    Refresh {
        /// Re-assume every managed role now, however long it has left
        #[arg(long)]
        force: bool,
    },
    /// Show who a profile's credentials belong to (STS GetCallerIdentity)
    Whoami {
        /// The profile to use (default: $AWS_PROFILE, else the target profile)
        #[arg(long, short)]
        profile: Option<String>,
        /// Print JSON instead
        #[arg(long)]
        json: bool,
    },
    /// List the S3 buckets a profile's credentials can see (S3 ListBuckets)
    Buckets {
        /// The profile to use (default: $AWS_PROFILE, else the target profile)
        #[arg(long, short)]
        profile: Option<String>,
        /// Print JSON instead
        #[arg(long)]
        json: bool,
    },
}

fn parse_code(s: &str) -> Result<MfaCode, String> {
    s.parse().map_err(|e: mfa_tray_core::types::ValueError| e.to_string())
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Runs the command line and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    // Read the local offset while the process has one thread (the `time` crate's rule).
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are successes; usage errors are bad input.
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mfa-tray: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let out = Printer { offset };
    match runtime.block_on(execute(cli.command, &out)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mfa-tray: {}", e.message);
            ExitCode::from(exit_code(e.kind))
        }
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::BadInput => 2,
        ErrorKind::AwsRefused => 3,
        ErrorKind::LocalFile => 4,
        ErrorKind::Network => 5,
    }
}

async fn execute(command: Command, out: &Printer) -> Result<ExitCode, Error> {
    let engine = Engine::new(Arc::new(OsEnvironment), Arc::new(SystemClock))?;
    match command {
        Command::Status { json } => {
            let status = engine.status()?;
            if json {
                print_json(&status);
            } else {
                out.status(&status);
            }
        }
        Command::Login { profile, code, duration } => {
            let code = match code {
                Some(c) => c,
                None => {
                    let serial = engine.snapshot()?.profiles.session(&profile).map(|p| p.mfa_serial.to_string());
                    ask_code(&profile, serial.as_deref().unwrap_or("your MFA device"))?
                }
            };
            let done = engine.login(&profile, &code, duration).await?;
            println!("Logged in {}: MFA session valid for {}.", done.profile, out.until(done.expires));
            println!("Wrote [{}] in {}.", done.profile, engine.files.credentials.display());
        }
        Command::Assume { role, code, duration, to } => {
            let mut code = code;
            let plan = engine.plan(&engine.snapshot()?, &role, duration, code.is_some())?;
            if plan.strategy == Strategy::WithMfa && code.is_none() {
                eprintln!("Assuming {role} {}.", plan.reason);
                code = Some(ask_code(&role, plan.mfa_serial.as_str())?);
            }
            let done = engine.assume(&role, code.as_ref(), duration, to.as_deref()).await?;
            println!("Assumed {} {}.", done.role, done.plan.reason);
            let active = if done.active { format!(": {} is now the active role", done.role) } else { String::new() };
            println!("Role credentials valid for {}, written to [{}]{active}.", out.until(done.expires), done.section);
        }
        Command::Refresh { force } => return Ok(out.refresh(&engine.refresh(force).await?)),
        Command::Whoami { profile, json } => {
            let (section, id) = engine.whoami(profile.as_deref()).await?;
            if json {
                print_json(&serde_json::json!({ "profile": section, "account": id.account, "arn": id.arn, "user_id": id.user_id }));
            } else {
                println!("[{section}] is\n  Account  {}\n  ARN      {}\n  UserId   {}", id.account, id.arn, id.user_id);
            }
        }
        Command::Buckets { profile, json } => {
            let (section, buckets) = engine.buckets(profile.as_deref()).await?;
            if json {
                print_json(&serde_json::json!({ "profile": section, "buckets": buckets }));
            } else if buckets.is_empty() {
                println!("[{section}] can list buckets, and sees none.");
            } else {
                println!("S3 buckets visible to [{section}] ({}):", buckets.len());
                let width = buckets.iter().map(|b| b.name.len()).max().unwrap_or(0);
                for b in &buckets {
                    println!("  {:width$}  {}", b.name, b.created.as_deref().map(|c| format!("created {c}")).unwrap_or_default());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("mfa-tray: cannot format JSON: {e}"),
    }
}

/// Asks for a code on the terminal, or reads a line from a pipe.
fn ask_code(profile: &str, serial: &str) -> Result<MfaCode, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("MFA code for {profile} ({serial}): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Error::bad_input("code_required", format!("cannot read the MFA code: {e}")))?;
    if line.trim().is_empty() {
        return Err(Error::bad_input("code_required", format!("{profile} needs an MFA code: pass --code 123456 (from the device {serial})")));
    }
    line.parse().map_err(|e: mfa_tray_core::types::ValueError| Error::bad_input("bad_code", e.to_string()))
}

/// Formats for people, in the local time zone.
struct Printer {
    offset: UtcOffset,
}

impl Printer {
    fn when(&self, t: OffsetDateTime) -> String {
        let local = t.to_offset(self.offset);
        let zone = if self.offset == UtcOffset::UTC {
            "UTC".to_owned()
        } else {
            let (h, m, _) = self.offset.as_hms();
            format!("{h:+03}:{:02}", m.abs())
        };
        format!("{:04}-{:02}-{:02} {:02}:{:02} {zone}", local.year(), local.month() as u8, local.day(), local.hour(), local.minute())
    }

    fn until(&self, t: OffsetDateTime) -> String {
        let left = (t - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
        format!("{} (until {})", human_duration(Duration::from_secs(left.whole_seconds() as u64)), self.when(t))
    }

    fn state_line(&self, state: State, seconds_left: Option<u64>, expires: Option<&str>) -> String {
        let expires = expires.and_then(mfa_tray_core::credentials::parse_time);
        match (state, seconds_left, expires) {
            (State::Valid | State::Expiring, Some(s), Some(t)) => {
                format!("{:<9} {} left, until {}", label(state), human_duration(Duration::from_secs(s)), self.when(t))
            }
            (State::Expired, _, Some(t)) => format!("{:<9} since {}", label(state), self.when(t)),
            _ => label(state).to_owned(),
        }
    }

    fn status(&self, s: &Status) {
        println!("Credentials file: {}", s.credentials_file);
        if s.sessions.is_empty() && s.roles.is_empty() && s.problems.is_empty() {
            println!("\nNo MFA session or role profiles yet.\n\n{SETUP}");
            return;
        }
        let width = s.sessions.iter().map(|p| p.name.len()).chain(s.roles.iter().map(|r| r.name.len())).max().unwrap_or(0);
        if !s.sessions.is_empty() {
            println!("\nMFA sessions");
            for p in &s.sessions {
                println!("  {:width$}  {}", p.name, self.state_line(p.state, p.seconds_left, p.expires_at.as_deref()));
            }
        }
        if !s.roles.is_empty() {
            println!("\nRoles (* = active in [{}])", s.target);
            for r in &s.roles {
                let mark = if r.active { '*' } else { ' ' };
                let held = if r.sections.is_empty() { String::new() } else { format!(", in [{}]", r.sections.join("], [")) };
                println!("{mark} {:width$}  {}  (from {}{held})", r.name, self.state_line(r.state, r.seconds_left, r.expires_at.as_deref()), r.source);
            }
        }
        if !s.problems.is_empty() {
            println!("\nProblems");
            for p in &s.problems {
                println!("  {}: {}", p.profile, p.message);
            }
        }
    }

    fn refresh(&self, items: &[RefreshItem]) -> ExitCode {
        if items.is_empty() {
            println!("Nothing to refresh: mfa-tray has not written any role credentials yet (see `mfa-tray assume --help`).");
            return ExitCode::SUCCESS;
        }
        let mut worst = None;
        for item in items {
            match item {
                RefreshItem::Refreshed { section, role, expires } => println!("refreshed    {role} in [{section}]: valid for {}", self.until(*expires)),
                RefreshItem::Fresh { section, role, expires } => println!("still fresh  {role} in [{section}]: valid for {}", self.until(*expires)),
                RefreshItem::NeedsLogin { section, role, session } => {
                    println!("needs login  {role} in [{section}]: the MFA session of {session} is not valid; run `mfa-tray login {session}`")
                }
                RefreshItem::Superseded { section, role } => {
                    println!("kept newer   {role} in [{section}]: the section changed while the role was re-assumed; the newer contents stay")
                }
                RefreshItem::Failed { section, role, error } => {
                    eprintln!("failed       {role} in [{section}]: {}", error.message);
                    worst = worst.max(Some(exit_code(error.kind)));
                }
            }
        }
        worst.map_or(ExitCode::SUCCESS, ExitCode::from)
    }
}

fn label(state: State) -> &'static str {
    match state {
        State::Valid => "valid",
        State::Expiring => "expiring",
        State::Expired => "expired",
        State::Absent => "absent",
    }
}
