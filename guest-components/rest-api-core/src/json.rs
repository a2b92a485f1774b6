//! A structural scanner over JSON bytes: finds where values, object members
//! and array elements start and end, without building a tree.
//!
//! Records leave the component as byte ranges of the response body, so the
//! component never needs their parsed form: it only needs their extent, the
//! few small values pagination reads (`total`, `next`, ...), and errors for
//! bodies that are not JSON at all (an HTML error page, a cut-off body).
//! Scalars inside records are not validated here; the host parses each
//! record once and reports a malformed one.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Why a body could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

type Result<T> = std::result::Result<T, ScanError>;

fn err<T>(offset: usize, what: &'static str) -> Result<T> {
    Err(ScanError { offset, what })
}

/// One member of an object: the key (with its quotes) and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub key: Range<usize>,
    pub value: Range<usize>,
}

/// The kind of a JSON value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    /// The kind of the value starting at `b[i]`; `None` if no value starts there.
    pub fn at(b: &[u8], i: usize) -> Option<Kind> {
        Some(match b.get(i)? {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b'-' | b'0'..=b'9' => Kind::Number,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            _ => return None,
        })
    }

    /// The kind with an article, for messages ("an object").
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
        }
    }
}

/// Returns the index of the first non-whitespace byte at or after `i`.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// The range of the single JSON value `b` holds, surrounding whitespace (and
/// a UTF-8 byte order mark) excluded; `Ok(None)` for an all-blank body.
pub(crate) fn document(b: &[u8]) -> Result<Option<Range<usize>>> {
    let Some(start) = document_start(b) else {
        return Ok(None);
    };
    let end = skip_value(b, start)?;
    document_end(b, end)?;
    Ok(Some(start..end))
}

/// Where the value of the body starts, after whitespace and a UTF-8 byte
/// order mark; `None` for an all-blank body.
pub(crate) fn document_start(b: &[u8]) -> Option<usize> {
    let start = skip_ws(b, if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 });
    (start < b.len()).then_some(start)
}

/// Checks that only whitespace follows the body's value, which ends at
/// `end`.
pub(crate) fn document_end(b: &[u8], end: usize) -> Result<()> {
    let rest = skip_ws(b, end);
    if rest != b.len() {
        return err(rest, "unexpected characters after the JSON value");
    }
    Ok(())
}

/// `0x01` in every byte.
const LO: u64 = u64::from_le_bytes([0x01; 8]);
/// `0x7f` in every byte.
const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);

/// The eight bytes of `b` from `j`, as one word (byte `j` lowest), if
/// there are eight.
#[inline(always)]
fn word(b: &[u8], j: usize) -> Option<u64> {
    let bytes: [u8; 8] = b.get(j..j.wrapping_add(8))?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// `0x80` in each byte of `w` equal to `c`, nothing elsewhere (exact: no
/// borrow crosses bytes, so the lowest marked byte is the first match).
#[inline(always)]
fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ LO.wrapping_mul(u64::from(c));
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// The offset within a word of its first marked byte.
#[inline(always)]
fn first_marked(marks: u64) -> usize {
    (marks.trailing_zeros() / 8) as usize
}

fn skip_string(b: &[u8], i: usize) -> Result<usize> {
    debug_assert_eq!(b.get(i), Some(&b'"'));
    let mut j = i + 1;
    // Most strings (keys, short values) end within a few words: look at
    // eight bytes per step, in place, before calling memchr. In the
    // component every loop iteration and call also pays wasmtime's epoch
    // (interruption) check. On the bench's pages `next` took about 4% less
    // time this way, natively and in wasm alike.
    for _ in 0..4 {
        let Some(w) = word(b, j) else { break };
        let marks = bytes_equal(w, b'"') | bytes_equal(w, b'\\');
        if marks == 0 {
            j += 8;
            continue;
        }
        let k = j + first_marked(marks);
        if b[k] == b'"' {
            return Ok(k + 1);
        }
        // A backslash: the next byte is escaped.
        j = k + 2;
    }
    // Long strings: jump between quotes and backslashes with memchr's
    // vector search rather than looking at every byte.
    loop {
        match b
            .get(j..)
            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
        {
            Some(k) if b[j + k] == b'"' => return Ok(j + k + 1),
            Some(k) => j += k + 2,
            None => return err(i, "unterminated string"),
        }
    }
}

fn skip_scalar(b: &[u8], i: usize) -> Result<usize> {
    let mut j = i;
    while let Some(c) = b.get(j) {
        if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':') {
            break;
        }
        if matches!(c, b'{' | b'[' | b'"') {
            return err(j, "malformed value");
        }
        j += 1;
    }
    Ok(j)
}

