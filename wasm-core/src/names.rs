//! The name policy shared by every kind of name (streams, checkpoint threads, and the names
//! of primitives to come): a name is UTF-8 text compared in Unicode Normalization Form C, so
//! that composed and decomposed spellings of one text ("café" as U+00E9 or as e + U+0301) name
//! one thing whichever host or caller wrote it. The core, not each host, owns this rule, so
//! every host normalises with the same Unicode version. Length limits are the host's options
//! and count the bytes of the NFC form.
use std::borrow::Cow;
// Only the crate's per-character tables (canonical decomposition, composition, combining
// classes, the NFC quick check): its `nfc()` iterator decides canonical or compatibility
// decomposition at run time, which links the compatibility tables as well (+60 KB of wasm).
use unicode_normalization::char::{canonical_combining_class, compose, decompose_canonical};
use unicode_normalization::{is_nfc_quick, IsNormalized};

#[derive(Debug, PartialEq, Eq)]
pub enum NameError {
    /// The bytes are not UTF-8: `offset` is where the first invalid sequence starts.
    NotUtf8 { offset: usize },
}

impl NameError {
    pub fn describe(&self) -> String {
        match self {
            NameError::NotUtf8 { offset } => format!("a name is not UTF-8 (invalid sequence at byte {offset})"),
        }
    }
}

/// The NFC form of a UTF-8 name; borrowed when the name is already NFC (ASCII always is).
pub fn normalize(bytes: &[u8]) -> Result<Cow<'_, [u8]>, NameError> {
    if bytes.is_ascii() {
        return Ok(Cow::Borrowed(bytes));
    }
    let text = core::str::from_utf8(bytes).map_err(|error| NameError::NotUtf8 { offset: error.valid_up_to() })?;
    Ok(match nfc(text) {
        Cow::Borrowed(_) => Cow::Borrowed(bytes),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    })
}

/// As `normalize`, for names read back from a log that this policy did not always govern:
/// invalid sequences become U+FFFD first (what a UTF-8 decoder shows), so it never fails.
pub fn normalize_lossy(bytes: &[u8]) -> Cow<'_, [u8]> {
    match normalize(bytes) {
        Ok(name) => name,
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            Cow::Owned(nfc(&text).into_owned().into_bytes())
        }
    }
}

fn nfc(text: &str) -> Cow<'_, str> {
    // The quick check answers Yes for almost all real text without building anything.
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        return Cow::Borrowed(text);
    }
    let normalized = to_nfc(text);
    if normalized == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(normalized)
    }
}

