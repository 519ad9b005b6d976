//! The command line (the `mfa-tray` program; not the tray's, and linking nothing of
//! it): parses arguments, calls the engine, prints for people (or JSON), and maps
//! errors to documented exit codes. No INI or STS in here.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mfa_tray_core::env::{OsEnvironment, SystemClock};
use mfa_tray_core::status::{State, Status};
use mfa_tray_core::types::{human_duration, parse_duration, MfaCode};
use mfa_tray_core::credentials::LongTermKeys;
use mfa_tray_core::engine::NewRole;
use mfa_tray_core::profiles::KeyStore;
use mfa_tray_core::secret::Secret;
use mfa_tray_core::types::MfaSerial;
use mfa_tray_core::sso::{Flow, Prompt};
use mfa_tray_core::{Engine, Error, ErrorKind, RefreshItem, Strategy};
use time::{OffsetDateTime, UtcOffset};

const ABOUT: &str = "Type your AWS MFA code once; mfa-tray keeps temporary credentials in ~/.aws/credentials.
`mfa-tray` alone starts the tray (it needs a desktop session); the commands below work anywhere.";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  unexpected internal error
  2  bad input: usage, MFA code format, unknown or misconfigured profile, duration out of range
  3  AWS refused: wrong or reused code, access denied, expired token, invalid keys
  4  local file or keychain problem: unreadable, malformed, read-only, locked, a section mfa-tray
     will not overwrite, or no OS keychain
  5  network failure, or AWS throttling/unavailable (try again)
  6  no graphical session: `mfa-tray` alone (the tray) needs a desktop; the subcommands do not
On any error, nothing is changed (for `keys`, the message says what was done before a
later step failed).";

const SETUP: &str = "\
Set-up:
  mfa-tray keys add corp    stores your IAM user's keys in the OS keychain, finds its MFA device
  mfa-tray role add admin --arn arn:aws:iam::111111111111:role/Admin --source corp
Then `mfa-tray login corp` starts the MFA session in [corp]; `mfa-tray assume admin` writes [default].
Keys already in [corp-long-term] of ~/.aws/credentials work as they are
(`mfa-tray keys import corp` moves them to the keychain).";