/// Returns the end of the JSON value starting exactly at `b[i]`.
pub(crate) fn skip_value(b: &[u8], i: usize) -> Result<usize> {
    match Kind::at(b, i) {
        None if i >= b.len() => err(i, "unexpected end of the body"),
        None => err(i, "expected a JSON value"),
        Some(Kind::String) => skip_string(b, i),
        Some(Kind::Object | Kind::Array) => skip_container(b, i),
        Some(_) => skip_scalar(b, i),
    }
}

/// Skips a nested object or array, tracking only strings and brackets:
/// enough to find its end quickly and to notice truncation or mismatches.
///
/// The body is classified 64 bytes at a time ([`marks`]: where the quotes,
/// backslashes and brackets are, one bit per byte, from four 16-byte
/// vector comparisons), and a block's string extent comes from its quote
/// bits at once (each quote toggles "in a string"), so one loop iteration
/// covers 64 bytes and the per-bracket work only the brackets outside
/// strings. This is the first stage of simdjson, in small. In the
/// component every loop iteration also pays wasmtime's epoch check, so
/// iterations per byte are what the sandbox costs.
///
/// The outcome (end, error and its offset) is exactly that of a byte at a
/// time scan, which skips strings from quote to quote, steps over the byte
/// after a backslash within a string, and ignores everything else but
/// brackets (`skip_container_bytewise` in the tests is that scan).
fn skip_container(b: &[u8], i: usize) -> Result<usize> {
    scan_container(b, i, marks)
}

/// [`skip_container`] with the classification `marks` (the tests also run
/// it with the byte at a time one, which other targets use).
#[inline(always)]
fn scan_container(b: &[u8], i: usize, marks: impl Fn(&[u8; BLOCK]) -> Marks) -> Result<usize> {
    debug_assert!(matches!(b.get(i), Some(b'{' | b'[')));
    // The scan's state lives in locals (the component's hot loop then
    // keeps it in registers, not in its stack in linear memory).
    let mut strings = Strings::default();
    let mut nesting = Nesting::default();
    let mut deep = Vec::new();
    let mut tail = [0u8; BLOCK];
    let mut j = i;
    while let Some(rest) = b.get(j..).filter(|r| !r.is_empty()) {
        let block = match rest.first_chunk::<BLOCK>() {
            Some(block) => block,
            None => {
                // The tail: padded with zero bytes, which mark nothing.
                tail[..rest.len()].copy_from_slice(rest);
                &tail
            }
        };
        let brackets = strings.block(j, marks(block));
        if let Some(end) = nesting.brackets(j, block, brackets, &mut deep)? {
            return Ok(end);
        }
        j += BLOCK;
    }
    if strings.in_string {
        err(strings.quote_at, "unterminated string")
    } else {
        err(b.len(), "unexpected end of the body (truncated?)")
    }
}

/// One bit per byte of a block.
type Mask = u64;

/// Bytes classified at once.
const BLOCK: usize = Mask::BITS as usize;

/// Where the bytes the container scan looks at are in one block: bit `k`
/// of each mask stands for byte `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marks {
    quote: Mask,
    backslash: Mask,
    /// `{`, `}`, `[` and `]`, and the few other bytes that are `0x7f`
    /// with bits 1, 2 and 5 set (`Y`, `_`, `y`, DEL): one comparison finds
    /// them all, and outside strings, where brackets count, JSON has none
    /// of the others (the bracket loop looks at the byte).
    bracket: Mask,
}

/// The bits in which `{`, `}`, `[` and `]` differ: each of them, and
/// nothing else but `Y`, `_`, `y` and DEL, is `0x7f` with these set.
const BRACKET_BITS: u8 = 0x26;

/// The block's marks, from four 16-byte vector classifications.
#[cfg(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
))]
#[inline(always)]
fn marks(block: &[u8; BLOCK]) -> Marks {
    let mut m = Marks {
        quote: 0,
        backslash: 0,
        bracket: 0,
    };
    for (n, lanes) in block.as_chunks::<16>().0.iter().enumerate() {
        let [quote, backslash, bracket] = marks16(lanes).map(|x| Mask::from(x) << (16 * n));
        m.quote |= quote;
        m.backslash |= backslash;
        m.bracket |= bracket;
    }
    m
}