/// UAX #15 NFC: full canonical decomposition, canonical ordering of combining marks, then
/// canonical composition (a mark composes with the last starter unless a mark of the same or
/// a higher class, or a starter, lies between them).
fn to_nfc(text: &str) -> String {
    let mut decomposed: Vec<(char, u8)> = Vec::with_capacity(text.len());
    for c in text.chars() {
        decompose_canonical(c, |part| decomposed.push((part, canonical_combining_class(part))));
    }
    let mut at = 0;
    while at < decomposed.len() {
        if decomposed[at].1 == 0 {
            at += 1;
            continue;
        }
        let start = at;
        while at < decomposed.len() && decomposed[at].1 != 0 {
            at += 1;
        }
        // Stable: marks of one class keep their order.
        decomposed[start..at].sort_by_key(|&(_, class)| class);
    }
    let mut composed: Vec<char> = Vec::with_capacity(decomposed.len());
    let mut starter: Option<usize> = None;
    // Class of the last character after the starter; None when nothing lies between.
    let mut between: Option<u8> = None;
    for (c, class) in decomposed {
        if let Some(index) = starter {
            let blocked = between.is_some_and(|last| last == 0 || last >= class);
            if !blocked {
                if let Some(both) = compose(composed[index], c) {
                    composed[index] = both;
                    continue;
                }
            }
        }
        if class == 0 {
            starter = Some(composed.len());
            between = None;
        } else if starter.is_some() {
            between = Some(class);
        }
        composed.push(c);
    }
    composed.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    /// `to_nfc` against the crate's own NFC iterator.
    fn check_against_crate(text: &str) {
        let expected: String = text.nfc().collect();
        assert_eq!(to_nfc(text), expected, "NFC of {:?}", text.chars().map(|c| c as u32).collect::<Vec<_>>());
        assert_eq!(normalize(text.as_bytes()).unwrap().as_ref(), expected.as_bytes());
    }

    #[test]
    fn nfc_of_every_code_point_matches_the_crate() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            check_against_crate(c.encode_utf8(&mut [0; 4]));
        }
    }

    #[test]
    fn nfc_of_random_mixtures_matches_the_crate() {
        // Starters that compose, combining marks of several classes (220 below, 230 above,
        // 202 attached, 1 overlay, 9 virama), Hangul jamo and syllables, singletons,
        // composition exclusions, a non-starter that decomposes.
        let pool: Vec<char> = "aeouAEOUqnsc\u{e9}\u{c5}\u{212b}\u{2126}\u{958}\u{f73}\u{344}\u{301}\u{300}\u{308}\u{30a}\u{323}\u{327}\u{328}\u{334}\u{94d}\u{93c}\u{1100}\u{1161}\u{11a8}\u{ac00}\u{ac01}\u{3099}\u{304b}\u{fb01}\u{1e0a}\u{1e0c}\u{307}".chars().collect();
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let length = (next() % 8) as usize;
            let text: String = (0..length).map(|_| pool[(next() % pool.len() as u64) as usize]).collect();
            check_against_crate(&text);
        }
    }

    const COMPOSED: &str = "caf\u{e9}";
    const DECOMPOSED: &str = "cafe\u{301}";

    #[test]
    fn ascii_is_returned_as_it_is() {
        assert!(matches!(normalize(b"thread-1"), Ok(Cow::Borrowed(b"thread-1"))));
        assert!(matches!(normalize(b""), Ok(Cow::Borrowed(b""))));
    }

    #[test]
    fn composed_and_decomposed_forms_are_one_name() {
        assert_eq!(normalize(DECOMPOSED.as_bytes()).unwrap().as_ref(), COMPOSED.as_bytes());
        assert!(matches!(normalize(COMPOSED.as_bytes()), Ok(Cow::Borrowed(_))));
        // Canonical reordering of combining marks: dot below (ccc 220) before dot above (230).
        assert_eq!(normalize("q\u{307}\u{323}".as_bytes()).unwrap().as_ref(), "q\u{323}\u{307}".as_bytes());
        // Hangul jamo compose to a syllable.
        assert_eq!(normalize("\u{1100}\u{1161}".as_bytes()).unwrap().as_ref(), "\u{ac00}".as_bytes());
    }

    #[test]
    fn nfc_is_not_compatibility_folding() {
        // NFC keeps compatibility characters (NFKC would fold them): "ﬁ" and "ｆｉ" stay distinct names.
        for text in ["\u{fb01}", "\u{ff46}\u{ff49}", "x\u{2075}"] {
            assert_eq!(normalize(text.as_bytes()).unwrap().as_ref(), text.as_bytes());
        }
    }

    #[test]
    fn normalising_can_change_the_length_either_way() {
        // Longer: a singleton decomposition (U+0958 → U+0915 U+093C, 3 → 6 bytes).
        assert_eq!(normalize("\u{958}".as_bytes()).unwrap().len(), 6);
        // Shorter: e + U+0301 (3 bytes) → é (2 bytes).
        assert_eq!(normalize("e\u{301}".as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn normalising_is_idempotent() {
        for text in [COMPOSED, DECOMPOSED, "\u{958}", "\u{1100}\u{1161}\u{11a8}", "A\u{30a}\u{301}", "\u{fffd}"] {
            let once = normalize(text.as_bytes()).unwrap().into_owned();
            assert_eq!(normalize(&once).unwrap().as_ref(), &once[..]);
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error_with_their_offset() {
        // A UTF-16 surrogate encoded as if it were a scalar (CESU-8 style), a stray continuation
        // byte and a truncated sequence.
        assert_eq!(normalize(b"thread-\xed\xa0\x80"), Err(NameError::NotUtf8 { offset: 7 }));
        assert_eq!(normalize(b"ab\x80"), Err(NameError::NotUtf8 { offset: 2 }));
        assert_eq!(normalize("é\u{e9}".as_bytes().split_last().unwrap().1), Err(NameError::NotUtf8 { offset: 2 }));
        assert!(NameError::NotUtf8 { offset: 7 }.describe().contains("byte 7"));
    }

    #[test]
    fn lossy_normalising_replaces_what_is_not_utf8() {
        assert_eq!(normalize_lossy(b"a\xffe\xcc\x81").as_ref(), "a\u{fffd}\u{e9}".as_bytes());
        assert_eq!(normalize_lossy(DECOMPOSED.as_bytes()).as_ref(), COMPOSED.as_bytes());
        // U+FFFD itself (what a lone surrogate became when encoded before this policy) is kept.
        assert_eq!(normalize_lossy("thread-\u{fffd}".as_bytes()).as_ref(), "thread-\u{fffd}".as_bytes());
    }
}
