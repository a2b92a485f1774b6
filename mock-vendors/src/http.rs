//! HTTP plumbing shared by the vendors: the buffered request every handler
//! sees, credential parsing, JSON answers and the bodies of injected faults.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, request};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body::{Frame, SizeHint};
use serde_json::Value;

/// A request with its body read: vendor handlers are plain functions of it.
#[derive(Debug)]
pub struct Req {
    /// Method.
    pub method: Method,
    /// Percent-decoded path, no query.
    pub path: String,
    /// Raw query string, if any.
    pub raw_query: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Whole body.
    pub body: Bytes,
}

impl Req {
    /// Buffers `parts` and `body` into a request.
    pub fn new(parts: request::Parts, body: Bytes) -> Req {
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        let query = form_urlencoded::parse(raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let path = percent_decode(parts.uri.path());
        Req {
            method: parts.method,
            path,
            raw_query,
            query,
            headers: parts.headers,
            body,
        }
    }

    /// First query value named exactly `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First query value whose name equals `name` ignoring ASCII case (as
    /// ASP.NET binds query parameters).
    pub fn param_ci(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Credentials of an `Authorization: Basic` header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }

    /// Returns true if and only if Basic credentials equal `user`/`pass`.
    pub fn basic_is(&self, user: &str, pass: &str) -> bool {
        self.basic_auth()
            .is_some_and(|(u, p)| u == user && p == pass)
    }

    /// Token of an `Authorization: Bearer` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, rest) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
    }

    /// The `Host` header, if any.
    pub fn host(&self) -> Option<&str> {
        self.headers.get(HOST)?.to_str().ok()
    }

    /// `application/x-www-form-urlencoded` body pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Identity of the request for fault bookkeeping: a retry of the same
    /// page has the same key.
    pub fn fault_key(&self) -> String {
        format!(
            "{} {}?{} {}",
            self.method,
            self.path,
            self.raw_query,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Decodes `%XX` escapes of a URL path (invalid escapes stay as written).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lenient integer parsing as Rails' `to_i` does: leading sign and digits,
/// anything else ignored; `None` when there are no digits.
pub fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let v: i64 = digits[..end].parse().unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

/// Strict integer parsing (the whole string must be an integer).
pub fn parse_int_strict(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// A response with `status`, `content_type` and `body`.
pub fn raw_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response {
    raw_response(
        status,
        "application/json; charset=utf-8",
        body.to_string().into_bytes(),
    )
}

/// `resp` with one more header (values are ours: always valid).
pub fn with_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
    resp
}

/// Row range of 1-based `page` with `per_page` rows out of `total`.
pub fn page_range(total: usize, page: u64, per_page: u64) -> std::ops::Range<usize> {
    let per = usize::try_from(per_page).unwrap_or(usize::MAX);
    let start = usize::try_from(page.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(per)
        .min(total);
    let end = start.saturating_add(per).min(total);
    start..end
}

/// An HTML error page, as a proxy or CDN in front of the API sends.
pub fn html_page() -> Response {
    let body = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n\
                <body><center><h1>502 Bad Gateway</h1></center>\n\
                <hr><center>cloudflare</center></body></html>\n";
    raw_response(
        StatusCode::OK,
        "text/html; charset=utf-8",
        body.as_bytes().to_vec(),
    )
}

/// 200 with the first half of `full` as a complete (but invalid) JSON body.
pub fn truncated(full: &[u8]) -> Response {
    let cut = full.len() / 2;
    raw_response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        full[..cut].to_vec(),
    )
}

/// 200 that declares `full.len()` bytes, sends half, then aborts the
/// connection.
pub fn connection_reset(full: Vec<u8>) -> Response {
    let declared = full.len() as u64;
    let half = Bytes::from(full).slice(..(declared as usize) / 2);
    let mut r = Response::new(Body::new(ResetBody {
        data: Some(half),
        declared,
    }));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A body that yields its data, then an error: hyper aborts the connection
/// because the declared length was not reached.
struct ResetBody {
    data: Option<Bytes>,
    declared: u64,
}

impl http_body::Body for ResetBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(match self.data.take() {
            Some(d) => Ok(Frame::data(d)),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "mock-vendors: injected connection reset",
            )),
        }))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.declared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_lenient_like_rails() {
        assert_eq!(parse_int("3"), Some(3));
        assert_eq!(parse_int("-2"), Some(-2));
        assert_eq!(parse_int("7abc"), Some(7));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn page_range_clamps_to_total() {
        assert_eq!(page_range(450, 1, 200), 0..200);
        assert_eq!(page_range(450, 3, 200), 400..450);
        assert_eq!(page_range(450, 4, 200), 450..450);
        assert_eq!(page_range(450, u64::MAX, u64::MAX), 450..450);
    }

    #[test]
    fn percent_decode_handles_escapes() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("/a%2"), "/a%2");
        assert_eq!(percent_decode("/%zz"), "/%zz");
    }
}