/// 16 bytes' quote, backslash and bracket marks, with WebAssembly SIMD:
/// one load, four comparisons.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn marks16(block: &[u8; 16]) -> [u16; 3] {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, u64x2, v128_or};
    let (lo, hi) = block.split_at(8);
    let half = |h: &[u8]| h.first_chunk::<8>().map_or(0, |h| u64::from_le_bytes(*h));
    let v = u64x2(half(lo), half(hi));
    [
        u8x16_bitmask(u8x16_eq(v, u8x16_splat(b'"'))),
        u8x16_bitmask(u8x16_eq(v, u8x16_splat(b'\\'))),
        u8x16_bitmask(u8x16_eq(
            v128_or(v, u8x16_splat(BRACKET_BITS)),
            u8x16_splat(0x7f),
        )),
    ]
}

/// The same with SSE2 (part of every x86-64 CPU): the same operations as
/// the WebAssembly version, so the native build runs the same algorithm
/// as the component.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn marks16(block: &[u8; 16]) -> [u16; 3] {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: the intrinsics need SSE2, which this build enables (the
    // `cfg` above); `_mm_loadu_si128` reads the 16 bytes `block` borrows
    // and has no alignment requirement.
    let masks = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        [
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(
                _mm_or_si128(v, _mm_set1_epi8(BRACKET_BITS as i8)),
                _mm_set1_epi8(0x7f),
            )),
        ]
    };
    // A movemask of 16 lanes has only its low 16 bits set.
    masks.map(|m| m as u16)
}

/// The block's marks, a byte at a time: the other targets, and the
/// reference the vector versions are tested against.
#[cfg(any(
    test,
    not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        all(target_arch = "x86_64", target_feature = "sse2")
    ))
))]
fn marks_bytewise(block: &[u8; BLOCK]) -> Marks {
    let mut m = Marks {
        quote: 0,
        backslash: 0,
        bracket: 0,
    };
    for (k, &c) in block.iter().enumerate() {
        let bit = 1 << k;
        match c {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            _ if c | BRACKET_BITS == 0x7f => m.bracket |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
)))]
fn marks(block: &[u8; BLOCK]) -> Marks {
    marks_bytewise(block)
}

/// Bit `k` of the result is the XOR of bits `0..=k` of `x`: for quote
/// marks, which bytes are inside a string (opening quote included).
#[inline(always)]
fn prefix_xor(mut x: Mask) -> Mask {
    let mut shift = 1;
    while shift < Mask::BITS {
        x ^= x << shift;
        shift *= 2;
    }
    x
}

/// Where a container scan is with respect to strings, between blocks.
#[derive(Debug, Clone, Copy, Default)]
struct Strings {
    /// The last block ended inside a string...
    in_string: bool,
    /// ...which opened here.
    quote_at: usize,
    /// The last block ended with a backslash inside a string: the next
    /// block's first byte is escaped.
    escaped: bool,
}

impl Strings {
    /// Takes the block at `j` with marks `m`; returns its brackets outside
    /// strings.
    #[inline(always)]
    fn block(&mut self, j: usize, m: Marks) -> Mask {
        let Marks {
            mut quote,
            mut backslash,
            bracket,
        } = m;
        if self.escaped {
            // Inside a string, where brackets do not count anyway.
            self.escaped = false;
            quote &= !1;
            backslash &= !1;
        }
        if backslash != 0 {
            let (outside, next) = self.escapes(j, quote, backslash, bracket);
            *self = next;
            return outside;
        }
        // Every quote opens or closes a string.
        let carry = if self.in_string { Mask::MAX } else { 0 };
        let inside = prefix_xor(quote) ^ carry;
        let ends_inside = inside >> (BLOCK - 1) != 0;
        if ends_inside && quote != 0 {
            // The last quote opened the string the block ends in.
            self.quote_at = j + BLOCK - 1 - quote.leading_zeros() as usize;
        }
        self.in_string = ends_inside;
        bracket & !inside
    }