/// The command line of mfa-tray.
#[derive(Debug, Parser)]
#[command(name = "mfa-tray", version, about = ABOUT, arg_required_else_help = true, after_help = SETUP, after_long_help = format!("{SETUP}\n\n{EXIT_CODES}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// On failure, also print what the layer below said (the AWS SDK's causes)
    #[arg(long, global = true)]
    verbose: bool,
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
    #[command(after_help = "Without --code, the code comes from the profile's mfa_process (a command that prints it), else it is\nasked for on the terminal (or read from standard input).")]
    Login {
        #[command(flatten)]
        profile: Named,
        /// The 6-digit code from your authenticator, here or as --code ("123 456" is fine)
        #[arg(value_name = "CODE")]
        code_here: Option<String>,
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
        #[command(flatten)]
        role: Named,
        /// The 6-digit code, here or as --code
        #[arg(value_name = "CODE")]
        code_here: Option<String>,
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
    /// End an account's MFA session here: the [PROFILE] mfa-tray wrote, and the one kept for tools in the keychain
    #[command(after_help = "Roles assumed through the session keep working until they expire; `mfa-tray login PROFILE` starts a new one.")]
    Logout {
        #[command(flatten)]
        profile: Named,
    },
    /// Re-assume role credentials near expiry, through still-valid MFA sessions; asks for nothing
    Refresh {
        /// Re-assume every managed role now, however long it has left
        #[arg(long)]
        force: bool,
    },
    /// Show who a profile's credentials belong to (STS GetCallerIdentity)
    Whoami {
        #[command(flatten)]
        profile: Chosen,
        /// Print JSON instead
        #[arg(long)]
        json: bool,
    },
    /// Add an account, or move, rotate or remove its long-term keys (kept in the OS keychain)
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Add a role profile to ~/.aws/config
    #[command(subcommand)]
    Role(RoleCommand),
    /// IAM Identity Center: add a session, sign in (in the browser), turn every account and role into a profile, sign out
    #[command(subcommand)]
    Sso(SsoCommand),
    /// Open the AWS console signed in as a role (or print the sign-in link)
    #[command(after_help = "Uses the role's credentials in ~/.aws/credentials if they have 15 minutes left, else assumes the role in memory (nothing is written): through the MFA session for at most 1 hour, or with --code for the role's full duration. MFA session profiles cannot open the console (AWS refuses their credentials). The link signs in for 15 minutes: treat it like a password.")]
    Console {
        #[command(flatten)]
        role: Named,
        /// Print the sign-in link instead of opening the browser
        #[arg(long)]
        print: bool,
        /// The console's region (default: the role's)
        #[arg(long)]
        region: Option<String>,
        /// A console page to open, like s3/home or ec2/home
        #[arg(long)]
        destination: Option<String>,
        /// An MFA code: assume the role directly, for its full duration
        #[arg(long, short, value_parser = parse_code)]
        code: Option<MfaCode>,
    },
    /// Print credentials for a tool, as AWS's credential_process asks (JSON on stdout)
    #[command(after_help = CREDENTIAL_PROCESS_HELP)]
    CredentialProcess {
        #[command(flatten)]
        profile: Named,
    },
    /// Run a command with a profile's credentials in its environment (nothing is written)
    #[command(after_help = EXEC_HELP)]
    Exec {
        #[command(flatten)]
        profile: Named,
        /// The region the command uses (default: the profile's)
        #[arg(long)]
        region: Option<String>,
        /// Run inside another `mfa-tray exec` too (its credentials are replaced)
        #[arg(long)]
        nested: bool,
        /// No credentials in the environment: a local endpoint the SDKs ask for fresh ones
        /// (AWS_CONTAINER_CREDENTIALS_FULL_URI), served while the command runs
        #[arg(long)]
        server: bool,
        /// The command and its arguments, after --
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Print a profile's credentials for a shell or a tool, like `aws configure export-credentials`
    #[command(after_help = "eval \"$(mfa-tray export prod)\" sets them in a POSIX shell; in PowerShell,\nmfa-tray export prod --format powershell | Invoke-Expression. They come as credential_process gets them\n(from the tray when it runs) and are written nowhere: treat what this prints like a password.")]
    Export {
        #[command(flatten)]
        profile: Named,
        /// How to print them
        #[arg(long, value_enum, default_value = "env")]
        format: crate::exec::Format,
    },
    /// List the S3 buckets a profile's credentials can see (S3 ListBuckets)
    Buckets {
        #[command(flatten)]
        profile: Chosen,
        /// Print JSON instead
        #[arg(long)]
        json: bool,
    },
}

/// The profile a command acts on, as people type it: `login corp` or `login --profile corp`.
#[derive(Debug, clap::Args)]
struct Named {
    /// The profile (or --profile PROFILE)
    #[arg(value_name = "PROFILE", required_unless_present = "profile_flag")]
    name: Option<String>,
    /// The profile, as other AWS tools take it
    #[arg(long = "profile", short = 'p', id = "profile_flag", value_name = "PROFILE")]
    flag: Option<String>,
}

/// A profile that may be left out: `whoami corp`, `whoami --profile corp` or `whoami`.
#[derive(Debug, clap::Args)]
struct Chosen {
    /// The profile to use, here or as --profile (default: $AWS_PROFILE, else the target profile)
    #[arg(value_name = "PROFILE")]
    name: Option<String>,
    /// The profile to use
    #[arg(long = "profile", short = 'p', id = "profile_flag", value_name = "PROFILE")]
    flag: Option<String>,
}

impl Named {
    /// The one profile named; `extra` is what stands where the profile would when it
    /// was given with --profile too (a code, for `login`).
    fn resolve(self) -> Result<(String, Option<String>), Error> {
        match (self.name, self.flag) {
            (Some(name), None) | (None, Some(name)) => Ok((name, None)),
            (Some(extra), Some(name)) => Ok((name, Some(extra))),
            (None, None) => Err(Error::bad_input("usage", "name a profile: `mfa-tray COMMAND PROFILE` (or --profile PROFILE)")),
        }
    }

    fn one(self) -> Result<String, Error> {
        match self.resolve()? {
            (name, None) => Ok(name),
            (name, Some(other)) => Err(twice(&name, &other)),
        }
    }
}

impl Chosen {
    fn one(self) -> Result<Option<String>, Error> {
        match (self.name, self.flag) {
            (Some(a), Some(b)) if a != b => Err(twice(&b, &a)),
            (a, b) => Ok(a.or(b)),
        }
    }
}

fn twice(flag: &str, positional: &str) -> Error {
    Error::bad_input("usage", format!("two profiles given ({positional}, and --profile {flag}): name one"))
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add an IAM user: its keys checked with AWS, stored, and [profile NAME] written with its MFA device
    #[command(after_help = "The access key id and the secret are asked for on the terminal (the secret is not shown),\nor read from standard input as two lines, the access key id first. Never pass them as arguments.")]
    Add {
        /// The account's profile name (the MFA session is written to [NAME])
        name: String,
        /// The MFA device's ARN; by default the user's device, found with IAM ListMFADevices
        #[arg(long)]
        mfa_serial: Option<String>,
        /// The account's region (written to [profile NAME])
        #[arg(long)]
        region: Option<String>,
        /// Where the keys go: the OS keychain, or [NAME-long-term] in ~/.aws/credentials
        #[arg(long, value_enum, default_value = "keychain")]
        store: StoreArg,
        /// Log in right away with this code (on a terminal, it is asked for otherwise)
        #[arg(long, short, value_parser = parse_code)]
        code: Option<MfaCode>,
    },
    /// Move the keys in [NAME-long-term] of ~/.aws/credentials into the OS keychain
    Import {
        /// The account
        name: String,
    },
    /// Move an account's keys from the OS keychain back into [NAME-long-term]
    Export {
        /// The account
        name: String,
        /// Write them to ~/.aws/credentials (the only place they can go)
        #[arg(long, required = true)]
        to_file: bool,
    },
    /// Replace an account's access key: IAM CreateAccessKey, check, store, DeleteAccessKey of the old one
    Rotate {
        /// The account
        name: String,
        /// Do not ask for confirmation (needed when not on a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Remove an account's keys from the OS keychain (for good: export them first to keep them)
    Remove {
        /// The account
        name: String,
        /// Do not ask for confirmation (needed when not on a terminal)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SsoCommand {
    /// Write [sso-session NAME] into ~/.aws/config (start URL, region, refreshable scope)
    #[command(after_help = "Then `mfa-tray sso login NAME` signs in, and `mfa-tray sso sync NAME` adds a profile for every account and role.")]
    Add {
        /// The session's name
        name: String,
        /// Your AWS access portal, like https://my-company.awsapps.com/start
        #[arg(long)]
        start_url: String,
        /// The region Identity Center runs in, like eu-west-1
        #[arg(long)]
        region: String,
    },
    /// Sign in: in the browser (PKCE), or with a code on any device (--device-code)
    #[command(after_help = "The token goes to ~/.aws/sso/cache, where the AWS CLI, boto3 and every SDK find it: they use the\nsession's profiles without `aws sso login`. It renews itself with its refresh token.")]
    Login {
        /// The session (or a profile of it)
        name: String,
        /// Print a link and a code to enter on any device, instead of opening the browser here (remote machines, WSL)
        #[arg(long)]
        device_code: bool,
    },
    /// Add a profile for every account and role the session may use (ACCOUNT-ROLE); run again to update
    Sync {
        /// The session
        name: String,
        /// Also remove the profiles an earlier sync wrote whose role is gone (never your own profiles)
        #[arg(long)]
        prune: bool,
    },
    /// Sign out: the portal's Logout, and the token removed from ~/.aws/sso/cache
    Logout {
        /// The session (or a profile of it)
        name: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StoreArg {
    Keychain,
    File,
}

#[derive(Debug, Subcommand)]
enum RoleCommand {
    /// Write a role profile [profile NAME] into ~/.aws/config
    Add {
        /// The role profile's name
        name: String,
        /// The role's ARN
        #[arg(long)]
        arn: String,
        /// The account (MFA session profile) that assumes it
        #[arg(long)]
        source: String,
        /// ExternalId, if the role's trust policy asks for one
        #[arg(long)]
        external_id: Option<String>,
        /// Role session length: seconds, or like 90m or 12h
        #[arg(long, value_parser = parse_duration_arg)]
        duration: Option<Duration>,
        /// RoleSessionName (default: mfa-tray)
        #[arg(long)]
        session_name: Option<String>,
        /// Tools fetch it with credential_process (kept in the tray's memory, never written to ~/.aws/credentials)
        #[arg(long)]
        credential_process: bool,
    },
}

const EXEC_HELP: &str = "\
  mfa-tray exec prod -- aws s3 ls
  mfa-tray exec prod -- terraform plan
The command gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_CREDENTIAL_EXPIRATION and the region (AWS_REGION, AWS_DEFAULT_REGION); AWS_PROFILE and
the other variables that would pick other credentials are removed. They come as
credential_process gets them (from the tray when it runs, which asks for a code in its
window if one is needed) and are written nowhere. The command's exit status is exec's;
a command that cannot be run exits 127 (not found) or 126, as a shell does.";

const CREDENTIAL_PROCESS_HELP: &str = "\
Use it from ~/.aws/config (`mfa-tray role add NAME --credential-process` writes this):
  [profile prod-admin]
  credential_process = mfa-tray credential-process prod-admin
  mfa_tray_role_arn = arn:aws:iam::222222222222:role/Admin
  source_profile = corp
The role's ARN is under mfa_tray_role_arn: botocore assumes a profile with role_arn by itself
and would never run credential_process.

Credentials always have 15 minutes left; they are never written to ~/.aws/credentials.
With the tray running, the tray answers: from its memory, through an MFA session, or by
opening its code window (the tool waits until the code is typed; MFA_TRAY_ASK_TIMEOUT,
default 180 seconds). Without the tray, the code comes from the profile's mfa_process or is
asked for on the terminal (/dev/tty).";

fn parse_code(s: &str) -> Result<MfaCode, String> {
    s.parse().map_err(|e: mfa_tray_core::types::ValueError| e.to_string())
}

/// The code given as `--code` or where people put it (`login corp 123456`), if any.
fn code_given(flag: Option<MfaCode>, here: Option<String>, extra: Option<String>) -> Result<Option<MfaCode>, Error> {
    let here = match (here, extra) {
        // `assume a --profile b 123456`: two profiles.
        (Some(_), Some(profile)) => return Err(Error::bad_input("usage", format!("two profiles given ({profile}, and another with --profile): name one"))),
        (here, extra) => here.or(extra),
    };
    match (flag, here) {
        (Some(_), Some(_)) => Err(Error::bad_input("usage", "two codes given: give one, as --code 123456")),
        (flag, None) => Ok(flag),
        (None, Some(text)) => text.parse().map(Some).map_err(|e: mfa_tray_core::types::ValueError| Error::bad_input("bad_code", format!("{e} (the code goes after the profile, or as --code 123456)"))),
    }
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
    let json = cli.command.json();
    match runtime.block_on(execute(cli.command, &out)) {
        Ok(code) => code,
        Err(e) => {
            report(&e, json, cli.verbose);
            ExitCode::from(exit_code(e.kind))
        }
    }
}

/// A failure, for people: one line on stderr (and the detail under it with
/// `--verbose`); for `--json`, the error as JSON on stdout, where the answer would be.
fn report(e: &Error, json: bool, verbose: bool) {
    if json {
        let detail = if verbose { e.detail.as_deref() } else { None };
        print_json(&serde_json::json!({ "error": { "kind": e.kind, "code": e.code, "exit_code": exit_code(e.kind), "message": e.message, "detail": detail } }));
    }
    eprintln!("mfa-tray: {}", e.message);
    if let (Some(detail), true) = (&e.detail, verbose) {
        eprintln!("  detail: {detail}");
    }
}

impl Command {
    /// Whether the command was asked for JSON.
    fn json(&self) -> bool {
        matches!(self, Command::Status { json: true } | Command::Whoami { json: true, .. } | Command::Buckets { json: true, .. })
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
            let tray = running_tray();
            if json {
                let mut value = serde_json::to_value(&status).map_err(|e| Error::new(ErrorKind::LocalFile, "json", e.to_string()))?;
                value["tray"] = serde_json::json!(tray);
                print_json(&value);
            } else {
                out.status(&status, tray.as_deref());
            }
        }
        Command::Login { profile, code_here, code, duration } => {
            let (profile, extra) = profile.resolve()?;
            let code = code_given(code, code_here, extra)?;
            // The profile is checked before anyone is asked for a code.
            let snap = engine.snapshot()?;
            let p = snap.session_profile(&profile)?;
            let code = match (code, p.mfa_process.as_deref()) {
                (Some(c), _) => c,
                (None, Some(command)) => code_from(&engine, &profile, command)?,
                (None, None) => ask_code(&profile, p.mfa_serial.as_str())?,
            };
            let done = engine.login(&profile, &code, duration).await?;
            println!("Logged in {}: MFA session valid for {}.", done.profile, out.until(done.expires));
            println!("Wrote [{}] in {}.", done.profile, engine.files.credentials.display());
        }
        Command::Assume { role, code_here, code, duration, to } => {
            let (role, extra) = role.resolve()?;
            let mut code = code_given(code, code_here, extra)?;
            let snap = engine.snapshot()?;
            let plan = engine.plan(&snap, &role, duration, code.is_some())?;
            // Where it goes is checked before anyone is asked for a code.
            engine.destination(&snap, &role, to.as_deref())?;
            if plan.strategy == Strategy::WithMfa && code.is_none() {
                eprintln!("Assuming {role} {}.", plan.reason);
                let process = engine.snapshot()?.profiles.role(&role).and_then(|r| r.mfa_process.clone());
                code = Some(match process {
                    Some(command) => code_from(&engine, &role, &command)?,
                    None => ask_code(&role, plan.mfa_serial.as_ref().map_or("your MFA device", |s| s.as_str()))?,
                });
            }
            let done = engine.assume(&role, code.as_ref(), duration, to.as_deref()).await?;
            println!("Assumed {} {}.", done.role, done.plan.reason);
            let active = if done.active { format!(": {} is now the active role", done.role) } else { String::new() };
            println!("Role credentials valid for {}, written to [{}]{active}.", out.until(done.expires), done.section);
        }
        Command::Logout { profile } => {
            let profile = profile.one()?;
            let (gone, unasked) = engine.logout(&profile)?;
            if let Some(why) = unasked {
                eprintln!("mfa-tray: the keychain did not answer ({why}); an MFA session kept there for tools stays until it runs out");
            }
            if running_tray().is_some() {
                eprintln!("mfa-tray: the running tray keeps the MFA session it holds for tools until it quits (or the session runs out)");
            }
            if gone.is_empty() {
                println!("{profile} had no MFA session here: nothing to remove.");
            } else {
                println!("Logged out {profile}: removed {}.", gone.join(", and "));
            }
        }
        Command::Refresh { force } => return Ok(out.refresh(&engine.refresh(force).await?)),
        Command::Whoami { profile, json } => {
            let (section, id) = engine.whoami(profile.one()?.as_deref()).await?;
            if json {
                print_json(&serde_json::json!({ "profile": section, "account": id.account, "arn": id.arn, "user_id": id.user_id }));
            } else {
                println!("[{section}] is\n  Account  {}\n  ARN      {}\n  UserId   {}", id.account, id.arn, id.user_id);
            }
        }
        Command::Keys(command) => keys(&engine, command, out).await?,
        Command::Console { role, print, region, destination, code } => {
            let role = role.one()?;
            let link = engine.console(&role, code.as_ref(), region.as_deref(), destination.as_deref()).await?;
            if print {
                println!("{}", link.url.expose());
            } else {
                mfa_tray_core::console::open_in_browser(&OsEnvironment, &link.url).map_err(|e| Error::new(ErrorKind::LocalFile, "browser", format!("cannot open the browser ({e}); use --print and open the link yourself")))?;
            }
            let what = if print { "The link signs in" } else { "Opened the AWS console in your browser, signed in" };
            eprintln!("{what} as {role}, {}; the console session lasts {}.", link.how, out.until(link.expires));
        }
        Command::Sso(command) => sso(&engine, command, out).await?,
        Command::Role(RoleCommand::Add { name, arn, source, external_id, duration, session_name, credential_process }) => {
            let role = NewRole { name: name.clone(), arn, source, external_id, duration, session_name, credential_process };
            engine.add_role(&role)?;
            println!("Added role {name} to {}.", engine.files.config.display());
            if credential_process {
                println!("Tools using --profile {name} (AWS_PROFILE={name}) now ask mfa-tray for its credentials; they never touch ~/.aws/credentials.");
            } else {
                println!("Next: `mfa-tray assume {name}` (or pick it in the tray's menu).");
            }
        }
        Command::CredentialProcess { profile } => credential_process(&engine, &profile.one()?).await?,
        Command::Export { profile, format } => {
            let profile = profile.one()?;
            let creds = for_a_tool(&engine, &profile, &format!("mfa-tray export (pid {})", std::process::id())).await?;
            print!("{}", crate::exec::export_text(&creds, format, &profile).expose());
        }
        Command::Exec { profile, region, nested, server, command } => {
            let profile = profile.one()?;
            if let Some(outer) = std::env::var_os(crate::exec::MARKER).filter(|_| !nested) {
                return Err(Error::bad_input(
                    "nested_exec",
                    format!("this already runs inside `mfa-tray exec {}`, whose credentials the command would replace: pass --nested to do that", outer.to_string_lossy()),
                ));
            }
            if let Some(r) = &region {
                mfa_tray_core::aws::check_region(r)?;
            }
            let program = std::path::Path::new(&command[0]).file_name().map_or_else(|| command[0].to_string_lossy().into_owned(), |n| n.to_string_lossy().into_owned());
            let creds = for_a_tool(&engine, &profile, &format!("{program} (mfa-tray exec)")).await?;
            let region = region.or_else(|| engine.region_for(&profile));
            if !server {
                return Ok(crate::exec::hand_over(crate::exec::command_with(&command, &creds, region.as_deref(), &profile)));
            }
            // Fresh ones as the first came: from the tray (a code in its window when one
            // is needed), else here.
            let tool = format!("{program} (mfa-tray exec --server)");
            let asked = profile.clone();
            let fetch = move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::new(ErrorKind::LocalFile, "runtime", e.to_string()))?;
                let engine = Engine::new(Arc::new(OsEnvironment), Arc::new(SystemClock))?;
                runtime.block_on(for_a_tool(&engine, &asked, &tool))
            };
            let endpoint = mfa_tray_core::endpoint::Endpoint::start(creds, fetch).map_err(|e| Error::new(ErrorKind::LocalFile, "endpoint", format!("cannot open a credentials endpoint on 127.0.0.1: {e}")))?;
            return Ok(crate::exec::run_serving(&command, &endpoint, region.as_deref(), &profile));
        }
        Command::Buckets { profile, json } => {
            let (section, buckets) = engine.buckets(profile.one()?.as_deref()).await?;
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

async fn keys(engine: &Engine, command: KeysCommand, out: &Printer) -> Result<(), Error> {
    match command {
        KeysCommand::Add { name, mfa_serial, region, store, code } => {
            let store = match store {
                StoreArg::Keychain => KeyStore::Keychain,
                StoreArg::File => KeyStore::File,
            };
            // Every check that needs no keys comes first: the name, the keychain.
            engine.check_new_name(&engine.snapshot()?, &name, Some(store))?;
            let serial = mfa_serial.map(|s| s.parse::<MfaSerial>().map_err(|e| Error::bad_input("bad_serial", e.to_string()))).transpose()?;
            let keys = read_keys()?;
            let check = engine.check_account(&keys, region.as_deref(), serial.is_none()).await?;
            eprintln!("The keys belong to {} (account {}).", check.identity.arn, check.identity.account);
            let serial = match serial {
                Some(s) => s,
                None => choose_device(&check.devices)?,
            };
            engine.add_account(&name, &keys, &serial, region.as_deref(), store)?;
            let place = match store {
                KeyStore::Keychain => "the OS keychain".to_owned(),
                KeyStore::File => format!("[{name}{}] of {}", engine.settings.long_term_suffix, engine.files.credentials.display()),
            };
            println!("Added account {name}: keys in {place}, [{}] in {} with mfa_serial = {serial}.", profile_section(&name), engine.files.config.display());
            let code = match code {
                Some(c) => Some(c),
                None if std::io::stdin().is_terminal() => Some(ask_code(&name, serial.as_str())?),
                None => None,
            };
            match code {
                Some(code) => {
                    let done = engine.login(&name, &code, None).await.map_err(|e| {
                        Error::new(e.kind, e.code, format!("account {name} was added, but logging in failed: {}. Try again with `mfa-tray login {name}`", e.message))
                    })?;
                    println!("Logged in {name}: MFA session valid for {}.", out.until(done.expires));
                }
                None => println!("Next: `mfa-tray login {name}` with a code from {serial}."),
            }
        }
        KeysCommand::Import { name } => {
            engine.import_keys(&name)?;
            println!(
                "Moved the keys of {name} into the OS keychain and removed [{name}{}] from {}.",
                engine.settings.long_term_suffix,
                engine.files.credentials.display()
            );
            println!(
                "Until mfa-tray next writes that file, its previous version (the keys included) stays in {}; delete it if you want them off the disk now.",
                mfa_tray_core::file::backup_path(&engine.files.credentials).display()
            );
        }
        KeysCommand::Export { name, to_file: _ } => {
            let warning = engine.export_keys(&name)?;
            println!("Moved the keys of {name} from the OS keychain into [{name}{}] of {}.", engine.settings.long_term_suffix, engine.files.credentials.display());
            if let Some(w) = warning {
                eprintln!("mfa-tray: {w}");
            }
        }
        KeysCommand::Rotate { name, yes } => {
            let old = engine.rotation_key(&name)?;
            if !yes {
                confirm(&format!("Rotate the access key of {name}? The old key {old} is then deleted in IAM, and any other program using it stops working. Type the name to confirm: "), &name, "rotated")?;
            }
            let done = engine.rotate_keys(&name).await?;
            println!("Rotated the access key of {name}: {} is stored and works.", done.new_key);
            match done.old_key_left {
                None => println!("Deleted the old key {}.", done.old_key),
                Some(why) => eprintln!("The old key {} could not be deleted ({why}); delete it in the IAM console.", done.old_key),
            }
        }
        KeysCommand::Remove { name, yes } => {
            engine.check_remove_keys(&name)?;
            if !yes {
                confirm(&format!("Remove the keys of {name} from the OS keychain? They cannot be brought back (the key stays active in IAM; `mfa-tray keys export {name} --to-file` keeps a copy). Type the name to confirm: "), &name, "removed")?;
            }
            engine.remove_keys(&name)?;
            println!("Removed the keys of {name} from the OS keychain. [{}] stays in {}; `mfa-tray keys add {name}` stores new keys.", profile_section(&name), engine.files.config.display());
        }
    }
    Ok(())
}

/// Asks the user on the terminal to type `expected`; refuses without a terminal.
fn confirm(question: &str, expected: &str, done: &str) -> Result<(), Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::bad_input("needs_confirmation", "this cannot be undone: pass --yes to confirm (there is no terminal to ask on)"));
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Error::bad_input("needs_confirmation", e.to_string()))?;
    if line.trim() == expected {
        Ok(())
    } else {
        Err(Error::bad_input("needs_confirmation", format!("not confirmed; nothing was {done}")))
    }
}

fn profile_section(name: &str) -> String {
    if name == "default" { name.to_owned() } else { format!("profile {name}") }
}

/// The access key id and secret: asked for on the terminal (the secret unechoed), else
/// two lines of standard input.
fn read_keys() -> Result<LongTermKeys, Error> {
    let stdin = std::io::stdin();
    let bad = |e: std::io::Error| Error::bad_input("bad_keys", format!("cannot read the keys: {e}"));
    let (id, secret) = if stdin.is_terminal() {
        eprint!("Access key id (AKIA...): ");
        let _ = std::io::stderr().flush();
        let mut id = String::new();
        stdin.lock().read_line(&mut id).map_err(bad)?;
        let secret = rpassword::prompt_password("Secret access key (not shown): ").map_err(bad)?;
        (id, Secret::new(secret))
    } else {
        let mut lines = stdin.lock().lines();
        let id = lines.next().transpose().map_err(bad)?.unwrap_or_default();
        let secret = Secret::new(lines.next().transpose().map_err(bad)?.unwrap_or_default());
        (id, secret)
    };
    let secret = Secret::new(secret.expose().trim());
    let keys = LongTermKeys { access_key_id: id.trim().to_owned(), secret_access_key: secret };
    if keys.access_key_id.is_empty() || keys.secret_access_key.is_empty() {
        return Err(Error::bad_input("bad_keys", "give the access key id and the secret access key: on the terminal, or as two lines on standard input"));
    }
    Ok(keys)
}

/// The device to use: the only one, or the one the user picks on the terminal.
fn choose_device(devices: &Result<Vec<String>, String>) -> Result<MfaSerial, Error> {
    let parse = |s: &str| s.parse::<MfaSerial>().map_err(|e| Error::bad_input("bad_serial", e.to_string()));
    match devices {
        Err(why) => Err(Error::bad_input("no_device", format!("IAM would not list the user's MFA devices ({why}); pass --mfa-serial with the device's ARN (IAM console, Security credentials)"))),
        Ok(list) if list.is_empty() => Err(Error::bad_input(
            "no_device",
            "this IAM user has no MFA device: assign one in the IAM console (Security credentials, Assign MFA device), then add the account again",
        )),
        Ok(list) if list.len() == 1 => parse(&list[0]),
        Ok(list) => {
            if !std::io::stdin().is_terminal() {
                return Err(Error::bad_input("several_devices", format!("this user has several MFA devices; pass --mfa-serial with one of: {}", list.join(", "))));
            }
            eprintln!("This user has several MFA devices:");
            for (i, d) in list.iter().enumerate() {
                eprintln!("  {}  {d}", i + 1);
            }
            eprint!("Use which (1-{})? ", list.len());
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| Error::bad_input("several_devices", e.to_string()))?;
            match line.trim().parse::<usize>() {
                Ok(n) if (1..=list.len()).contains(&n) => parse(&list[n - 1]),
                _ => Err(Error::bad_input("several_devices", format!("pick a number from 1 to {}", list.len()))),
            }
        }
    }
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("mfa-tray: cannot format JSON: {e}"),
    }
}

