//! Standard base64 (RFC 4648 alphabet, `=` padding required, as `btoa`/`atob` and TF.js use it),
//! for the weights TF.js keeps as text in localStorage and the buffers of IndexedDB dumps. Its own
//! small coder instead of the `base64` crate: a tenth of the wasm bytes a web app downloads.
//! Decoding errors read as the `base64` crate's (`Invalid symbol 33, offset 4.`).

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 written piece by piece ([`Encoder::push`]), as if the pieces were joined.
#[derive(Default)]
pub struct Encoder {
    /// ASCII only.
    out: Vec<u8>,
    carry: [u8; 3],
    carried: usize,
}

impl Encoder {
    /// An encoder with room for the base64 of `len` bytes.
    pub fn with_capacity(len: usize) -> Self {
        Encoder { out: Vec::with_capacity(len.div_ceil(3) * 4), ..Encoder::default() }
    }

    /// Encodes `bytes` after what was pushed before.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.carried > 0 {
            let take = (3 - self.carried).min(bytes.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&bytes[..take]);
            self.carried += take;
            bytes = &bytes[take..];
            if self.carried < 3 {
                return;
            }
            let c = self.carry;
            self.quad(&c, 3);
            self.carried = 0;
        }
        let mut chunks = bytes.chunks_exact(3);
        self.out.reserve(bytes.len() / 3 * 4);
        for c in &mut chunks {
            self.quad(c, 3);
        }
        let rest = chunks.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    /// The base64 text, padded.
    pub fn finish(mut self) -> String {
        if self.carried > 0 {
            let mut c = [0u8; 3];
            c[..self.carried].copy_from_slice(&self.carry[..self.carried]);
            let n = self.carried;
            self.quad(&c, n);
        }
        String::from_utf8(self.out).expect("base64 symbols are ASCII")
    }

    /// Writes the four symbols of `c` (three bytes, the first `n` of them real).
    fn quad(&mut self, c: &[u8], n: usize) {
        let v = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        let sym = |i: usize| if i <= n { ALPHABET[(v >> (18 - 6 * i) & 63) as usize] } else { b'=' };
        self.out.extend_from_slice(&[sym(0), sym(1), sym(2), sym(3)]);
    }
}

/// The standard base64 of `bytes`, padded.
pub fn encode(bytes: &[u8]) -> String {
    encode_pieces(bytes.len(), [bytes])
}

/// The standard base64 of `pieces` as if joined (`len` bytes in all, for the capacity), without
/// joining them: a model's weight buffers.
pub fn encode_pieces<'a>(len: usize, pieces: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut e = Encoder::with_capacity(len);
    for p in pieces {
        e.push(p);
    }
    e.finish()
}