    /// A block with backslashes (rare): its quotes, backslashes and
    /// brackets one at a time, as the byte at a time scan takes them (a
    /// backslash escapes the next byte only inside a string). Returns the
    /// brackets outside strings and the state after the block.
    #[inline(never)]
    fn escapes(self, j: usize, quote: Mask, backslash: Mask, bracket: Mask) -> (Mask, Strings) {
        let mut state = self;
        let mut outside = 0;
        let mut todo = quote | backslash | bracket;
        while todo != 0 {
            let k = todo.trailing_zeros();
            let bit: Mask = 1 << k;
            todo &= todo - 1;
            if state.in_string {
                if quote & bit != 0 {
                    state.in_string = false;
                } else if backslash & bit != 0 {
                    match bit.checked_shl(1).filter(|&next| next != 0) {
                        Some(next) => todo &= !next,
                        None => state.escaped = true,
                    }
                }
            } else if quote & bit != 0 {
                state.in_string = true;
                state.quote_at = j + k as usize;
            } else if bracket & bit != 0 {
                outside |= bit;
            }
        }
        (outside, state)
    }
}

/// The brackets a container scan is inside, innermost last: one bit per
/// level (set for an object), in a word for the first 64 levels and in a
/// vector of the caller's (`deep`) past that. (Apart from that vector,
/// which deep nesting alone touches, the component keeps it in registers.)
#[derive(Debug, Clone, Copy, Default)]
struct Nesting {
    depth: usize,
    shallow: u64,
}

impl Nesting {
    /// Takes the brackets marked in `brackets` of the block at `j`, in
    /// order; returns the container's end if one of them closes it.
    #[inline(always)]
    fn brackets(
        &mut self,
        j: usize,
        block: &[u8; BLOCK],
        mut brackets: Mask,
        deep: &mut Vec<bool>,
    ) -> Result<Option<usize>> {
        while brackets != 0 {
            // Below BLOCK: `brackets` has a bit set.
            let k = brackets.trailing_zeros() as usize % BLOCK;
            brackets &= brackets - 1;
            let c = block[k];
            if !matches!(c, b'{' | b'}' | b'[' | b']') {
                // `Y`, `_`, `y` or DEL outside a string: not JSON, but
                // the container scan looks only at brackets and strings.
                continue;
            }
            // `{` and `[` have bit 1 set, `}` and `]` do not; `{}` have
            // bit 5 set, `[]` do not.
            let object = c & 0x20 != 0;
            if c & 0x02 != 0 {
                if self.depth < 64 {
                    let bit = 1 << self.depth;
                    self.shallow = (self.shallow & !bit) | (u64::from(object) << self.depth);
                } else {
                    deep.push(object);
                }
                self.depth += 1;
                continue;
            }
            let Some(depth) = self.depth.checked_sub(1) else {
                return err(j + k, "mismatched bracket");
            };
            let was_object = if depth < 64 {
                self.shallow & (1 << depth) != 0
            } else {
                deep.pop().unwrap_or(false)
            };
            if was_object != object {
                return err(j + k, "mismatched bracket");
            }
            self.depth = depth;
            if depth == 0 {
                return Ok(Some(j + k + 1));
            }
        }
        Ok(None)
    }
}

/// Visits the members of the object starting at `b[i]`, in order.
///
/// `visit` gets each member's key range (quotes included) and the start of
/// its value, and returns the value's end: it either skips the value
/// ([`skip_value`]) or walks into it, so one pass serves both. Returns the
/// end of the object.
pub(crate) fn for_each_member(
    b: &[u8],
    i: usize,
    mut visit: impl FnMut(Range<usize>, usize) -> Result<usize>,
) -> Result<usize> {
    debug_assert_eq!(b.get(i), Some(&b'{'));
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Ok(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return err(j, "expected an object key");
        }
        let key_end = skip_string(b, j)?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return err(colon, "expected ':' after an object key");
        }
        let value = skip_ws(b, colon + 1);
        let value_end = visit(j..key_end, value)?;
        j = skip_ws(b, value_end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b'}') => return Ok(j + 1),
            None => return err(j, "unexpected end of the body (truncated?)"),
            Some(_) => return err(j, "expected ',' or '}' in an object"),
        }
    }
}