/// `mfa-tray sso ...`.
async fn sso(engine: &Engine, command: SsoCommand, out: &Printer) -> Result<(), Error> {
    match command {
        SsoCommand::Add { name, start_url, region } => {
            engine.sso_add(&name, &start_url, &region)?;
            println!("Added [sso-session {name}] to {} ({start_url}, {region}).", engine.files.config.display());
            println!("Next: `mfa-tray sso login {name}` signs in, then `mfa-tray sso sync {name}` adds a profile for each account and role.");
        }
        SsoCommand::Login { name, device_code } => {
            let flow = if device_code { Flow::DeviceCode } else { Flow::Pkce };
            let token = engine.sso_login(&name, flow, &show_prompt).await?;
            let renews = if token.refresh_token.is_some() { ", and renews itself" } else { " (no refresh token: sign in again then; add sso_registration_scopes = sso:account:access to the session to renew)" };
            println!("Signed in to {name}: the session's token is valid for {}{renews}.", out.until(token.expires_at));
            println!("The AWS CLI and the SDKs use it too (~/.aws/sso/cache); `mfa-tray sso sync {name}` adds a profile for each account and role.");
        }
        SsoCommand::Sync { name, prune } => {
            let done = engine.sso_sync(&name, prune).await?;
            for p in &done.added {
                println!("added    [profile {p}]");
            }
            for p in &done.kept {
                println!("kept     [profile {p}]");
            }
            for p in &done.removed {
                println!("removed  [profile {p}] (its role is gone)");
            }
            for p in &done.skipped {
                println!("skipped  {p}: not an account id and a role name a profile can hold");
            }
            for p in &done.stale {
                println!("stale    [profile {p}]: its role is gone; `--prune` removes it");
            }
            println!("{} profiles of {name} in {} ({} added, {} removed).", done.added.len() + done.kept.len() + done.stale.len(), engine.files.config.display(), done.added.len(), done.removed.len());
        }
        SsoCommand::Logout { name } => {
            if engine.sso_logout(&name).await? {
                println!("Signed out of {name}: its token is gone from ~/.aws/sso/cache.");
            } else {
                println!("{name} was not signed in.");
            }
        }
    }
    Ok(())
}

