//! Validated values: a raw string from a user or a file becomes one of these once, at
//! the edge, and the rest of the engine never checks it again.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::secret::Secret;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not six digits.
    #[error("an MFA code is the 6 digits your authenticator shows (spaces are fine)")]
    Code,
    /// Not the shape of an MFA device serial or ARN.
    #[error("{0:?} is not an MFA device: use its ARN, like arn:aws:iam::123456789012:mfa/alice")]
    Serial(String),
    /// Not the ARN of an IAM role.
    #[error("{0:?} is not a role ARN, like arn:aws:iam::123456789012:role/Admin")]
    RoleArn(String),
    /// A duration outside what AWS accepts for the call.
    #[error("{} is outside what AWS allows for {call}: {} to {}", span(*seconds), span(*min), span(*max))]
    Duration {
        /// The call the duration was for.
        call: &'static str,
        /// What was asked for.
        seconds: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// Not a whole number of seconds.
    #[error("{0:?} is not a number of seconds (or a duration like 1h, 90m)")]
    DurationText(String),
}

/// A six-digit TOTP code: a secret until it is used. Its Debug form hides the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaCode(Secret);

impl MfaCode {
    /// The six digits.
    pub fn as_str(&self) -> &str {
        self.0.expose()
    }
}

impl FromStr for MfaCode {
    type Err = ValueError;
    /// Accepts `123456` and pasted forms like `123 456`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = Secret::new(s.chars().filter(|c| !c.is_whitespace()).collect::<String>());
        if digits.expose().len() == 6 && digits.expose().bytes().all(|b| b.is_ascii_digit()) {
            Ok(MfaCode(digits))
        } else {
            Err(ValueError::Code)
        }
    }
}

impl fmt::Debug for MfaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaCode(******)")
    }
}

/// The serial number of an MFA device: an ARN for virtual devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSerial(String);

impl MfaSerial {
    /// The serial as AWS expects it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MfaSerial {
    type Err = ValueError;
    /// AWS's own pattern for SerialNumber: `[\w+=/:,.@-]{9,256}`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (9..=256).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c));
        if ok {
            Ok(MfaSerial(s.to_owned()))
        } else {
            Err(ValueError::Serial(s.to_owned()))
        }
    }
}

impl fmt::Display for MfaSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ARN of an IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn(String);

impl RoleArn {
    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The role's name: the last part of its path.
    pub fn role_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl FromStr for RoleArn {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[5].strip_prefix("role/").is_some_and(|r| !r.is_empty())
            && (20..=2048).contains(&s.len())
            && !s.chars().any(char::is_control);
        if ok {
            Ok(RoleArn(s.to_owned()))
        } else {
            Err(ValueError::RoleArn(s.to_owned()))
        }
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// GetSessionToken's DurationSeconds range for an IAM user.
pub const SESSION_DURATION: (u64, u64) = (900, 129_600);
/// AssumeRole's DurationSeconds range (the role's own maximum may be lower).
pub const ROLE_DURATION: (u64, u64) = (900, 43_200);
/// The longest role session AWS grants to credentials from GetSessionToken.
pub const SESSION_ROLE_CAP: Duration = Duration::from_secs(3600);

/// Parses `3600`, `3600s`, `90m`, `12h` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| ValueError::DurationText(text.to_owned()))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(ValueError::DurationText(text.to_owned())),
    };
    n.checked_mul(scale).map(Duration::from_secs).ok_or_else(|| ValueError::DurationText(text.to_owned()))
}

/// Checks a duration against an AWS range, naming the call in the error.
pub fn check_duration(d: Duration, range: (u64, u64), call: &'static str) -> Result<Duration, ValueError> {
    let seconds = d.as_secs();
    if (range.0..=range.1).contains(&seconds) {
        Ok(d)
    } else {
        Err(ValueError::Duration { call, seconds, min: range.0, max: range.1 })
    }
}

/// A length as people write it: `36h`, `90m`, `3601s` (the largest unit it is a whole
/// number of).
pub fn span(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Whether `a` is probably a mistyped `b` (or `b` of `a`): one letter added, dropped or
/// changed, or two neighbours swapped, ignoring case.
pub fn near(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.to_lowercase().chars().collect(), b.to_lowercase().chars().collect());
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => {
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            diff.len() == 1 || (diff.len() == 2 && diff[1] == diff[0] + 1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]])
        }
        1 => (0..long.len()).any(|i| long[..i] == short[..i] && long[i + 1..] == short[i..]),
        _ => false,
    }
}

/// "1h 05m", "12m", "40s": how long something has left, for people, to the nearest
/// minute (so a 12-hour session read a second later is still "12h 00m").
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let m = (s + 30) / 60;
    match s {
        0..=59 => format!("{s}s"),
        60..=3569 => format!("{m}m"),
        _ => format!("{}h {:02}m", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!("123456".parse::<MfaCode>().unwrap().as_str(), "123456");
        assert_eq!(" 123 456\n".parse::<MfaCode>().unwrap().as_str(), "123456");
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert_eq!(bad.parse::<MfaCode>(), Err(ValueError::Code), "{bad:?}");
        }
        assert_eq!(format!("{:?}", "123456".parse::<MfaCode>().unwrap()), "MfaCode(******)");
    }

    #[test]
    fn serials_and_arns() {
        assert!("arn:aws:iam::111111111111:mfa/alice".parse::<MfaSerial>().is_ok());
        assert!("GAHT12345678".parse::<MfaSerial>().is_ok());
        assert!("short".parse::<MfaSerial>().is_err());
        assert!("arn:aws:iam::1:mfa/a b".parse::<MfaSerial>().is_err());
        let arn: RoleArn = "arn:aws:iam::222222222222:role/path/Admin".parse().unwrap();
        assert_eq!(arn.role_name(), "Admin");
        assert!("arn:aws:iam::222222222222:user/alice".parse::<RoleArn>().is_err());
        assert!("Admin".parse::<RoleArn>().is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43200));
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("-5").is_err());
        assert!(check_duration(Duration::from_secs(899), SESSION_DURATION, "GetSessionToken").is_err());
        assert!(check_duration(Duration::from_secs(129_600), SESSION_DURATION, "GetSessionToken").is_ok());
        assert!(check_duration(Duration::from_secs(43_201), ROLE_DURATION, "AssumeRole").is_err());
        assert_eq!(human_duration(Duration::from_secs(3900)), "1h 05m");
        assert_eq!(human_duration(Duration::from_secs(120)), "2m");
        assert_eq!(human_duration(Duration::from_secs(43_199)), "12h 00m");
        assert_eq!(human_duration(Duration::from_secs(3569)), "59m");
        assert_eq!(human_duration(Duration::from_secs(3570)), "1h 00m");
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        let e = check_duration(Duration::from_secs(300), SESSION_DURATION, "GetSessionToken").unwrap_err();
        assert_eq!(e.to_string(), "5m is outside what AWS allows for GetSessionToken: 15m to 36h");
        assert_eq!(span(3601), "3601s");
    }

    #[test]
    fn near_names() {
        assert!(near("crop", "corp") && near("corp", "Corp") && near("cor", "corp") && near("corpp", "corp") && near("cxrp", "corp"));
        assert!(!near("prod", "corp") && !near("co", "corp") && !near("abcd", "dcba"));
    }
}
