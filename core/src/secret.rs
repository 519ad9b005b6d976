//! A secret string: a secret access key, a session token, an MFA code. It is wiped from
//! memory when dropped, its Debug form shows nothing of it, and it has no Display, so
//! it cannot end up in a message by accident; [`Secret::expose`] is the one way out.

use std::fmt;

use zeroize::Zeroizing;

/// A string that must not leave the engine except into the files, the keychain or an
/// authorised answer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(text.into()))
    }

    /// The secret itself, for the one place that needs it (a signer, a file writer).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Serialised as the plain string: only for an authorised answer on the tray's channel.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Removes known secrets from text that came from outside (an AWS error message may
/// echo the request), replaces control characters (which could forge lines in a
/// terminal or a notification) and caps its length.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        // As it is, and as an echo may have escaped it: percent-encoded (either case) or
        // with JSON's `\/`.
        for form in [secret.to_string(), percent_encode(secret, true), percent_encode(secret, false), secret.replace('/', "\\/")] {
            out = out.replace(&form, "[redacted]");
        }
    }
    let mut clean: String = out.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    const MAX: usize = 400;
    if clean.len() > MAX {
        let cut = (0..=MAX).rev().find(|&i| clean.is_char_boundary(i)).unwrap_or(0);
        clean.truncate(cut);
        clean.push('…');
    }
    clean.trim().to_owned()
}

/// `text` with every byte other than letters, digits and `-._~` (RFC 3986's unreserved
/// characters) as `%XX` (`%xx`).
pub fn percent_encode(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| match b {
            _ if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => char::from(b).to_string(),
            _ if upper => format!("%{b:02X}"),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_and_scrub_removes() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
        let text = "bad request TokenCode=123456&x=wJalrXUtnFEMI/K7MDENG\n\x1b[2J[evil]";
        assert_eq!(scrub(text, &["123456", "wJalrXUtnFEMI/K7MDENG"]), "bad request TokenCode=[redacted]&x=[redacted]  [2J[evil]");
        let escaped = "echo: token=FwoG%2Fab%2Bcd%3D, FwoG%2fab%2bcd%3d and {\"t\":\"FwoG\\/ab+cd=\"}";
        assert_eq!(scrub(escaped, &["FwoG/ab+cd="]), "echo: token=[redacted], [redacted] and {\"t\":\"[redacted]\"}");
        assert!(scrub(&"x".repeat(1000), &[]).chars().count() <= 401);
    }
}