/// Tells the person signing in what to do (on stderr: stdout may be a tool's).
fn show_prompt(prompt: &Prompt) {
    match prompt {
        Prompt::Browser => eprintln!("Opened the sign-in page in your browser; waiting for you to sign in there (up to 5 minutes)."),
        Prompt::DeviceCode { uri, user_code, complete } => {
            eprintln!("To sign in, open {uri} on any device and enter the code\n\n    {user_code}\n");
            if let Some(c) = complete {
                eprintln!("(or open {c}, which has the code in it). Waiting for the sign-in...");
            }
        }
    }
}

/// `credential_process`: stdout carries the JSON and nothing else; what is for people
/// goes to stderr (botocore shows it when the call fails).
async fn credential_process(engine: &Engine, profile: &str) -> Result<(), Error> {
    let creds = for_a_tool(engine, profile, &asking_tool()).await?;
    println!("{}", mfa_tray_core::engine::process_json(&creds).expose());
    Ok(())
}

/// Credentials for `tool` asking for `profile`, as `credential_process` gets them: from
/// the running tray (which asks for a code in its window if one is needed), else here
/// (an MFA session kept in the keychain, `mfa_process`, the terminal, a browser sign-in).
/// They have at least 15 minutes left, and are written nowhere.
async fn for_a_tool(engine: &Engine, profile: &str, tool: &str) -> Result<mfa_tray_core::credentials::TempCredentials, Error> {
    use mfa_tray_core::engine::{ForTool, Memory};
    if let Some(creds) = from_tray(engine, profile, tool)? {
        return Ok(creds);
    }
    let creds = match engine.for_tool(profile, &Memory::new()).await? {
        ForTool::Ready { creds, .. } => creds,
        ForTool::NeedSignIn(need) => {
            // No tray to sign in through: the browser here, once for every tool asking
            // at once (they take turns; the next finds the first one's token), then the role.
            let _turn = engine.sso_sign_in_turn(&need.session)?;
            if let ForTool::NeedSignIn(need) = engine.for_tool(profile, &Memory::new()).await? {
                eprintln!("mfa-tray: {tool} asks for {}, and {}; opening your browser to sign in.", need.profile, need.reason);
                engine.sso_login(&need.session, Flow::Pkce, &show_prompt).await?;
            }
            match engine.for_tool(profile, &Memory::new()).await? {
                ForTool::Ready { creds, .. } => creds,
                _ => return Err(Error::new(ErrorKind::AwsRefused, "sso_login_required", format!("{profile} still has no credentials after the sign-in"))),
            }
        }
        ForTool::NeedCode(need) => match kept_or_new(engine, profile, tool, &need).await? {
            Some(creds) => creds,
            // No keychain to keep a session in: the role with the code, for its full
            // duration, and the next call asks again.
            None => {
                let note = format!("there is no keychain to keep the MFA session in, so each call without the tray asks for a code; `mfa-tray login {}` keeps one in {} for every tool", need.account, engine.files.credentials.display());
                let code = code_for_tool(engine, tool, &need, Some(&note))?;
                engine.for_tool_with_code(profile, &code).await?
            }
        },
    };
    Ok(creds)
}