/// Visits the elements of the array starting at `b[i]`; like
/// [`for_each_member`], `visit` returns each element's end.
pub(crate) fn for_each_element(
    b: &[u8],
    i: usize,
    mut visit: impl FnMut(usize) -> Result<usize>,
) -> Result<usize> {
    debug_assert_eq!(b.get(i), Some(&b'['));
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Ok(j + 1);
    }
    loop {
        let end = visit(j)?;
        j = skip_ws(b, end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b']') => return Ok(j + 1),
            None => return err(j, "unexpected end of the body (truncated?)"),
            Some(_) => return err(j, "expected ',' or ']' in an array"),
        }
    }
}

/// The members of the object at `range`.
pub(crate) fn members(b: &[u8], start: usize) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    for_each_member(b, start, |key, value| {
        let end = skip_value(b, value)?;
        out.push(Member {
            key,
            value: value..end,
        });
        Ok(end)
    })?;
    Ok(out)
}

/// The element ranges of the array starting at `b[start]`, and its end.
pub(crate) fn elements(b: &[u8], start: usize) -> Result<(Vec<Range<usize>>, usize)> {
    let mut out = Vec::new();
    let end = for_each_element(b, start, |i| {
        let end = skip_value(b, i)?;
        out.push(i..end);
        Ok(end)
    })?;
    Ok((out, end))
}

/// The decoded text of the key (or string) at `range`, quotes included in
/// the range.
pub(crate) fn key_text(b: &[u8], range: Range<usize>) -> Cow<'_, str> {
    let inner = &b[range.start + 1..range.end.saturating_sub(1).max(range.start + 1)];
    if !inner.contains(&b'\\')
        && let Ok(s) = std::str::from_utf8(inner)
    {
        return Cow::Borrowed(s);
    }
    match serde_json::from_slice::<String>(&b[range]) {
        Ok(s) => Cow::Owned(s),
        Err(_) => String::from_utf8_lossy(inner).into_owned().into(),
    }
}

/// Returns true if and only if the key at `range` equals `want`.
pub(crate) fn key_is(b: &[u8], range: &Range<usize>, want: &str) -> bool {
    let inner = &b[range.start + 1..range.end.saturating_sub(1).max(range.start + 1)];
    if inner.contains(&b'\\') {
        key_text(b, range.clone()) == want
    } else {
        inner == want.as_bytes()
    }
}

/// The value of member `key` in the object starting at `b[start]`.
pub(crate) fn member(b: &[u8], start: usize, key: &str) -> Result<Option<Range<usize>>> {
    let mut found = None;
    for_each_member(b, start, |k, value| {
        let end = skip_value(b, value)?;
        if found.is_none() && key_is(b, &k, key) {
            found = Some(value..end);
        }
        Ok(end)
    })?;
    Ok(found)
}

