//! A credentials endpoint on loopback, as the AWS SDKs' container-credentials provider
//! reads one (`AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`):
//! a process started with them asks it for credentials whenever it needs fresh ones, so
//! a job that outlives one role session gets the next.
//!
//! It answers `GET /credentials` with `{AccessKeyId, SecretAccessKey, Token, Expiration}`
//! only when the `Authorization` header is its token (401 without one, 403 with another,
//! and nothing else either way), and always with at least [`TOOL_MARGIN`] left: fresher
//! ones come from `fetch` (the tray, or a code) when what it holds has less. It closes
//! when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;

use crate::credentials::{format_time, TempCredentials};
use crate::engine::TOOL_MARGIN;
use crate::error::Error;
use crate::secret::Secret;

/// The endpoint's path.
const PATH: &str = "/credentials";
/// The most a request may take to arrive, and its size (headers only: it has no body).
const READ_LIMIT: Duration = Duration::from_secs(2);
const MAX_REQUEST: usize = 8192;

/// A running endpoint.
pub struct Endpoint {
    /// `http://127.0.0.1:PORT/credentials`.
    pub url: String,
    /// What a request's `Authorization` header must be.
    pub token: Secret,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Serves `first`, then whatever `fetch` gives once what it holds has less than
    /// [`TOOL_MARGIN`] left, on a random port of 127.0.0.1.
    pub fn start(first: TempCredentials, mut fetch: impl FnMut() -> Result<TempCredentials, Error> + Send + 'static) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let token = Secret::new(crate::sso::random_text(43)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (expected, stopped) = (token.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("endpoint".into()).spawn(move || {
            let mut held = first;
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, &expected, &mut held, &mut fetch);
                }
            }
        })?;
        Ok(Endpoint { url: format!("http://127.0.0.1:{port}{PATH}"), token, stop, port, thread: Some(thread) })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the listener, which then sees the flag and closes.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request.
fn answer(mut stream: TcpStream, token: &Secret, held: &mut TempCredentials, fetch: &mut dyn FnMut() -> Result<TempCredentials, Error>) {
    let _ = stream.set_read_timeout(Some(READ_LIMIT));
    let _ = stream.set_write_timeout(Some(READ_LIMIT));
    let Some(request) = read_head(&mut stream) else { return };
    let (status, body) = respond(&request, token, held, fetch);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.expose().len());
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.expose().as_bytes()));
    let _ = stream.shutdown(Shutdown::Both);
}

/// The status and body for a request's head.
fn respond(request: &str, token: &Secret, held: &mut TempCredentials, fetch: &mut dyn FnMut() -> Result<TempCredentials, Error>) -> (u16, Secret) {
    let empty = || Secret::new("{}");
    let mut lines = request.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
    let authorization = lines.filter_map(|l| l.split_once(':')).find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim());
    match authorization {
        None => return (401, empty()),
        Some(given) if !same(given.as_bytes(), token.expose().as_bytes()) => return (403, empty()),
        Some(_) => {}
    }
    if method != "GET" {
        return (405, empty());
    }
    if path != PATH {
        return (404, empty());
    }
    if held.expiration - OffsetDateTime::now_utc() <= TOOL_MARGIN {
        match fetch() {
            Ok(fresh) => *held = fresh,
            Err(e) => return (503, Secret::new(serde_json::json!({ "code": e.code, "message": e.message }).to_string())),
        }
    }
    let json = serde_json::json!({
        "AccessKeyId": held.access_key_id,
        "SecretAccessKey": held.secret_access_key.expose(),
        "Token": held.session_token.expose(),
        "Expiration": format_time(held.expiration),
    });
    (200, Secret::new(json.to_string()))
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request's head (up to the blank line), if it comes whole, in time, and small.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return None;
        }
    }
    String::from_utf8(head).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_opens_it() {
        let token = Secret::new("t0ken");
        let mut held = TempCredentials {
            access_key_id: "ASIAEXAMPLE000000000".into(),
            secret_access_key: Secret::new("s"),
            session_token: Secret::new("t"),
            expiration: OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        let mut never = || -> Result<TempCredentials, Error> { panic!("fresh enough: no fetch") };
        let get = |auth: &str| format!("GET /credentials HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
        assert_eq!(respond(&get(""), &token, &mut held, &mut never).0, 401);
        assert_eq!(respond(&get("Authorization: t0kem"), &token, &mut held, &mut never).0, 403);
        assert_eq!(respond(&get("Authorization: t0ke"), &token, &mut held, &mut never).0, 403);
        let (status, body) = respond(&get("authorization:  t0ken"), &token, &mut held, &mut never);
        assert_eq!((status, body.expose().contains("\"AccessKeyId\":\"ASIAEXAMPLE000000000\"")), (200, true));
        assert_eq!(respond("GET /other HTTP/1.1\r\nAuthorization: t0ken\r\n", &token, &mut held, &mut never).0, 404);
        // Less than 15 minutes left: fetched anew.
        held.expiration = OffsetDateTime::now_utc() + time::Duration::minutes(14);
        let mut fresh = || Ok(TempCredentials { access_key_id: "ASIAFRESH00000000000".into(), expiration: OffsetDateTime::now_utc() + time::Duration::hours(1), ..held.clone() });
        let (status, body) = respond(&get("Authorization: t0ken"), &token, &mut held.clone(), &mut fresh);
        assert_eq!((status, body.expose().contains("ASIAFRESH00000000000")), (200, true));
    }
}