/// Credentials for `profile` through the account's MFA session kept in the keychain, or a
/// new one made with a code and kept there; `None` when there is no keychain to keep
/// one in. A kept session AWS refuses (revoked, say) is dropped and replaced.
async fn kept_or_new(engine: &Engine, profile: &str, tool: &str, need: &mfa_tray_core::engine::CodeNeeded) -> Result<Option<mfa_tray_core::credentials::TempCredentials>, Error> {
    use mfa_tray_core::engine::{ForTool, Memory};
    // Tools asking at once take turns: the next one finds the session kept.
    let _turn = engine.tool_code_turn(&need.account)?;
    let through = |key: String, session| async move {
        match engine.for_tool(profile, &Memory::from([(key, session)])).await? {
            ForTool::Ready { creds, .. } => Ok(creds),
            _ => Err(Error::new(ErrorKind::AwsRefused, "code_required", format!("{profile} still needs a code with the MFA session of {}", need.account))),
        }
    };
    match engine.kept_session(need) {
        Err(_) => return Ok(None),
        Ok(Some(session)) => match through(need.session_key.clone(), session).await {
            Err(e) if e.kind == ErrorKind::AwsRefused => {
                eprintln!("mfa-tray: AWS refused the MFA session kept for {} ({}); asking for a new code", need.account, e.message);
                let _ = engine.forget_session(&need.account);
            }
            done => return done.map(Some),
        },
        Ok(None) => {}
    }
    let code = code_for_tool(engine, tool, need, None)?;
    let (session, key) = engine.session_for_tools(&need.account, &code).await?;
    // Kept under what it was made for (the profile may have changed while the code was typed).
    if let Err(e) = engine.keep_session(&need.account, &key, &session) {
        eprintln!("mfa-tray: {}; the next tool asks for a code again", e.message);
    }
    through(key, session).await.map(Some)
}