/// Why base64 text does not decode; displayed as the `base64` crate displays its errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the alphabet (or padding where none may be) at this offset.
    InvalidByte(usize, u8),
    /// The symbols (padding aside) leave one over: no whole byte.
    InvalidLength(usize),
    /// The last symbol carries bits that no byte uses (not canonical base64).
    InvalidLastSymbol(usize, u8),
    /// Missing, extra or misplaced `=` padding.
    InvalidPadding,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::InvalidByte(at, b) => write!(f, "Invalid symbol {b}, offset {at}."),
            DecodeError::InvalidLength(n) => write!(f, "Invalid input length: {n}"),
            DecodeError::InvalidLastSymbol(at, b) => write!(f, "Invalid last symbol {b}, offset {at}."),
            DecodeError::InvalidPadding => f.write_str("Invalid padding"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The six bits of each symbol; [`NOT_A_SYMBOL`] for other bytes.
const VALUES: [u8; 256] = {
    let mut t = [NOT_A_SYMBOL; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const NOT_A_SYMBOL: u8 = 0xff;

/// The six bits of the symbol `b`, if it is one.
fn value(b: u8) -> Option<u32> {
    let v = VALUES[b as usize];
    (v != NOT_A_SYMBOL).then_some(u32::from(v))
}

/// Decodes standard, padded, canonical base64.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &text[..text.len() - pad];
    if pad > 2 {
        return Err(DecodeError::InvalidByte(body.len(), b'='));
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut chunks = body.chunks_exact(4);
    let mut at = 0;
    let bits = |c: &[u8], at: usize| -> Result<u32, DecodeError> {
        c.iter()
            .enumerate()
            .try_fold(0u32, |v, (i, &b)| value(b).map(|x| v << 6 | x).ok_or(DecodeError::InvalidByte(at + i, b)))
    };
    for c in &mut chunks {
        let [a, b, c2, d] = [c[0], c[1], c[2], c[3]].map(|x| VALUES[x as usize]);
        if (a | b | c2 | d) & 0xc0 != 0 {
            bits(c, at)?;
        }
        let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c2) << 6 | u32::from(d);
        out.extend_from_slice(&v.to_be_bytes()[1..]);
        at += 4;
    }
    let rest = chunks.remainder();
    let v = bits(rest, at)?;
    let bytes = match rest.len() {
        0 => 0,
        1 => return Err(DecodeError::InvalidLength(body.len())),
        n => n - 1,
    };
    if pad != (4 - rest.len()) % 4 {
        return Err(DecodeError::InvalidPadding);
    }
    let unused = rest.len() * 6 - bytes * 8;
    if v & ((1 << unused) - 1) != 0 {
        let last = rest.len() - 1;
        return Err(DecodeError::InvalidLastSymbol(at + last, rest[last]));
    }
    let v = v >> unused;
    out.extend((0..bytes).rev().map(|i| (v >> (8 * i)) as u8));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn encodes_as_the_base64_crate_in_any_pieces() {
        let all: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for len in 0..40 {
            let data = &all[..len];
            assert_eq!(encode(data), STANDARD.encode(data), "len {len}");
            for cut in 0..=len {
                for cut2 in cut..=len {
                    let mut e = Encoder::default();
                    e.push(&data[..cut]);
                    e.push(&data[cut..cut2]);
                    e.push(&data[cut2..]);
                    assert_eq!(e.finish(), STANDARD.encode(data), "len {len}, cuts {cut} {cut2}");
                }
            }
        }
        assert_eq!(encode(&all), STANDARD.encode(&all));
    }

    #[test]
    fn decodes_as_the_base64_crate() {
        let all: Vec<u8> = (0..=255u8).rev().cycle().take(300).collect();
        for len in 0..50 {
            let text = STANDARD.encode(&all[..len]);
            assert_eq!(decode(text.as_bytes()).unwrap(), &all[..len], "{text}");
        }
    }

    proptest::proptest! {
        /// Any bytes encode as the crate encodes them and decode back; any text (mostly symbols,
        /// some padding and strays) decodes exactly when the crate decodes it, to the same bytes.
        #[test]
        fn agrees_with_the_base64_crate_on_any_input(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            text in proptest::string::string_regex("[A-Za-z0-9+/]{0,64}(=|==|[!= -]){0,3}[A-Za-z0-9+/=]{0,4}").unwrap(),
        ) {
            let encoded = encode(&data);
            proptest::prop_assert_eq!(&encoded, &STANDARD.encode(&data));
            proptest::prop_assert_eq!(decode(encoded.as_bytes()).unwrap(), data);
            let (ours, theirs) = (decode(text.as_bytes()), STANDARD.decode(&text));
            proptest::prop_assert_eq!(ours.as_ref().ok(), theirs.as_ref().ok(), "{}: {:?} vs {:?}", text, ours, theirs);
        }
    }

    #[test]
    fn refuses_what_the_base64_crate_refuses_with_its_message() {
        for bad in [
            "QQ", "QQ=", "QUJD=", "QUI", "Q", "QUJDR", "QUJD!A==", "QU=D", "QR==", "QUJ=", "QUK=", "Q===", "====",
            "QUJDRA==",
        ] {
            let theirs = STANDARD.decode(bad);
            let ours = decode(bad.as_bytes());
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{bad}: {ours:?} vs {theirs:?}");
            if let (Err(o), Err(t)) = (&ours, &theirs) {
                let same = o.to_string() == t.to_string();
                // Misplaced padding may be named as padding or as an invalid '=' symbol.
                let both_padding = (o == &DecodeError::InvalidPadding
                    || o.to_string().starts_with("Invalid symbol 61"))
                    && (t.to_string() == "Invalid padding" || t.to_string().starts_with("Invalid symbol 61"));
                assert!(same || both_padding, "{bad}: ours '{o}', base64's '{t}'");
            }
        }
    }
}