/// Parses the (small) value at `range` into a `serde_json::Value`.
pub(crate) fn parse(b: &[u8], range: Range<usize>) -> Option<serde_json::Value> {
    serde_json::from_slice(&b[range]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8], r: Range<usize>) -> &str {
        std::str::from_utf8(&b[r]).expect("utf8")
    }

    #[test]
    fn document_trims_whitespace_and_bom() {
        let b = b"\xEF\xBB\xBF  {\"a\": 1}\n";
        let r = document(b).expect("scan").expect("value");
        assert_eq!(text(b, r), "{\"a\": 1}");
    }

    #[test]
    fn blank_body_is_no_document() {
        assert_eq!(document(b" \n ").expect("scan"), None);
    }

    #[test]
    fn html_body_is_rejected() {
        let e = document(b"<html>oops</html>").expect_err("not json");
        assert_eq!(e.offset, 0);
    }

    #[test]
    fn truncated_body_is_rejected() {
        assert!(document(br#"{"data": [{"id": 1}, {"id": 2"#).is_err());
        assert!(document(br#"{"data": "abc"#).is_err());
    }

    #[test]
    fn escaped_quotes_and_backslashes_end_strings_correctly() {
        assert_eq!(skip_value(br#""a\"b" "#, 0), Ok(6));
        assert_eq!(skip_value(br#""a\\" "#, 0), Ok(5));
        assert!(skip_value(br#""a\""#, 0).is_err());
    }

    #[test]
    fn mismatched_brackets_are_rejected() {
        assert!(document(br#"{"a": [1, 2}"#).is_err());
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        assert!(document(br#"{"a": 1} x"#).is_err());
    }

    #[test]
    fn strings_with_brackets_and_escapes_do_not_confuse_the_scan() {
        let b = br#"{"a": "x}]\"[{", "b": [1, "]"]}"#;
        let ms = members(b, 0).expect("members");
        assert_eq!(ms.len(), 2);
        assert_eq!(text(b, ms[0].value.clone()), r#""x}]\"[{""#);
        assert_eq!(text(b, ms[1].value.clone()), r#"[1, "]"]"#);
    }

    #[test]
    fn elements_split_an_array_exactly() {
        let b = br#"[ {"id": 1} , 2,"x" ,null,[3] ]"#;
        let (els, end) = elements(b, 0).expect("elements");
        let got: Vec<&str> = els.into_iter().map(|r| text(b, r)).collect();
        assert_eq!(got, vec![r#"{"id": 1}"#, "2", r#""x""#, "null", "[3]"]);
        assert_eq!(end, b.len());
    }

    #[test]
    fn empty_containers_have_no_members() {
        assert!(members(b"{ }", 0).expect("members").is_empty());
        assert!(elements(b"[ ]", 0).expect("elements").0.is_empty());
    }

    #[test]
    fn escaped_keys_compare_decoded() {
        let b = br#"{"ne\u0078t": 1}"#;
        let ms = members(b, 0).expect("members");
        assert!(key_is(b, &ms[0].key, "next"));
        assert_eq!(key_text(b, ms[0].key.clone()), "next");
    }

    /// Arbitrary JSON whose strings are dense in what the scanner looks
    /// for (quotes, backslashes, brackets, control bytes, multi-byte
    /// characters) and long enough to cross its eight-byte steps.
    fn tricky_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let text = "[\"\\\\{}\\[\\]a-c0-9 :,\u{2}\u{1f}é\u{1F600}]{0,70}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text, inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// The container scan a byte at a time, as it was before the blocks:
    /// the reference [`skip_container`] must agree with on any bytes.
    fn skip_container_bytewise(b: &[u8], i: usize) -> Result<usize> {
        let mut stack: Vec<u8> = Vec::new();
        let mut j = i;
        while let Some(&c) = b.get(j) {
            match c {
                b'"' => {
                    j = skip_string(b, j)?;
                    continue;
                }
                b'{' => stack.push(b'}'),
                b'[' => stack.push(b']'),
                b'}' | b']' => {
                    if stack.pop() != Some(c) {
                        return err(j, "mismatched bracket");
                    }
                    if stack.is_empty() {
                        return Ok(j + 1);
                    }
                }
                _ => {}
            }
            j += 1;
        }
        err(b.len(), "unexpected end of the body (truncated?)")
    }

    /// Bytes dense in what the container scan looks at.
    fn scan_bytes(len: usize) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            4 => Just(b'"'),
            3 => Just(b'\\'),
            2 => Just(b'{'),
            2 => Just(b'}'),
            2 => Just(b'['),
            2 => Just(b']'),
            1 => Just(b'a'),
            1 => Just(b','),
            1 => prop::sample::select(&b"Y_y\x7f"[..]),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..len)
    }

    #[test]
    fn container_scan_agrees_with_the_bytewise_scan_at_edges() {
        // Strings, escapes and brackets across the block edges,
        // bodies shorter than a block, and cut-off tails.
        let cases: &[&[u8]] = &[
            b"{}",
            b"[]",
            b"{",
            b"[\"",
            b"[\"\\",
            br#"{"abcdefghijklm\"}"#,
            br#"{"abcdefghijklmn\"}"}"#,
            br#"{"abcdefghijklm\\"}"#,
            br#"{"abcdefghijklmnopqrstuvwxyz\\\"}"}"#,
            br#"[1, 2, 3, 4, 5, 6, 7, "]", {"a": [1]}]"#,
            br#"[1, 2, 3, 4, 5, 6, 7, "]", {"a": [1]} "#,
            br#"[0123456789abcd\"]"#,
            br#"[0123456789abcde\"]"#,
            br#"{"a": [1, 2}"#,
            b"[Y_y\x7f, \"Y_y\x7f\", [y]]",
            b"[Y_y\x7f, \"Y_y\x7f\", [y}]",
            br#"{"a": "x}]\"[{", "b": [1, "]"]}"#,
        ];
        for case in cases {
            for pad in 0..BLOCK + 1 {
                let mut b = vec![b' '; pad];
                b.extend_from_slice(case);
                for cut in pad..=b.len() {
                    let b = &b[..cut];
                    if !matches!(b.get(pad), Some(b'{' | b'[')) {
                        continue;
                    }
                    let want = skip_container_bytewise(b, pad);
                    let text = String::from_utf8_lossy(b);
                    assert_eq!(skip_container(b, pad), want, "{text:?} from {pad}");
                    assert_eq!(scan_container(b, pad, marks_bytewise), want, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_scanned() {
        for depth in [63, 64, 65, 200] {
            let mut b = "[".repeat(depth);
            b.push_str(&"]".repeat(depth));
            assert_eq!(skip_container(b.as_bytes(), 0), Ok(b.len()));
            let mut b = "{\"a\":".repeat(depth);
            b.push('1');
            b.push_str(&"}".repeat(depth));
            assert_eq!(skip_container(b.as_bytes(), 0), Ok(b.len()));
            let mut b = "[".repeat(depth);
            b.push_str(&"]".repeat(depth - 1));
            b.push('}');
            assert_eq!(
                skip_container(b.as_bytes(), 0),
                err(b.len() - 1, "mismatched bracket")
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        /// The scan finds exactly the value serde_json wrote, compact or
        /// pretty, and every cut-off prefix of an array is an error.
        #[test]
        fn scan_agrees_with_serde_json(value in tricky_json(), cut in 0usize..10_000) {
            let array = serde_json::Value::Array(vec![value]);
            for text in [
                serde_json::to_string(&array).expect("serialize"),
                serde_json::to_string_pretty(&array).expect("serialize"),
            ] {
                let b = text.as_bytes();
                proptest::prop_assert_eq!(document(b), Ok(Some(0..b.len())));
                let cut = cut % b.len();
                proptest::prop_assert!(document(&b[..cut]).map_or(true, |d| d.is_none()));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(1024))]

        /// The vector classification marks the same bytes as the byte at
        /// a time one.
        #[test]
        fn marks_agree_with_bytewise_marks(bytes in scan_bytes(BLOCK + 1), fill in proptest::prelude::any::<u8>()) {
            let mut block = [fill; BLOCK];
            block[..bytes.len().min(BLOCK)].copy_from_slice(&bytes[..bytes.len().min(BLOCK)]);
            proptest::prop_assert_eq!(marks(&block), marks_bytewise(&block));
        }

        /// On any bytes, the block scan ends (or fails, at the same offset
        /// with the same message) where the byte at a time scan does.
        #[test]
        fn container_scan_agrees_with_the_bytewise_scan(
            bytes in scan_bytes(240),
            pad in 0usize..BLOCK,
            open in proptest::prelude::any::<bool>(),
        ) {
            let mut b = vec![b' '; pad];
            b.push(if open { b'{' } else { b'[' });
            b.extend_from_slice(&bytes);
            let want = skip_container_bytewise(&b, pad);
            proptest::prop_assert_eq!(&skip_container(&b, pad), &want);
            proptest::prop_assert_eq!(&scan_container(&b, pad, marks_bytewise), &want);
        }

        /// The same on JSON (records with strings dense in quotes and
        /// backslashes), at every alignment, whole and cut off.
        #[test]
        fn container_scan_agrees_on_json(value in tricky_json(), pad in 0usize..BLOCK, cut in 0usize..10_000) {
            let array = serde_json::Value::Array(vec![value]);
            let text = serde_json::to_string(&array).expect("serialize");
            let mut b = vec![b' '; pad];
            b.extend_from_slice(text.as_bytes());
            proptest::prop_assert_eq!(skip_container(&b, pad), Ok(b.len()));
            let cut = pad + 1 + cut % (b.len() - pad);
            let want = skip_container_bytewise(&b[..cut], pad);
            proptest::prop_assert_eq!(&skip_container(&b[..cut], pad), &want);
            proptest::prop_assert_eq!(&scan_container(&b[..cut], pad, marks_bytewise), &want);
        }
    }

    #[test]
    fn member_finds_a_value_by_key() {
        let b = br#"{"a": {"b": 2}, "c": 3}"#;
        let r = member(b, 0, "c").expect("scan").expect("found");
        assert_eq!(parse(b, r), Some(serde_json::json!(3)));
        assert_eq!(member(b, 0, "zz").expect("scan"), None);
    }
}