/// Credentials from the running tray, for this process's files and variables; `None`
/// when there is no tray, it reads other files, or what it handed over has less than
/// [`TOOL_MARGIN`] left (the caller then answers on its own, as without a tray).
fn from_tray(engine: &Engine, profile: &str, tool: &str) -> Result<Option<mfa_tray_core::credentials::TempCredentials>, Error> {
    use mfa_tray_core::channel::{self, Answer, Context, Request};
    use mfa_tray_core::engine::TOOL_MARGIN;
    let Some(path) = channel::socket_path(&OsEnvironment) else { return Ok(None) };
    let context = Context::of(&OsEnvironment, &engine.files);
    let request = Request::Credentials { profile: profile.to_owned(), tool: tool.to_owned(), context };
    let wait = channel::ask_timeout(&OsEnvironment) + Duration::from_secs(30);
    match channel::request_within(&path, &request, wait) {
        Ok(Answer::Credentials { access_key_id, secret_access_key, session_token, expiration }) => {
            let expiration = mfa_tray_core::credentials::parse_time(&expiration)
                .ok_or_else(|| Error::new(ErrorKind::LocalFile, "tray", "the tray's answer has no expiry".to_owned()))?;
            let left = expiration - OffsetDateTime::now_utc();
            if left < TOOL_MARGIN {
                // botocore insists on 10 minutes and refreshes at 15: fresh ones, then.
                eprintln!("mfa-tray: the tray's credentials for {profile} have {} left; getting fresh ones here", human_duration(left.try_into().unwrap_or_default()));
                return Ok(None);
            }
            Ok(Some(mfa_tray_core::credentials::TempCredentials { access_key_id, secret_access_key, session_token, expiration }))
        }
        // A tray for other files, or of another version, cannot answer this question.
        Ok(Answer::Error { code, message, .. }) if code == "other_files" || code == "version" => {
            eprintln!("mfa-tray: {message}; answering here instead");
            Ok(None)
        }
        Ok(Answer::Error { code, message, .. }) if code == "bad_request" => {
            Err(Error::new(ErrorKind::LocalFile, "tray", format!("the running tray is older than this mfa-tray ({message}): restart it")))
        }
        Ok(Answer::Error { message, kind, .. }) => Err(Error::new(kind.unwrap_or(ErrorKind::LocalFile), "tray", message)),
        Ok(_) => Err(Error::new(ErrorKind::LocalFile, "tray", "the tray answered something else; is it an older version? restart it".to_owned())),
        // No tray (or a socket directory open to others, or a listener of another user,
        // where no tray of ours listens): on our own.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::PermissionDenied) => Ok(None),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            let why = format!("the tray at {} did not answer within {} s (MFA_TRAY_ASK_TIMEOUT + 30 s)", path.display(), wait.as_secs());
            Err(Error::new(ErrorKind::LocalFile, "tray", why))
        }
        Err(e) => Err(Error::new(ErrorKind::LocalFile, "tray", format!("the tray at {} did not answer ({e})", path.display()))),
    }
}

/// The code a tool's request needs, with no tray: from the profile's `mfa_process`, else
/// the terminal (with `note` said first).
fn code_for_tool(engine: &Engine, tool: &str, need: &mfa_tray_core::engine::CodeNeeded, note: Option<&str>) -> Result<MfaCode, Error> {
    match &need.mfa_process {
        // Tools asking at once take turns, and never send AWS one code twice.
        Some(command) => mfa_tray_core::mfa_process::code(&need.account, command, &need.mfa_serial, &engine.files.credentials),
        None => code_on_terminal(tool, need, note),
    }
}

/// Asks on the terminal itself (`/dev/tty`): botocore keeps a credential_process's
/// standard streams to itself.
fn code_on_terminal(tool: &str, need: &mfa_tray_core::engine::CodeNeeded, note: Option<&str>) -> Result<MfaCode, Error> {
    let no_terminal = || {
        Error::bad_input(
            "code_required",
            format!(
                "{} needs an MFA code for {} ({}), and there is no tray running to ask for it and no terminal: start the tray (mfa-tray-app), or run `mfa-tray login {}` (tools then get credentials through that MFA session)",
                need.profile, need.account, need.mfa_serial, need.account
            ),
        )
    };
    #[cfg(unix)]
    {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|_| no_terminal())?;
        // One write: a code typed as soon as the prompt shows is echoed after all of it.
        let prompt = format!("mfa-tray: {tool} asks for {}. MFA code for {} ({}): ", need.profile, need.account, need.mfa_serial);
        let mut lines = std::io::BufReader::new(&tty);
        let mut first = note.map(|n| format!("mfa-tray: {n}.\n")).unwrap_or_default();
        let mut read = || {
            (&tty).write_all(format!("{}{prompt}", std::mem::take(&mut first)).as_bytes()).map_err(|_| no_terminal())?;
            let mut line = String::new();
            lines.read_line(&mut line).map_err(|_| no_terminal())?;
            Ok(line)
        };
        asking(TRIES, &mut read, |why| {
            let _ = (&tty).write_all(format!("mfa-tray: {why}; try again.\n").as_bytes());
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (tool, note);
        Err(no_terminal())
    }
}

/// The running tray's version (`mfa-tray 0.1.0`), as it answers a ping; `None` when no
/// tray answers.
fn running_tray() -> Option<String> {
    use mfa_tray_core::channel::{self, Answer, Request};
    match channel::request(&channel::socket_path(&OsEnvironment)?, &Request::Ping) {
        Ok(Answer::Ok { message }) => Some(message),
        _ => None,
    }
}

/// The program that runs this one, for people: `aws (pid 4242)`.
fn asking_tool() -> String {
    mfa_tray_core::channel::parent_label(std::process::id()).unwrap_or_else(|| "a program".to_owned())
}

/// The code a profile's `mfa_process` prints.
fn code_from(engine: &Engine, profile: &str, command: &str) -> Result<MfaCode, Error> {
    eprintln!("Taking the code for {profile} from its mfa_process.");
    engine.process_code(profile, command)
}

/// How often a person may mistype a code before the command gives up.
const TRIES: usize = 3;

/// Asks for a code on the terminal (again, up to [`TRIES`] times, when what was typed is
/// not a code), or reads a line from a pipe.
fn ask_code(profile: &str, serial: &str) -> Result<MfaCode, Error> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut read = || -> Result<String, Error> {
        if terminal {
            eprint!("MFA code for {profile} ({serial}): ");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|e| Error::bad_input("code_required", format!("cannot read the MFA code: {e}")))?;
        if line.trim().is_empty() && !terminal {
            return Err(Error::bad_input("code_required", format!("{profile} needs an MFA code: pass --code 123456 (the code {serial} shows now)")));
        }
        Ok(line)
    };
    asking(if terminal { TRIES } else { 1 }, &mut read, |why| eprintln!("{why}; try again."))
}

/// A code from `read`, asked for up to `tries` times while what comes back is not a code.
fn asking(tries: usize, read: &mut dyn FnMut() -> Result<String, Error>, again: impl Fn(&str)) -> Result<MfaCode, Error> {
    let mut left = tries;
    loop {
        let line = read()?;
        match line.parse::<MfaCode>() {
            Ok(code) => return Ok(code),
            Err(e) if left > 1 => {
                left -= 1;
                again(&e.to_string());
            }
            Err(e) => return Err(Error::bad_input("bad_code", e.to_string())),
        }
    }
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

    fn status(&self, s: &Status, tray: Option<&str>) {
        println!("Credentials file: {}", s.credentials_file);
        println!("Tray: {}", tray.map_or("not running".to_owned(), |version| format!("running ({version})")));
        if s.sessions.is_empty() && s.roles.is_empty() && s.problems.is_empty() && s.sso_sessions.is_empty() {
            println!("\nNo MFA session or role profiles yet.\n\n{SETUP}");
            return;
        }
        let width = s.sessions.iter().map(|p| p.name.len()).chain(s.roles.iter().map(|r| r.name.len())).chain(s.sso_sessions.iter().map(|p| p.name.len())).max().unwrap_or(0);
        if !s.sso_sessions.is_empty() {
            println!("\nIdentity Center sessions");
            for p in &s.sso_sessions {
                let how = match (p.state, p.renewable) {
                    (State::Absent, _) => format!("sign in with `mfa-tray sso login {}`", p.name),
                    (_, true) => "renews itself".to_owned(),
                    (_, false) => format!("ends then: `mfa-tray sso login {}` again", p.name),
                };
                println!("  {:width$}  {}  ({how})", p.name, self.state_line(p.state, p.seconds_left, p.expires_at.as_deref()));
            }
        }
        if !s.sessions.is_empty() {
            println!("\nMFA sessions");
            for p in &s.sessions {
                let keys = match p.keys {
                    KeyStore::Keychain => "keys in keychain",
                    KeyStore::File => "keys in file",
                };
                println!("  {:width$}  {}  ({keys})", p.name, self.state_line(p.state, p.seconds_left, p.expires_at.as_deref()));
            }
        }
        if !s.roles.is_empty() {
            println!("\nRoles (* = active in [{}])", s.target);
            for r in &s.roles {
                let mark = if r.active { '*' } else { ' ' };
                if r.identity_center && r.sections.is_empty() {
                    let account = r.role_arn.split(':').nth(4).unwrap_or_default();
                    println!("{mark} {:width$}  {:<22}  ({} in {account}, Identity Center {})", r.name, "from Identity Center", r.role_arn.rsplit('/').next().unwrap_or(""), r.source);
                    continue;
                }
                if r.on_demand {
                    println!("{mark} {:width$}  {:<22}  (from {}; tools fetch it with credential_process, never in the file)", r.name, "on demand", r.source);
                    continue;
                }
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
                RefreshItem::Refreshed { section, role, expires, capped_from } => {
                    println!("refreshed    {role} in [{section}]: valid for {}", self.until(*expires));
                    if let Some(wanted) = capped_from {
                        let wanted = human_duration(*wanted);
                        println!("             (not {wanted}: AWS allows 1 hour to roles assumed through an MFA session; `mfa-tray assume {role} --to {section}` with a code gives {wanted})");
                    }
                }
                RefreshItem::Fresh { section, role, expires } => println!("still fresh  {role} in [{section}]: valid for {}", self.until(*expires)),
                RefreshItem::NeedsSignIn { section, role, session } => {
                    println!("needs sign-in {role} in [{section}]: the Identity Center session {session} has ended; run `mfa-tray sso login {session}`")
                }
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
